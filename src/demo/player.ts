/**
 * Plays a scenario into a live log, accelerated: the line at scenario second `at` is appended at wall time
 * `start + at / speed`, carrying its simulated timestamp (`base + at`). Detection windows use event time, so
 * an accelerated log is judged as the real hour would be.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { syslogLine, type ScenarioLine } from "./scenario.ts";

export interface PlayOptions {
  lines: readonly ScenarioLine[];
  /** The log file (appended to). */
  path: string;
  /** Epoch ms of scenario second 0 (the timestamps written). */
  base: number;
  host: string;
  /** Scenario seconds per wall second. */
  speed: number;
  signal: AbortSignal;
  /** After each write: lines written so far. */
  onWrite?: (written: number) => void;
  /** Longest sleep between two checks (ms). */
  tickMs?: number;
}

/** Resolves with the number of lines written (all of them, unless aborted). */
export async function play(o: PlayOptions): Promise<number> {
  const fd = openSync(o.path, "a");
  const started = performance.now();
  let i = 0;
  try {
    while (i < o.lines.length && !o.signal.aborted) {
      const scenarioNow = ((performance.now() - started) / 1000) * o.speed;
      const chunk: string[] = [];
      while (i < o.lines.length && o.lines[i]!.at <= scenarioNow) {
        chunk.push(`${syslogLine(o.base, o.host, o.lines[i]!)}\n`);
        i++;
      }
      if (chunk.length) {
        writeSync(fd, chunk.join(""));
        o.onWrite?.(i);
      }
      if (i >= o.lines.length) break;
      const wait = ((o.lines[i]!.at - scenarioNow) / o.speed) * 1000;
      try {
        await delay(Math.max(1, Math.min(o.tickMs ?? 100, wait)), undefined, { signal: o.signal });
      } catch {
        break; // aborted
      }
    }
  } finally {
    closeSync(fd);
  }
  return i;
}
