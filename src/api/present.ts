/**
 * Records as they leave the API: times as ISO-8601 text (ADR 0006), everything else as stored. Works on any
 * record, so stream events of unknown shape are handled too.
 */
import type { BanOutcome } from "./control.ts";
import type { ResultOutcome } from "./errors.ts";

const TIME_KEYS = new Set([
  "@timestamp",
  "expires",
  "ended_at",
  "first_seen",
  "last_seen",
  "at",
  "started",
  "now",
]);

export function iso(ms: number): string | number {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? ms : d.toISOString();
}

/** A shallow copy of `r` with its known time fields as ISO text (and `events[*]` likewise). */
export function present(r: object): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (TIME_KEYS.has(k) && typeof v === "number") out[k] = iso(v);
    else if (k === "events" && Array.isArray(v))
      out[k] = v.map((e: unknown) => (e && typeof e === "object" ? present(e) : e));
    else out[k] = v;
  }
  return out;
}

/** One target's result in a response body. */
export interface TargetResult {
  target: string;
  outcome: ResultOutcome;
  reason: string;
  /** Expiry of the ban in force (ISO-8601). */
  expires?: string;
  decision_id?: string;
  /** With `Prefer: wait=N`: how enforcement stands (see enforcement.ts). */
  enforcement?: "applied" | "failed" | "pending" | "simulated";
}

export function resultOf(target: string, o: BanOutcome): TargetResult {
  const r: TargetResult = { target: o.target ?? target, outcome: o.outcome, reason: o.reason };
  if (o.expires !== undefined) r.expires = String(iso(o.expires));
  const id = o.decision?.id ?? o.decisionId;
  if (id !== undefined) r.decision_id = id;
  return r;
}

/** Input echoed back in a result, bounded (it may be hostile; JSON encoding makes it inert). */
export function echo(v: string): string {
  return v.length > 100 ? `${v.slice(0, 99)}…` : v;
}
