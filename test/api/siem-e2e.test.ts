/**
 * The SIEM response tier end to end: a running daemon with its HTTPS API (real TLS on 127.0.0.1, its generated
 * self-signed certificate pinned as the CA), real bearer tokens, the real policy and store, and the stand-in
 * firewall of the daemon tests. Every payload in ../shared/conformance/siem-payloads/ goes through its endpoint
 * (or its CLI hook: `portcullis wazuh-ar` on stdin with the check_keys handshake, `portcullis block` with the
 * OSSIM arguments) and must produce the right ban; de-duplication across sources and the bad-input answers are
 * checked against the same daemon.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, test } from "node:test";
import { ApiClient } from "../../src/cli/client.ts";
import { main } from "../../src/cli/main.ts";
import { validateConfig } from "../../src/config/load.ts";
import { SystemClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { Daemon } from "../../src/daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../../src/daemon/plugins.ts";
import { SHARED_MISSING, sharedDir } from "../support/shared.ts";
import { fakeFirewall, until } from "../support/daemon.ts";

const shared = sharedDir();
if (!shared && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);
const payloads = shared ? join(shared, "conformance", "siem-payloads") : "";
const dir = mkdtempSync(join(tmpdir(), "portcullis-siem-"));
const dataDir = join(dir, "data");
const fw = join(dir, "fw.json");
let daemon: Daemon;
let webhook: ApiClient;
let admin: ApiClient;

const firewall = () =>
  existsSync(fw) ? (JSON.parse(readFileSync(fw, "utf8")) as Record<string, number>) : {};
const read = (f: string) => JSON.parse(readFileSync(join(payloads, f), "utf8")) as unknown;

function capture(stdin?: NodeJS.ReadableStream) {
  let out = "";
  let err = "";
  const stdout = new PassThrough();
  stdout.on("data", (b: Buffer) => (out += b.toString()));
  return {
    io: {
      stdout: stdout as unknown as NodeJS.WritableStream,
      stderr: { write: (s: string) => ((err += s), true) } as unknown as NodeJS.WritableStream,
      stdin: stdin ?? new PassThrough(),
    },
    out: () => out,
    err: () => err,
  };
}

async function token(scope: string): Promise<string> {
  const c = capture();
  assert.equal(
    await main(["token", "create", "--scope", scope, "--name", `e2e-${scope}`, "--data-dir", dataDir], c.io),
    0,
    c.err(),
  );
  return c.out().trim().split("\n").at(-1)!;
}

async function unbanAll(): Promise<void> {
  // Let enforcement in flight finish first, then lift every ban the store or the firewall holds.
  await until("no enforcement in flight", async () =>
    (await daemon.store.activeDecisions(SystemClock.now())).every((d) =>
      Object.values(d.status).every((s) => s !== "pending"),
    ),
  );
  for (const d of await daemon.store.activeDecisions(SystemClock.now()))
    await admin.call("DELETE", `/v1/decisions/${encodeURIComponent(d.target)}`);
  for (const t of Object.keys(firewall()))
    await admin.call("DELETE", `/v1/decisions/${encodeURIComponent(t)}`);
  await until("firewall emptied", () => Object.keys(firewall()).length === 0);
}

before(async () => {
  mkdirSync(dataDir, { recursive: true });
  const config = validateConfig(
    {
      data_dir: dataDir,
      sources: [],
      responders: [{ type: "command", name: "fakefw", ...fakeFirewall(fw) }],
      policy: { allow_admin_sessions: false, allowlist: ["198.51.100.0/24"] },
      api: { listen: "127.0.0.1:0" },
    },
    "siem.yaml",
    REGISTRIES,
  );
  daemon = new Daemon({ config, clock: SystemClock, logger: memoryLogger(), plugins: FACTORIES });
  await daemon.start();
  const ca = readFileSync(join(dataDir, "tls", "api.crt"), "utf8");
  webhook = new ApiClient({ url: daemon.apiUrl!, token: await token("webhook"), ca });
  admin = new ApiClient({ url: daemon.apiUrl!, token: await token("admin"), ca });
});
after(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const WEBHOOK_CASES: { file: string; kind: string; banned: string[] }[] = [
  { file: "kibana-webhook-index-threshold.json", kind: "kibana", banned: ["203.0.113.45"] },
  { file: "kibana-webhook-es-query.json", kind: "kibana", banned: ["203.0.113.45", "2001:db8:a::/64"] },
  { file: "elastic-security-alerts-query-rule.json", kind: "elastic-security", banned: ["203.0.113.45"] },
  {
    file: "elastic-security-alerts-threshold-rule.json",
    kind: "elastic-security",
    banned: ["203.0.113.45", "2001:db8:a::/64"],
  },
  { file: "elastalert2-post.json", kind: "elastalert", banned: ["203.0.113.45"] },
  { file: "elastalert2-post2.json", kind: "elastalert", banned: ["203.0.113.45"] },
  { file: "splunk-webhook.json", kind: "splunk", banned: ["203.0.113.45"] },
  { file: "graylog-http-notification.json", kind: "graylog", banned: ["203.0.113.45"] },
  { file: "wazuh-ar-4x-add.json", kind: "wazuh", banned: ["203.0.113.45"] },
  { file: "wazuh-ar-5x-enable.json", kind: "wazuh", banned: ["203.0.113.45"] },
];

const skip = shared ? false : SHARED_MISSING;

test("every payload fixture is covered by this test", { skip }, async () => {
  const { readdirSync } = await import("node:fs");
  const covered = new Set([
    ...WEBHOOK_CASES.map((c) => c.file),
    "wazuh-ar-4x-delete.json", // the unban of the Wazuh AR test
    "wazuh-ar-check-keys.json", // the handshake messages of the Wazuh AR test
    "wazuh-ar-check-keys-continue.json",
    "wazuh-ar-check-keys-abort.json",
    "ossim-exec-action.json", // the `portcullis block` test
    "ecs-filebeat-system-auth.json", // an event, not an alert: judged by the rule engine (test/api/kibana-query.test.ts)
  ]);
  const files = readdirSync(payloads).filter((f) => f.endsWith(".json"));
  assert.deepEqual(
    files.filter((f) => !covered.has(f)),
    [],
  );
});

for (const c of WEBHOOK_CASES) {
  test(`${c.file} through POST /v1/webhooks/${c.kind} bans ${c.banned.join(", ")}`, { skip }, async () => {
    await unbanAll();
    const r = await webhook.call("POST", `/v1/webhooks/${c.kind}`, read(c.file));
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const results = r.body.results as { target: string; outcome: string }[];
    assert.deepEqual(
      results.map((x) => [x.target, x.outcome]).sort(),
      c.banned.map((t) => [t, "banned"]).sort(),
    );
    await until(`${c.banned.join(", ")} on the firewall`, () => c.banned.every((t) => firewall()[t]));
    const [decision] = await admin.get<{ origin: string }[]>(
      `/v1/decisions?state=active&target=${encodeURIComponent(c.banned[0]!)}`,
      "items",
    );
    assert.equal(decision?.origin, c.kind);
  });
}

test("POST /blockip takes the ufw story's Kibana connector body unchanged", { skip }, async () => {
  await unbanAll();
  const r = await webhook.call("POST", "/blockip", { ip: "203.0.113.45" });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  await until("banned", () => firewall()["203.0.113.45"]);
  const again = await webhook.call("POST", "/blockip", { ip: "203.0.113.45" });
  assert.equal((again.body.results as { outcome: string }[])[0]?.outcome, "already_banned");
});

test(
  "one IP reported by Kibana and then by Splunk is one ban and one audit record; both reports are kept",
  { skip },
  async () => {
    await unbanAll();
    await webhook.call("POST", "/v1/webhooks/kibana", read("kibana-webhook-index-threshold.json"));
    const r = await webhook.call("POST", "/v1/webhooks/splunk", read("splunk-webhook.json"));
    assert.equal((r.body.results as { outcome: string }[])[0]?.outcome, "already_banned");
    const active = (
      await admin.get<{ id: string; target: string; state: string }[]>("/v1/decisions?state=active", "items")
    ).filter((d) => d.target === "203.0.113.45");
    assert.equal(active.length, 1);
    const audit = await daemon.store.auditFor("203.0.113.45");
    const lastUnban = audit.findIndex((a) => a.action === "unban");
    // Every ban since the last unban, and everything about the decision in force. (The firewall removal of the
    // previous test's ban may be recorded after unbanAll saw the firewall empty: it is about another decision.)
    const sinceLastUnban = audit
      .slice(0, lastUnban < 0 ? undefined : lastUnban)
      .filter((a) => a.action === "ban" || a.decisionId === active[0]!.id);
    assert.deepEqual(
      sinceLastUnban.map((a) => a.action).filter((a) => a !== "apply"),
      ["ban"],
      "one audit record: the duplicate report changes nothing",
    );
    // The second report is answered with the decision in force (and kept as a splunk alert: the store keeps
    // one row per SIEM alert id, so a fixture sent again in this file is not a new row).
    const [decision] = await daemon.store.decisionsFor("203.0.113.45", 1);
    assert.equal((r.body.results as { decision_id?: string }[])[0]?.decision_id, decision?.id);
    const origins = (await daemon.store.listAlerts({ sourceIp: "203.0.113.45", limit: 100 })).map(
      (a) => a.origin,
    );
    assert.ok(origins.includes("kibana") && origins.includes("splunk"), origins.join(","));
  },
);

test("bad input gets a precise 4xx and bans nothing", { skip }, async () => {
  await unbanAll();
  const cases: [unknown, number, string][] = [
    [{ ip: "0.0.0.0/0" }, 422, "0.0.0.0/0"],
    [{ ip: "::/0" }, 422, "::/0"],
    [{ ip: "999.1.1.1" }, 422, "999.1.1.1"],
    [{ ip: "1.2.3.4; rm -rf /" }, 422, "rm"],
    [{ ip: "attacker.example.com" }, 422, "example"],
    [{ ip: ["203.0.113.45"] }, 422, "array"],
    [{ reason: "no ip" }, 422, "ip"],
    [{ ip: "127.0.0.1" }, 422, "127.0.0.1"],
    [{ ip: "198.51.100.7" }, 422, "allowlisted"],
  ];
  for (const [body, status, hint] of cases) {
    const r = await webhook.call("POST", "/blockip", body);
    assert.equal(r.status, status, `${JSON.stringify(body)} -> ${r.status} ${JSON.stringify(r.body)}`);
    assert.ok(JSON.stringify(r.body).includes(hint), `${JSON.stringify(body)}: ${JSON.stringify(r.body)}`);
    assert.ok((r.body.error as { code?: string } | undefined)?.code, "a stable error code");
  }
  // The webhook scope cannot read the ban list, and a wrong token is refused.
  assert.equal((await webhook.call("GET", "/v1/decisions")).status, 403);
  const bad = new ApiClient({ ...admin.target, token: `pcl_${"0".repeat(12)}_${"A".repeat(43)}` });
  assert.equal((await bad.call("POST", "/blockip", { ip: "203.0.113.45" })).status, 401);
  assert.deepEqual(firewall(), {});
  // The daemon is still up.
  assert.equal((await admin.call("GET", "/v1/health")).status, 200);
});

test(
  "portcullis wazuh-ar: check_keys handshake, then the ban; delete lifts it; abort does nothing",
  { skip },
  async () => {
    await unbanAll();
    const env = { PORTCULLIS_URL: daemon.apiUrl!, PORTCULLIS_TOKEN: admin.target.token };
    const saved = { ...process.env };
    Object.assign(process.env, env);
    try {
      for (const [file, expectBan] of [
        ["wazuh-ar-4x-add.json", true],
        ["wazuh-ar-5x-enable.json", true],
      ] as const) {
        await unbanAll();
        const stdin = new PassThrough();
        const c = capture(stdin);
        const done = main(["wazuh-ar", "--ca", join(dataDir, "tls", "api.crt")], c.io);
        stdin.write(`${JSON.stringify(read(file))}\n`);
        const handshake = await until("check_keys on stdout", () => c.out().includes("\n") && c.out());
        const msg = JSON.parse(handshake.trim()) as { command: string; parameters: { keys: string[] } };
        assert.equal(msg.command, "check_keys");
        assert.deepEqual(msg.parameters.keys, ["203.0.113.45"]);
        stdin.write(`${JSON.stringify(read("wazuh-ar-check-keys-continue.json"))}\n`);
        assert.equal(await done, 0, c.err());
        if (expectBan) await until("banned by wazuh-ar", () => firewall()["203.0.113.45"]);
      }
      // abort: the response is already active, nothing is forwarded.
      const stdin = new PassThrough();
      const a = capture(stdin);
      const done = main(["wazuh-ar", "--ca", join(dataDir, "tls", "api.crt")], a.io);
      stdin.write(`${JSON.stringify(read("wazuh-ar-4x-add.json"))}\n`);
      await until("check_keys", () => a.out().includes("\n"));
      stdin.write(`${JSON.stringify(read("wazuh-ar-check-keys-abort.json"))}\n`);
      assert.equal(await done, 0, a.err());
      // delete: the unban.
      const del = new PassThrough();
      const d = capture(del);
      const delDone = main(["wazuh-ar", "--ca", join(dataDir, "tls", "api.crt")], d.io);
      del.end(`${JSON.stringify(read("wazuh-ar-4x-delete.json"))}\n`);
      assert.equal(await delDone, 0, d.err());
      await until("unbanned by wazuh-ar delete", () => !firewall()["203.0.113.45"]);
      const [alert] = await daemon.store.listAlerts({ sourceIp: "203.0.113.45", limit: 1 });
      assert.equal(alert?.origin, "wazuh");
    } finally {
      process.env = saved;
    }
  },
);

/** `portcullis wazuh-ar` on one 5.x message (the handshake answered with continue for enable). */
async function wazuhAr(command: "enable" | "disable", ip: string, ar: Record<string, unknown> = {}) {
  const stdin = new PassThrough();
  const c = capture(stdin);
  const done = main(["wazuh-ar", "--ca", join(dataDir, "tls", "api.crt")], c.io);
  const msg = {
    version: 1,
    command,
    wazuh: { active_response: { name: "portcullis", ...ar } },
    source: { ip },
  };
  stdin.write(`${JSON.stringify(msg)}\n`);
  if (command === "enable") {
    await until("check_keys", () => c.out().includes("\n"));
    stdin.write(`${JSON.stringify(read("wazuh-ar-check-keys-continue.json"))}\n`);
  }
  return { code: await done, err: c.err() };
}

