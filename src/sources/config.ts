/** Schema pieces shared by the source configs. */
import { z } from "zod";
import { isDuration, MAX_TIMER_MS, parseDuration } from "../core/duration.ts";

/** A duration (`250ms`, `1s`, `5m`, or a number of seconds), as milliseconds. */
export function durationMs(defaultValue: string, minMs = 0) {
  return (
    z
      .union([z.string(), z.number().nonnegative()])
      .refine((v) => typeof v === "number" || isDuration(v), {
        message: "expected a duration such as 250ms, 1s, 5m",
      })
      .default(defaultValue)
      .transform((v) => parseDuration(v))
      .refine((ms) => ms >= minMs, { message: `expected a duration of at least ${minMs}ms` })
      // Every source duration is a timer's wait; a longer one would make Node fire it after 1 ms, again and again.
      .refine((ms) => ms <= MAX_TIMER_MS, { message: "expected a duration of at most 24d" })
  );
}

export const sourceName = z
  .string()
  .regex(/^[A-Za-z0-9][\w.-]*$/, "letters, digits, '.', '_' and '-'")
  .optional()
  .describe("Name of this source in logs, metrics and checkpoint keys (default: its type)");

export const maxLineBytes = (defaultValue: number) =>
  z
    .number()
    .int()
    .min(256)
    .max(16 * 1024 * 1024)
    .default(defaultValue)
    .describe("Longest line kept, in bytes; a longer line keeps its head, the rest is discarded and counted");
