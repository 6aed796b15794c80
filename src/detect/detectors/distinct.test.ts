import assert from "node:assert/strict";
import { test } from "node:test";
import { seededInts } from "../../../test/support/random.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { parseRules } from "../load.ts";
import { severityFor, type CompiledRule } from "../rule.ts";
import { distinctDetector } from "./distinct.ts";

const [rule] = parseRules(
  [
    "id: spray",
    "type: distinct",
    "query: 'event.dataset: sshd'",
    "field: user.name",
    "threshold: 3",
    "severity: { 3: medium, 5: high }",
    "window: 1m",
  ].join("\n"),
  "inline",
).rules as [CompiledRule];

/**
 * The detector's counting by its definition, with no shortcut: each value's time is its latest sighting, a
 * value counts while that time is within the window before the event's time, the whole map is walked on every
 * event and sweep, and an alert's first_seen is the earliest time counted.
 */
function reference(r: CompiledRule) {
  const groups = new Map<string, { seen: Map<string, number>; alerted: number }>();
  const expire = (seen: Map<string, number>, min: number) => {
    for (const [v, at] of seen) if (at < min) seen.delete(v);
  };
  return {
    observe(key: string, value: string, t: number) {
      let s = groups.get(key);
      if (!s) groups.set(key, (s = { seen: new Map(), alerted: -1 }));
      expire(s.seen, t - r.window);
      if (!((s.seen.get(value) ?? -Infinity) > t)) s.seen.set(value, t);
      const count = s.seen.size;
      if (count < 3) {
        s.alerted = -1;
        return undefined;
      }
      const tier = severityFor(r.tiers, count);
      if (tier.index <= s.alerted) return undefined;
      s.alerted = tier.index;
      return { count, first: Math.min(...s.seen.values()) };
    },
    sweep(t: number) {
      for (const [k, s] of groups) {
        expire(s.seen, t - r.window);
        if (s.seen.size === 0) groups.delete(k);
      }
    },
    get keys() {
      return groups.size;
    },
  };
}

test("distinct: a value seen before the window does not count because a late line came in between", () => {
  const d = distinctDetector(rule);
  const at = (user: string, t: number) =>
    d.observe(
      { "@timestamp": t, event: { dataset: "sshd" }, user: { name: user } } as SecurityEvent,
      "k",
      t,
      1,
    );
  // alice 10:00:00, then a late line for bob 09:59:50, then carol 10:01:00: bob (10 s older than alice) is out
  // of the minute before carol's line, so only 2 distinct users are in it.
  assert.equal(at("alice", 600_000), undefined);
  assert.equal(at("bob", 590_000), undefined);
  assert.equal(at("carol", 660_000), undefined);
  assert.equal(at("dave", 660_000)?.count, 3);
});

test("distinct: same alerts and groups as walking the map every time, timestamps out of order included", () => {
  const rand = seededInts(7);
  for (let round = 0; round < 20; round++) {
    const d = distinctDetector(rule);
    const ref = reference(rule);
    let clock = 0;
    for (let i = 0; i < 2000; i++) {
      // Mostly forward in time, sometimes back (out-of-order lines), sometimes a long gap.
      const step = rand(10);
      clock += step < 7 ? rand(8_000) : step < 9 ? -rand(30_000) : rand(200_000);
      const t = Math.max(0, clock);
      const key = `10.0.0.${rand(3)}`;
      const user = `u${rand(8)}`;
      const e = { "@timestamp": t, event: { dataset: "sshd" }, user: { name: user } } as SecurityEvent;
      const got = d.observe(e, key, t, 1);
      const want = ref.observe(key, user, t);
      assert.deepEqual(got && { count: got.count, first: got.first_seen }, want, `round ${round} event ${i}`);
      if (i % 25 === 0) {
        d.sweep(clock);
        ref.sweep(clock);
        assert.equal(d.keys, ref.keys);
      }
    }
  }
});

test("distinct with a small cap (one tier): same alerts as the uncapped definition, out of order included", () => {
  // One tier of 3: the detector keeps at most 3 values per group, dropping the one seen longest ago.
  const [capped] = parseRules(
    [
      "id: spray3",
      "type: distinct",
      "query: 'event.dataset: sshd'",
      "field: user.name",
      "threshold: 3",
      "window: 1m",
    ].join("\n"),
    "inline",
  ).rules as [CompiledRule];
  const rand = seededInts(11);
  for (let round = 0; round < 20; round++) {
    const d = distinctDetector(capped);
    const ref = reference(capped);
    let clock = 0;
    for (let i = 0; i < 2000; i++) {
      const step = rand(10);
      clock += step < 7 ? rand(8_000) : step < 9 ? -rand(20_000) : rand(200_000);
      const t = Math.max(0, clock);
      const user = `u${rand(5)}`;
      const e = { "@timestamp": t, event: { dataset: "sshd" }, user: { name: user } } as SecurityEvent;
      const got = d.observe(e, "k", t, 1);
      const want = ref.observe("k", user, t);
      assert.equal(got !== undefined, want !== undefined, `round ${round} event ${i}`);
    }
  }
});
