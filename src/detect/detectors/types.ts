/**
 * A detector runs one rule over the events that match its condition. It keeps per-group state (bounded by the
 * rule's `max_keys`) and returns an alert when the rule fires. Detectors never read the wall clock: `t` is
 * the event's time.
 */
import type { Alert } from "../../core/alert.ts";
import type { SecurityEvent } from "../../core/event.ts";
import type { CompiledRule } from "../rule.ts";

/** The group-by values of an alert, rebuilt from its key only when an alert is made. */
export type GroupValues = (key: string) => Record<string, string>;

export interface Detector {
  readonly rule: CompiledRule;
  /** Whether the event matches one of the rule's conditions (evaluated before grouping, which costs more). */
  accepts(e: SecurityEvent): boolean;
  /** Feeds an event that {@link accepts} returned true for. */
  observe(e: SecurityEvent, key: string, t: number, weight: number): Alert | undefined;
  /** Forgets a group (after a ban: counting starts afresh). */
  forget(key: string): void;
  /** Drops groups whose window holds nothing at time `t` (memory stays flat over long runs). */
  sweep(t: number): void;
  readonly keys: number;
  readonly evictions: number;
}

export const SAMPLE_SIZE = 5;

/** Keeps the most recent `SAMPLE_SIZE` events. */
export function pushSample(sample: SecurityEvent[], e: SecurityEvent): void {
  if (sample.length >= SAMPLE_SIZE) sample.shift();
  sample.push(e);
}

export function makeAlert(
  rule: CompiledRule,
  key: string,
  t: number,
  fields: {
    severity: Alert["severity"];
    count: number;
    first: number;
    events: SecurityEvent[];
    distinct?: number;
  },
): Alert {
  const a: Alert = {
    id: `${rule.id}:${key.replaceAll("\u0001", ",")}:${t}`,
    "@timestamp": t,
    rule: { id: rule.id, name: rule.name, type: rule.spec.type },
    severity: fields.severity,
    group: {}, // filled in by the engine (it knows how keys are made)
    count: fields.count,
    first_seen: fields.first,
    last_seen: t,
    events: fields.events.slice(),
    attack: rule.spec.attack,
    origin: "native",
    response: rule.spec.response,
  };
  if (rule.spec.description !== undefined) a.rule.description = rule.spec.description;
  if (fields.distinct !== undefined) a.distinct = fields.distinct;
  if (rule.duration !== undefined) a.duration = rule.duration;
  return a;
}
