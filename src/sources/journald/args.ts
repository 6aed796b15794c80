/**
 * The journalctl command line, as an argument array (never a shell string). Matches: entries of any listed
 * unit OR with any listed identifier (journalctl ORs the terms around `+`, and values of one field within a
 * term). Raw `_SYSTEMD_UNIT=` matches are used rather than `-u`, because `-u` cannot be combined with `+`.
 */
import { basename } from "node:path";
import type { JournaldConfig } from "./config.ts";

const UNIT_TYPES = /\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)$/;

/** `ssh` -> `ssh.service`, as `journalctl -u` does. */
export function unitName(unit: string): string {
  return UNIT_TYPES.test(unit) ? unit : `${unit}.service`;
}

/**
 * Whether `name` (a file name in the directory of the listed journal file `file`) is an archived generation of
 * it: systemd-journal-remote (like journald) rotates `remote-10.0.0.5.journal` by renaming it to
 * `remote-10.0.0.5@<seqnum_id>-<head_seqnum>-<head_realtime>.journal` and starting a new file under the old
 * name; a file found corrupt is set aside as `remote-10.0.0.5@<time>-<random>.journal~`. A listed file whose
 * name does not end in `.journal` has no such siblings (journald and journal-remote only write `*.journal`).
 */
export function isArchivedSibling(file: string, name: string): boolean {
  const base = basename(file);
  if (!base.endsWith(".journal")) return false;
  const stem = base.slice(0, -".journal".length);
  return name.startsWith(`${stem}@`) && (name.endsWith(".journal") || name.endsWith(".journal~"));
}

/**
 * The journal or journals to read: `--directory` or `--file`s (the system journal when neither is given).
 * `files`: with `files` configured, the files that exist now, each listed file with its archived siblings (see
 * the source); the configured list when not given.
 */
function journalSelection(cfg: JournaldConfig, files: readonly string[] = cfg.files): string[] {
  const args: string[] = [];
  if (cfg.directory) args.push(`--directory=${cfg.directory}`);
  for (const f of files) args.push(`--file=${f}`);
  return args;
}

/** Entries of any listed unit OR with any listed identifier (nothing: every entry). */
function journalMatches(cfg: JournaldConfig): string[] {
  const args: string[] = [];
  const terms: string[][] = [];
  if (cfg.units.length) terms.push(cfg.units.map((u) => `_SYSTEMD_UNIT=${unitName(u)}`));
  if (cfg.identifiers.length) terms.push(cfg.identifiers.map((i) => `SYSLOG_IDENTIFIER=${i}`));
  terms.forEach((t, i) => {
    if (i > 0) args.push("+");
    args.push(...t);
  });
  return args;
}

/**
 * The journal's last entry, of any unit or identifier (no matches), in the same journals as
 * {@link journalctlArgs}, without following: its cursor is where `start: end` begins.
 */
export function journalctlTailArgs(cfg: JournaldConfig, files?: readonly string[]): string[] {
  return ["--output=json", "--all", "--no-pager", "--quiet", "--lines=1", ...journalSelection(cfg, files)];
}

/**
 * A saved cursor resumes with `--cursor` (the entry at the cursor, if it matches, comes first and the source
 * skips it), not `--after-cursor`: journalctl (systemd 252) implements that by stepping over one more
 * matching entry after seeking, which loses an entry whenever the cursor's own entry does not match, as with
 * the journal's last entry saved at a first start, or a cursor saved before the matches were changed.
 * `fromHead`: the journal was empty when `start: end` first looked, so everything in it is new (`--no-tail`).
 * `files`: see {@link journalSelection}.
 */
export function journalctlArgs(
  cfg: JournaldConfig,
  cursor: string | undefined,
  fromHead = false,
  files?: readonly string[],
): string[] {
  const args = [
    "--follow",
    "--output=json",
    "--all",
    "--no-pager",
    "--quiet",
    ...journalSelection(cfg, files),
  ];
  if (cursor !== undefined) args.push(`--cursor=${cursor}`);
  else if (cfg.since !== undefined) args.push(`--since=${cfg.since}`, "--no-tail");
  else if (cfg.start === "beginning" || fromHead) args.push("--no-tail");
  else args.push("--lines=0");
  args.push(...journalMatches(cfg));
  return args;
}
