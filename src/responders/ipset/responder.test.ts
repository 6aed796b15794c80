import assert from "node:assert/strict";
import { beforeEach, describe, it, test } from "node:test";
import { SystemClock } from "../../core/clock.ts";
import { ADDR, inNs, netnsSkipReason, nsLines, probe } from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { reconcile } from "../reconcile.ts";
import { ipsetConfig } from "./config.ts";
import { IpsetResponder, ipset } from "./responder.ts";

const skip = netnsSkipReason(["ipset", "iptables", "ip6tables"]);
const rootUntouched = await rootGuard(skip);

/** Everything ipset/iptables state in a namespace that is not empty by default. */
async function residue(ns: string): Promise<string[]> {
  const sets = await nsLines(ns, ["ipset", "list", "-n"]);
  const rules = [
    ...(await nsLines(ns, ["iptables", "-S"])),
    ...(await nsLines(ns, ["ip6tables", "-S"])),
  ].filter((l) => !/^-P (INPUT|FORWARD|OUTPUT) ACCEPT$/.test(l));
  return [...sets, ...rules];
}

test("config: strict, with defaults", () => {
  const c = ipsetConfig.parse({ type: "ipset" });
  assert.equal(c.set_prefix, "portcullis");
  assert.deepEqual(c.chains, ["INPUT", "FORWARD"]);
  assert.equal(c.maxelem, 1 << 20);
  const bad = ipsetConfig.safeParse({
    type: "ipset",
    set_prefix: "x".repeat(30),
    chains: ["OUTPUT"],
    extra: 1,
  });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error.issues.map((i) => i.path.join(".")).sort(), ["", "chains.0", "set_prefix"]);
  assert.equal(ipset.type, "ipset");
});

pairConformance({
  name: "ipset",
  tag: "ips",
  skip,
  supports: { ipv6: true, cidr: true },
  start: (p) => ({
    responder: ipset.create(ipsetConfig.parse({ type: "ipset", netns: p.server }), responderCtx()),
    flush: async () => void (await inNs(p.server, ["ipset", "flush"])),
    residue: () => residue(p.server),
  }),
});

describe("ipset specifics", { skip }, () => {
  const p = suitePair("ipss");
  const make = (extra: Record<string, unknown> = {}) =>
    new IpsetResponder(ipsetConfig.parse({ type: "ipset", netns: p.server, ...extra }), responderCtx());
  const now = () => SystemClock.now();
  beforeEach(async () => void (await make().teardown()));

  it("restoring 20k bans after `ipset flush` is one `ipset restore`", async () => {
    const r = make();
    await r.setup();
    const desired = Array.from({ length: 20_000 }, (_, i) => ({
      target: `10.${100 + (i >> 16)}.${(i >> 8) & 255}.${i & 255}`,
      expires: now() + 3_600_000,
    }));
    desired.push({ target: ADDR.clientV4, expires: now() + 3_600_000 });
    let res = await reconcile(r, desired, now());
    assert.equal(res.added.length, desired.length);
    await inNs(p.server, ["ipset", "flush"]);
    assert.equal(await probe(p, ADDR.clientV4), true);
    const before = r.commands.calls;
    res = await reconcile(r, desired, now());
    assert.equal(res.added.length, desired.length);
    const restores = r.commands.calls - before;
    // setup (1 restore + 2 listings) + list (4 saves) + 1 restore of all entries
    assert.ok(restores <= 8, `${restores} commands`);
    assert.equal(await probe(p, ADDR.clientV4), false);
    assert.equal((await r.list()).length, desired.length);
  });

  it("a ban longer than ipset's maximum timeout is stored without timeout; reconcile leaves it alone", async () => {
    const r = make();
    await r.setup();
    const long = { target: "192.0.2.77", expires: now() + 40 * 86_400_000 };
    assert.ok((await r.apply([long]))[0]!.ok);
    assert.equal((await r.list()).find((e) => e.target === long.target)?.expires, Infinity);
    const res = await reconcile(r, [long], now());
    assert.deepEqual(res.kept, [long.target]);
    assert.deepEqual(res.refreshed, []);
  });

  it("ipv6: false rejects IPv6 targets per entry and creates no IPv6 sets or rules", async () => {
    const r = make({ ipv6: false });
    await r.setup();
    const res = await r.apply([
      { target: "2001:db8::1", expires: now() + 60_000 },
      { target: "192.0.2.1", expires: now() + 60_000 },
    ]);
    assert.deepEqual(
      res.map((x) => x.ok),
      [false, true],
    );
    assert.match(res[0]!.error!, /IPv6 is disabled/);
    assert.deepEqual((await nsLines(p.server, ["ipset", "list", "-n"])).sort(), [
      "portcullis4",
      "portcullis4net",
    ]);
    assert.deepEqual(await nsLines(p.server, ["ip6tables", "-S", "INPUT"]), ["-P INPUT ACCEPT"]);
  });

  it("setup with other chains or verdict rewrites the rules; sets destroyed behind its back come back on apply", async () => {
    await make().setup();
    const r = make({ chains: ["INPUT"], verdict: "drop" });
    await r.setup();
    await r.setup();
    const rules = await nsLines(p.server, ["iptables", "-S"]);
    assert.deepEqual(
      rules.filter((x) => x.includes("match-set")),
      [
        "-A INPUT -m set --match-set portcullis4net src -j DROP",
        "-A INPUT -m set --match-set portcullis4 src -j DROP",
      ],
    );
    assert.ok((await r.healthcheck()).ok);
    await make().teardown();
    assert.equal((await r.healthcheck()).ok, false);
    const res = await r.apply([{ target: ADDR.clientV4, expires: now() + 60_000 }]);
    assert.ok(res[0]!.ok, res[0]!.error);
    assert.equal(await probe(p, ADDR.clientV4), false);
  });
});

rootUntouched();
