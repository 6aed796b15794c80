/**
 * Value tests for leaves, prepared once per query literal: one function per JavaScript type of the event value
 * (string, number, boolean, null), arrays matching when any element does. `compile.ts` puts them behind field
 * accessors. Semantics per field kind: README.md in this folder.
 */
import { parseIp } from "../core/ip.ts";
import type { KqlValue, RangeOp } from "./ast.ts";
import { compileTextMatcher } from "./text.ts";
import { compileIpMatcher, compileWildcard, parseIsoDate, parseNumber, readLiteral } from "./values.ts";

/** Tests of one value by its JavaScript type; arrays match when any element does. */
export interface Tests {
  str: (s: string) => boolean;
  num: (n: number) => boolean;
  bool: (b: boolean) => boolean;
  /** Whether an explicit null matches. */
  nul: boolean;
  /** Set when `str` is exactly `s === exact`: lets the field matcher compare before dispatching on type. */
  exact?: string;
}

export const NEVER = () => false;
const MAX_ARRAY_DEPTH = 32;

export function anyValue(t: Tests): (v: unknown) => boolean {
  const { str, num, bool, nul } = t;
  const test = (v: unknown, depth: number): boolean => {
    switch (typeof v) {
      case "string":
        return str(v);
      case "number":
        return num(v);
      case "boolean":
        return bool(v);
      case "object":
        if (v === null) return nul;
        if (Array.isArray(v) && depth < MAX_ARRAY_DEPTH) {
          for (const x of v as unknown[]) if (test(x, depth + 1)) return true;
        }
        return false;
      default:
        return false;
    }
  };
  return (v) => test(v, 0);
}

/** Matching on text fields: see text.ts. */
export function textTests(value: KqlValue): Tests {
  const m = compileTextMatcher(value);
  return { str: m, num: (n) => m(String(n)), bool: (b) => m(String(b)), nul: value.kind === "null" };
}

/** Keyword semantics: exact and case-sensitive, numbers numerically, addresses by CIDR, dates as epoch ms. */
export function keywordTests(value: KqlValue, ip: boolean, date: boolean): Tests {
  switch (value.kind) {
    case "null":
      return { str: (s) => s === "null", num: NEVER, bool: NEVER, nul: true, exact: "null" };
    case "boolean": {
      const text = String(value.value);
      return { str: (s) => s === text, num: NEVER, bool: (b) => b === value.value, nul: false, exact: text };
    }
    case "wildcard": {
      const g = compileWildcard(value.parts);
      return { str: g, num: (n) => g(String(n)), bool: (b) => g(String(b)), nul: false };
    }
    case "text":
      break;
  }
  const text = value.text;
  if (ip) {
    const m = compileIpMatcher(text);
    if (m) return { str: m, num: NEVER, bool: NEVER, nul: false };
  }
  const { num, date: ms } = readLiteral(text, date);
  const numTest =
    num === undefined && ms === undefined
      ? NEVER
      : ms === undefined || ms === num
        ? (n: number) => n === num
        : num === undefined
          ? (n: number) => n === ms
          : (n: number) => n === num || n === ms;
  const boolTest = text === "true" || text === "false" ? (b: boolean) => String(b) === text : NEVER;
  if (date && ms !== undefined) {
    // ISO text in the event (documents read from Elasticsearch): compare instants, not spellings.
    const str = (s: string) => s === text || parseIsoDate(s) === ms;
    return { str, num: numTest, bool: boolTest, nul: false };
  }
  return { str: (s) => s === text, num: numTest, bool: boolTest, nul: false, exact: text };
}

const COMPARE = {
  gt: (a: number | string, b: number | string) => a > b,
  gte: (a: number | string, b: number | string) => a >= b,
  lt: (a: number | string, b: number | string) => a < b,
  lte: (a: number | string, b: number | string) => a <= b,
} as const;

/** Ranges: numerically for numbers, by instant for dates, else by string order (as on keyword fields). */
export function rangeTests(op: RangeOp, text: string, date: boolean, ip: boolean): Tests {
  const cmp = COMPARE[op];
  const bound = ip ? parseIp(text.trim()) : undefined;
  if (bound) {
    // Addresses order numerically within a family (as on Elasticsearch ip fields).
    return {
      str: (s) => {
        const a = parseIp(s);
        return a !== undefined && a.family === bound.family && cmp(compareGroups(a.groups, bound.groups), 0);
      },
      num: NEVER,
      bool: NEVER,
      nul: false,
    };
  }
  const { num, date: ms } = readLiteral(text, date);
  if (ms !== undefined && (date || num === undefined)) {
    const toTime = (s: string) => parseIsoDate(s) ?? (date ? parseNumber(s) : undefined);
    return {
      str: (s) => {
        const t = toTime(s);
        return t !== undefined && cmp(t, ms);
      },
      num: (n) => cmp(n, ms),
      bool: NEVER,
      nul: false,
    };
  }
  if (num !== undefined) {
    return {
      str: (s) => {
        const x = parseNumber(s);
        return x !== undefined && cmp(x, num);
      },
      num: (n) => cmp(n, num),
      bool: NEVER,
      nul: false,
    };
  }
  return { str: (s) => cmp(s, text), num: NEVER, bool: NEVER, nul: false };
}

function compareGroups(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return 0;
}

export function existsValue(v: unknown, depth = 0): boolean {
  if (v === undefined || v === null) return false;
  if (!Array.isArray(v)) return true;
  if (depth >= MAX_ARRAY_DEPTH) return false;
  for (const x of v as unknown[]) if (existsValue(x, depth + 1)) return true;
  return false;
}
