/** Options shared by commands that read logs. */
import { stat } from "node:fs/promises";
import { PortcullisError } from "../core/errors.ts";
import { Zone, type TimeContext } from "../framing/zone.ts";
import { PARSERS } from "../parsers/registry.ts";

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
    ref = Date.parse(opts.referenceTime);
    if (Number.isNaN(ref))
      throw new PortcullisError("USAGE", `--reference-time: "${opts.referenceTime}" is not an ISO-8601 time`);
  } else if (path !== "-") {
    try {
      ref = (await stat(path)).mtimeMs;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new PortcullisError(
        "INPUT_UNREADABLE",
        `cannot read ${path}: ${code === "ENOENT" ? "no such file" : (e as Error).message}`,
        { cause: e },
      );
    }
  } else {
    ref = Date.now(); // eslint-disable-line no-restricted-properties -- CLI edge: stdin has no mtime
  }
  return { zone, reference: () => ref };
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
      if (mode !== "all" && !(mode in def.modes)) {
        throw new PortcullisError(
          "USAGE",
          `--mode ${v}: parser ${id} has modes ${Object.keys(def.modes).join(", ")}, all`,
        );
      }
      modes[id] = mode;
      continue;
    }
    const owners = PARSERS.filter((p) => v === "all" || v in p.modes);
    if (!owners.length) {
      const known = [...new Set(PARSERS.flatMap((p) => Object.keys(p.modes)))].sort();
      throw new PortcullisError(
        "USAGE",
        `--mode ${v}: no parser has this mode (modes: ${known.join(", ")}, all)`,
      );
    }
    for (const p of owners) modes[p.id] = v;
  }
  return modes;
}
