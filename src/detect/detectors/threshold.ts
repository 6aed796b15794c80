/** `threshold`: at least N matching events (weights summed) per group within a sliding window. */
import type { SecurityEvent } from "../../core/event.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { KeyedState, SlidingCount } from "../window.ts";
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
  win: SlidingCount;
  /** Highest tier already alerted in the current burst (-1: none). */
  alerted: number;
  sample: SecurityEvent[];
}

export function thresholdDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "threshold") throw new Error("not a threshold rule");
  const threshold = rule.spec.threshold;
  const state = new KeyedState<State>(rule.spec.max_keys);
  const make = (): State => ({ win: new SlidingCount(), alerted: -1, sample: [] });
  return groupedDetector(rule, state, {
    accepts: rule.query,
    observe(e, key, t, weight) {
      const s = state.touch(key, make);
      s.win.expire(t, rule.window);
      if (s.win.length === 0) newBurst(s);
      // A late event (older than the newest counted) says nothing about whether the current burst is over.
      const late = t < s.win.last;
      const count = s.win.add(t, weight, rule.cap, rule.window);
      pushSample(s.sample, e);
      if (count < threshold) {
        if (!late) s.alerted = -1;
        return undefined;
      }
      const tier = severityFor(rule.tiers, count);
      if (tier.index <= s.alerted) return undefined;
      s.alerted = tier.index;
      return makeAlert(rule, key, t, {
        severity: tier.severity,
        count,
        first: s.win.from,
        last: s.win.to,
        events: s.sample,
      });
    },
    ended(s, t) {
      s.win.expire(t, rule.window);
      return s.win.length === 0;
    },
    weight: (s) => s.win.sum,
    encode: (s) => ({ win: s.win.entries(), alerted: s.alerted, sample: s.sample }),
    decode(v) {
      const win = SlidingCount.restore(v.win, rule.cap);
      const alerted = Math.min(restoreTier(v.alerted), rule.tiers.length - 1);
      return win && { win, alerted, sample: restoreSample(v.sample) };
    },
  });
}
