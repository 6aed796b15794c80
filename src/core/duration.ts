import { PortcullisError } from "./errors.ts";

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** The longest period a Node.js timer can wait: a longer one fires after 1 ms, over and over. */
export const MAX_TIMER_MS = 2_147_483_647;
/** The longest duration the configuration and the CLI accept (ten years): a ban, a retention period. */
export const MAX_DURATION_MS = 3650 * 86_400_000;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/;

/** Parses `10m`, `1h30m`, `90s`, `2d`, or a bare number of seconds. Returns milliseconds. */
export function parseDuration(text: string | number, where = "duration"): number {
  if (typeof text === "number") {
    if (!Number.isFinite(text) || text < 0) throw bad(String(text), where);
    return text * 1000;
  }
  const s = text.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  let total = 0;
  let rest = s;
  while (rest.length) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!m) throw bad(text, where);
    total += Number(m[1]) * (UNITS[m[2]!] ?? 0);
    rest = rest.slice(m[0].length);
  }
  if (!s.length) throw bad(text, where);
  return total;
}

export function isDuration(text: string): boolean {
  return /^\d+$/.test(text) || /^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+$/.test(text) || DURATION.test(text);
}

/**
 * Milliseconds of a duration (a {@link isDuration} text or a non-negative number of seconds), or undefined when
 * it is none. For schema refinements: they run even after a union refused the value (a negative number), and
 * must not throw there (parseDuration would, out of validation, losing the path and every other problem).
 */
export function durationMs(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isFinite(v) && v >= 0 ? v * 1000 : undefined;
  return typeof v === "string" && isDuration(v) ? parseDuration(v) : undefined;
}

/** Formats milliseconds as a short human duration: `10m`, `1h30m`, `2d`. */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  const parts: string[] = [];
  let rest = Math.round(ms);
  for (const [unit, size] of [
    ["d", 86_400_000],
    ["h", 3_600_000],
    ["m", 60_000],
    ["s", 1000],
  ] as const) {
    if (rest >= size) {
      parts.push(`${Math.floor(rest / size)}${unit}`);
      rest %= size;
    }
  }
  if (!parts.length) return `${rest}ms`;
  return parts.join("");
}

function bad(text: string, where: string): PortcullisError {
  return new PortcullisError(
    "CONFIG_INVALID",
    `${where}: "${text}" is not a duration (use e.g. 90s, 10m, 1h30m, 2d)`,
  );
}