const activeOn = async (target: string) =>
  (await daemon.store.decisionsFor(target)).filter((d) => d.state === "active");

test(
  "portcullis wazuh-ar: a 5.x stateful_timeout is the ban's length, as through the webhook",
  { skip },
  async () => {
    await unbanAll();
    const saved = { ...process.env };
    Object.assign(process.env, { PORTCULLIS_URL: daemon.apiUrl!, PORTCULLIS_TOKEN: admin.target.token });
    try {
      const stateful = { type: "stateful", stateful_timeout: 7200 };
      const r = await wazuhAr("enable", "8.8.4.4", stateful);
      assert.equal(r.code, 0, r.err);
      const [hooked] = await activeOn("8.8.4.4");
      assert.equal(hooked?.duration, 7_200_000);
      assert.equal(hooked?.origin, "wazuh");
      const w = await webhook.call("POST", "/v1/webhooks/wazuh", {
        command: "enable",
        wazuh: { active_response: stateful },
        source: { ip: "8.8.4.5" },
      });
      assert.equal(w.status, 200, JSON.stringify(w.body));
      assert.equal((await activeOn("8.8.4.5"))[0]?.duration, hooked?.duration, "the same length both ways");
    } finally {
      process.env = saved;
    }
  },
);

test(
  "portcullis wazuh-ar: disable ends Wazuh's own ban (IPv6: its prefix range) and nobody else's",
  { skip },
  async () => {
    await unbanAll();
    const saved = { ...process.env };
    Object.assign(process.env, { PORTCULLIS_URL: daemon.apiUrl!, PORTCULLIS_TOKEN: admin.target.token });
    try {
      // Wazuh's own bans: an address, and an IPv6 attacker (banned under its /64).
      assert.equal((await wazuhAr("enable", "203.0.113.7")).code, 0);
      assert.equal((await wazuhAr("enable", "2001:db8:c::7")).code, 0);
      assert.equal((await activeOn("203.0.113.7"))[0]?.origin, "wazuh");
      assert.equal((await activeOn("2001:db8:c::/64"))[0]?.origin, "wazuh");
      // The operator's day-long bans: one address, and ranges holding Wazuh's bans.
      for (const target of ["203.0.113.8", "203.0.113.0/24", "2001:db8:c::/56"]) {
        const r = await admin.call("POST", "/v1/decisions", { target, duration: "1d" });
        assert.equal((r.body.result as { outcome: string }).outcome, "banned", JSON.stringify(r.body));
      }
      await until("every ban on the firewall", () =>
        ["203.0.113.7", "2001:db8:c::/64", "203.0.113.8", "203.0.113.0/24", "2001:db8:c::/56"].every(
          (t) => firewall()[t],
        ),
      );
      const other = await wazuhAr("disable", "203.0.113.8");
      assert.equal(other.code, 0, other.err);
      assert.match(other.err, /not_banned 203\.0\.113\.8/);
      for (const ip of ["203.0.113.7", "2001:db8:c::7"]) {
        const r = await wazuhAr("disable", ip);
        assert.equal(r.code, 0, r.err);
        assert.match(r.err, /unbanned/);
      }
      assert.equal((await activeOn("203.0.113.7")).length, 0);
      assert.equal((await activeOn("2001:db8:c::/64")).length, 0);
      // Wazuh's timeout again (its response is over): the operator's range holding the address is no business of it.
      const again = await wazuhAr("disable", "203.0.113.7");
      assert.equal(again.code, 0, again.err);
      assert.match(again.err, /not_banned 203\.0\.113\.7/);
      await until("Wazuh's /64 off the firewall", () => !firewall()["2001:db8:c::/64"]);
      for (const target of ["203.0.113.8", "203.0.113.0/24", "2001:db8:c::/56"]) {
        assert.equal((await activeOn(target)).length, 1, `${target} stays`);
        assert.ok(firewall()[target], `${target} stays on the firewall`);
      }
    } finally {
      process.env = saved;
    }
  },
);

