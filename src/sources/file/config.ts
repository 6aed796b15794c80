/** Configuration of the `file` source. */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { durationMs, maxLineBytes, sourceName } from "../config.ts";

/** `path: X` (one file, as most configs say) is accepted as `paths: [X]`. */
function pathAlias(v: unknown): unknown {
  if (v === null || typeof v !== "object" || Array.isArray(v) || !("path" in v)) return v;
  const { path, ...rest } = v as Record<string, unknown>;
  if ("paths" in rest) return v; // both given: the strict schema reports `path` as unknown
  return { ...rest, paths: [path] };
}

const fileObject = z
  .strictObject({
    type: z.literal("file"),
    name: sourceName,
    paths: z
      .array(
        z
          .string()
          .min(1)
          .refine((p) => isAbsolute(p), { message: "expected an absolute path" })
          .refine((p) => !p.includes("**"), { message: "`**` is not supported: name the directories" }),
      )
      .min(1)
      .describe(
        "Files or glob patterns (`*`, `?`, `[...]`) to follow, e.g. /var/log/auth.log, /var/log/nginx/*.log. " +
          "A glob never matches rotated names (x.1, x.gz, x-20251123); .gz files are read by `replay` only",
      ),
    start: z
      .enum(["end", "beginning"])
      .default("end")
      .describe(
        "Where to start in a file present at startup that has no saved position: `end` (like tail -F and " +
          "fail2ban) or `beginning` (backfill). Files that appear later are always read from their beginning",
      ),
    watch: z
      .boolean()
      .default(true)
      .describe(
        "Use inotify (fs.watch) to notice changes at once; polling continues as a fallback either way",
      ),
    poll_interval: durationMs("1s", 10).describe(
      "How often files are checked without an inotify event (the only trigger when watch is false, " +
        "e.g. on NFS), and globs re-scanned",
    ),
    rotate_wait: durationMs("10s").describe(
      "How long a rotated-away file is still read after its last new data (writers reopen late)",
    ),
    max_line_bytes: maxLineBytes(64 * 1024),
    batch_lines: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .default(1000)
      .describe("Most lines per batch handed to the pipeline"),
  })
  .describe("Follows log files: rotation (rename and copytruncate), globs, persisted offsets");

export const fileConfig = z.preprocess(pathAlias, fileObject);

export type FileConfig = z.output<typeof fileObject>;
