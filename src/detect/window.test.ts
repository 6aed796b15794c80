/**
 * Sliding windows with events out of time order (several hosts or files merged): a late event is counted only
 * with events within one window of it, expiry is by time not by arrival, and the detectors report the window
 * they counted.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { seededInts } from "../../test/support/random.ts";
import type { Alert } from "../core/alert.ts";
import type { SecurityEvent } from "../core/event.ts";
import { DetectionEngine } from "./engine.ts";
import { parseRules } from "./load.ts";
import { SlidingCount } from "./window.ts";

const MIN = 60_000;
const W = 10 * MIN;

/**
 * What a late event must be counted with: the most events any window of length W holding `t` holds, among the
 * events still held (those at or after the newest time seen minus W, as expiry keeps them).
 */
function busiest(held: number[], t: number): number {
  let best = 0;
  for (const end of held) {
    if (end < t || end > t + W) continue;
    best = Math.max(best, held.filter((x) => x >= end - W && x <= end).length);
  }
  return best;
}

test("SlidingCount: a late entry is counted with the busiest window holding it, never with more", () => {
  const rand = seededInts(11);
  for (let round = 0; round < 50; round++) {
    const w = new SlidingCount();
    let held: number[] = [];
    let clock = 0;
    for (let i = 0; i < 300; i++) {
      // Mostly forward, often late by up to 1.5 windows.
      const step = rand(10);
      const t = step < 6 ? (clock += rand(2 * MIN)) : Math.max(0, clock - rand(15 * MIN));
      w.expire(t, W);
      held = held.filter((x) => x >= t - W);
      const late = t < w.last;
      const got = w.add(t, 1, 1_000, W);
      held.push(t);
      const want = late ? busiest(held, t) : held.length;
      assert.equal(got, want, `round ${round} event ${i}`);
      assert.ok(w.from <= t && t <= w.to && w.to - w.from <= W, `round ${round} event ${i}: window`);
      assert.deepEqual(
        w.entries()[0],
        [...held].sort((a, b) => a - b),
        "entries in time order",
      );
    }
  }
});

test("SlidingCount: an entry behind a newer one still expires (expiry is by time, not by arrival)", () => {
  const w = new SlidingCount();
  w.add(20 * MIN, 1, 100, W);
  w.add(1 * MIN, 1, 100, W);
  w.expire(25 * MIN, W);
  assert.deepEqual(w.entries(), [[20 * MIN], [1]]);
  assert.equal(w.sum, 1);
});

test("SlidingCount: in-order appends still trim to the cap after late entries", () => {
  const w = new SlidingCount();
  for (let i = 10; i < 20; i++) w.add(i, 1, 5, W);
  for (let i = 0; i < 10; i++) w.add(i, 1, 5, W);
  assert.equal(w.add(20, 1, 5, W), 5);
  assert.deepEqual(w.entries()[0], [16, 17, 18, 19, 20]);
});

const RULES = `
id: brute
type: threshold
query: 'event.dataset: sshd and event.outcome: failure'
threshold: 5
window: 10m
severity: { 5: medium, 10: high }
---
id: then-success
type: sequence
first:
  query: 'event.dataset: sshd and event.outcome: failure'
  count: 3
then:
  query: 'event.dataset: sshd and event.action: ssh_login'
window: 10m
`;

function fail(t: number): SecurityEvent {
  return {
    "@timestamp": t,
    event: { dataset: "sshd", action: "ssh_auth_failed", outcome: "failure" },
    source: { ip: "192.0.2.50" },
  };
}

function login(t: number): SecurityEvent {
  return {
    "@timestamp": t,
    event: { dataset: "sshd", action: "ssh_login", outcome: "success" },
    source: { ip: "192.0.2.50" },
  };
}

function feed(times: (number | SecurityEvent)[], rule = "brute"): Alert[] {
  const engine = new DetectionEngine(parseRules(RULES, "inline.yaml").rules);
  const out: Alert[] = [];
  for (const x of times) engine.process(typeof x === "number" ? fail(x * MIN) : x, out);
  return out.filter((a) => a.rule.id === rule);
}

test("threshold: a late event is not counted with events more than the window after it", () => {
  // The reviewer's case: 10:20 on one host, then 10:01..10:04 on another. No 10 minutes hold 5 failures.
  assert.deepEqual(feed([20, 1, 2, 3, 4]), []);
});

test("threshold: a late event completing a window alerts, with that window's first and last times", () => {
  const alerts = feed([0, 2, 3, 5, 1]);
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.count, 5);
  assert.equal(alerts[0]!.first_seen, 0);
  assert.equal(alerts[0]!.last_seen, 5 * MIN);
});

test("threshold: a late event below the threshold does not end the burst (no second alert of the tier)", () => {
  // 5 failures alert; a failure from an hour earlier counts alone; the burst goes on at minute 5.
  const alerts = feed([60, 61, 62, 63, 64, 0, 65]);
  assert.deepEqual(
    alerts.map((a) => a.count),
    [5],
  );
});

test("sequence: firsts newer than a late `then` are not counted before it", () => {
  assert.deepEqual(feed([5, 6, 7, login(4 * MIN)], "then-success"), []);
  assert.equal(feed([1, 2, 3, login(4 * MIN)], "then-success").length, 1);
});