test(
  "portcullis block and wazuh-ar sign their requests when the API requires signatures",
  { skip },
  async () => {
    const sdir = join(dir, "signed");
    const sdata = join(sdir, "data");
    const sfw = join(sdir, "fw.json");
    const secretFile = join(sdir, "webhook.secret");
    mkdirSync(sdata, { recursive: true });
    writeFileSync(secretFile, "e2e-signing-secret-0123456789\n", { mode: 0o600 });
    const config = validateConfig(
      {
        data_dir: sdata,
        sources: [],
        responders: [{ type: "command", name: "fakefw", ...fakeFirewall(sfw) }],
        policy: { allow_admin_sessions: false },
        api: { listen: "127.0.0.1:0", signatures: { required: true, secret_file: secretFile } },
      },
      "signed.yaml",
      REGISTRIES,
    );
    const signed = new Daemon({ config, clock: SystemClock, logger: memoryLogger(), plugins: FACTORIES });
    await signed.start();
    const saved = { ...process.env };
    try {
      const c = capture();
      const args = ["token", "create", "--scope", "admin", "--name", "e2e-signed", "--data-dir", sdata];
      assert.equal(await main(args, c.io), 0, c.err());
      const ca = join(sdata, "tls", "api.crt");
      Object.assign(process.env, {
        PORTCULLIS_URL: signed.apiUrl!,
        PORTCULLIS_TOKEN: c.out().trim().split("\n").at(-1)!,
        PORTCULLIS_CA: ca,
      });
      const unsigned = capture();
      assert.equal(await main(["block", "9.9.9.2"], unsigned.io), 2);
      assert.match(unsigned.err(), /x-portcullis-timestamp and x-portcullis-signature are required/);
      process.env.PORTCULLIS_SIGNING_SECRET_FILE = secretFile;
      const b = capture();
      assert.equal(await main(["block", "9.9.9.2"], b.io), 0, b.out() + b.err());
      assert.equal((await signed.store.decisionsFor("9.9.9.2"))[0]?.state, "active");
      delete process.env.PORTCULLIS_SIGNING_SECRET_FILE;
      const stdin = new PassThrough();
      const w = capture(stdin);
      const done = main(["wazuh-ar", "--ca", ca, "--signing-secret-file", secretFile], w.io);
      stdin.write(
        `${JSON.stringify({ command: "enable", wazuh: { active_response: { name: "portcullis" } }, source: { ip: "9.9.9.3" } })}\n`,
      );
      await until("check_keys", () => w.out().includes("\n"));
      stdin.write(`${JSON.stringify(read("wazuh-ar-check-keys-continue.json"))}\n`);
      assert.equal(await done, 0, w.err());
      assert.equal((await signed.store.decisionsFor("9.9.9.3"))[0]?.origin, "wazuh");
    } finally {
      process.env = saved;
      await signed.stop();
    }
  },
);

