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
    const asUtc = Date.UTC(
      get("year"),
      get("month") - 1,
      get("day"),
      get("hour"),
      get("minute"),
      get("second"),
    );
    return asUtc - Math.floor(utcMs / 1000) * 1000;
  }

  /** Epoch ms of a wall-clock time in this zone. `month` is 1-12. */
  toEpoch(
    year: number,
    month: number,
    day: number,
    hour: number,
    minute: number,
    second: number,
    ms = 0,
  ): number {
    const naive = Date.UTC(year, month - 1, day, hour, minute, second, ms);
    if (this.name === "UTC" || this.name === "utc") return naive;
    const key = Math.floor(naive / 3_600_000);
    let off = this.#cache.get(key);
    if (off === undefined) {
      // First guess with the offset at the naive instant, then correct once across a DST change.
      const o1 = this.offsetAt(naive);
      const o2 = this.offsetAt(naive - o1);
      off = o2;
      if (this.#cache.size > 100_000) this.#cache.clear();
      this.#cache.set(key, off);
    }
    return naive - off;
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
 * is placed near (a date more than one day after the reference belongs to the previous year).
 */
export interface TimeContext {
  zone: Zone;
  /** Epoch ms used to infer missing years and as the time of lines that carry none. */
  reference(): number;
}

export function yearFor(
  ctx: TimeContext,
  month: number,
  day: number,
  hour: number,
  minute: number,
  second: number,
) {
  const ref = ctx.reference();
  const refYear = new Date(ref).getUTCFullYear();
  const t = ctx.zone.toEpoch(refYear, month, day, hour, minute, second);
  return t > ref + 86_400_000 ? refYear - 1 : refYear;
}

/** Parses `+0100`, `+01:00`, `-04:00`, `Z` into an offset in ms (local minus UTC); undefined if malformed. */
export function parseOffset(s: string): number | undefined {
  if (s === "Z" || s === "z") return 0;
  const m = /^([+-])(\d\d):?(\d\d)$/.exec(s);
  if (!m) return undefined;
  const v = (Number(m[2]) * 60 + Number(m[3])) * 60_000;
  return m[1] === "-" ? -v : v;
}
