/** `distinct`: at least N distinct values of a field per group within a sliding window (password spraying). */
import type { SecurityEvent } from "../../core/event.ts";
import { fieldAccessor } from "../../kql/index.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { KeyedState } from "../window.ts";
import {
  groupedDetector,
  makeAlert,
  newBurst,
  pushSample,
  restoreSample,
  restoreTier,
  type Detector,
} from "./types.ts";

interface State {
  /** value -> last time seen; Map order = order of last sighting (oldest first). */
  seen: Map<string, number>;
  /**
   * A lower bound of the times in `seen` (+Infinity when empty): while it is at least the window's start,
   * nothing has expired and the map need not be walked (creating its iterator is the costly part).
   */
  floor: number;
  /** Every sighting so far came no earlier than the one before: map order is then time order. */
  ordered: boolean;
  last: number;
  alerted: number;
  sample: SecurityEvent[];
}

export function distinctDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "distinct") throw new Error("not a distinct rule");
  const { threshold, field } = rule.spec;
  const state = new KeyedState<State>(rule.spec.max_keys);
  const read = fieldAccessor(field);
  const make = (): State => ({
    seen: new Map(),
    floor: Infinity,
    ordered: true,
    last: -Infinity,
    alerted: -1,
    sample: [],
  });
  /**
   * Drops the values last seen before `min`. In time order they are at the front of the map; after an
   * out-of-order sighting the whole map is walked (a stale value may sit behind a fresh one), which also finds
   * out whether the map is back in time order.
   */
  const expire = (s: State, min: number) => {
    if (s.floor >= min) return;
    if (s.ordered) {
      for (const [v, at] of s.seen) {
        if (at >= min) {
          s.floor = at;
          return;
        }
        s.seen.delete(v);
      }
    } else {
      let floor = Infinity;
      let last = -Infinity;
      let ordered = true;
      for (const [v, at] of s.seen) {
        if (at < min) {
          s.seen.delete(v);
          continue;
        }
        if (at < floor) floor = at;
        if (at < last) ordered = false;
        last = at;
      }
      if (s.seen.size > 0) {
        s.floor = floor;
        s.ordered = ordered;
        s.last = last;
        return;
      }
    }
    // Empty: whatever comes next starts in time order.
    s.floor = Infinity;
    s.ordered = true;
    s.last = -Infinity;
  };
  /** The earliest time in the group (its first entry while in time order). */
  const earliest = (s: State, t: number): number => {
    if (s.ordered) return s.seen.values().next().value ?? t;
    let min = t;
    for (const at of s.seen.values()) if (at < min) min = at;
    return min;
  };
  /** A saved group: `seen` as [value, time] pairs in map order, bounded by the rule's cap. */
  const decode = (v: Record<string, unknown>): State | undefined => {
    if (!Array.isArray(v.seen)) return undefined;
    const s = make();
    for (const pair of v.seen as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string") return undefined;
      const at: unknown = pair[1];
      if (typeof at !== "number" || !Number.isFinite(at)) return undefined;
      s.seen.delete(pair[0]);
      s.seen.set(pair[0], at);
      if (at < s.last) s.ordered = false;
      s.last = at;
      if (at < s.floor) s.floor = at;
      if (s.seen.size > rule.cap) s.seen.delete(s.seen.keys().next().value as string);
    }
    if (s.seen.size === 0) return undefined;
    s.alerted = Math.min(restoreTier(v.alerted), rule.tiers.length - 1);
    s.sample = restoreSample(v.sample);
    return s;
  };
  return groupedDetector(rule, state, {
    accepts: rule.query,
    observe(e, key, t) {
      const raw = read(e);
      if (raw === undefined || raw === null) return undefined;
      const value = typeof raw === "string" ? raw : JSON.stringify(raw);
      const s = state.touch(key, make);
      expire(s, t - rule.window);
      if (s.seen.size === 0) newBurst(s);
      // A value's time is its latest sighting: a late line does not make it look older than it is.
      const known = s.seen.get(value);
      if (known === undefined || known <= t) {
        s.seen.delete(value);
        s.seen.set(value, t);
        if (t < s.last) s.ordered = false;
        s.last = t;
        if (t < s.floor) s.floor = t;
        // Over the cap, the oldest value goes: the one at the front while in time order, else the one seen
        // longest ago (after a late line the front is not the oldest; the cap is small: a tier's count).
        if (s.seen.size > rule.cap)
          s.seen.delete(s.ordered ? (s.seen.keys().next().value as string) : oldest(s));
      }
      pushSample(s.sample, e);
      const count = s.seen.size;
      if (count < threshold) {
        s.alerted = -1;
        return undefined;
      }
      const tier = severityFor(rule.tiers, count);
      if (tier.index <= s.alerted) return undefined;
      s.alerted = tier.index;
      const first = earliest(s, t);
      return makeAlert(rule, key, t, {
        severity: tier.severity,
        count,
        distinct: count,
        first,
        events: s.sample,
      });
    },
    ended(s, t) {
      expire(s, t - rule.window);
      return s.seen.size === 0;
    },
    weight: (s) => s.seen.size,
    encode: (s) => ({ seen: [...s.seen], alerted: s.alerted, sample: s.sample }),
    decode,
  });
}

/** The value of `s` last seen longest ago. */
function oldest(s: { seen: Map<string, number> }): string {
  let key = "";
  let at = Infinity;
  for (const [k, t] of s.seen) {
    if (t < at) {
      at = t;
      key = k;
    }
  }
  return key;
}
