/**
 * The harness of the parser tests (src/parsers/<id>/parser.test.ts): lines are framed by a {@link LineFramer}
 * and parsed through the dispatcher ({@link ParserSet}), as the pipeline does, with a fixed UTC clock.
 */
import assert from "node:assert/strict";
import type { SecurityEvent } from "../../src/core/event.ts";
import { LineFramer } from "../../src/framing/framer.ts";
import { Zone, type TimeContext } from "../../src/framing/zone.ts";
import { ParserSet } from "../../src/parsers/dispatch.ts";

/** A UTC time context whose "now" (for missing years, and lines without a time) is `reference`. */
export function utcTime(reference: number): TimeContext {
  return { zone: new Zone("UTC"), reference: () => reference };
}

/** The time context of the syslog and web parser tests: UTC, "now" 2024-06-30 12:00. */
export const time = utcTime(Date.UTC(2024, 5, 30, 12));

/** The reference time of the per-line parser tests ({@link parseEach}): 2024-06-01 12:00 UTC. */
export const REF = Date.UTC(2024, 5, 1, 12, 0, 0);

/** The parsers `only`, each in `mode` (their default mode when it is undefined). */
function parserSet(ctx: TimeContext, only: readonly string[], mode: string | undefined): ParserSet {
  if (mode === undefined) return new ParserSet({ time: ctx, only });
  return new ParserSet({ time: ctx, only, modes: Object.fromEntries(only.map((p) => [p, mode])) });
}

/**
 * Parses `lines` with one parser set (state carries from line to line) in {@link time}; returns all events in
 * order. Lines the framer does not make a frame of are skipped.
 */
export function parseLines(
  lines: readonly string[],
  only: readonly string[],
  mode?: string,
): SecurityEvent[] {
  const set = parserSet(time, only, mode);
  const framer = new LineFramer(time);
  const out: SecurityEvent[] = [];
  for (const l of lines) {
    const f = framer.frame(l);
    if (f) set.parse(f, out);
  }
  return out;
}

/**
 * Parses each input (a line, or a document sent as its JSON line) with one parser set, "now" being {@link REF};
 * returns the events of each input.
 */
export function parseEach(
  inputs: readonly (object | string)[],
  only: readonly string[],
  mode?: string,
): SecurityEvent[][] {
  const ctx = utcTime(REF);
  const framer = new LineFramer(ctx);
  const set = parserSet(ctx, only, mode);
  return inputs.map((d) => {
    const out: SecurityEvent[] = [];
    set.parse(framer.frame(typeof d === "string" ? d : JSON.stringify(d))!, out);
    return out;
  });
}

/** The one event of `evs`; fails with `message` unless there is exactly one. */
export function onlyEvent(evs: readonly SecurityEvent[], message: string): SecurityEvent {
  assert.equal(evs.length, 1, message);
  return evs[0]!;
}

/**
 * `run` and `one` of the syslog and web parser tests for parser `id`, in mode "all" unless told otherwise:
 * `run` gives all events of some lines ({@link parseLines}), `one` the single event of one line.
 */
export function lineHarness(id: string): {
  run: (lines: readonly string[], mode?: string, only?: readonly string[]) => SecurityEvent[];
  one: (line: string, mode?: string) => SecurityEvent;
} {
  const run = (lines: readonly string[], mode = "all", only: readonly string[] = [id]) =>
    parseLines(lines, only, mode);
  const one = (line: string, mode = "all") => onlyEvent(run([line], mode), `one event expected for: ${line}`);
  return { run, one };
}

/**
 * `run` and `one` of the per-line parser tests for parser `id`, in mode "normal" unless told otherwise: `run`
 * gives the events of each line ({@link parseEach}), `one` the single event of one line.
 */
export function eachLineHarness(id: string): {
  run: (lines: readonly string[], mode?: string) => SecurityEvent[][];
  one: (line: string, mode?: string) => SecurityEvent;
} {
  const run = (lines: readonly string[], mode = "normal") => parseEach(lines, [id], mode);
  const one = (line: string, mode = "normal") => onlyEvent(run([line], mode)[0]!, `one event for ${line}`);
  return { run, one };
}