test(
  "portcullis block SRC_IP DST_IP DST_PORT (OSSIM): exit 0 banned, 1 bad input, 3 refused",
  { skip },
  async () => {
    await unbanAll();
    const o = read("ossim-exec-action.json") as {
      event: { src_ip: string; dst_ip: string; dst_port: string };
    };
    const saved = { ...process.env };
    Object.assign(process.env, {
      PORTCULLIS_URL: daemon.apiUrl!,
      PORTCULLIS_TOKEN: webhook.target.token,
      PORTCULLIS_CA: join(dataDir, "tls", "api.crt"),
    });
    try {
      const c = capture();
      assert.equal(await main(["block", o.event.src_ip, o.event.dst_ip, o.event.dst_port], c.io), 0, c.err());
      await until("banned by block", () => firewall()[o.event.src_ip]);
      const again = capture();
      assert.equal(await main(["block", o.event.src_ip], again.io), 0);
      assert.match(again.out(), /already_banned/);
      for (const args of [["1.2.3.4;reboot"], ["-h"], ["$(id)"], []]) {
        const b = capture();
        assert.equal(await main(["block", ...args], b.io), 1, `${args.join(" ")}: ${b.err()}`);
      }
      const refused = capture();
      assert.equal(await main(["block", "198.51.100.9"], refused.io), 3, refused.err());
      const [alert] = await daemon.store.listAlerts({ sourceIp: o.event.src_ip, limit: 1 });
      assert.equal(alert?.origin, "ossim");
    } finally {
      process.env = saved;
    }
  },
);

