/**
 * The Splunk story end to end: the daemon runs a scheduled Splunk search (a `splunk` alert source), the result
 * rows go through the same policy as native detections (allowlist, de-duplication, audit) and the bans reach
 * the firewall. Splunk cannot run here; the fake in src/siem/splunk-pull/fake-splunk.ts implements the
 * documented REST contract (../shared/contracts/splunk.md). The firewall is the stand-in script of the daemon
 * tests.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { validateConfig } from "../../src/config/load.ts";
import { SystemClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { Daemon } from "../../src/daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../../src/daemon/plugins.ts";
import { FakeSplunk } from "../../src/siem/splunk-pull/fake-splunk.ts";
import { fakeFirewall } from "../support/daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-splunk-"));
let fake: FakeSplunk | undefined;
after(() => {
  fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("a scheduled Splunk search bans the addresses it returns, once, through the policy", async () => {
  fake = await FakeSplunk.start();
  const ca = join(dir, "ca.pem");
  writeFileSync(ca, fake.ca);
  const tokenFile = join(dir, "splunk.token");
  writeFileSync(tokenFile, fake.token, { mode: 0o600 });
  fake.rows = () => [
    { src_ip: "203.0.113.45", count: 31 },
    { src_ip: "203.0.113.46", count: 22 },
    { src_ip: "127.0.0.1", count: 50 },
    { src_ip: "not-an-address", count: 9 },
  ];
  const fw = join(dir, "fw.json");
  const config = validateConfig(
    {
      data_dir: join(dir, "data"),
      sources: [
        {
          type: "splunk",
          url: fake.url,
          auth: { type: "token", token: { file: tokenFile } },
          search: "index=auth action=failure | stats count by src_ip | where count>=20",
          ip_fields: ["src_ip"],
          interval: "1s",
          tls: { ca_file: ca },
          rule: "Brute force sources",
        },
      ],
      responders: [{ type: "command", name: "fakefw", ...fakeFirewall(fw) }],
      policy: { allow_admin_sessions: false },
      api: { enabled: false },
    },
    "splunk.yaml",
    REGISTRIES,
  );
  const d = new Daemon({ config, clock: SystemClock, logger: memoryLogger(), plugins: FACTORIES });
  await d.start();
  try {
    const firewall = () =>
      existsSync(fw) ? (JSON.parse(readFileSync(fw, "utf8")) as Record<string, number>) : {};
    const end = performance.now() + 20_000;
    while (!(firewall()["203.0.113.45"] && firewall()["203.0.113.46"])) {
      if (performance.now() > end) throw new Error(`no bans; firewall ${JSON.stringify(firewall())}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const search = fake.requests.find((r) => r.path.endsWith("/search/jobs"));
    assert.equal(search?.params.count, "0");
    assert.equal(search?.params.output_mode, "json");
    assert.equal(search?.authorization, `Bearer ${fake.token}`);
    const alerts = await d.store.listAlerts({ limit: 10 });
    assert.ok(alerts.every((a) => a.origin === "splunk"));
    // Loopback and the non-address are refused by the extractor itself (never an alert, never a ban).
    assert.deepEqual(alerts.map((a) => [a.group["source.ip"], a.outcome]).sort(), [
      ["203.0.113.45", "banned"],
      ["203.0.113.46", "banned"],
    ]);
    // Later runs see the same rows: the seen-set keeps them from being reported again.
    const before = fake.requests.length;
    while (fake.requests.length < before + 2) await new Promise((r) => setTimeout(r, 50));
    assert.equal((await d.store.listAlerts({ limit: 10 })).length, 2);
    assert.equal((await d.store.listDecisions({ limit: 10 })).length, 2);
  } finally {
    await d.stop();
  }
});
