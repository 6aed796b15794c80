/** `match`: one event is enough; repeated matches of a group are suppressed for `suppress` (default 5m). */
import type { Severity } from "../../core/alert.ts";
import type { CompiledRule } from "../rule.ts";
import { KeyedState } from "../window.ts";
import { groupedDetector, makeAlert, restoreTier, type Detector } from "./types.ts";

export function matchDetector(rule: CompiledRule): Detector {
  if (rule.spec.type !== "match") throw new Error("not a match rule");
  const last = new KeyedState<{ at: number; severity: number }>(rule.spec.max_keys);
  const order: Severity[] = ["low", "medium", "high", "critical"];
  return groupedDetector(rule, last, {
    accepts: rule.query,
    observe(e, key, t) {
      let severity: Severity = rule.tiers[0]!.severity;
      if (rule.severityBy) {
        const hit = rule.severityBy.find((s) => s.query(e));
        if (hit) severity = hit.severity;
      }
      const rank = order.indexOf(severity);
      const prev = last.get(key);
      // Suppressed unless the window has passed or this match is more severe than the one alerted.
      if (prev && t - prev.at < rule.suppress && rank <= prev.severity) return undefined;
      last.touch(key, () => ({ at: t, severity: rank }));
      const s = last.get(key)!;
      s.at = t;
      s.severity = rank;
      return makeAlert(rule, key, t, { severity, count: 1, first: t, events: [e] });
    },
    ended: (s, t) => t - s.at >= rule.suppress,
    encode: (s) => ({ at: s.at, severity: s.severity }),
    decode: (v) =>
      typeof v.at === "number" && Number.isFinite(v.at)
        ? { at: v.at, severity: Math.min(restoreTier(v.severity), order.length - 1) }
        : undefined,
  });
}
