/** `sequence`: at least N events matching `first`, then one matching `then`, same group, within the window. */
import type { SecurityEvent } from "../../core/event.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { KeyedState, SlidingCount } from "../window.ts";
import { lastGroups, makeAlert, pushSample, restoreGroups, restoreSample, type Detector } from "./types.ts";

interface State {
  firsts: SlidingCount;
  sample: SecurityEvent[];
}

export function sequenceDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "sequence" || !rule.then) throw new Error("not a sequence rule");
  const need = rule.spec.first.count;
  const then = rule.then;
  const state = new KeyedState<State>(rule.spec.max_keys);
  const make = (): State => ({ firsts: new SlidingCount(), sample: [] });
  return {
    rule,
    accepts: (e) => then(e) || rule.query(e),
    observe(e, key, t, weight) {
      if (then(e)) {
        const s = state.get(key);
        if (!s) return undefined;
        s.firsts.expire(t, rule.window);
        // Only the firsts at or before the `then` count (a late `then` does not follow newer ones).
        const count = s.firsts.sumUntil(t);
        if (count < need) return undefined;
        pushSample(s.sample, e);
        const alert = makeAlert(rule, key, t, {
          severity: severityFor(rule.tiers, count).severity,
          count,
          first: s.firsts.first ?? t,
          events: s.sample,
        });
        state.delete(key);
        return alert;
      }
      const s = state.touch(key, make);
      s.firsts.expire(t, rule.window);
      // Firsts that all expired are not shown as the sample of a later sequence.
      if (s.firsts.length === 0) s.sample.length = 0;
      s.firsts.add(t, weight, rule.cap, rule.window);
      pushSample(s.sample, e);
      return undefined;
    },
    forget(key) {
      state.delete(key);
    },
    forgetWhere(covered) {
      state.deleteWhere(covered);
    },
    sweep(t) {
      state.sweep((s) => {
        s.firsts.expire(t, rule.window);
        return s.firsts.length === 0;
      });
    },
    get keys() {
      return state.size;
    },
    get evictions() {
      return state.evictions;
    },
    save(limit) {
      return lastGroups(state.entries(), state.size, limit, (s) => ({
        firsts: s.firsts.entries(),
        sample: s.sample,
      }));
    },
    restore(groups) {
      return restoreGroups(
        groups,
        (v) => {
          const firsts = SlidingCount.restore(v.firsts, rule.cap);
          return firsts && { firsts, sample: restoreSample(v.sample) };
        },
        (k, s) => state.set(k, s),
      );
    },
  };
}
