import assert from "node:assert/strict";
import { test } from "node:test";
import { BanTable } from "./bans.ts";

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
