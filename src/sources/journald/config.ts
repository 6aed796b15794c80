/** Configuration of the `journald` source. */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { durationMs, maxLineBytes, sourceName } from "../config.ts";

const absolute = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), { message: "expected an absolute path" });

const UNIT = /^[A-Za-z0-9:_.@\\-]+$/;

export const journaldConfig = z
  .strictObject({
    type: z.literal("journald"),
    name: sourceName,
    units: z
      .array(z.string().regex(UNIT, "a systemd unit name such as ssh.service"))
      .default([])
      .describe("Entries of these units (_SYSTEMD_UNIT; `ssh` means ssh.service)"),
    identifiers: z
      .array(
        z
          .string()
          .min(1)
          .regex(/^[^\s\0]+$/, "no spaces or control characters"),
      )
      .default([])
      .describe(
        "Entries with these syslog identifiers (SYSLOG_IDENTIFIER: sshd, sudo). With units too, an entry " +
          "matching either list is read; with neither, the whole journal",
      ),
    start: z
      .enum(["end", "beginning"])
      .default("end")
      .describe("Where to start without a saved cursor: new entries only (`end`), or the whole journal"),
    since: z
      .string()
      .regex(/^[\w :.+-]+$/, "a journalctl --since value such as '2025-11-23 10:00:00' or '-1h'")
      .optional()
      .describe("Without a saved cursor, start at this time instead (journalctl --since)"),
    directory: absolute
      .optional()
      .describe("Read the journal files in this directory (journalctl --directory)"),
    files: z
      .array(absolute)
      .default([])
      .describe(
        "Read these journal files (journalctl --file), e.g. ones received by systemd-journal-remote, together " +
          "with their archived generations (<stem>@*.journal, left behind by rotation)",
      ),
    file_check_interval: durationMs("5s", 10).describe(
      "With files: how often each file's identity (device and inode) is checked; when one was replaced " +
        "(rotated) or appeared, journalctl is restarted at once from the last cursor to follow the new file",
    ),
    journalctl: absolute.default("/usr/bin/journalctl").describe("The journalctl executable"),
    restart_backoff: durationMs("1s", 1).describe(
      "Wait before restarting journalctl after it exits; doubles",
    ),
    restart_backoff_max: durationMs("1m", 1).describe("Longest wait between restarts"),
    max_line_bytes: maxLineBytes(1024 * 1024).describe(
      "Longest JSON entry kept, in bytes; a longer one cannot be parsed once cut, so it is dropped and counted",
    ),
    batch_lines: z.number().int().min(1).max(100_000).default(1000).describe("Most entries per batch"),
  })
  .refine((c) => !(c.directory && c.files.length), {
    message: "use either directory or files, not both",
    path: ["files"],
  })
  .describe("Follows the systemd journal with journalctl -f -o json; the cursor is persisted");

export type JournaldConfig = z.output<typeof journaldConfig>;
