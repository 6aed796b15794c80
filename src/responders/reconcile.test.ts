import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SystemClock } from "../core/clock.ts";
import { ProcessExec, type Exec } from "../core/exec.ts";
import type { Health } from "../core/plugin.ts";
import { ADDR, inNs, netnsSkipReason, probe } from "../../test/support/netns.ts";
import { responderCtx, suitePair } from "../../test/support/responder-net.ts";
import { nftablesConfig } from "./nftables/config.ts";
import { NftablesResponder } from "./nftables/responder.ts";
import { reconcile } from "./reconcile.ts";
import type { BanEntry, EntryResult, Responder } from "./types.ts";

/** An in-memory responder that records its calls. */
class MemoryResponder implements Responder {
  readonly name = "memory";
  readonly type = "memory";
  readonly entries = new Map<string, number>();
  readonly calls: string[] = [];
  constructor(readonly nativeExpiry: boolean) {}
  setup(): Promise<void> {
    this.calls.push("setup");
    return Promise.resolve();
  }
  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    this.calls.push(`apply ${entries.length}`);
    return Promise.resolve(
      entries.map((e) => {
        if (e.target === "192.0.2.66") return { target: e.target, ok: false, error: "refused" };
        this.entries.set(e.target, e.expires);
        return { target: e.target, ok: true };
      }),
    );
  }
  remove(targets: readonly string[]): Promise<EntryResult[]> {
    this.calls.push(`remove ${targets.length}`);
    return Promise.resolve(targets.map((t) => (this.entries.delete(t), { target: t, ok: true })));
  }
  list(): Promise<BanEntry[]> {
    this.calls.push("list");
    return Promise.resolve([...this.entries].map(([target, expires]) => ({ target, expires })));
  }
  healthcheck(): Promise<Health> {
    return Promise.resolve({ ok: true, detail: "memory" });
  }
}

describe("reconcile (in memory)", () => {
  const now = 1_700_000_000_000;

  it("one list, one batched remove, one batched apply; canonical targets; expired desires dropped", async () => {
    const r = new MemoryResponder(true);
    r.entries.set("192.0.2.1", now + 60_000); // kept
    r.entries.set("192.0.2.2", now + 60_000); // not desired: removed
    r.entries.set("2001:db8::1", now + 60_000); // desired under another spelling: kept
    r.entries.set("192.0.2.3", now + 60_000); // desired much longer: refreshed
    const res = await reconcile(
      r,
      [
        { target: "192.0.2.1", expires: now + 61_000 },
        { target: "2001:DB8:0::1", expires: now + 60_000 },
        { target: "192.0.2.3", expires: now + 3_600_000 },
        { target: "192.0.2.4", expires: now + 60_000 }, // missing: added
        { target: "192.0.2.5", expires: now - 1 }, // expired: not desired
        { target: "192.0.2.66", expires: now + 60_000 }, // the backend refuses it
        { target: "bogus", expires: now + 60_000 },
      ],
      now,
    );
    assert.deepEqual(r.calls, ["setup", "list", "remove 1", "apply 3"]);
    assert.deepEqual(res.kept, ["192.0.2.1", "2001:db8::1"]);
    assert.deepEqual(res.removed, ["192.0.2.2"]);
    assert.deepEqual(res.added, ["192.0.2.4"]);
    assert.deepEqual(res.refreshed, ["192.0.2.3"]);
    assert.deepEqual(
      res.failed.map((f) => f.target),
      ["bogus", "192.0.2.66"],
    );
  });

  it("without native expiry only presence counts; permanent entries are never refreshed", async () => {
    const r = new MemoryResponder(false);
    r.entries.set("192.0.2.1", Infinity);
    const res = await reconcile(r, [{ target: "192.0.2.1", expires: now + 3_600_000 }], now);
    assert.deepEqual(res.kept, ["192.0.2.1"]);
    assert.deepEqual(r.calls, ["setup", "list"]);
    const n = new MemoryResponder(true);
    n.entries.set("192.0.2.1", Infinity);
    assert.deepEqual((await reconcile(n, [{ target: "192.0.2.1", expires: now + 1 }], now)).kept, [
      "192.0.2.1",
    ]);
  });
});

