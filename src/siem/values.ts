/**
 * Reading untrusted JSON: own-property lookups by dotted path (nested objects and flattened dotted keys
 * alike), bounded text, times, severities and ATT&CK technique ids. Nothing here throws.
 */
import { SEVERITIES, type Severity } from "../core/alert.ts";

export type Json = Record<string, unknown>;

export function isObject(v: unknown): v is Json {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Reads `path` (`source.ip`) from `obj`, accepting `{source: {ip}}`, `{"source.ip": ...}` and mixed forms.
 * Own properties only (a body's `__proto__` or `constructor` keys are data, never the prototype's).
 */
export function lookup(obj: unknown, path: string): unknown {
  if (!isObject(obj)) return undefined;
  if (Object.hasOwn(obj, path)) return obj[path];
  for (let i = path.indexOf("."); i > 0; i = path.indexOf(".", i + 1)) {
    const head = path.slice(0, i);
    if (Object.hasOwn(obj, head)) {
      const v = lookup(obj[head], path.slice(i + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** The first of `paths` holding a non-empty string, as bounded text. */
export function text(obj: unknown, paths: readonly string[], max = 200): string | undefined {
  for (const p of paths) {
    const v = lookup(obj, p);
    if (typeof v === "string" && v.length) return clean(v, max);
    if (typeof v === "number" && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

/** Control characters replaced (terminal escapes are data), length bounded. */
export function clean(s: string, max = 200): string {
  const t = s.replace(/[\u0000-\u001f\u007f-\u009f]/g, " ");
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** A non-negative integer from a number or a numeric string (Splunk sends every value as text). */
export function count(v: unknown): number | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

const ISO =
  /^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/i;
/** Years outside this range are typos or hostile input, not alert times. */
const MIN_T = Date.UTC(2000, 0, 1);
const MAX_T = Date.UTC(2200, 0, 1);

/**
 * Epoch ms from ISO-8601 text (`Z`, `+00:00`, `+0000` (Wazuh), microseconds (ElastAlert), a space instead
 * of `T`; no zone = UTC), epoch seconds or ms as a number or digits (Splunk `_time`, `earliest`).
 */
export function time(v: unknown): number | undefined {
  let t: number | undefined;
  if (typeof v === "number") t = epoch(v);
  else if (typeof v === "string" && v.length <= 40) {
    if (/^\d{9,13}(?:\.\d{1,6})?$/.test(v)) t = epoch(Number(v));
    else {
      const m = ISO.exec(v);
      if (m) {
        const ms = m[7] ? Number(m[7].slice(0, 3).padEnd(3, "0")) : 0;
        let zone = 0;
        const z = m[8];
        if (z && z.toUpperCase() !== "Z") {
          const d = z.replace(":", "");
          zone = (d[0] === "-" ? -1 : 1) * (Number(d.slice(1, 3)) * 60 + Number(d.slice(3, 5))) * 60_000;
        }
        const mo = Number(m[2]);
        const d = Number(m[3]);
        const h = Number(m[4]);
        const mi = Number(m[5]);
        const sec = Number(m[6] ?? 0);
        if (mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h <= 23 && mi <= 59 && sec <= 60) {
          t = Date.UTC(Number(m[1]), mo - 1, d, h, mi, sec, ms) - zone;
        }
      }
    }
  }
  return t !== undefined && Number.isFinite(t) && t >= MIN_T && t < MAX_T ? t : undefined;
}

function epoch(n: number): number {
  return n < 1e11 ? Math.round(n * 1000) : Math.round(n);
}

/** The first of `paths` holding a valid time. */
export function firstTime(obj: unknown, paths: readonly string[]): number | undefined {
  for (const p of paths) {
    const t = time(lookup(obj, p));
    if (t !== undefined) return t;
  }
  return undefined;
}

const SEVERITY_WORDS: Record<string, Severity> = {
  info: "low",
  informational: "low",
  low: "low",
  minor: "low",
  medium: "medium",
  moderate: "medium",
  normal: "medium",
  warning: "medium",
  high: "high",
  major: "high",
  error: "high",
  critical: "critical",
  severe: "critical",
  fatal: "critical",
};

/** A severity named in words (`medium`, `High`, `informational`, `critical`...). */
export function severityWord(v: unknown): Severity | undefined {
  if (typeof v !== "string" || v.length > 20) return undefined;
  const w = v.trim().toLowerCase();
  return Object.hasOwn(SEVERITY_WORDS, w) ? SEVERITY_WORDS[w] : undefined;
}

/** Elastic's risk score (0-100) on its own bands: low < 22 <= medium < 48 <= high < 74 <= critical. */
export function severityFromRisk(v: unknown): Severity | undefined {
  const n =
    typeof v === "number" ? v : typeof v === "string" && /^\d{1,3}(?:\.\d+)?$/.test(v) ? Number(v) : NaN;
  if (!Number.isFinite(n) || n < 0 || n > 100) return undefined;
  return n < 22 ? "low" : n < 48 ? "medium" : n < 74 ? "high" : "critical";
}

export function maxSeverity(a: Severity, b: Severity): Severity {
  return SEVERITIES.indexOf(a) >= SEVERITIES.indexOf(b) ? a : b;
}

const TECHNIQUE = /^T\d{4}(?:\.\d{3})?$/;
const MAX_TECHNIQUES = 16;

/** ATT&CK technique ids from a string, an array of strings, or objects with `id` (and `subtechnique`). */
export function techniques(v: unknown, out: Set<string>, depth = 0): Set<string> {
  if (out.size >= MAX_TECHNIQUES || depth > 8) return out;
  if (typeof v === "string") {
    const id = v.trim().toUpperCase();
    if (TECHNIQUE.test(id)) out.add(id);
  } else if (Array.isArray(v)) {
    for (const e of v.slice(0, MAX_TECHNIQUES)) techniques(e, out, depth + 1);
  } else if (isObject(v)) {
    techniques(v.id, out, depth + 1);
    techniques(v.technique, out, depth + 1);
    techniques(v.subtechnique, out, depth + 1);
  }
  return out;
}

/** A short, safe summary of a rejected value for the response body. */
export function preview(v: unknown): unknown {
  if (typeof v === "string") return clean(v, 100);
  if (typeof v === "number" || typeof v === "boolean" || v === null || v === undefined) return v ?? null;
  if (Array.isArray(v)) return `[array of ${v.length}]`;
  return `[${typeof v}]`;
}
