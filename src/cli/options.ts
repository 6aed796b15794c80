/** Options shared by commands that read logs. */
import { stat } from "node:fs/promises";
import { PortcullisError } from "../core/errors.ts";
import { Zone, type TimeContext } from "../framing/zone.ts";
import { unreadable } from "../io/lines.ts";
import { PARSERS } from "../parsers/registry.ts";
import { hasMode, modeNames } from "../parsers/types.ts";

export interface TimeOptions {
  timezone: string;
  referenceTime?: string;
}

export async function timeContextFor(path: string, opts: TimeOptions): Promise<TimeContext> {
  let zone: Zone;
  try {
    zone = new Zone(opts.timezone);
  } catch (e) {
    throw new PortcullisError("USAGE", `--timezone: ${(e as Error).message}`);
  }
  let ref: number;
  if (opts.referenceTime !== undefined) {
    ref = parseIsoTime(opts.referenceTime);
    if (Number.isNaN(ref))
      throw new PortcullisError(
        "USAGE",
        `--reference-time: "${opts.referenceTime}" is not an ISO-8601 time (e.g. 2026-03-03T00:00:00Z)`,
      );
  } else if (path !== "-") {
    try {
      ref = (await stat(path)).mtimeMs;
    } catch (e) {
      throw unreadable(path, e);
    }
  } else {
    ref = Date.now(); // eslint-disable-line no-restricted-properties -- CLI edge: stdin has no mtime
  }
  return { zone, reference: () => ref };
}

const ISO_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2})?)?$/;

/**
 * An ISO-8601 date or date-time (`2026-03-03`, `2026-03-03T10:00`, `2026-03-03T10:00:00.5+01:00`), in ms; NaN
 * for anything else, including impossible dates (`2026-02-30`) that Date.parse would move to another day, and
 * the free-form dates ("Tue Mar 3 2026") it would also accept. Without an offset, a date-time is local time.
 */
export function parseIsoTime(text: string): number {
  const m = ISO_TIME.exec(text);
  if (!m) return NaN;
  const [year, month, day, h, mi, s] = m.slice(1, 7).map((v) => Number(v ?? 0)) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const daysInMonth = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth) return NaN;
  if (h > 23 || mi > 59 || s > 59) return NaN;
  if (m[7] && m[7] !== "Z" && (Number(m[7].slice(1, 3)) > 23 || Number(m[7].slice(4)) > 59)) return NaN;
  return Date.parse(text);
}

/**
 * `--mode` values: `M` applies mode M to every parser that has it (error if none has it); `parser=M` to one.
 */
export function resolveModes(values: readonly string[]): Record<string, string> {
  const modes: Record<string, string> = {};
  for (const v of values) {
    const eq = v.indexOf("=");
    if (eq > 0) {
      const id = v.slice(0, eq);
      const mode = v.slice(eq + 1);
      const def = PARSERS.find((p) => p.id === id);
      if (!def) throw new PortcullisError("USAGE", `--mode ${v}: unknown parser "${id}"`);
      if (!hasMode(def, mode)) {
        throw new PortcullisError(
          "USAGE",
          `--mode ${v}: parser ${id} has modes ${modeNames(def).join(", ")}`,
        );
      }
      modes[id] = mode;
      continue;
    }
    const owners = PARSERS.filter((p) => hasMode(p, v));
    if (!owners.length) {
      const known = [...new Set(PARSERS.flatMap((p) => Object.keys(p.modes)))]
        .filter((m) => m !== "all")
        .sort();
      throw new PortcullisError(
        "USAGE",
        `--mode ${v}: no parser has this mode (modes: ${known.join(", ")}, all)`,
      );
    }
    for (const p of owners) modes[p.id] = v;
  }
  return modes;
}
