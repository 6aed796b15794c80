/**
 * The shared conformance suite: every local responder passes the same tests, against the real firewall, with
 * real TCP connections (Hono runs one router suite against all routers; we run one responder suite against all
 * responders). A responder's test file calls {@link responderConformance} with a subject that builds the test
 * network (network namespaces, see test/support/netns.ts) and the responder; this file knows nothing about
 * namespaces, only about the {@link ConformanceNetwork} it is given.
 *
 * Order matters: the tests run in sequence on one responder instance and leave it as the next test expects.
 */
import assert from "node:assert/strict";
import { after, before, describe, it, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { SystemClock } from "../core/clock.ts";
import { reconcile } from "./reconcile.ts";
import type { BanEntry, Responder } from "./types.ts";

/** The network the suite probes: a server behind the responder, a client with two addresses per family. */
export interface ConformanceNetwork {
  /** Whether a TCP connection from the client address `from` to the server's listener succeeds (fast). */
  canConnect(from: string): Promise<boolean>;
  /** Client addresses: `a` is banned and unbanned by the tests; `b` must stay reachable unless a CIDR covers it. */
  v4: { a: string; b: string; cidrB: string };
  v6: { a: string; b: string; cidrB: string };
}

export interface ConformanceRun {
  responder: Responder;
  net: ConformanceNetwork;
  /** Wipes the enforcement point behind the responder's back (`nft flush ruleset`, `ipset flush`, ...). */
  flush(): Promise<void>;
  /** What the responder left behind after teardown (lines of listing); must be empty. */
  residue(): Promise<string[]>;
}

export interface ConformanceSubject {
  name: string;
  /** A plain reason when the suite cannot run on this machine (no root / CAP_NET_ADMIN); undefined to run. */
  skip?: string | undefined;
  supports: { ipv6: boolean; cidr: boolean };
  /** Builds the network and the responder (not set up yet). */
  start(): Promise<ConformanceRun>;
  /** Removes everything `start` made; runs also when a test failed. */
  stop(): Promise<void>;
  /** Seconds of the short ban used by the native-expiry test (default 2). */
  expirySeconds?: number;
}

/** Unrelated documentation addresses, never used by the test network. */
const DOC = { a: "192.0.2.10", b: "192.0.2.11", c: "192.0.2.20", d: "192.0.2.21" };

async function waitFor(cond: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const clock = SystemClock;
  const end = clock.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (clock.now() >= end) return false;
    await delay(250);
  }
}

