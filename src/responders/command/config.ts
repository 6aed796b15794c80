import { z } from "zod";
import { commonFields } from "../common.ts";

/** Placeholders an argument may contain, and what they become. */
export const PLACEHOLDERS = {
  target: "the canonical address or CIDR",
  family: "4 or 6",
  duration_s: "seconds until expiry, rounded up (0 for a ban without expiry)",
  expires_s: "expiry as Unix time in seconds (0 for a ban without expiry)",
  action: "`ban` or `unban`",
  count: "number of entries in the batch (stdin_batch mode)",
} as const;
export type Placeholder = keyof typeof PLACEHOLDERS;

/** Placeholders that stand for one entry, so they cannot appear in stdin_batch mode. */
export const PER_ENTRY: readonly Placeholder[] = ["target", "family", "duration_s", "expires_s"];

const TOKEN = /\{\{|\}\}|\{([A-Za-z_]*)\}/g;

/** The placeholder names used in an argument (`{{` and `}}` are literal braces). */
export function placeholdersIn(arg: string): string[] {
  return [...arg.matchAll(TOKEN)].filter((m) => m[1] !== undefined).map((m) => m[1]!);
}

/** Replaces placeholders; every name was validated by the schema. */
export function substitute(arg: string, values: Partial<Record<Placeholder, string>>): string {
  return arg.replace(TOKEN, (all, name: string | undefined) => {
    if (name === undefined) return all[0]!;
    return values[name as Placeholder] ?? "";
  });
}

const argv = z
  .array(z.string().min(1).max(4096))
  .min(1)
  .superRefine((args, ctx) => {
    args.forEach((a, i) => {
      for (const name of placeholdersIn(a)) {
        if (!(name in PLACEHOLDERS)) {
          ctx.addIssue({
            code: "custom",
            path: [i],
            message: `unknown placeholder {${name}} (known: ${Object.keys(PLACEHOLDERS).join(", ")})`,
          });
        }
      }
    });
    if (placeholdersIn(args[0] ?? "").length) {
      ctx.addIssue({ code: "custom", path: [0], message: "the executable itself cannot be a placeholder" });
    }
  });

const describedArgv = (what: string) =>
  argv.describe(
    `${what}: the executable and its arguments as an array (run directly, never through a shell); ` +
      `arguments may contain ${Object.keys(PLACEHOLDERS)
        .map((p) => `{${p}}`)
        .join(" ")}`,
  );

export const commandConfig = z
  .strictObject({
    type: z.literal("command"),
    ...commonFields,
    apply: describedArgv("Command that bans one target (or a batch in stdin_batch mode)"),
    remove: describedArgv(
      "Command that unbans (default: the apply command with {action} = unban)",
    ).optional(),
    list: describedArgv(
      "Command printing what is enforced, one `<target> [<expires_unix_s>|-]` per line (needed by reconcile)",
    ).optional(),
    setup: describedArgv("Command run once before the first apply (idempotent)").optional(),
    teardown: describedArgv("Command removing everything (default: remove every listed target)").optional(),
    healthcheck: describedArgv(
      "Command probing the enforcement point without side effects (exit 0 = ok)",
    ).optional(),
    native_expiry: z
      .boolean()
      .default(false)
      .describe(
        "The script expires bans itself (it received {duration_s}); the daemon then never removes at expiry",
      ),
    stdin_batch: z
      .boolean()
      .default(false)
      .describe(
        "Run apply/remove once per batch, one `<target> <duration_s> <expires_s> <family>` line per entry on " +
          "stdin; exit 0 means the whole batch succeeded",
      ),
    batch_size: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(1000)
      .describe("Largest batch in stdin_batch mode"),
    transient_exit_codes: z
      .array(z.number().int().min(1).max(255))
      .default([75])
      .describe("Exit codes meaning 'try again later' (75 = EX_TEMPFAIL); retried with the retry policy"),
  })
  .superRefine((c, ctx) => {
    // Without `remove`, an unban runs `apply` with {action} = unban: an apply that cannot tell the two apart
    // would ban again (with duration 0, which many scripts read as "forever") instead of unbanning.
    if (!c.remove && !c.apply.some((a) => placeholdersIn(a).includes("action"))) {
      ctx.addIssue({
        code: "custom",
        path: ["remove"],
        message:
          "required when `apply` has no {action} placeholder (otherwise an unban would run the ban command)",
      });
    }
    if (!c.stdin_batch) return;
    for (const key of ["apply", "remove"] as const) {
      c[key]?.forEach((a, i) => {
        for (const name of placeholdersIn(a)) {
          if ((PER_ENTRY as readonly string[]).includes(name)) {
            ctx.addIssue({
              code: "custom",
              path: [key, i],
              message: `{${name}} is per entry: in stdin_batch mode entries come on stdin`,
            });
          }
        }
      });
    }
  })
  .describe("Runs configured executables (argument arrays, never a shell) for custom ban scripts");

export type CommandConfig = z.infer<typeof commandConfig>;
