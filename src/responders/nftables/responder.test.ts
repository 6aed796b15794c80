import assert from "node:assert/strict";
import { beforeEach, describe, it, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { SystemClock } from "../../core/clock.ts";
import { ADDR, inNs, netnsSkipReason, nsLines, probe } from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { reconcile } from "../reconcile.ts";
import { nftablesConfig } from "./config.ts";
import { NFT_MAX_TIMEOUT_S, NftablesResponder, nftTime, nftables } from "./responder.ts";

const skip = netnsSkipReason(["nft"]);
const rootUntouched = await rootGuard(skip);

test("config: strict, described, with defaults", () => {
  const c = nftablesConfig.parse({ type: "nftables" });
  assert.equal(c.table, "portcullis");
  assert.deepEqual(c.hooks, ["input", "forward"]);
  assert.equal(c.verdict, "reject");
  assert.equal(c.retry.attempts, 4);
  const bad = nftablesConfig.safeParse({ type: "nftables", tabel: "x", verdict: "accept", table: "a b" });
  assert.equal(bad.success, false);
  const paths = bad.error.issues.map((i) => `${i.path.join(".")}:${i.code}`).sort();
  assert.deepEqual(paths, [":unrecognized_keys", "table:invalid_format", "verdict:invalid_value"]);
  assert.ok(nftablesConfig.shape.table.description, "fields are described");
  assert.equal(nftables.type, "nftables");
});

test("nftTime: days, hours, minutes, seconds; no number nft 1.0.6 would call too large", () => {
  assert.equal(nftTime(1), "1s");
  assert.equal(nftTime(59.2), "1m");
  assert.equal(nftTime(90_061), "1d1h1m1s");
  assert.equal(nftTime(400 * 86_400), "400d");
  assert.equal(nftTime(3650 * 86_400 + 7_200), "3650d2h");
  assert.equal(nftTime(NFT_MAX_TIMEOUT_S), "100000d");
  assert.equal(nftTime(0), "0s");
});

pairConformance({
  name: "nftables",
  tag: "nft",
  skip,
  supports: { ipv6: true, cidr: true },
  start: (p) => ({
    responder: nftables.create(nftablesConfig.parse({ type: "nftables", netns: p.server }), responderCtx()),
    flush: async () => void (await inNs(p.server, ["nft", "flush", "ruleset"])),
    residue: () => nsLines(p.server, ["nft", "list", "ruleset"]),
  }),
});

describe("nftables specifics", { skip }, () => {
  const p = suitePair("nfts");
  const make = (extra: Record<string, unknown> = {}) =>
    new NftablesResponder(
      nftablesConfig.parse({ type: "nftables", netns: p.server, ...extra }),
      responderCtx(),
    );
  const now = () => SystemClock.now();
  // each test starts from an empty ruleset, even when the previous one failed half-way
  beforeEach(async () => void (await inNs(p.server, ["nft", "flush", "ruleset"])));

  it("one transaction per batch; the table has the documented layout", async () => {
    const r = make();
    await r.setup();
    const before = r.commands.calls;
    const entries = Array.from({ length: 500 }, (_, i) => ({
      target: `198.51.${100 + (i >> 8)}.${i & 255}`,
      expires: now() + 600_000,
    }));
    const res = await r.apply([...entries, { target: "2001:db8::/48", expires: now() + 600_000 }]);
    assert.ok(res.every((x) => x.ok));
    assert.equal(r.commands.calls - before, 1, "a batch is one `nft -f` transaction");
    const ruleset = (await nsLines(p.server, ["nft", "list", "chain", "inet", "portcullis", "input"])).join(
      "\n",
    );
    assert.match(ruleset, /type filter hook input priority (filter - 10|-10); policy accept;/);
    assert.match(ruleset, /jump ban/);
    const sets = (await nsLines(p.server, ["nft", "list", "set", "inet", "portcullis", "ban6net"])).join(
      "\n",
    );
    assert.match(sets, /flags interval,timeout/);
    assert.match(sets, /2001:db8::\/48 timeout/);
    assert.equal((await r.list()).length, 501);
    await r.teardown();
  });

  it("bans of 400 days and 10 years are enforced with their timeout; longer than the kernel's maximum: none", async () => {
    const r = make();
    await r.setup();
    const day = 86_400_000;
    const entries = [
      { target: ADDR.clientV4, expires: now() + 400 * day },
      { target: ADDR.clientV6, expires: now() + 3650 * day + 3_723_000 },
      { target: "2001:db8::/48", expires: now() + 3650 * day },
      { target: "198.51.100.7", expires: now() + 300_000 * day },
    ];
    const res = await r.apply(entries);
    assert.ok(
      res.every((x) => x.ok),
      JSON.stringify(res),
    );
    assert.equal(await probe(p, ADDR.clientV4), false, "400-day ban not enforced");
    assert.equal(await probe(p, ADDR.clientV6), false, "10-year ban not enforced");
    const ban4 = (await nsLines(p.server, ["nft", "list", "set", "inet", "portcullis", "ban4"])).join("\n");
    assert.match(ban4, /10\.200\.0\.2 timeout 400d expires/);
    const listed = new Map((await r.list()).map((e) => [e.target, e.expires]));
    for (const e of entries.slice(0, 3)) {
      const got = listed.get(e.target);
      assert.ok(
        got !== undefined && Math.abs(got - e.expires) < 5_000,
        `${e.target}: ${got} vs ${e.expires}`,
      );
    }
    assert.equal(listed.get("198.51.100.7"), Infinity, "beyond the kernel's limit: stored without timeout");
    await r.teardown();
  });

  it("re-running setup with another priority, verdict or hooks replaces the chains, keeping the bans", async () => {
    const r1 = make();
    await r1.setup();
    assert.ok((await r1.apply([{ target: ADDR.clientV4, expires: now() + 600_000 }]))[0]!.ok);
    const r2 = make({ priority: -20, hooks: ["input"], verdict: "drop", counters: false });
    await r2.setup();
    const chains = (await nsLines(p.server, ["nft", "list", "table", "inet", "portcullis"])).join("\n");
    assert.match(chains, /hook input priority -20/);
    assert.doesNotMatch(chains, /hook forward/);
    assert.match(chains, /ip saddr @ban4 drop/);
    assert.deepEqual(
      (await r2.list()).map((e) => e.target),
      [ADDR.clientV4],
    );
    // drop: the probe times out instead of being refused; it still fails
    assert.equal(await probe(p, ADDR.clientV4), false);
    await r2.teardown();
    assert.equal(await probe(p, ADDR.clientV4), true);
  });

  const set = async (name: string) =>
    (await nsLines(p.server, ["nft", "list", "set", "inet", "portcullis", name]))
      .join(" ")
      .replace(/\s+/g, " ");
  const targets = async (r: NftablesResponder) => (await r.list()).map((e) => e.target).sort();
  const okAll = (res: { ok: boolean; error?: string }[]) =>
    res.forEach((x, i) => assert.ok(x.ok, `entry ${i}: ${x.error}`));

  it("a prefix inside a wider one in force is reported ok and not written; remove leaves the wider one", async () => {
    const r = make();
    await r.setup();
    okAll(await r.apply([{ target: "10.200.0.0/25", expires: now() + 600_000 }]));
    const before = r.commands.calls;
    const res = await r.apply([
      { target: ADDR.cidrV4, expires: now() + 300_000 }, // 10.200.0.64/28, inside the /25
      { target: "10.9.1.0/24", expires: now() + 300_000 },
      { target: "10.8.0.1", expires: now() + 300_000 },
    ]);
    okAll(res);
    assert.equal(r.commands.calls - before, 3, "a failed transaction, one read, one transaction");
    assert.deepEqual(await targets(r), ["10.200.0.0/25", "10.8.0.1", "10.9.1.0/24"]);
    assert.equal(await probe(p, ADDR.clientV4b), false, "inside the covered /28");
    // still covered and in force: applying it again is a no-op, removing it removes nothing else
    okAll(await r.apply([{ target: ADDR.cidrV4, expires: now() + 300_000 }]));
    okAll(await r.remove([ADDR.cidrV4, "10.9.0.0/16"]));
    assert.deepEqual(await targets(r), ["10.200.0.0/25", "10.8.0.1", "10.9.1.0/24"]);
    assert.equal(await probe(p, ADDR.clientV4b), false);
    // reconcile: the /28 lasts no longer than the /25 that stays, so it counts as enforced
    const desired = [
      { target: "10.200.0.0/25", expires: now() + 600_000 },
      { target: ADDR.cidrV4, expires: now() + 300_000 },
    ];
    const rec = await reconcile(r, desired, now());
    assert.deepEqual(rec.kept.sort(), [ADDR.cidrV4, "10.200.0.0/25"].sort());
    assert.deepEqual([rec.added, rec.failed], [[], []]);
    // the /25 is unbanned: the next reconcile brings the /28 back, and only it
    okAll(await r.remove(["10.200.0.0/25"]));
    assert.equal(await probe(p, ADDR.clientV4b), true, "gap until reconcile (documented)");
    const again = await reconcile(r, desired.slice(1), now());
    assert.deepEqual(again.added, [ADDR.cidrV4]);
    assert.deepEqual(await targets(r), [ADDR.cidrV4]);
    assert.equal(await probe(p, ADDR.clientV4b), false, "narrower ban not restored");
    assert.equal(await probe(p, ADDR.clientV4), true, "outside the /28");
    await r.teardown();
  });

  it("a wider prefix replaces the narrower ones it covers in one transaction; reconcile restores them", async () => {
    const r = make();
    await r.setup();
    okAll(
      await r.apply([
        { target: ADDR.cidrV6, expires: now() + 600_000 }, // fd00:200::60/124, holds clientV6b
        { target: "2001:db8:0:1::/64", expires: now() + 600_000 },
        { target: "2001:db8:0:2::/64", expires: now() + 600_000 },
      ]),
    );
    assert.equal(await probe(p, ADDR.clientV6), true);
    const before = r.commands.calls;
    okAll(
      await r.apply([
        { target: "fd00:200::/64", expires: now() + 300_000 },
        { target: "2001:db8::/48", expires: now() + 300_000 },
        { target: "2001:db8:0:3::/64", expires: now() + 300_000 }, // covered inside the batch
      ]),
    );
    assert.equal(r.commands.calls - before, 3, "a failed transaction, one read, one transaction");
    const content = await set("ban6net");
    assert.match(content, /elements = \{ 2001:db8::\/48 timeout \S+ expires \S+, fd00:200::\/64 timeout/);
    assert.doesNotMatch(content, /2001:db8:0:[123]::|fd00:200::60/);
    assert.equal(await probe(p, ADDR.clientV6), false, "wider prefix not enforced");
    assert.equal(await probe(p, ADDR.clientV6b), false);
    // the wider bans end (unban): reconcile brings back the narrower ones still desired
    okAll(await r.remove(["fd00:200::/64", "2001:db8::/48"]));
    assert.equal(await probe(p, ADDR.clientV6b), true);
    const rec = await reconcile(
      r,
      [
        { target: ADDR.cidrV6, expires: now() + 600_000 },
        { target: "2001:db8:0:1::/64", expires: now() + 600_000 },
      ],
      now(),
    );
    assert.deepEqual(rec.added.sort(), [ADDR.cidrV6, "2001:db8:0:1::/64"].sort());
    assert.deepEqual(await targets(r), [ADDR.cidrV6, "2001:db8:0:1::/64"].sort());
    assert.equal(await probe(p, ADDR.clientV6b), false, "narrower ban not restored");
    assert.equal(await probe(p, ADDR.clientV6), true);
    await r.teardown();
  });

  it("a narrower ban outliving the wider one covering it comes back with the reconcile after it expires", async () => {
    const r = make();
    await r.setup();
    const wider = { target: "10.200.0.0/25", expires: now() + 2_000 };
    const narrower = { target: ADDR.cidrV4, expires: now() + 600_000 };
    okAll(await r.apply([wider]));
    okAll(await r.apply([narrower]));
    assert.deepEqual(await targets(r), ["10.200.0.0/25"]);
    assert.equal(await probe(p, ADDR.clientV4b), false);
    // the /25 ends first, so it does not count as enforcing the /28; applying the /28 changes nothing while
    // the /25 is in force (widest wins)
    const desired = [wider, narrower];
    assert.deepEqual((await reconcile(r, desired, now())).kept, [wider.target]);
    assert.deepEqual(await targets(r), ["10.200.0.0/25"]);
    await delay(3_000);
    assert.deepEqual(await targets(r), [], "the /25 expired");
    assert.deepEqual((await reconcile(r, desired, now())).added, [ADDR.cidrV4]);
    assert.equal(await probe(p, ADDR.clientV4b), false, "narrower ban not restored");
    await r.teardown();
  });

  it("apply after `nft flush ruleset` sets the table up again by itself", async () => {
    const r = make();
    await r.setup();
    await inNs(p.server, ["nft", "flush", "ruleset"]);
    assert.equal((await r.healthcheck()).ok, false);
    const res = await r.apply([{ target: ADDR.clientV4, expires: now() + 600_000 }]);
    assert.ok(res[0]!.ok, res[0]!.error);
    assert.equal((await r.healthcheck()).ok, true);
    assert.equal(await probe(p, ADDR.clientV4), false);
    await r.teardown();
  });

  it("a missing nft binary fails every entry with one clear error, without splitting the batch", async () => {
    const r = make({ nft_path: "/nonexistent/nft", retry: { attempts: 1 } });
    const res = await r.apply([
      { target: "192.0.2.1", expires: now() + 60_000 },
      { target: "192.0.2.2", expires: now() + 60_000 },
      { target: "192.0.2.3", expires: now() + 60_000 },
    ]);
    assert.ok(
      res.every((x) => !x.ok && /nonexistent|No such file/i.test(x.error ?? "")),
      JSON.stringify(res),
    );
    assert.ok(r.commands.calls <= 4, `${r.commands.calls} commands`);
    const h = await r.healthcheck();
    assert.equal(h.ok, false);
  });
});

rootUntouched();
