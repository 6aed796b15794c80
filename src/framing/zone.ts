/**
 * Wall-clock time in a time zone -> epoch milliseconds, for timestamps that carry no offset (classic syslog,
 * nginx and apache error logs). The zone is configurable: `local` (the default: the process's zone), `UTC`, or
 * an IANA name such as `Europe/Paris`. Offsets are computed once per wall-clock hour and cached, so converting
 * a timestamp costs a few arithmetic operations.
 */
export class Zone {
  readonly name: string;
  readonly #fmt: Intl.DateTimeFormat | undefined;
  readonly #cache = new Map<number, number>();

  constructor(name = "local") {
    this.name = name;
    if (name === "local" || name === "UTC" || name === "utc") {
      this.#fmt = undefined;
    } else {
      try {
        this.#fmt = new Intl.DateTimeFormat("en-US", {
          timeZone: name,
          hourCycle: "h23",
          era: "short",
          year: "numeric",
          month: "numeric",
          day: "numeric",
          hour: "numeric",
          minute: "numeric",
          second: "numeric",
        });
      } catch (e) {
        throw new RangeError(
          `unknown time zone "${name}" (use local, UTC or an IANA name like Europe/Paris)`,
          {
            cause: e,
          },
        );
      }
    }
  }

  /** Offset (ms, local minus UTC) in effect at the instant `utcMs`. */
  offsetAt(utcMs: number): number {
    if (this.name === "UTC" || this.name === "utc") return 0;
    if (!this.#fmt) return -new Date(utcMs).getTimezoneOffset() * 60_000;
    const parts = this.#fmt.formatToParts(new Date(utcMs));
    const get = (t: string) => Number(parts.find((p) => p.type === t)?.value ?? 0);
    // Years before 1 come as `1 BC`, `2 BC`, ... (the era is asked for only to tell them apart).
    const year = parts.some((p) => p.type === "era" && p.value === "BC") ? 1 - get("year") : get("year");
    const asUtc = utcTime(year, get("month"), get("day"), get("hour"), get("minute"), get("second"));
    return asUtc - Math.floor(utcMs / 1000) * 1000;
  }

  /**
   * Epoch ms of a wall-clock time in this zone. `month` is 1-12. A wall-clock time that exists twice (the hour
   * repeated when clocks go back) is read as the first of the two; one that does not exist (the hour skipped
   * when clocks go forward) with the offset in effect before the change, i.e. that much later: the
   * "compatible" reading of RFC 5545 and JavaScript's Temporal, the same in every zone.
   * See {@link toEpochLater} for the second reading of a repeated time.
   */
  toEpoch(
    year: number,
    month: number,
    day: number,
    hour: number,
    minute: number,
    second: number,
    ms = 0,
  ): number {
    const naive = utcTime(year, month, day, hour, minute, second, ms);
    if (this.name === "UTC" || this.name === "utc") return naive;
    const key = Math.floor(naive / 3_600_000);
    let off = this.#cache.get(key);
    if (off === undefined) {
      off = this.#readings(naive)[0];
      if (this.#cache.size > 100_000) this.#cache.clear();
      this.#cache.set(key, off);
    }
    return naive - off;
  }

  /** The second reading of a wall-clock time repeated when clocks go back; otherwise {@link toEpoch}'s. */
  toEpochLater(
    year: number,
    month: number,
    day: number,
    hour: number,
    minute: number,
    second: number,
    ms = 0,
  ): number {
    const naive = utcTime(year, month, day, hour, minute, second, ms);
    if (this.name === "UTC" || this.name === "utc") return naive;
    return naive - this.#readings(naive)[1];
  }

  /**
   * The offsets of the first and the second reading of the wall-clock time `naive` (as if it were UTC): the
   * offsets a day before and a day after (no zone changes its clocks twice within two days) are the
   * candidates; a candidate holds if it is the offset in effect at the instant it gives.
   */
  #readings(naive: number): [number, number] {
    const before = this.offsetAt(naive - 86_400_000);
    const after = this.offsetAt(naive + 86_400_000);
    if (before === after) return [before, before];
    const beforeHolds = this.offsetAt(naive - before) === before;
    const afterHolds = this.offsetAt(naive - after) === after;
    if (beforeHolds && afterHolds) {
      // Repeated: the larger offset gives the earlier instant.
      return before > after ? [before, after] : [after, before];
    }
    if (beforeHolds) return [before, before];
    if (afterHolds) return [after, after];
    // Skipped: read with the offset before the change (02:30 when clocks jump from 02:00 to 03:00 is 03:30).
    return [before, before];
  }
}

