/**
 * The journalctl command line, as an argument array (never a shell string). Matches: entries of any listed
 * unit OR with any listed identifier (journalctl ORs the terms around `+`, and values of one field within a
 * term). Raw `_SYSTEMD_UNIT=` matches are used rather than `-u`, because `-u` cannot be combined with `+`.
 */
import type { JournaldConfig } from "./config.ts";

const UNIT_TYPES = /\.(service|socket|target|device|mount|automount|swap|timer|path|slice|scope)$/;

/** `ssh` -> `ssh.service`, as `journalctl -u` does. */
export function unitName(unit: string): string {
  return UNIT_TYPES.test(unit) ? unit : `${unit}.service`;
}

/** The journal or journals to read: `--directory` or `--file`s (the system journal when neither is given). */
function journalSelection(cfg: JournaldConfig): string[] {
  const args: string[] = [];
  if (cfg.directory) args.push(`--directory=${cfg.directory}`);
  for (const f of cfg.files) args.push(`--file=${f}`);
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
export function journalctlTailArgs(cfg: JournaldConfig): string[] {
  return ["--output=json", "--all", "--no-pager", "--quiet", "--lines=1", ...journalSelection(cfg)];
}

/**
 * A saved cursor resumes with `--cursor` (the entry at the cursor, if it matches, comes first and the source
 * skips it), not `--after-cursor`: journalctl (systemd 252) implements that by stepping over one more
 * matching entry after seeking, which loses an entry whenever the cursor's own entry does not match, as with
 * the journal's last entry saved at a first start, or a cursor saved before the matches were changed.
 * `fromHead`: the journal was empty when `start: end` first looked, so everything in it is new (`--no-tail`).
 */
export function journalctlArgs(cfg: JournaldConfig, cursor: string | undefined, fromHead = false): string[] {
  const args = ["--follow", "--output=json", "--all", "--no-pager", "--quiet", ...journalSelection(cfg)];
  if (cursor !== undefined) args.push(`--cursor=${cursor}`);
  else if (cfg.since !== undefined) args.push(`--since=${cfg.since}`, "--no-tail");
  else if (cfg.start === "beginning" || fromHead) args.push("--no-tail");
  else args.push("--lines=0");
  args.push(...journalMatches(cfg));
  return args;
}
