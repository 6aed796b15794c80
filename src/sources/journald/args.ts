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

export function journalctlArgs(cfg: JournaldConfig, cursor: string | undefined): string[] {
  const args = ["--follow", "--output=json", "--all", "--no-pager", "--quiet"];
  if (cfg.directory) args.push(`--directory=${cfg.directory}`);
  for (const f of cfg.files) args.push(`--file=${f}`);
  if (cursor !== undefined) args.push(`--after-cursor=${cursor}`);
  else if (cfg.since !== undefined) args.push(`--since=${cfg.since}`, "--no-tail");
  else if (cfg.start === "beginning") args.push("--no-tail");
  else args.push("--lines=0");
  const terms: string[][] = [];
  if (cfg.units.length) terms.push(cfg.units.map((u) => `_SYSTEMD_UNIT=${unitName(u)}`));
  if (cfg.identifiers.length) terms.push(cfg.identifiers.map((i) => `SYSLOG_IDENTIFIER=${i}`));
  terms.forEach((t, i) => {
    if (i > 0) args.push("+");
    args.push(...t);
  });
  return args;
}
