import assert from "node:assert/strict";
import { test } from "node:test";
import { BanTable } from "./bans.ts";
import { Policy } from "./policy.ts";

const DAY = 86_400_000;

const ban = (target: string, expires: number) => ({
  target,
  decisionId: `d-${expires}`,
  expires,
  escalation: 0,
});

test("ban history counts earlier bans in a lookback whatever order it was learnt in (restart)", () => {
  const t = new BanTable();
  // A restart restores the active ban first (newest), then the older history.
  t.set(ban("203.0.113.7", 5_000), 4_000);
  t.remember("203.0.113.7", 1_000);
  t.remember("203.0.113.7", 3_000);
  t.remember("203.0.113.7", 2_000);
  assert.equal(t.previousBans("203.0.113.7", 0), 4);
  assert.equal(t.previousBans("203.0.113.7", 2_000), 3);
  assert.equal(t.previousBans("203.0.113.7", 3_500), 1);
  assert.equal(t.previousBans("203.0.113.7", 4_001), 0);
  assert.equal(t.previousBans("198.51.100.1", 0), 0);
});

test("active bans expire lazily at the time given; expire() hands back the ended ones", () => {
  const t = new BanTable();
  t.set(ban("203.0.113.7", 5_000), 0);
  t.set(ban("203.0.113.8", 9_000), 0);
  assert.equal(t.active("203.0.113.7", 4_999)?.expires, 5_000);
  assert.deepEqual(
    t.expire(5_000).map((b) => b.target),
    ["203.0.113.7"],
  );
  assert.equal(t.active("203.0.113.7", 5_000), undefined);
  assert.equal(t.size, 1);
});

test("the escalation history keeps one lookback (keepHistory) of bans, not every ban ever made", () => {
  const t = new BanTable();
  t.keepHistory = 7 * DAY;
  for (let d = 0; d < 100; d++) {
    t.set(
      { target: `192.0.2.${d}`, decisionId: `d${d}`, expires: d * DAY + 600_000, escalation: 0 },
      d * DAY,
    );
    t.set(
      { target: "198.51.100.1", decisionId: `e${d}`, expires: d * DAY + 600_000, escalation: 0 },
      d * DAY,
    );
    t.expire(d * DAY + 3_600_000);
  }
  // Addresses banned once long ago are forgotten; the repeat offender keeps the bans of the last 7 days.
  assert.equal(t.previousBans("192.0.2.0", 0), 0);
  assert.equal(t.previousBans("192.0.2.99", 0), 1);
  assert.equal(t.previousBans("198.51.100.1", 0), 7);
  // A Policy sets it to its escalation lookback.
  const p = new Policy({ escalation: { enabled: true, factor: 2, max: DAY, lookback: 3 * DAY } });
  assert.equal(p.bans.keepHistory, 3 * DAY);
});
