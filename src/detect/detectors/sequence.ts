/** `sequence`: at least N events matching `first`, then one matching `then`, same group, within the window. */
import type { SecurityEvent } from "../../core/event.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { KeyedState, SlidingCount } from "../window.ts";
import { groupedDetector, makeAlert, pushSample, restoreSample, type Detector } from "./types.ts";

interface State {
  firsts: SlidingCount;
  sample: SecurityEvent[];
  /**
   * The latest `then` that came too early (fewer than `count` firsts before it in event time). A first written
   * late (another host's log, a slower source) may still belong before it: the sequence is then completed at
   * the `then`'s time, as if the lines had come in order.
   */
  early?: { t: number; e: SecurityEvent };
}

export function sequenceDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "sequence" || !rule.then) throw new Error("not a sequence rule");
  const need = rule.spec.first.count;
  const then = rule.then;
  const state = new KeyedState<State>(rule.spec.max_keys);
  const make = (): State => ({ firsts: new SlidingCount(), sample: [] });
  /** The sequence of `key` is complete with the `then` event `e` at `t`: its alert; counting starts afresh. */
  const complete = (key: string, s: State, e: SecurityEvent, t: number, count: number, first: number) => {
    pushSample(s.sample, e);
    const alert = makeAlert(rule, key, t, {
      severity: severityFor(rule.tiers, count).severity,
      count,
      first,
      events: s.sample,
    });
    state.delete(key);
    return alert;
  };
  return groupedDetector(rule, state, {
    accepts: (e) => then(e) || rule.query(e),
    observe(e, key, t, weight) {
      if (then(e)) {
        const s = state.get(key);
        if (!s) return undefined;
        s.firsts.expire(t, rule.window);
        // Only the firsts at or before the `then` count (a late `then` does not follow newer ones).
        const count = s.firsts.sumUntil(t);
        if (count < need) {
          if (!s.early || s.early.t <= t) s.early = { t, e };
          return undefined;
        }
        return complete(key, s, e, t, count, s.firsts.first ?? t);
      }
      const s = state.touch(key, make);
      s.firsts.expire(t, rule.window);
      // Firsts that all expired are not shown as the sample of a later sequence.
      if (s.firsts.length === 0) s.sample.length = 0;
      s.firsts.add(t, weight, rule.cap, rule.window);
      pushSample(s.sample, e);
      const early = s.early;
      // A late first before a `then` already seen (within the window before it): is that sequence complete now?
      if (early !== undefined && t <= early.t && t >= early.t - rule.window) {
        const count = s.firsts.sumBetween(early.t - rule.window, early.t);
        if (count < need) return undefined;
        return complete(key, s, early.e, early.t, count, s.firsts.firstFrom(early.t - rule.window) ?? t);
      }
      return undefined;
    },
    ended(s, t) {
      s.firsts.expire(t, rule.window);
      return s.firsts.length === 0;
    },
    weight: (s) => s.firsts.sum,
    encode: (s) => ({ firsts: s.firsts.entries(), sample: s.sample }),
    decode(v) {
      const firsts = SlidingCount.restore(v.firsts, rule.cap);
      return firsts && { firsts, sample: restoreSample(v.sample) };
    },
  });
}
