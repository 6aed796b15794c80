/**
 * Timestamp readers for the formats found at the start of log lines (and inside some messages). Each reads
 * from position `at` of `s` and returns the instant and the index just after the timestamp, or undefined.
 * They are hand-written (no regex backtracking) because they run once per line.
 */
import { daysInMonth, monthNumber, parseOffset, utcTime, yearFor, type TimeContext } from "./zone.ts";

export interface TimeMatch {
  time: number;
  end: number;
}

/** The largest time a Date holds (ms from the epoch either way): anything beyond is not a time. */
const MAX_TIME = 8.64e15;

/** `t` when it is a time a Date can hold, else undefined (a TAI64N label, an epoch count out of range). */
export function validTime(t: number): number | undefined {
  return t >= -MAX_TIME && t <= MAX_TIME ? t : undefined;
}

/** `n` digits at `at` as a number, or -1 (also when the string ends first: charCodeAt is then NaN). */
function digits(s: string, at: number, n: number): number {
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (!(c >= 0 && c <= 9)) return -1;
    v = v * 10 + c;
  }
  return v;
}

/** `HH:MM:SS` at `at`; returns seconds-of-day parts or undefined. */
function hms(s: string, at: number): [number, number, number] | undefined {
  if (s.charCodeAt(at + 2) !== 58 || s.charCodeAt(at + 5) !== 58) return undefined;
  const h = digits(s, at, 2);
  const m = digits(s, at + 3, 2);
  const sec = digits(s, at + 6, 2);
  if (h < 0 || m < 0 || sec < 0 || h > 23 || m > 59 || sec > 60) return undefined;
  return [h, m, sec];
}

/** Optional `.ffffff` or `,fff` fraction; returns [milliseconds, end]. */
function fraction(s: string, at: number): [number, number] {
  const c = s.charCodeAt(at);
  if (c !== 46 && c !== 44) return [0, at];
  let i = at + 1;
  let ms = 0;
  let n = 0;
  while (i < s.length) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) break;
    if (n < 3) ms = ms * 10 + d;
    n++;
    i++;
  }
  if (n === 0) return [0, at];
  while (n < 3) {
    ms *= 10;
    n++;
  }
  return [ms, i];
}

/**
 * Optional `Z`, `+HH:MM` or `+HHMM` offset directly after a time; returns [offsetMs | undefined, end], and
 * [NaN, at] for a sign and a digit that are not a valid offset (`+99:99`): the time is then not read.
 */
function offset(s: string, at: number): [number | undefined, number] {
  const c = s.charCodeAt(at);
  if (c === 90 /* Z */) return [0, at + 1];
  if (c === 43 || c === 45) {
    if (s.charCodeAt(at + 3) === 58) {
      const o = parseOffset(s.slice(at, at + 6));
      if (o !== undefined) return [o, at + 6];
    }
    const o = parseOffset(s.slice(at, at + 5));
    if (o !== undefined) return [o, at + 5];
    const d = s.charCodeAt(at + 1);
    if (d >= 48 && d <= 57) return [NaN, at];
  }
  return [undefined, at];
}

/**
 * ISO-8601 and its log variants: `2005-08-14T10:00:00`, with `.ffffff` or `,fff`, with `Z`, `+02:00` or
 * `+0200`, and with a space instead of `T` (`2013-08-11 03:56:40`, fail2ban's `2006-02-13 15:52:30,388`).
 * Without an offset the time is wall-clock time in the context's zone.
 */
export function readIso(s: string, at: number, ctx: TimeContext): TimeMatch | undefined {
  if (s.charCodeAt(at + 4) !== 45 || s.charCodeAt(at + 7) !== 45) return undefined;
  const sep = s.charCodeAt(at + 10);
  if (sep !== 84 && sep !== 32) return undefined;
  const y = digits(s, at, 4);
  const mo = digits(s, at + 5, 2);
  const d = digits(s, at + 8, 2);
  const t = hms(s, at + 11);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || !t) return undefined;
  const [ms, fEnd] = fraction(s, at + 19);
  const [off, end] = offset(s, fEnd);
  if (Number.isNaN(off)) return undefined;
  const time =
    off === undefined
      ? ctx.zone.toEpoch(y, mo, d, t[0], t[1], t[2], ms)
      : utcTime(y, mo, d, t[0], t[1], t[2], ms) - off;
  return { time, end };
}

/**
 * Classic syslog `Mmm dd HH:MM:SS` (day space- or zero-padded, or a single digit), optionally with a
 * fraction, and optionally with a year before or after the time (`Mmm dd yyyy HH:MM:SS`,
 * `Mmm dd HH:MM:SS yyyy`). Without a year, the year is inferred from the context's reference time.
 */
