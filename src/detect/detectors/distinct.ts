/** `distinct`: at least N distinct values of a field per group within a sliding window (password spraying). */
import type { SecurityEvent } from "../../core/event.ts";
import { fieldAccessor } from "../../kql/index.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { KeyedState } from "../window.ts";
import { makeAlert, pushSample, type Detector } from "./types.ts";

interface State {
  /** value -> last time seen; Map order = order of last sighting (oldest first). */
  seen: Map<string, number>;
  alerted: number;
  sample: SecurityEvent[];
}

export function distinctDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "distinct") throw new Error("not a distinct rule");
  const { threshold, field } = rule.spec;
  const state = new KeyedState<State>(rule.spec.max_keys);
  const read = fieldAccessor(field);
  const make = (): State => ({ seen: new Map(), alerted: -1, sample: [] });
  return {
    rule,
    accepts: rule.query,
    observe(e, key, t) {
      const raw = read(e);
      if (raw === undefined || raw === null) return undefined;
      const value = typeof raw === "string" ? raw : JSON.stringify(raw);
      const s = state.touch(key, make);
      const min = t - rule.window;
      for (const [v, at] of s.seen) {
        if (at >= min) break;
        s.seen.delete(v);
      }
      s.seen.delete(value);
      s.seen.set(value, t);
      if (s.seen.size > rule.cap) s.seen.delete(s.seen.keys().next().value as string);
      pushSample(s.sample, e);
      const count = s.seen.size;
      if (count < threshold) {
        s.alerted = -1;
        return undefined;
      }
      const tier = severityFor(rule.tiers, count);
      if (tier.index <= s.alerted) return undefined;
      s.alerted = tier.index;
      const first = s.seen.values().next().value ?? t;
      return makeAlert(rule, key, t, {
        severity: tier.severity,
        count,
        distinct: count,
        first,
        events: s.sample,
      });
    },
    forget(key) {
      state.delete(key);
    },
    sweep(t) {
      const min = t - rule.window;
      state.sweep((s) => {
        for (const [v, at] of s.seen) {
          if (at >= min) break;
          s.seen.delete(v);
        }
        return s.seen.size === 0;
      });
    },
    get keys() {
      return state.size;
    },
    get evictions() {
      return state.evictions;
    },
  };
}