test(
  "portcullis block and wazuh-ar answer 2 when the firewall refuses the ban, 0 only once it is enforced",
  { skip },
  async () => {
    await unbanAll();
    writeFileSync(`${fw}.fail`, "203.0.113.201\n203.0.113.202\n");
    const saved = { ...process.env };
    Object.assign(process.env, {
      PORTCULLIS_URL: daemon.apiUrl!,
      PORTCULLIS_TOKEN: webhook.target.token,
      PORTCULLIS_CA: join(dataDir, "tls", "api.crt"),
    });
    try {
      const b = capture();
      assert.equal(await main(["block", "203.0.113.201"], b.io), 2, b.out() + b.err());
      assert.match(b.out() + b.err(), /enforcement failed/);
      const stdin = new PassThrough();
      const w = capture(stdin);
      const done = main(["wazuh-ar", "--ca", join(dataDir, "tls", "api.crt")], w.io);
      const add = read("wazuh-ar-4x-add.json") as { parameters: { alert: { data: { srcip: string } } } };
      add.parameters.alert.data.srcip = "203.0.113.202";
      stdin.write(`${JSON.stringify(add)}\n`);
      await until("check_keys", () => w.out().includes("\n"));
      stdin.write(`${JSON.stringify(read("wazuh-ar-check-keys-continue.json"))}\n`);
      assert.equal(await done, 2, w.out() + w.err());
      assert.ok(!firewall()["203.0.113.201"] && !firewall()["203.0.113.202"]);
      // The same hook with a working firewall: 0, and the firewall holds the ban when it answers.
      const ok = capture();
      assert.equal(await main(["block", "203.0.113.203"], ok.io), 0, ok.out() + ok.err());
      assert.ok(firewall()["203.0.113.203"], "enforced before the hook answered");
      // Through the API: Prefer: wait=N says how enforcement went; 503 when it failed.
      const r = await webhook.call(
        "POST",
        "/v1/webhooks/generic",
        { ip: "203.0.113.201" },
        { prefer: "wait=5" },
      );
      assert.equal(r.status, 503, JSON.stringify(r.body));
      const [res] = r.body.results as { outcome: string; enforcement: string }[];
      assert.deepEqual([res?.outcome, res?.enforcement], ["failed", "failed"]);
      const fine = await webhook.call(
        "POST",
        "/v1/webhooks/generic",
        { ip: "203.0.113.204" },
        { prefer: "wait=5" },
      );
      assert.equal(fine.status, 200, JSON.stringify(fine.body));
      assert.equal((fine.body.results as { enforcement: string }[])[0]?.enforcement, "applied");
    } finally {
      process.env = saved;
      rmSync(`${fw}.fail`, { force: true });
    }
  },
);
