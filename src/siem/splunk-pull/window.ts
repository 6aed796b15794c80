/**
 * Search windows. The configured `earliest`/`latest` are Splunk relative time modifiers (`-15m`, `now`); each
 * run resolves them against the injected clock and sends absolute epoch seconds, so the source knows exactly
 * which window every result came from (the seen-set is keyed on it) and a run is reproducible. Supported:
 * `now` and `-<n><unit>` with units s, m, h, d, w (and Splunk's long spellings). Snapping (`@h`), months,
 * years and absolute times are refused at config time, with a message saying what to write instead.
 */

const UNIT_MS: Record<string, number> = {
  s: 1000,
  sec: 1000,
  secs: 1000,
  second: 1000,
  seconds: 1000,
  m: 60_000,
  min: 60_000,
  mins: 60_000,
  minute: 60_000,
  minutes: 60_000,
  h: 3_600_000,
  hr: 3_600_000,
  hrs: 3_600_000,
  hour: 3_600_000,
  hours: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
  days: 86_400_000,
  w: 604_800_000,
  week: 604_800_000,
  weeks: 604_800_000,
};

const RELATIVE = /^-(\d{1,6})([a-z]+)$/;

/** Offset from now in ms (0 or negative) of a relative time modifier, or a reason it is not supported. */
export function relativeOffset(text: string): { ok: true; ms: number } | { ok: false; reason: string } {
  const t = text.trim();
  if (t === "now" || t === "-0s" || t === "0") return { ok: true, ms: 0 };
  if (t.includes("@")) {
    return { ok: false, reason: "snapping (@) is not supported: use a plain offset such as -15m or -1h" };
  }
  const m = RELATIVE.exec(t);
  const unit = m ? UNIT_MS[m[2]!] : undefined;
  if (!m || unit === undefined) {
    return {
      ok: false,
      reason: "expected `now` or a past offset such as -15m, -2h, -1d (units s, m, h, d, w)",
    };
  }
  return { ok: true, ms: -Number(m[1]) * unit };
}

export interface Window {
  /** Inclusive start, epoch ms (a whole second). */
  earliest: number;
  /** Exclusive end, epoch ms (a whole second). */
  latest: number;
}

/** The window of a run at `now`, from the two offsets, on whole seconds (what Splunk is sent). */
export function windowAt(now: number, earliestOffset: number, latestOffset: number): Window {
  const sec = (t: number) => Math.floor(t / 1000) * 1000;
  return { earliest: sec(now + earliestOffset), latest: sec(now + latestOffset) };
}

/** Epoch seconds as Splunk's `earliest_time`/`latest_time` take them. */
export function epochSeconds(ms: number): string {
  return String(Math.floor(ms / 1000));
}

/** SPL must start with a generating command: plain queries get `search ` in front, `| tstats ...` is kept. */
export function normalizeSearch(spl: string): string {
  const s = spl.trim();
  return /^(?:search(?=\s|$)|\|)/i.test(s) ? s : `search ${s}`;
}