export function responderConformance(subject: ConformanceSubject): void {
  if (subject.skip) {
    test(`${subject.name}: responder conformance`, { skip: subject.skip }, () => {});
    return;
  }
  describe(`${subject.name}: responder conformance (real firewall in network namespaces)`, () => {
    let run: ConformanceRun | undefined;
    let r!: Responder;
    let net!: ConformanceNetwork;
    const now = () => SystemClock.now();
    const targets = async () => new Map((await r.list()).map((e) => [e.target, e.expires]));
    const ban = (target: string, seconds = 600): BanEntry => ({ target, expires: now() + seconds * 1000 });
    const okAll = (results: { ok: boolean; error?: string }[]) =>
      results.forEach((x, i) => assert.ok(x.ok, `entry ${i}: ${x.error}`));

    before(async () => {
      run = await subject.start();
      r = run.responder;
      net = run.net;
    });
    after(async () => {
      await subject.stop();
    });

    it("setup is idempotent, healthcheck passes, nothing is banned yet", async () => {
      await r.setup();
      await r.setup();
      const h = await r.healthcheck();
      assert.ok(h.ok, h.detail);
      assert.deepEqual(await r.list(), []);
      assert.equal(await net.canConnect(net.v4.a), true, "baseline: the client can connect before any ban");
    });

    it("a banned address cannot connect; other addresses still can", async () => {
      const entry = ban(net.v4.a, 600);
      const res = await r.apply([entry]);
      assert.deepEqual(res, [{ target: net.v4.a, ok: true }]);
      assert.equal(await net.canConnect(net.v4.a), false, "banned address connected");
      assert.equal(await net.canConnect(net.v4.b), true, "unbanned address could not connect");
      const listed = await targets();
      assert.ok(listed.has(net.v4.a), `list() misses the ban: ${[...listed.keys()].join(", ")}`);
      const exp = listed.get(net.v4.a)!;
      if (r.nativeExpiry)
        assert.ok(Math.abs(exp - entry.expires) < 5_000, `expiry ${exp} vs ${entry.expires}`);
      else assert.ok(exp >= entry.expires - 5_000, `expiry ${exp} earlier than ${entry.expires}`);
    });

    it("apply is idempotent and moves the expiry", async () => {
      okAll(await r.apply([ban(net.v4.a, 600)]));
      const later = ban(net.v4.a, 1200);
      okAll(await r.apply([later, later]));
      const all = await r.list();
      assert.equal(all.filter((e) => e.target === net.v4.a).length, 1, "one entry per target");
      if (r.nativeExpiry) {
        const exp = all.find((e) => e.target === net.v4.a)!.expires;
        assert.ok(Math.abs(exp - later.expires) < 5_000, `expiry not moved: ${exp} vs ${later.expires}`);
      }
      assert.equal(await net.canConnect(net.v4.a), false);
    });

    it("remove unbans; removing an absent target succeeds", async () => {
      assert.deepEqual(await r.remove([net.v4.a]), [{ target: net.v4.a, ok: true }]);
      assert.equal(await net.canConnect(net.v4.a), true, "unbanned address still blocked");
      okAll(await r.remove([net.v4.a, DOC.c]));
      assert.ok(!(await targets()).has(net.v4.a));
    });

    it("results are per entry: invalid targets fail alone, in input order", async () => {
      const res = await r.apply([
        ban(DOC.a),
        ban("not-an-ip"),
        ban("198.51.100.0/33"),
        ban("999.1.1.1"),
        ban("0.0.0.0/0"),
        ban(DOC.b),
      ]);
      assert.deepEqual(
        res.map((x) => [x.target, x.ok]),
        [
          [DOC.a, true],
          ["not-an-ip", false],
          ["198.51.100.0/33", false],
          ["999.1.1.1", false],
          ["0.0.0.0/0", false],
          [DOC.b, true],
        ],
      );
      for (const x of res.filter((y) => !y.ok)) assert.ok(x.error && x.error.length > 0);
      const listed = await targets();
      assert.ok(listed.has(DOC.a) && listed.has(DOC.b), "valid entries of a mixed batch were not applied");
      const rem = await r.remove([DOC.a, "bogus", DOC.b]);
      assert.deepEqual(
        rem.map((x) => x.ok),
        [true, false, true],
      );
      const after = await targets();
      assert.ok(!after.has(DOC.a) && !after.has(DOC.b));
    });

    it("an entry already expired is not applied", async () => {
      okAll(await r.apply([{ target: DOC.c, expires: now() - 1_000 }]));
      assert.ok(!(await targets()).has(DOC.c));
    });

    if (subject.supports.ipv6) {
      it("IPv6: a banned address cannot connect, others can; unbanning restores it", async () => {
        const spelled = net.v6.a.toUpperCase();
        okAll(await r.apply([ban(spelled)]));
        assert.equal(await net.canConnect(net.v6.a), false, "banned IPv6 address connected");
        assert.equal(await net.canConnect(net.v6.b), true);
        assert.equal(await net.canConnect(net.v4.a), true, "IPv4 of the same client blocked by an IPv6 ban");
        assert.ok((await targets()).has(net.v6.a), "list() reports the canonical IPv6 text");
        okAll(await r.remove([net.v6.a]));
        assert.equal(await net.canConnect(net.v6.a), true);
      });
    }

    if (subject.supports.cidr) {
      const families = subject.supports.ipv6 ? (["v4", "v6"] as const) : (["v4"] as const);
      for (const fam of families) {
        it(`${fam} CIDR: a prefix bans the addresses inside it only`, async () => {
          const { a, b, cidrB } = net[fam];
          okAll(await r.apply([ban(cidrB)]));
          assert.equal(await net.canConnect(b), false, `${b} inside ${cidrB} connected`);
          assert.equal(await net.canConnect(a), true, `${a} outside ${cidrB} blocked`);
          assert.ok((await targets()).has(cidrB), "list() reports the prefix");
          okAll(await r.apply([ban(cidrB, 1200)]));
          okAll(await r.remove([cidrB]));
          okAll(await r.remove([cidrB]));
          assert.equal(await net.canConnect(b), true);
        });
      }
    }

    it("native expiry: an expired ban lets the address in again (or the responder says it has none)", async (t) => {
      if (!r.nativeExpiry) {
        t.diagnostic("no native expiry: the daemon removes these bans at expiry (tested by remove)");
        return;
      }
      const seconds = subject.expirySeconds ?? 2;
      okAll(await r.apply([ban(net.v4.a, seconds)]));
      assert.equal(await net.canConnect(net.v4.a), false, "short ban not enforced");
      assert.ok(await waitFor(() => net.canConnect(net.v4.a), seconds * 1000 + 15_000), "ban never expired");
      assert.ok(!(await targets()).has(net.v4.a), "list() still reports an expired ban");
    });

    it("reconcile removes what is not desired and adds what is missing, in one batch each", async () => {
      okAll(await r.apply([ban(net.v4.a), ban(DOC.c)]));
      const desired = [ban(net.v4.a), ban(DOC.d), { target: DOC.a, expires: now() - 1 }];
      const res = await reconcile(r, desired, now());
      assert.deepEqual(res.removed, [DOC.c]);
      assert.deepEqual(res.added, [DOC.d]);
      assert.deepEqual(res.kept, [net.v4.a]);
      assert.deepEqual(res.failed, []);
      const listed = await targets();
      assert.deepEqual([...listed.keys()].sort(), [DOC.d, net.v4.a].sort());
      assert.equal(await net.canConnect(net.v4.a), false);
    });

    it("reconcile repairs a flushed firewall", async () => {
      await run!.flush();
      assert.equal(await net.canConnect(net.v4.a), true, "flush did not lift the ban (test setup)");
      const desired = [ban(net.v4.a), ban(DOC.d)];
      const res = await reconcile(r, desired, now());
      assert.deepEqual(res.added.sort(), [DOC.d, net.v4.a].sort());
      assert.deepEqual(res.failed, []);
      assert.equal(await net.canConnect(net.v4.a), false, "ban not restored");
      const again = await reconcile(r, desired, now());
      assert.deepEqual(again.added, [], "a second reconcile changes nothing");
      assert.deepEqual(again.kept.sort(), [DOC.d, net.v4.a].sort());
    });

    it("teardown removes everything it created, and is idempotent", async () => {
      assert.ok(r.teardown !== undefined, "local responders implement teardown");
      await r.teardown();
      assert.deepEqual(await run!.residue(), []);
      assert.equal(await net.canConnect(net.v4.a), true);
      await r.teardown();
      assert.deepEqual(await run!.residue(), []);
    });
  });
}
