/**
 * A detector runs one rule over the events that match its condition. It keeps per-group state (bounded by the
 * rule's `max_keys`) and returns an alert when the rule fires. Detectors never read the wall clock: `t` is
 * the event's time.
 */
import type { Alert } from "../../core/alert.ts";
import type { SecurityEvent } from "../../core/event.ts";
import type { CompiledRule } from "../rule.ts";
import type { KeyedState } from "../window.ts";

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
  /** Forgets every group whose key `covered` returns true for (after a ban of a range holding several). */
  forgetWhere(covered: (key: string) => boolean): void;
  /** Drops groups whose window holds nothing at time `t` (memory stays flat over long runs). */
  sweep(t: number): void;
  readonly keys: number;
  readonly evictions: number;
  /**
   * The groups' state as JSON-compatible data (saved at shutdown so that windows survive a restart), at most
   * `limit` groups: the most recently created ones.
   */
  save(limit: number): [string, unknown][];
  /** Restores groups {@link save} wrote; malformed ones are skipped. Returns how many were restored. */
  restore(groups: readonly [string, unknown][]): number;
}

/** What one kind of detector adds to the group bookkeeping that {@link groupedDetector} shares. */
export interface DetectorParts<S> {
  accepts: (e: SecurityEvent) => boolean;
  observe: Detector["observe"];
  /** Whether a group holds nothing any more at time `t` (a sweep drops it). */
  ended: (s: S, t: number) => boolean;
  /** How far a group is towards firing (its count): at the cap, the lightest of the oldest groups is evicted. */
  weight?: (s: S) => number;
  /** A group's state as JSON-compatible data. */
  encode: (s: S) => unknown;
  /** A saved group back, or undefined when it is malformed (skipped). */
  decode: (v: Record<string, unknown>) => S | undefined;
}

/**
 * A detector whose groups live in `state`: forgetting, sweeping, counting, saving (the `limit` most recently
 * created groups) and restoring are the same for every kind; `parts` says what differs.
 */
export function groupedDetector<S>(
  rule: CompiledRule,
  state: KeyedState<S>,
  parts: DetectorParts<S>,
): Detector {
  // When the cap is reached, groups with nothing left in their window make room first (see KeyedState).
  state.ended = parts.ended;
  state.weight = parts.weight;
  const observe = parts.observe;
  return {
    rule,
    accepts: parts.accepts,
    observe(e, key, t, weight) {
      state.now = t;
      return observe(e, key, t, weight);
    },
    forget(key) {
      state.delete(key);
    },
    forgetWhere(covered) {
      state.deleteWhere(covered);
    },
    sweep(t) {
      state.sweep((s) => parts.ended(s, t));
    },
    get keys() {
      return state.size;
    },
    get evictions() {
      return state.evictions;
    },
    save(limit) {
      return lastGroups(state.entries(), state.size, limit, parts.encode);
    },
    restore(groups) {
      return restoreGroups(groups, parts.decode, (k, s) => state.set(k, s));
    },
  };
}

/** The last `limit` entries of a group iterator (creation order), as `save` returns them. */
function lastGroups<S>(
  entries: Iterable<[string, S]>,
  size: number,
  limit: number,
  encode: (s: S) => unknown,
): [string, unknown][] {
  const out: [string, unknown][] = [];
  let skip = size - limit;
  for (const [k, s] of entries) {
    if (skip-- > 0) continue;
    out.push([k, encode(s)]);
  }
  return out;
}

/**
 * Restores each saved group with `decode` (undefined: malformed, skipped); keys must be strings. Returns the
 * number restored.
 */
function restoreGroups<S>(
  groups: readonly [string, unknown][],
  decode: (v: Record<string, unknown>) => S | undefined,
  put: (key: string, s: S) => void,
): number {
  let n = 0;
  for (const g of groups) {
    if (!Array.isArray(g) || typeof g[0] !== "string" || typeof g[1] !== "object" || g[1] === null) continue;
    const s = decode(g[1] as Record<string, unknown>);
    if (s === undefined) continue;
    put(g[0], s);
    n++;
  }
  return n;
}

/** Sample events read back from saved state: objects with a numeric `@timestamp` and an `event` object. */
export function restoreSample(v: unknown): SecurityEvent[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter(
      (e): e is SecurityEvent =>
        typeof e === "object" &&
        e !== null &&
        typeof (e as SecurityEvent)["@timestamp"] === "number" &&
        typeof (e as SecurityEvent).event === "object" &&
        (e as SecurityEvent).event !== null,
    )
    .slice(-SAMPLE_SIZE);
}

/** An integer tier index saved with a group (-1: none alerted). */
export function restoreTier(v: unknown): number {
  return typeof v === "number" && Number.isInteger(v) && v >= -1 ? v : -1;
}

export const SAMPLE_SIZE = 5;

/**
 * A group whose window emptied: its burst is over and the next event starts a new one (alerted afresh, with its
 * own sample), the same whether or not a sweep dropped the group in between. Without this, a new burst whose
 * first line already reaches the threshold (`message repeated 5 times`) would be taken for the old one.
 */
export function newBurst(s: { alerted: number; sample: SecurityEvent[] }): void {
  s.alerted = -1;
  s.sample.length = 0;
}

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
    /** The newest counted event's time (default `t`: a late event can complete a window ending after it). */
    last?: number;
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
    last_seen: fields.last ?? t,
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