const MONTHS: Record<string, number> = {
  Jan: 1,
  Feb: 2,
  Mar: 3,
  Apr: 4,
  May: 5,
  Jun: 6,
  Jul: 7,
  Aug: 8,
  Sep: 9,
  Oct: 10,
  Nov: 11,
  Dec: 12,
};

/** `Jan` -> 1 ... `Dec` -> 12 (case-sensitive, as syslog writes them; also accepts upper/lower case). */
export function monthNumber(name: string): number | undefined {
  return MONTHS[name] ?? MONTHS[name.charAt(0).toUpperCase() + name.slice(1, 3).toLowerCase()];
}

/**
 * How zone-less and year-less timestamps are read: the zone, and the reference instant a year-less date
 * is placed near (in the latest year that puts it at most one day after the reference: see yearFor).
 */
export interface TimeContext {
  zone: Zone;
  /** Epoch ms used to infer missing years and as the time of lines that carry none. */
  reference(): number;
}

const DAY_MS = 86_400_000;
const DAYS = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Days in `month` (1-12) of `year`. */
export function daysInMonth(year: number, month: number): number {
  if (month !== 2) return DAYS[month - 1] ?? 0;
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0) ? 29 : 28;
}

/**
 * `Date.UTC` with a 1-based month, for every year: `Date.UTC` reads years 0-99 as 1900-1999 (`0099-01-01`
 * would be 1999), so those few go through `setUTCFullYear`.
 */
export function utcTime(
  year: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
  ms = 0,
): number {
  const t = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  if (year >= 100 || year < 0) return t;
  const d = new Date(t);
  d.setUTCFullYear(year);
  return d.getTime();
}

/**
 * The year of a year-less date (`Jan  1 00:29:00`): the latest year that puts it at most one day after the
 * reference (see {@link TimeContext}), and in which the date exists (`Feb 29` goes back to a leap year);
 * undefined for a date that no year has (`Feb 30`).
 */
export function yearFor(
  ctx: TimeContext,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  return yearAt(ctx.zone, ctx.reference(), month, day, hour, minute, second);
}

/** {@link yearFor} for the reference `ref`. */
export function yearAt(
  zone: Zone,
  ref: number,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
): number | undefined {
  if (!(day >= 1 && day <= (DAYS[month - 1] ?? 0))) return undefined;
  const limit = ref + DAY_MS;
  // The year of the reference is its UTC year, which in a zone east of UTC may still be the previous year
  // for the first hours of January (and a clock running a little ahead may write next year's Jan 1): next
  // year is tried for Jan 1 and 2 (a Jan 3 is always more than a day after a reference in this UTC year,
  // whatever the zone). The previous year always qualifies (it ends before the reference's year starts,
  // give or take 14 hours), except for Feb 29, which may go back up to 8 years to a leap year.
  const start = new Date(ref).getUTCFullYear() + (month === 1 && day <= 2 ? 1 : 0);
  for (let y = start; y > start - 10; y--) {
    if (day <= daysInMonth(y, month) && zone.toEpoch(y, month, day, hour, minute, second) <= limit) return y;
  }
  return undefined; // only for a reference that is not a time
}

/** The first year after `year` in which `month`/`day` exists (the next leap year for Feb 29). */
export function nextYearWith(year: number, month: number, day: number): number {
  let y = year + 1;
  while (daysInMonth(y, month) < day && y < year + 9) y++;
  return y;
}

/**
 * Parses `+0100`, `+01:00`, `-04:00`, `Z` into an offset in ms (local minus UTC); undefined if malformed
 * (hours above 23 or minutes above 59, as RFC 3339 says).
 */
export function parseOffset(s: string): number | undefined {
  if (s === "Z" || s === "z") return 0;
  const m = /^([+-])([01]\d|2[0-3]):?([0-5]\d)$/.exec(s);
  if (!m) return undefined;
  const v = (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  return m[1] === "-" ? -v : v;
}
