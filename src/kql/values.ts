/**
 * Literal values, compiled once: numbers, ISO dates, IP addresses and CIDRs, and `*` wildcard patterns.
 * Everything here runs in linear time on any input (wildcards use `startsWith`/`indexOf`, never a RegExp).
 */
import { CidrSet, formatIp, parseCidr } from "../core/ip.ts";

/** A plain decimal number as written in a query: `401`, `-1.5`, `1e3` (not `0x10`, `Infinity`, `""`). */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

export function parseNumber(text: string): number | undefined {
  if (text.length > 64 || !NUMBER.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

/** The value of `n` decimal digits at `i`, or -1. */
function digitsAt(s: string, i: number, n: number): number {
  let v = 0;
  for (let k = i; k < i + n; k++) {
    const c = s.charCodeAt(k) - 48; // NaN past the end
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * An ISO-8601 date or date-time (`2024-01-31`, `2024-01-31T10:00:00.123Z`, `2024-01-31T10:00+02:00`, also a
 * bare year or year-month) as epoch milliseconds. Without an offset the time is UTC (Elasticsearch's default;
 * Kibana would send the browser's zone). Missing parts are the start of the period; no date-math rounding.
 * Hand-written (no RegExp, no allocation): it runs per event when documents carry ISO text.
 */
export function parseIsoDate(s: string): number | undefined {
  const len = s.length;
  if (len < 4 || len > 40) return undefined;
  const year = digitsAt(s, 0, 4);
  let month = 1;
  let day = 1;
  let hour = 0;
  let minute = 0;
  let second = 0;
  let ms = 0;
  let offset = 0;
  let i = 4;
  if (year < 0) return undefined;
  if (s[i] === "-") {
    month = digitsAt(s, 5, 2);
    i = 7;
    if (s[i] === "-") {
      day = digitsAt(s, 8, 2);
      i = 10;
      const sep = s[i];
      if (sep === "T" || sep === "t" || sep === " ") {
        hour = digitsAt(s, 11, 2);
        minute = s[13] === ":" ? digitsAt(s, 14, 2) : -1;
        i = 16;
        if (s[i] === ":") {
          second = digitsAt(s, 17, 2);
          i = 19;
          if (s[i] === "." || s[i] === ",") {
            const start = ++i;
            let frac = 0;
            while (i < len && i - start < 9 && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) {
              if (i - start < 3) frac = frac * 10 + (s.charCodeAt(i) - 48);
              i++;
            }
            if (i === start) return undefined;
            ms = frac * 10 ** Math.max(0, 3 - (i - start));
          }
        }
        const z = s[i];
        if (z === "Z" || z === "z") i++;
        else if (z === "+" || z === "-") {
          const oh = digitsAt(s, i + 1, 2);
          i += 3;
          if (s[i] === ":") i++;
          const om = i < len ? digitsAt(s, i, 2) : 0;
          if (i < len) i += 2;
          if (oh < 0 || om < 0 || oh > 23 || om > 59) return undefined;
          offset = (z === "-" ? -1 : 1) * (oh * 60 + om);
        }
      }
    }
  }
  if (i !== len || month < 1 || month > 12 || day < 1 || hour < 0 || hour > 23) return undefined;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return undefined;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!)) return undefined;
  let t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (year < 100) t = new Date(t).setUTCFullYear(year);
  return t - offset * 60_000;
}

/** The comparable forms of a query literal: as text, as a number, as epoch milliseconds. */
export interface Literal {
  text: string;
  num: number | undefined;
  date: number | undefined;
}

/**
 * Reads a literal. On date fields (`@timestamp`) a date reading comes first and a number is epoch ms; elsewhere
 * a number comes first and a date is only tried when the text is not a number.
 */
export function readLiteral(text: string, dateField: boolean): Literal {
  const num = parseNumber(text);
  const date = dateField ? (parseIsoDate(text) ?? num) : num === undefined ? parseIsoDate(text) : undefined;
  return { text, num, date };
}

// --- wildcards ---------------------------------------------------------------------------------------------

/**
 * Compiles a `*` pattern (the literal pieces around each `*`, at least two) to a case-sensitive, anchored
 * matcher: `adm*` -> startsWith, `*wget*` -> includes, `*.php` -> endsWith, otherwise a left-to-right scan
 * (leftmost match of each middle piece is correct for `*`-only patterns, and linear per piece).
 */
export function compileWildcard(parts: readonly string[]): (s: string) => boolean {
  const first = parts[0] ?? "";
  const last = parts[parts.length - 1] ?? "";
  const middle = parts.slice(1, -1).filter((p) => p !== "");
  const minLength = first.length + last.length + middle.reduce((n, p) => n + p.length, 0);
  if (middle.length === 0) {
    if (first === "" && last === "") return () => true;
    if (first === "") return (s) => s.endsWith(last);
    if (last === "") return (s) => s.startsWith(first);
    return (s) => s.length >= minLength && s.startsWith(first) && s.endsWith(last);
  }
  if (middle.length === 1 && first === "" && last === "") {
    const m = middle[0]!;
    return (s) => s.includes(m);
  }
  return (s) => {
    if (s.length < minLength || !s.startsWith(first) || !s.endsWith(last)) return false;
    const end = s.length - last.length;
    let pos = first.length;
    for (const m of middle) {
      const at = s.indexOf(m, pos);
      if (at < 0 || at + m.length > end) return false;
      pos = at + m.length;
    }
    return true;
  };
}

// --- IP addresses ------------------------------------------------------------------------------------------

/** An IPv4 address as an unsigned 32-bit number, or -1. Same leniency as core/ip.ts (zero-padded decimals). */
export function ipv4ToInt(s: string): number {
  const n = s.length;
  if (n < 7 || n > 15) return -1;
  let acc = 0;
  let octet = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || ++dots > 3) return -1;
      acc = acc * 256 + octet;
      octet = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57) {
      octet = octet * 10 + (c - 48);
      if (++digits > 3 || octet > 255) return -1;
    } else return -1;
  }
  if (dots !== 3 || digits === 0) return -1;
  return acc * 256 + octet;
}

/**
 * A matcher for an address or CIDR written in a query (`10.0.0.0/8`, `2001:db8::/32`, `::ffff:1.2.3.4`),
 * true for any spelling of a contained address; undefined when the text is neither.
 */
export function compileIpMatcher(text: string): ((s: string) => boolean) | undefined {
  const cidr = parseCidr(text.trim());
  if (!cidr) return undefined;
  if (cidr.family === 4) {
    const g = cidr.groups;
    const base = (g[0]! * 65536 + g[1]!) >>> 0;
    const size = 2 ** (32 - cidr.prefix);
    const exact = cidr.prefix === 32 ? formatIp({ family: 4, groups: g }) : undefined;
    const slow = new CidrSet([cidr]);
    return (s) => {
      if (s === exact) return true;
      const v = ipv4ToInt(s);
      if (v >= 0) return v >= base && v < base + size;
      // IPv4-mapped IPv6 and other spellings
      return s.indexOf(":") >= 0 && slow.has(s);
    };
  }
  const set = new CidrSet([cidr]);
  const exact = cidr.prefix === 128 ? cidr.text : undefined;
  return (s) => s === exact || (s.indexOf(":") >= 0 && set.has(s));
}

/** The canonical text of an address written in a query, or undefined (CIDRs with a shorter prefix too). */
export function canonicalAddress(text: string): string | undefined {
  const c = parseCidr(text.trim());
  if (!c || c.prefix !== (c.family === 4 ? 32 : 128) || text.includes("/")) return undefined;
  return c.text;
}
