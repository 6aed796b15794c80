import assert from "node:assert/strict";
import { describe, it, test } from "node:test";
import { SystemClock } from "../../core/clock.ts";
import { ADDR, inNs, netnsSkipReason, nsLines, probe } from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { restoreBinary } from "../xtables.ts";
import { iptablesConfig } from "./config.ts";
import { IptablesResponder, iptables } from "./responder.ts";

const skip = netnsSkipReason(["iptables", "ip6tables"]);
const rootUntouched = await rootGuard(skip);

async function residue(ns: string, v4: string, v6: string): Promise<string[]> {
  const rules = [...(await nsLines(ns, [v4, "-S"])), ...(await nsLines(ns, [v6, "-S"]))];
  return rules.filter((l) => !/^-P (INPUT|FORWARD|OUTPUT) ACCEPT$/.test(l));
}

test("config: strict, with defaults; restore binaries follow the configured iptables", () => {
  const c = iptablesConfig.parse({ type: "iptables" });
  assert.equal(c.chain, "portcullis");
  assert.deepEqual(c.hooks, ["INPUT", "FORWARD"]);
  assert.equal(iptablesConfig.safeParse({ type: "iptables", chain: "bad chain" }).success, false);
  assert.equal(iptablesConfig.safeParse({ type: "iptables", expiry: 1 }).success, false);
  assert.equal(restoreBinary("iptables"), "iptables-restore");
  assert.equal(restoreBinary("/usr/sbin/ip6tables-legacy"), "/usr/sbin/ip6tables-legacy-restore");
  assert.equal(iptables.type, "iptables");
});

// Both backends: iptables-nft (Debian's default) and iptables-legacy (old systems).
for (const backend of [
  { name: "iptables (nf_tables backend)", v4: "iptables", v6: "ip6tables" },
  { name: "iptables (legacy backend)", v4: "iptables-legacy", v6: "ip6tables-legacy" },
]) {
  pairConformance({
    name: backend.name,
    tag: "ipt",
    skip: skip ?? netnsSkipReason([backend.v4, backend.v6]),
    supports: { ipv6: true, cidr: true },
    start(p) {
      const config = iptablesConfig.parse({
        type: "iptables",
        netns: p.server,
        iptables_path: backend.v4,
        ip6tables_path: backend.v6,
      });
      return {
        responder: iptables.create(config, responderCtx()),
        flush: async () => {
          // flush every chain of the filter table (our rules and the jumps to our chain)
          await inNs(p.server, [backend.v4, "-F"]);
          await inNs(p.server, [backend.v6, "-F"]);
        },
        residue: () => residue(p.server, backend.v4, backend.v6),
      };
    },
  });
}

describe("iptables specifics", { skip }, () => {
  const p = suitePair("ipts");
  const make = (extra: Record<string, unknown> = {}) =>
    new IptablesResponder(
      iptablesConfig.parse({ type: "iptables", netns: p.server, ...extra }),
      responderCtx(),
    );
  const now = () => SystemClock.now();

  it("a batch is one iptables-restore per family, and only missing rules are added", async () => {
    const r = make();
    await r.setup();
    const entries = Array.from({ length: 300 }, (_, i) => ({
      target: `198.51.100.${i % 250}`,
      expires: now() + 60_000,
    }));
    entries.push({ target: "2001:db8::1", expires: now() + 60_000 });
    const before = r.commands.calls;
    assert.ok((await r.apply(entries)).every((x) => x.ok));
    // per family: one `-S` listing and one restore
    assert.equal(r.commands.calls - before, 4);
    assert.equal((await r.list()).length, 251);
    const again = r.commands.calls;
    assert.ok((await r.apply(entries)).every((x) => x.ok));
    assert.equal(r.commands.calls - again, 2, "nothing to add: listings only");
    const rules = await nsLines(p.server, ["iptables", "-S", "portcullis"]);
    assert.equal(rules.length, 1 + 250, "no duplicate rules");
    await r.teardown();
  });

  it("changing the verdict rewrites existing bans; the chain comes back when deleted behind its back", async () => {
    const r1 = make();
    await r1.setup();
    assert.ok((await r1.apply([{ target: ADDR.clientV4, expires: now() + 60_000 }]))[0]!.ok);
    const r2 = make({ verdict: "drop", hooks: ["INPUT"] });
    await r2.setup();
    const rules = await nsLines(p.server, ["iptables", "-S"]);
    assert.ok(rules.includes("-A portcullis -s 10.200.0.2/32 -j DROP"), rules.join("\n"));
    assert.ok(!rules.some((x) => x.startsWith("-A FORWARD")));
    assert.equal(await probe(p, ADDR.clientV4), false);
    await r2.teardown();
    assert.equal(await probe(p, ADDR.clientV4), true);
    const res = await r2.apply([{ target: ADDR.clientV4, expires: now() + 60_000 }]);
    assert.ok(res[0]!.ok, res[0]!.error);
    assert.equal((await r2.healthcheck()).ok, true);
    assert.equal(await probe(p, ADDR.clientV4), false);
    await r2.teardown();
  });
});

rootUntouched();
