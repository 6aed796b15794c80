import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { ManualClock } from "../core/clock.ts";
import { silentLogger } from "../core/logger.ts";
import type { BanEntry, EntryResult, Responder } from "../responders/types.ts";
import { decision } from "../store/conformance.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { DecisionSync } from "./sync.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-sync-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A responder in memory whose apply can be held, so that requests pile up into one batch. */
class HeldResponder implements Responder {
  readonly name = "mem";
  readonly type = "mem";
  readonly nativeExpiry = false;
  readonly entries = new Map<string, number>();
  readonly calls: string[] = [];
  hold: Promise<void> | undefined;
  async setup() {}
  async apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    this.calls.push(`apply ${entries.map((e) => e.target).join(",")}`);
    await this.hold;
    for (const e of entries) this.entries.set(e.target, e.expires);
    return entries.map((e) => ({ target: e.target, ok: true }));
  }
  // eslint-disable-next-line @typescript-eslint/require-await
  async remove(targets: readonly string[]): Promise<EntryResult[]> {
    this.calls.push(`remove ${targets.join(",")}`);
    for (const t of targets) this.entries.delete(t);
    return targets.map((target) => ({ target, ok: true }));
  }
  // eslint-disable-next-line @typescript-eslint/require-await
  async list(): Promise<BanEntry[]> {
    return [...this.entries].map(([target, expires]) => ({ target, expires }));
  }
  // eslint-disable-next-line @typescript-eslint/require-await
  async healthcheck() {
    return { ok: true, detail: "" };
  }
}

test("a ban revoked before it was enforced is never applied (the later request wins); queued requests batch", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "a.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const t0 = clock.now();
    const a = decision("a", "203.0.113.1", t0);
    const b = decision("b", "203.0.113.2", t0);
    const c = decision("c", "203.0.113.3", t0);
    for (const d of [a, b, c]) await store.insertDecision(d, ["mem"], []);
    let release!: () => void;
    r.hold = new Promise((res) => (release = res));
    const first = sync.applyNow([a]);
    const rest = Promise.all([sync.applyNow([b]), sync.applyNow([c]), sync.removeNow([b])]);
    release();
    await Promise.all([first, rest]);
    // The remove of .2 is still sent (idempotent: an earlier ban of the same target may be enforced).
    assert.deepEqual(r.calls, ["apply 203.0.113.1", "remove 203.0.113.2", "apply 203.0.113.3"]);
    assert.deepEqual([...r.entries.keys()].sort(), ["203.0.113.1", "203.0.113.3"]);
    assert.equal((await store.getDecision("b"))?.status.mem, "removed");
    assert.equal((await store.getDecision("c"))?.status.mem, "applied");
  } finally {
    await store.close();
  }
});

test("reconcile restores what a flushed enforcement point lost and removes what is not wanted", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "b.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    await store.insertDecision(decision("x", "198.51.100.1", clock.now()), ["mem"], []);
    r.entries.set("198.51.100.99", clock.now() + 1000);
    await sync.reconcileAll();
    assert.deepEqual([...r.entries.keys()], ["198.51.100.1"]);
    assert.equal((await store.getDecision("x"))?.status.mem, "applied");
    const audit = await store.listAudit({ limit: 5 });
    assert.equal(audit[0]?.action, "reconcile");
  } finally {
    await store.close();
  }
});

test("a target banned again right after its ban expired keeps its firewall entry when the old ban is removed", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "c.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const old = decision("old", "203.0.113.9", clock.now(), 1000);
    await store.insertDecision(old, ["mem"], []);
    await sync.applyNow([old]);
    clock.advanceBy(1500);
    // The address attacks again and is banned before the expiry tick has run.
    const again = decision("again", "203.0.113.9", clock.now(), 600_000);
    await store.insertDecision(again, ["mem"], []);
    await sync.applyNow([again]);
    const ended = await store.expireDue(clock.now());
    assert.deepEqual(
      ended.map((d) => d.id),
      ["old"],
    );
    await sync.removeEnded(
      (await Promise.all(ended.map((d) => store.getDecision(d.id)))).filter((d) => d !== undefined),
    );
    assert.equal(r.entries.get("203.0.113.9"), again.expires, "the new ban is still enforced");
    assert.ok(!r.calls.some((c) => c.startsWith("remove")), "no remove was sent");
    assert.equal((await store.getDecision("old"))?.status.mem, "removed", "the old one is settled");
    assert.equal((await store.getDecision("again"))?.status.mem, "applied");
    assert.equal((await store.pendingWork(["mem"], clock.now())).remove.length, 0, "nothing left to remove");
  } finally {
    await store.close();
  }
});

