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

/**
 * The work `fn` does on strings, in characters examined: what the hostile-input tests assert on (linear in the
 * input's length), whatever the machine's speed. They never assert on time.
 *
 * While `fn` runs, String.prototype and RegExp.prototype.exec are wrapped (and restored after), and count:
 * - `indexOf`, `includes`: the characters from the start position to the end of the match, or to the end of the
 *   string when there is none; `lastIndexOf` likewise, backwards;
 * - `charCodeAt`, `codePointAt`: one per call;
 * - `split` with a string separator, `toLowerCase`, `toUpperCase`: the length of the string;
 * - every regex call (`exec`, and through it `test`, `match`, `matchAll`, `replace`, `search`, `split` with a
 *   regex): the characters from its start position to the end of its match, or to the end of the string when it
 *   finds none (the start positions the engine may have to try; for a `^`-anchored regex that fails at once this
 *   over-counts, on the safe side); a sticky regex that does not match counts 1.
 *
 * Limits: a regex call is counted by the span it covers, not by what the engine does in it: backtracking inside
 * one call (a pattern quadratic or exponential on one line) is not seen. Nor are `slice`/`substring` (views in V8, O(1)
 * however long: counting their length would report quadratic work where there is none), `startsWith`/`endsWith`
 * (bounded by the needle), `s[i]` and `for...of` on strings, `JSON.parse`/`JSON.stringify`, and work on objects.
 * So the count catches searches, character reads and regex calls repeated over the rest of a line (the usual
 * quadratic parser); a regex-based parser also needs its patterns to be linear by construction (anchored,
 * bounded repetitions, or a global regex advancing through the line), which a test can only check as the right
 * output on the hostile input ({@link assertLinearWork} returns it).
 */
export function work(fn: () => void): number {
  const P = String.prototype;
  const R = RegExp.prototype;
  const names = [
    "indexOf",
    "lastIndexOf",
    "includes",
    "charCodeAt",
    "codePointAt",
    "split",
    "toLowerCase",
    "toUpperCase",
  ] as const;
  const saved = Object.getOwnPropertyDescriptors(P);
  const savedExec = Object.getOwnPropertyDescriptor(R, "exec")!;
  type Search = (this: string, search: string, from?: number) => number;
  const indexOf = saved.indexOf.value as Search;
  const lastIndexOf = saved.lastIndexOf.value as Search;
  const charCodeAt = saved.charCodeAt.value as (this: string, i: number) => number;
  const codePointAt = saved.codePointAt.value as (this: string, i: number) => number | undefined;
  const split = saved.split.value as (this: string, separator: unknown, limit?: number) => string[];
  const toLowerCase = saved.toLowerCase.value as (this: string) => string;
  const toUpperCase = saved.toUpperCase.value as (this: string) => string;
  const exec = savedExec.value as (this: RegExp, s: string) => RegExpExecArray | null;
  const start = (s: string, from: number | undefined) =>
    Math.min(Math.max(Math.trunc(from ?? 0) || 0, 0), s.length);
  let n = 0;
  P.indexOf = function (this: string, search: string, from?: number): number {
    const at = indexOf.call(this, search, from);
    n += (at < 0 ? this.length : at + search.length) - start(this, from);
    return at;
  };
  P.includes = function (this: string, search: string, from?: number): boolean {
    const at = indexOf.call(this, search, from);
    n += (at < 0 ? this.length : at + search.length) - start(this, from);
    return at >= 0;
  };
  P.lastIndexOf = function (this: string, search: string, from?: number): number {
    const at = lastIndexOf.call(this, search, from);
    n += (from === undefined ? this.length : start(this, from) + search.length) - Math.max(at, 0);
    return at;
  };
  P.charCodeAt = function (this: string, i: number): number {
    n++;
    return charCodeAt.call(this, i);
  };
  P.codePointAt = function (this: string, i: number): number | undefined {
    n++;
    return codePointAt.call(this, i);
  };
  P.split = function (this: string, separator: unknown, limit?: number): string[] {
    // A regex separator is counted by its exec calls.
    if (!(separator instanceof RegExp)) n += this.length;
    return split.call(this, separator, limit);
  };
  P.toLowerCase = function (this: string): string {
    n += this.length;
    return toLowerCase.call(this);
  };
  P.toUpperCase = function (this: string): string {
    n += this.length;
    return toUpperCase.call(this);
  };
  R.exec = function (this: RegExp, input: string): RegExpExecArray | null {
    const s = `${input}`;
    const from = this.global || this.sticky ? Math.min(this.lastIndex, s.length) : 0;
    const m = exec.call(this, s);
    n += m ? m.index + m[0].length - from : this.sticky ? 1 : s.length - from;
    return m;
  };
  try {
    fn();
  } finally {
    for (const name of names) Object.defineProperty(P, name, saved[name]);
    Object.defineProperty(R, "exec", savedExec);
  }
  return n;
}

/** The size of a test input: a string's length, or the length of an object as a JSON document. */
function sizeOf(input: unknown): number {
  return typeof input === "string" ? input.length : JSON.stringify(input).length;
}

/**
 * Asserts that `parse` costs work ({@link work}) linear in its input, and returns what it gave on `make(n)` (the
 * full-size input, 1 MB by default) for the test to check. Two assertions, neither on time:
 * - a bound: at most `perChar` characters examined per character of `make(n)`;
 * - a scaling check: the work on `make(n)` is at most 2.5 times the work on `make(n / 2)`. Linear work at most
 *   doubles (less, with the fixed part); work growing with the square of the length quadruples. This is the check
 *   that does not depend on the constant, and the one a quadratic loop of searches or regex calls fails.
 * `make` builds the input from `n` (typically the number of characters of the repeated hostile part).
 */
export function assertLinearWork<I, T>(
  make: (n: number) => I,
  parse: (input: I) => T,
  { n = 1 << 20, perChar = 20, label = "" }: { n?: number; perChar?: number; label?: string } = {},
): T {
  const half = make(n / 2);
  const full = make(n);
  const size = sizeOf(full);
  const what = label || `${(typeof full === "string" ? full : JSON.stringify(full)).slice(0, 80)}...`;
  const w1 = work(() => void parse(half));
  let out: T | undefined;
  const w2 = work(() => void (out = parse(full)));
  assert.ok(w2 <= perChar * size, `${what}: ${w2} characters examined for an input of ${size}`);
  assert.ok(w2 <= 2.5 * w1, `${what}: ${w1} characters examined at n/2, ${w2} at n (more than 2.5 times)`);
  return out as T;
}
