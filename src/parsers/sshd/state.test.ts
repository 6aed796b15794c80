import assert from "node:assert/strict";
import { test } from "node:test";
import { ConnTable } from "./state.ts";

test("connection keys are distinct for every host and pid, across the small-integer boundary", () => {
  const t = new ConnTable(1 << 20);
  const seen = new Map<number, string>();
  const pids = [0, 1, 4242, (1 << 22) - 1, 1 << 22, 2 ** 31 - 1, 2 ** 32 - 1];
  for (let h = 0; h < 300; h++) {
    for (const pid of pids) {
      const k = t.key(`host${h}`, pid, true);
      const who = `host${h}/${pid}`;
      assert.ok(Number.isSafeInteger(k) && k >= 0, who);
      assert.equal(seen.get(k), undefined, `${who} collides with ${seen.get(k)}`);
      seen.set(k, who);
    }
  }
  // A connection stored under one key is found under it only.
  const a = t.create(t.key("host1", 7, true), "sshd");
  a.addr = "192.0.2.9";
  assert.equal(t.get(t.key("host1", 7, false), "sshd")?.addr, "192.0.2.9");
  assert.equal(t.get(t.key("host2", 7, false), "sshd"), undefined);
  assert.equal(t.get(t.key("host300", 7, false), "sshd"), undefined);
  assert.equal(t.key("never seen", 7, false), -1);
});