test("an entry the firewall refuses is retried with backoff and audited once, not every sync tick", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "d.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  let failing = true;
  const apply = r.apply.bind(r);
  r.apply = async (entries) =>
    failing
      ? entries.map((e) => ({ target: e.target, ok: false, error: "value too large" }))
      : apply(entries);
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const d = decision("bad", "203.0.113.10", clock.now(), 86_400_000);
    await store.insertDecision(d, ["mem"], []);
    let calls = 0;
    const counted = r.apply.bind(r);
    r.apply = (e) => (calls++, counted(e));
    const attempts = async () => {
      const before = calls;
      await sync.syncPending();
      return calls - before;
    };
    assert.equal(await attempts(), 1, "first attempt");
    assert.equal(await attempts(), 0, "not again at once");
    clock.advanceBy(2_000);
    assert.equal(await attempts(), 1, "after 2 s");
    clock.advanceBy(2_000);
    assert.equal(await attempts(), 0, "then after 4 s, not 2 s");
    clock.advanceBy(2_000);
    assert.equal(await attempts(), 1);
    const audit = (await store.auditFor("203.0.113.10")).filter((a) => a.action === "apply_failed");
    assert.equal(audit.length, 1, "audited once");
    assert.equal((await store.getDecision("bad"))?.status.mem, "failed");
    failing = false;
    clock.advanceBy(8_000);
    assert.equal(await attempts(), 1);
    assert.equal((await store.getDecision("bad"))?.status.mem, "applied");
  } finally {
    await store.close();
  }
});

test("a ban made while a reconcile runs is not removed by it (reconcile runs alone on the responder)", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "e.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  let release!: () => void;
  let listing!: () => void;
  const listed = new Promise<void>((res) => (listing = res));
  const gate = new Promise<void>((res) => (release = res));
  const list = r.list.bind(r);
  r.list = async () => {
    listing();
    await gate;
    return list();
  };
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const old = decision("old", "198.51.100.1", clock.now());
    await store.insertDecision(old, ["mem"], []);
    await sync.applyNow([old]);
    const reconciling = sync.reconcileAll();
    await listed;
    // Banned during the reconcile, after its snapshot of the store.
    const fresh = decision("fresh", "203.0.113.7", clock.now());
    await store.insertDecision(fresh, ["mem"], []);
    const applied = sync.applyNow([fresh]);
    release();
    await Promise.all([reconciling, applied]);
    assert.deepEqual([...r.entries.keys()].sort(), ["198.51.100.1", "203.0.113.7"]);
    assert.equal((await store.getDecision("fresh"))?.status.mem, "applied");
  } finally {
    await store.close();
  }
});

test("when a range ban ends, the narrower range bans it covered are applied again at once", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "f.db"), { clock: () => clock.now() });
  // Like an nftables interval set: a wider prefix replaces the narrower elements it covers.
  const r = new HeldResponder();
  const apply = r.apply.bind(r);
  r.apply = (entries) => {
    for (const e of entries) if (e.target === "2001:db8::/48") r.entries.delete("2001:db8:0:1::/64");
    return apply(entries);
  };
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const narrow = decision("narrow", "2001:db8:0:1::/64", clock.now(), 3_600_000);
    const wide = decision("wide", "2001:db8::/48", clock.now(), 60_000);
    const other = decision("other", "2001:db9:0:1::/64", clock.now(), 3_600_000);
    for (const d of [narrow, other, wide]) {
      await store.insertDecision(d, ["mem"], []);
      await sync.applyNow([d]);
    }
    assert.deepEqual([...r.entries.keys()].sort(), ["2001:db8::/48", "2001:db9:0:1::/64"]);
    clock.advanceBy(60_000);
    const ended = await store.expireDue(clock.now());
    r.calls.length = 0;
    await sync.removeEnded(
      (await Promise.all(ended.map((d) => store.getDecision(d.id)))).filter((d) => d !== undefined),
    );
    assert.deepEqual([...r.entries.keys()].sort(), ["2001:db8:0:1::/64", "2001:db9:0:1::/64"]);
    assert.deepEqual(r.calls, ["remove 2001:db8::/48", "apply 2001:db8:0:1::/64"], "only the covered one");
  } finally {
    await store.close();
  }
});