describe("reconcile with overlapping prefixes (in memory)", () => {
  const now = 1_700_000_000_000;
  const h = 3_600_000;

  it("a narrower target inside a wider desired prefix that lasts as long is kept; otherwise it is applied", async () => {
    const r = new MemoryResponder(true);
    r.entries.set("10.9.0.0/16", now + 2 * h); // desired, covers the three below
    r.entries.set("10.8.0.0/16", now + 2 * h); // not desired: removed, so it covers nothing
    r.entries.set("2001:db8::/48", now + 2 * h);
    const res = await reconcile(
      r,
      [
        { target: "10.9.0.0/16", expires: now + 2 * h },
        { target: "10.9.1.0/24", expires: now + h }, // covered for its whole life: kept
        { target: "10.9.3.4", expires: now + 2 * h + 5_000 }, // within the tolerance: kept
        { target: "10.9.2.0/24", expires: now + 3 * h }, // outlives the wider prefix: applied
        { target: "10.8.1.0/24", expires: now + h }, // its cover is removed in this run: applied
        { target: "2001:db8::/48", expires: now + 2 * h },
        { target: "2001:db8:0:1::/64", expires: now + h },
      ],
      now,
    );
    assert.deepEqual(res.kept.sort(), [
      "10.9.0.0/16",
      "10.9.1.0/24",
      "10.9.3.4",
      "2001:db8:0:1::/64",
      "2001:db8::/48",
    ]);
    assert.deepEqual(res.removed, ["10.8.0.0/16"]);
    assert.deepEqual(res.added.sort(), ["10.8.1.0/24", "10.9.2.0/24"]);
    assert.deepEqual(r.calls, ["setup", "list", "remove 1", "apply 2"]);
  });
});

const skip = netnsSkipReason(["nft"]);

describe("reconcile with 100k bans against real nftables", { skip }, () => {
  const p = suitePair("rec");
  const transactions: string[] = [];
  const base = new ProcessExec();
  const exec: Exec = {
    run(argv, input, options) {
      if (argv.includes("-f")) transactions.push(input ?? "");
      return base.run(argv, input, options);
    },
  };

  it("restores 100k bans after `nft flush ruleset` in one transaction, and removes 50k in one", async () => {
    const r = new NftablesResponder(
      nftablesConfig.parse({ type: "nftables", netns: p.server }),
      responderCtx({ exec }),
    );
    const now = SystemClock.now();
    const desired: BanEntry[] = [];
    for (let i = 0; desired.length < 99_000; i++) {
      desired.push({
        target: `10.${(i >> 16) + 1}.${(i >> 8) & 255}.${i & 255}`,
        expires: now + 3_600_000 + i,
      });
    }
    for (let i = 0; i < 900; i++)
      desired.push({ target: `2001:db8:${i.toString(16)}::/64`, expires: now + 7_200_000 });
    for (let i = 0; i < 99; i++) desired.push({ target: `172.16.${i}.0/24`, expires: now + 7_200_000 });
    desired.push({ target: ADDR.clientV4, expires: now + 3_600_000 });
    assert.equal(desired.length, 100_000);

    let res = await reconcile(r, desired, now);
    assert.equal(res.added.length, 100_000);
    assert.deepEqual(res.failed, []);
    assert.equal(transactions.length, 2, "setup + one apply transaction");
    assert.equal(await probe(p, ADDR.clientV4), false);

    await inNs(p.server, ["nft", "flush", "ruleset"]);
    assert.equal(await probe(p, ADDR.clientV4), true, "flushed");
    transactions.length = 0;
    res = await reconcile(r, desired, SystemClock.now());
    assert.equal(res.added.length, 100_000);
    assert.equal(res.kept.length, 0);
    assert.equal(transactions.length, 2, "setup + one apply transaction, not 100k commands");
    assert.equal(await probe(p, ADDR.clientV4), false, "restored");
    assert.equal((await r.list()).length, 100_000);

    transactions.length = 0;
    const half = [...desired.slice(0, 50_000), desired.at(-1)!];
    res = await reconcile(r, half, SystemClock.now());
    assert.equal(res.removed.length, 50_000 - 1);
    assert.equal(res.kept.length, 50_001);
    assert.deepEqual(res.added, []);
    assert.deepEqual(res.refreshed, []);
    assert.equal(transactions.length, 2, "setup + one remove transaction");
    assert.equal((await r.list()).length, 50_001);
    assert.equal(await probe(p, ADDR.clientV4), false);
    await r.teardown();
  });
});
