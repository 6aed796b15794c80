import assert from "node:assert/strict";
import { beforeEach, describe, it, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { ManualClock, SystemClock } from "../../core/clock.ts";
import { ADDR, inNs, netnsSkipReason, nsLines, probe } from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { reconcile } from "../reconcile.ts";
import { nftablesConfig } from "./config.ts";
import {
  NFT_MAX_TIMEOUT_S,
  NFT_READY_TTL_MS,
  NftablesResponder,
  nftTime,
  nftables,
  ruleText,
} from "./responder.ts";

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

test("ruleText: nft -j rules in the syntax setup writes; anything else never matches", () => {
  const match = (protocol: string, set: string) => ({
    match: { op: "==", left: { payload: { protocol, field: "saddr" } }, right: `@${set}` },
  });
  assert.equal(
    ruleText([
      match("ip", "ban4"),
      { counter: { packets: 3, bytes: 180 } },
      { reject: { type: "icmp", expr: "port-unreachable" } },
    ]),
    "ip saddr @ban4 counter reject",
  );
  assert.equal(ruleText([match("ip6", "ban6net"), { drop: null }]), "ip6 saddr @ban6net drop");
  assert.equal(ruleText([{ jump: { target: "ban" } }]), "jump ban");
  assert.equal(ruleText([{ match: { op: "!=", left: {}, right: "@ban4" } }, { log: {} }]), "?match ?log");
  assert.equal(ruleText(undefined), "?");
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

  /** A responder on a clock the test moves (the check of the table counts for NFT_READY_TTL_MS of it). */
  const onClock = () => {
    const clock = new ManualClock(SystemClock.now());
    const r = new NftablesResponder(
      nftablesConfig.parse({ type: "nftables", netns: p.server }),
      responderCtx({ clock }),
    );
    return { r, clock };
  };
  const handleOf = async (chain: string, rule: RegExp) => {
    const line = (await nsLines(p.server, ["nft", "-a", "list", "chain", "inet", "portcullis", chain])).find(
      (l) => rule.test(l),
    );
    const handle = /# handle (\d+)/.exec(line ?? "")?.[1];
    assert.ok(handle, `no rule ${rule} in ${chain}`);
    return handle;
  };

  it("healthcheck reports the ban rules and jumps that are missing, not only the chains", async () => {
    const r = make();
    await r.setup();
    assert.ok((await r.healthcheck()).ok);
    await inNs(p.server, ["nft", "flush", "chain", "inet", "portcullis", "ban"]);
    let h = await r.healthcheck();
    assert.equal(h.ok, false, h.detail);
    assert.equal(h.detail, "table inet portcullis: chain ban lacks its rules");

    await r.setup();
    await inNs(p.server, ["nft", "flush", "table", "inet", "portcullis"]);
    h = await r.healthcheck();
    assert.equal(h.ok, false, h.detail);
    assert.equal(
      h.detail,
      "table inet portcullis: chain ban lacks its rules; input does not jump to ban; forward does not jump to ban",
    );

    await r.setup();
    const handle = await handleOf("ban", /@ban6net/);
    await inNs(p.server, ["nft", "delete", "rule", "inet", "portcullis", "ban", "handle", handle]);
    await inNs(p.server, ["nft", "insert", "rule", "inet", "portcullis", "ban", "accept"]);
    await inNs(p.server, ["nft", "add", "rule", "inet", "portcullis", "input", "accept"]);
    h = await r.healthcheck();
    assert.equal(
      h.detail,
      "table inet portcullis: chain ban lacks its rules (ip6 saddr @ban6net counter reject); " +
        "chain ban holds rules setup did not write: accept; chain input holds rules setup did not write: accept",
    );

    // another verdict in the config: the rules in place are not the ones it wants
    await r.setup();
    const drop = make({ verdict: "drop", counters: false });
    h = await drop.healthcheck();
    assert.match(
      h.detail,
      /chain ban lacks its rules; chain ban holds rules setup did not write: ip saddr @ban4 counter reject, /,
    );
    await drop.setup();
    assert.ok((await drop.healthcheck()).ok);
    await drop.teardown();
    assert.equal((await r.healthcheck()).detail, "table inet portcullis missing (setup not run, or flushed)");
  });

  for (const flush of [
    ["nft", "flush", "table", "inet", "portcullis"],
    ["nft", "flush", "chain", "inet", "portcullis", "ban"],
  ]) {
    it(`apply after \`${flush.slice(1).join(" ")}\` sets the rules up again before writing`, async () => {
      const { r, clock } = onClock();
      await r.setup();
      okAll(await r.apply([{ target: "192.0.2.1", expires: clock.now() + 600_000 }]));
      await inNs(p.server, flush);
      assert.equal(await probe(p, ADDR.clientV4), true);
      clock.advanceBy(NFT_READY_TTL_MS);
      okAll(await r.apply([{ target: ADDR.clientV4, expires: clock.now() + 600_000 }]));
      assert.equal(await probe(p, ADDR.clientV4), false, "applied into sets no rule matches");
      assert.ok((await r.healthcheck()).ok);
      assert.deepEqual(await targets(r), ["10.200.0.2", "192.0.2.1"], "the sets kept their elements");
      await r.teardown();
    });
  }

  it("a healthcheck that finds rules missing makes the next apply set them up at once", async () => {
    const { r, clock } = onClock();
    await r.setup();
    await inNs(p.server, ["nft", "flush", "chain", "inet", "portcullis", "input"]);
    assert.equal((await r.healthcheck()).detail, "table inet portcullis: input does not jump to ban");
    okAll(await r.apply([{ target: ADDR.clientV4, expires: clock.now() + 600_000 }]));
    assert.equal(await probe(p, ADDR.clientV4), false);
    assert.ok((await r.healthcheck()).ok);
    await r.teardown();
  });

  it("the check of the rules is cached: one command per apply within NFT_READY_TTL_MS, then one more", async () => {
    const { r, clock } = onClock();
    await r.setup();
    const calls = async (target: string) => {
      const before = r.commands.calls;
      okAll(await r.apply([{ target, expires: clock.now() + 600_000 }]));
      return r.commands.calls - before;
    };
    assert.equal(await calls("192.0.2.1"), 1, "setup just wrote the layout");
    clock.advanceBy(NFT_READY_TTL_MS - 1);
    assert.equal(await calls("192.0.2.2"), 1);
    clock.advanceBy(1);
    assert.equal(await calls("192.0.2.3"), 2, "the check (one terse list) and the transaction");
    assert.equal(await calls("192.0.2.4"), 1, "checked again: cached");
    assert.equal(
      (
        await r.apply([
          { target: "bogus", expires: clock.now() + 600_000 },
          { target: "192.0.2.5", expires: clock.now() - 1 },
        ])
      ).filter((x) => x.ok).length,
      1,
    );
    // teardown ends the cache: an apply without setup sets the table up again
    await r.teardown();
    assert.equal(await calls("192.0.2.6"), 4, "check, setup (read, transaction), transaction");
    assert.equal(await probe(p, ADDR.clientV4), true);
    assert.deepEqual(await targets(r), ["192.0.2.6"]);
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