test("an entry applied after its ban was revoked or expired (the apply was in flight) is removed right after", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "g.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const revoked = decision("revoked", "203.0.113.21", clock.now(), 600_000);
    const expired = decision("expired", "203.0.113.22", clock.now(), 1000);
    for (const d of [revoked, expired]) await store.insertDecision(d, ["mem"], []);
    let release!: () => void;
    r.hold = new Promise((res) => (release = res));
    const applying = sync.applyNow([revoked, expired]);
    // Both end while the firewall is still applying them; the removal decided then finds them pending.
    clock.advanceBy(1500);
    const ended = [
      ...(await store.revoke(revoked.target, { type: "cli", name: "ops" }, "false positive", clock.now())),
      ...(await store.expireDue(clock.now())),
    ];
    await sync.removeEnded(
      (await Promise.all(ended.map((d) => store.getDecision(d.id)))).filter((d) => d !== undefined),
    );
    assert.deepEqual(r.calls, ["apply 203.0.113.21"], "nothing to remove yet");
    release();
    await applying;
    await sync.idle();
    assert.deepEqual([...r.entries.keys()], [], "removed once the apply finished");
    // .22's apply was queued behind .21's; each is removed right after its own apply.
    assert.deepEqual(r.calls, [
      "apply 203.0.113.21",
      "remove 203.0.113.21",
      "apply 203.0.113.22",
      "remove 203.0.113.22",
    ]);
    for (const id of ["revoked", "expired"]) {
      assert.deepEqual((await store.getDecision(id))?.status, { mem: "removed" }, id);
      const audit = (await store.listAudit({ limit: 20 })).filter((a) => a.decisionId === id);
      const removal = audit.find((a) => a.action === "remove");
      assert.deepEqual(removal?.detail, {
        responder: "mem",
        reason: "the decision ended while its apply was in flight",
      });
    }
    assert.deepEqual(await store.pendingWork(["mem"], clock.now()), { apply: [], remove: [] });
  } finally {
    await store.close();
  }
});

test("the removal of an ended ban queued after the apply of its target's new ban does not lift the new one", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "h.db"), { clock: () => clock.now() });
  const r = new HeldResponder();
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const old = decision("old", "203.0.113.31", clock.now(), 1000);
    const other = decision("other", "198.51.100.31", clock.now());
    await store.insertDecision(old, ["mem"], []);
    await store.insertDecision(other, ["mem"], []);
    await sync.applyNow([old]);
    clock.advanceBy(1500);
    await store.expireDue(clock.now());
    // The firewall is busy with another ban; meanwhile the address is banned again, and the removal of its
    // expired ban (decided before the new ban was written) is queued after the new ban's apply.
    let release!: () => void;
    r.hold = new Promise((res) => (release = res));
    const busy = sync.applyNow([other]);
    const again = decision("again", "203.0.113.31", clock.now(), 600_000);
    await store.insertDecision(again, ["mem"], []);
    const queued = Promise.all([sync.applyNow([again]), sync.removeNow([old])]);
    release();
    await Promise.all([busy, queued]);
    assert.equal(r.entries.get("203.0.113.31"), again.expires, "the new ban is enforced");
    assert.ok(!r.calls.some((c) => c.startsWith("remove")), "the old entry's removal was not sent");
    assert.equal((await store.getDecision("again"))?.status.mem, "applied");
    assert.equal((await store.getDecision("old"))?.status.mem, "removed");
  } finally {
    await store.close();
  }
});

test("a range ban revoked while its apply is in flight is removed after it, and the ranges it covered come back", async () => {
  const clock = new ManualClock(Date.UTC(2026, 2, 2, 10));
  const store = await openSqliteStore(join(dir, "i.db"), { clock: () => clock.now() });
  // Like an nftables interval set: a wider prefix replaces the narrower elements it covers.
  const r = new HeldResponder();
  const apply = r.apply.bind(r);
  r.apply = (entries) => {
    for (const e of entries) if (e.target === "2001:db8::/48") r.entries.delete("2001:db8:0:1::/64");
    return apply(entries);
  };
  const sync = new DecisionSync({ responders: [r], store, clock, logger: silentLogger });
  try {
    const narrow = decision("narrow", "2001:db8:0:1::/64", clock.now(), 3_600_000);
    const wide = decision("wide", "2001:db8::/48", clock.now(), 3_600_000);
    await store.insertDecision(narrow, ["mem"], []);
    await sync.applyNow([narrow]);
    await store.insertDecision(wide, ["mem"], []);
    let release!: () => void;
    r.hold = new Promise((res) => (release = res));
    r.calls.length = 0;
    const applying = sync.applyNow([wide]);
    const ended = await store.revoke(wide.target, { type: "cli", name: "ops" }, "too wide", clock.now());
    // Not awaited before the release: it applies the covered range again, queued behind the held apply.
    const removing = sync.removeEnded(
      (await Promise.all(ended.map((d) => store.getDecision(d.id)))).filter((d) => d !== undefined),
    );
    release();
    await Promise.all([applying, removing]);
    await sync.idle();
    assert.deepEqual([...r.entries.keys()], ["2001:db8:0:1::/64"]);
    assert.deepEqual(r.calls.slice(0, 2), ["apply 2001:db8::/48", "remove 2001:db8::/48"]);
    assert.ok(!r.calls.includes("remove 2001:db8:0:1::/64"), r.calls.join("; "));
    assert.equal((await store.getDecision("wide"))?.status.mem, "removed");
    assert.equal((await store.getDecision("narrow"))?.status.mem, "applied");
  } finally {
    await store.close();
  }
});
