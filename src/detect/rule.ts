/**
 * A rule compiled for matching: KQL compiled once, durations in ms, severity tiers sorted.
 */
import type { Severity } from "../core/alert.ts";
import { parseDuration } from "../core/duration.ts";
import { compileKql, type KqlPredicate } from "../kql/index.ts";
import type { RuleSpec } from "./schema.ts";

export interface SeverityTier {
  min: number;
  severity: Severity;
}

export interface CompiledRule {
  spec: RuleSpec;
  id: string;
  name: string;
  /** Where the rule came from (file:line), for messages. */
  origin: string;
  window: number;
  /** Ban duration suggested by the rule, ms. */
  duration: number | undefined;
  tiers: SeverityTier[];
  /** Counts needed to tell every tier apart (bounds window memory). */
  cap: number;
  /** Primary condition (`query`, or `first.query` for sequences). */
  query: KqlPredicate;
  /** Sequences: the closing condition. */
  then?: KqlPredicate;
  severityBy?: { query: KqlPredicate; severity: Severity }[];
  suppress: number;
  /**
   * Values `event.dataset` must have for any condition of the rule to match (undefined: any). Lets the engine
   * evaluate only the rules that can match an event's dataset.
   */
  datasets: Set<string> | undefined;
}

export function tiersOf(spec: RuleSpec): SeverityTier[] {
  const s = spec.severity;
  if (typeof s === "string") return [{ min: 0, severity: s }];
  return Object.entries(s)
    .map(([k, v]) => ({ min: Number(k), severity: v }))
    .sort((a, b) => a.min - b.min);
}

/** The tier for a count: the highest tier whose minimum is reached, else the lowest tier. */
export function severityFor(tiers: SeverityTier[], count: number): { severity: Severity; index: number } {
  let index = 0;
  for (let i = 0; i < tiers.length; i++) if (count >= tiers[i]!.min) index = i;
  return { severity: tiers[index]!.severity, index };
}

function datasetsOf(preds: KqlPredicate[]): Set<string> | undefined {
  let acc: Set<string> | undefined;
  for (const p of preds) {
    const req = p.required.get("event.dataset");
    if (!req) return undefined; // one condition can match any dataset
    acc ??= new Set();
    for (const v of req) acc.add(v);
  }
  return acc;
}

export function compileRule(spec: RuleSpec, origin: string): CompiledRule {
  const tiers = tiersOf(spec);
  const threshold = "threshold" in spec ? spec.threshold : spec.type === "sequence" ? spec.first.count : 1;
  const query = compileKql(spec.type === "sequence" ? spec.first.query : spec.query);
  const then = spec.type === "sequence" ? compileKql(spec.then.query) : undefined;
  const severityBy =
    spec.type === "match" && spec.severity_by
      ? spec.severity_by.map((s) => ({ query: compileKql(s.query), severity: s.severity }))
      : undefined;
  return {
    spec,
    id: spec.id,
    name: spec.name ?? spec.id,
    origin,
    window: "window" in spec ? parseDuration(spec.window) : 0,
    duration: spec.duration === undefined ? undefined : parseDuration(spec.duration),
    tiers,
    cap: Math.max(threshold, ...tiers.map((t) => t.min)),
    query,
    ...(then ? { then } : {}),
    ...(severityBy ? { severityBy } : {}),
    suppress: spec.type === "match" && spec.suppress !== undefined ? parseDuration(spec.suppress) : 300_000,
    datasets: datasetsOf(then ? [query, then] : [query]),
  };
}