export function readSyslogDate(s: string, at: number, ctx: TimeContext): TimeMatch | undefined {
  if (s.charCodeAt(at + 3) !== 32) return undefined;
  const mo = monthNumber(s.slice(at, at + 3));
  if (mo === undefined) return undefined;
  let i = at + 4;
  if (s.charCodeAt(i) === 32) i++;
  let d = digits(s, i, 2);
  if (d >= 0 && s.charCodeAt(i + 2) === 32) i += 3;
  else {
    d = digits(s, i, 1);
    if (d < 0 || s.charCodeAt(i + 1) !== 32) return undefined;
    i += 2;
  }
  if (d < 1 || d > 31) return undefined;
  let year: number | undefined;
  if (s.charCodeAt(i + 4) === 32 && digits(s, i, 4) >= 1970) {
    year = digits(s, i, 4);
    i += 5;
  }
  const t = hms(s, i);
  if (!t) return undefined;
  let [ms, end] = fraction(s, i + 8);
  // A year after the time, followed by a space, `]` (Apache's `[Sat Jun 01 02:17:42 2013]`) or the end.
  const after = s.charCodeAt(end + 5);
  if (
    year === undefined &&
    s.charCodeAt(end) === 32 &&
    (after === 32 || after === 93 || Number.isNaN(after))
  ) {
    const y = digits(s, end + 1, 4);
    if (y >= 1970) {
      year = y;
      end += 5;
    }
  }
  const y = year ?? yearFor(ctx, mo, d, t[0], t[1], t[2]);
  if (y === undefined || d > daysInMonth(y, mo)) return undefined;
  const [off, oEnd] = offset(s, end);
  if (Number.isNaN(off)) return undefined;
  if (off !== undefined) return { time: utcTime(y, mo, d, t[0], t[1], t[2], ms) - off, end: oEnd };
  ms = ms || 0;
  return { time: ctx.zone.toEpoch(y, mo, d, t[0], t[1], t[2], ms), end };
}

/** nginx error log `2012/04/09 11:53:29` (wall-clock time in the context's zone). */
export function readSlashDate(s: string, at: number, ctx: TimeContext): TimeMatch | undefined {
  if (s.charCodeAt(at + 4) !== 47 || s.charCodeAt(at + 7) !== 47 || s.charCodeAt(at + 10) !== 32)
    return undefined;
  const y = digits(s, at, 4);
  const mo = digits(s, at + 5, 2);
  const d = digits(s, at + 8, 2);
  const t = hms(s, at + 11);
  if (y < 0 || mo < 1 || mo > 12 || d < 1 || d > daysInMonth(y, mo) || !t) return undefined;
  return { time: ctx.zone.toEpoch(y, mo, d, t[0], t[1], t[2]), end: at + 19 };
}

/** Common Log Format `20/Jan/2015:19:53:28 +0100` (the part inside the brackets). */
export function readClfDate(s: string, at: number, ctx: TimeContext): TimeMatch | undefined {
  if (s.charCodeAt(at + 2) !== 47 || s.charCodeAt(at + 6) !== 47 || s.charCodeAt(at + 11) !== 58)
    return undefined;
  const d = digits(s, at, 2);
  const mo = monthNumber(s.slice(at + 3, at + 6));
  const y = digits(s, at + 7, 4);
  const t = hms(s, at + 12);
  if (d < 1 || mo === undefined || y < 0 || d > daysInMonth(y, mo) || !t) return undefined;
  const [ms, end] = fraction(s, at + 20);
  if (s.charCodeAt(end) === 32) {
    const [off, oEnd] = offset(s, end + 1);
    if (Number.isNaN(off)) return undefined;
    if (off !== undefined) return { time: utcTime(y, mo, d, t[0], t[1], t[2], ms) - off, end: oEnd };
  }
  return { time: ctx.zone.toEpoch(y, mo, d, t[0], t[1], t[2], ms), end };
}

/** ctime style used by Apache's error log: `Sat Jun 01 02:17:42 2013`, `Sat Jul 20 21:34:49.453232 2013`. */
export function readCtime(s: string, at: number, ctx: TimeContext): TimeMatch | undefined {
  if (s.charCodeAt(at + 3) !== 32) return undefined;
  const r = readSyslogDate(s, at + 4, ctx);
  if (!r) return undefined;
  return r;
}

/** TAI64N label `@4000000050f5c8a81a2bd5f4` (daemontools multilog, s6). */
export function readTai64n(s: string, at: number): TimeMatch | undefined {
  if (s.charCodeAt(at) !== 64 || s.length < at + 25) return undefined;
  const hex = s.slice(at + 1, at + 25);
  if (!/^[0-9a-fA-F]{24}$/.test(hex)) return undefined;
  // Label = 2^62 + 10 + seconds since the epoch (libtai's convention; leap seconds are not applied).
  const secs = Number(BigInt(`0x${hex.slice(0, 16)}`) - 0x400000000000000an);
  const nanos = parseInt(hex.slice(16), 16);
  const time = validTime(secs * 1000 + Math.floor(nanos / 1e6));
  return time === undefined ? undefined : { time, end: at + 25 };
}

/** Unix epoch seconds with fraction, as in audit's `msg=audit(1373330716.415:4063)`. */
export function readEpochSeconds(s: string): number | undefined {
  const n = Number(s);
  return n > 0 ? validTime(Math.round(n * 1000)) : undefined;
}
