/**
 * The daemon end to end, without privileges: a real file source on a temp log, the real pipeline, policy and
 * SQLite store, and the `command` responder driving a stand-in firewall script (test/support/fake-firewall.mjs)
 * through argument arrays. Real firewalls are covered by the responders' namespace suite and the demo test.
 */
import assert from "node:assert/strict";
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { after, test } from "node:test";
import { validateConfig } from "../../src/config/load.ts";
import type { Alert } from "../../src/core/alert.ts";
import { ManualClock, SystemClock } from "../../src/core/clock.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { ApiListenError, Daemon, type PluginFactories } from "../../src/daemon/daemon.ts";
import { DaemonRunningError, lockStateDirectory } from "../../src/daemon/lock.ts";
import { FACTORIES, REGISTRIES } from "../../src/daemon/plugins.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";
import type { LineSink, SourceDefinition } from "../../src/sources/types.ts";
import { fakeFirewall, syslogStamp, until } from "../support/daemon.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-daemon-"));
after(() => rmSync(root, { recursive: true, force: true }));

const fail = (ip: string, pid = 100, user = "root") =>
  `${syslogStamp()} srv sshd[${pid}]: Failed password for ${user} from ${ip} port 4242 ssh2\n`;

function setup(name: string, extra: Record<string, unknown> = {}, policy: Record<string, unknown> = {}) {
  const dir = join(root, name);
  const log = join(dir, "auth.log");
  const fw = join(dir, "fw.json");
  const dataDir = join(dir, "data");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  writeFileSync(log, "");
  const raw = {
    data_dir: dataDir,
    timezone: "local",
    sources: [{ type: "file", paths: [log], start: "beginning", poll_interval: "100ms" }],
    responders: [{ type: "command", name: "fakefw", ...fakeFirewall(fw) }],
    policy: { allow_admin_sessions: false, ...policy },
    api: { listen: "127.0.0.1:0" },
    ...extra,
  };
  const config = validateConfig(raw, `${name}.yaml`, REGISTRIES);
  const logger = memoryLogger();
  const make = () => new Daemon({ config, clock: SystemClock, logger, plugins: FACTORIES });
  const firewall = () =>
    existsSync(fw) ? (JSON.parse(readFileSync(fw, "utf8")) as Record<string, number>) : {};
  const calls = () =>
    existsSync(`${fw}.calls`) ? readFileSync(`${fw}.calls`, "utf8").trim().split("\n") : [];
  return { dir, log, fw, dataDir, config, logger, make, firewall, calls };
}

test("five failures ban the address on the firewall; the decision, status and audit are recorded", async () => {
  const t = setup("ban");
  const d = t.make();
  await d.start();
  try {
    for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("203.0.113.7"));
    await until("the ban on the firewall", () => t.firewall()["203.0.113.7"]);
    const [dec] = await until("an applied decision", async () => {
      const list = await d.store.activeDecisions(SystemClock.now());
      return list.length && list[0]!.status.fakefw === "applied" ? list : undefined;
    });
    assert.equal(dec!.target, "203.0.113.7");
    assert.equal(dec!.rule?.id, "ssh-brute-force");
    assert.equal(dec!.duration, 600_000);
    const audit = await d.store.auditFor("203.0.113.7");
    assert.ok(audit.some((a) => a.action === "ban"));
    const [alert] = await d.store.listAlerts({ sourceIp: "203.0.113.7" });
    assert.equal(alert?.outcome, "banned");
    assert.equal(alert?.events.length, 5);
    const explained = await d.explain("203.0.113.7");
    assert.equal(explained.decisions.length, 1);
    // A sixth failure during the ban is ignored (no second alert).
    appendFileSync(t.log, fail("203.0.113.7"));
    await until("the line to be read", () => d.pipeline.counters.lines >= 6);
    assert.equal((await d.store.listAlerts({ sourceIp: "203.0.113.7" })).length, 1);
  } finally {
    await d.stop();
  }
});

test("a Prometheus scrape reads current health and engine gauges, without anyone running status first", async () => {
  const t = setup("metrics-health");
  const d = t.make();
  await d.start();
  try {
    appendFileSync(t.log, fail("203.0.113.77"));
    await until("the line to be read", () => d.pipeline.counters.lines >= 1);
    const text = await d.metrics();
    const value = (series: string) =>
      Number(
        text
          .split("\n")
          .find((l) => l.startsWith(`${series} `))
          ?.split(" ")[1],
      );
    assert.equal(value('portcullis_source_up{source="file",type="file"}'), 1, text);
    assert.equal(value('portcullis_responder_up{responder="fakefw",type="command"}'), 1, text);
    assert.equal(value('portcullis_rule_tracked_keys{rule="ssh-brute-force"}'), 1, text);
  } finally {
    await d.stop();
  }
});

test("a forged-log flood never bans loopback, own addresses or the allowlist; refusals are recorded", async () => {
  const t = setup("allowlist", {}, { allowlist: ["198.51.100.0/24"] });
  const d = t.make();
  await d.start();
  try {
    const lines: string[] = [];
    for (let i = 0; i < 200; i++) {
      lines.push(fail("127.0.0.1", i), fail("::1", i), fail("198.51.100.9", i), fail("::ffff:127.0.0.5", i));
      lines.push(
        `${syslogStamp()} srv sshd[${i}]: Failed password for invalid user x from 203.0.113.99 port 22 ssh2 from 198.51.100.77 port 1 ssh2\n`,
      );
    }
    appendFileSync(t.log, lines.join(""));
    await until("every line processed", () => d.pipeline.counters.lines >= 1000);
    await d.sync.idle();
    assert.deepEqual(t.firewall(), {});
    assert.deepEqual(await d.store.activeDecisions(SystemClock.now()), []);
    const refusals = await d.store.listAudit({ limit: 100 });
    const why = new Set(
      refusals
        .filter((a) => a.action === "refuse")
        .map((a) => String((a.detail as { reason: string }).reason).split(" (")[1]),
    );
    assert.ok(
      [...why].some((w) => w?.startsWith("loopback")),
      JSON.stringify([...why]),
    );
    assert.ok(
      [...why].some((w) => w?.startsWith("configured allowlist")),
      JSON.stringify([...why]),
    );
    assert.ok(d.policy.counts.refused_allowlisted >= 4);
  } finally {
    await d.stop();
  }
});

test("the circuit breaker caps new bans per minute and says so loudly", async () => {
  const t = setup("breaker", {}, { circuit_breaker: { max_bans_per_minute: 3 } });
  const d = t.make();
  await d.start();
  try {
    const lines: string[] = [];
    for (let a = 1; a <= 10; a++) for (let i = 0; i < 5; i++) lines.push(fail(`203.0.113.${a}`, a));
    appendFileSync(t.log, lines.join(""));
    await until(
      "all alerts decided",
      () => d.policy.counts.banned + d.policy.counts.refused_circuit_breaker >= 10,
    );
    await d.sync.idle();
    await until("3 bans applied", () => Object.keys(t.firewall()).length === 3);
    assert.equal(d.policy.counts.banned, 3);
    assert.equal(d.policy.counts.refused_circuit_breaker, 7);
    assert.ok(t.logger.records.some((r) => r.level === "warn" && String(r.msg).includes("CIRCUIT BREAKER")));
  } finally {
    await d.stop();
  }
});

test("restart: no lost or duplicated bans, no missed or re-read lines; escalation history survives", async () => {
  const t = setup("restart");
  let d = t.make();
  await d.start();
  for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("203.0.113.50", 1));
  await until("first ban", () => t.firewall()["203.0.113.50"]);
  await d.stop();
  // While down: the firewall is flushed (e.g. a ufw reload), and new lines arrive.
  writeFileSync(t.fw, "{}");
  for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("203.0.113.51", 2));
  d = t.make();
  await d.start();
  try {
    // Reconcile restored the first ban; the lines written while down were read once and banned once.
    await until("both bans", () => t.firewall()["203.0.113.50"] && t.firewall()["203.0.113.51"]);
    await until("lines after restart", () => d.pipeline.counters.lines >= 5);
    assert.equal(d.pipeline.counters.lines, 5, "only the 5 new lines are read after the restart");
    const all = await d.store.listDecisions({ limit: 100 });
    assert.deepEqual(all.map((x) => x.target).sort(), ["203.0.113.50", "203.0.113.51"]);
    // Unban by hand, then the same address offends again: its second ban is escalated (history in the store).
    await d.unban("203.0.113.50", { type: "cli", name: "tester" });
    await until("removed from the firewall", () => !t.firewall()["203.0.113.50"]);
    for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("203.0.113.50", 3));
    const again = await until("second ban", async () =>
      (await d.store.decisionsFor("203.0.113.50")).find((x) => x.state === "active"),
    );
    assert.equal(again.escalation, 1);
    assert.equal(again.duration, 1_200_000);
  } finally {
    await d.stop();
  }
});

test("a clean restart keeps the detection windows (4 failures before, 1 after: a ban)", async () => {
  const t = setup("windows");
  let d = t.make();
  await d.start();
  for (let i = 0; i < 4; i++) appendFileSync(t.log, fail("203.0.113.60", 4));
  await until("4 lines", () => d.pipeline.counters.lines >= 4);
  await d.stop();
  assert.ok(t.logger.records.some((r) => r.msg === "detection windows saved"));
  d = t.make();
  await d.start();
  try {
    assert.ok(
      t.logger.records.some((r) => r.msg === "detection windows restored" && Number(r.groups) > 0),
      "restored at start",
    );
    appendFileSync(t.log, fail("203.0.113.60", 5));
    await until("the ban after the restart", () => t.firewall()["203.0.113.60"]);
    const [alert] = await d.store.listAlerts({ sourceIp: "203.0.113.60" });
    assert.equal(alert?.count, 5);
    assert.equal(alert?.events.length, 5);
  } finally {
    await d.stop();
  }
});

test("the CLI's ban and unban go through the running daemon's HTTPS API, audited with who asked", async () => {
  const t = setup("manual");
  const d = t.make();
  await d.start();
  try {
    const { main } = await import("../../src/cli/main.ts");
    const io = { stdout: sink(), stderr: sink(), stdin: process.stdin };
    const cfg = join(t.dir, "portcullis.yaml");
    writeFileSync(
      cfg,
      JSON.stringify({
        ...JSON.parse(JSON.stringify(t.config.raw)),
        sources: [],
        responders: [{ type: "command", name: "fakefw", apply: ["/bin/true"], remove: ["/bin/true"] }],
      }),
    );
    assert.equal(
      await main(
        ["ban", "198.51.100.200", "--duration", "1h", "--reason", "seen in honeypot", "-c", cfg],
        io,
      ),
      0,
      io.stderr.text(),
    );
    await until("enforced by the daemon", () => t.firewall()["198.51.100.200"]);
    assert.equal(await main(["ban", "127.0.0.1", "-c", cfg], io), 1);
    assert.match(io.stderr.text(), /covers the caller's own address|allowlisted \(loopback/);
    assert.equal(await main(["ban", "10.0.0.0/8", "-c", cfg], io), 1);
    assert.match(io.stderr.text(), /wider than the allowed \/16/);
    assert.equal(await main(["ban", "1.2.3.4; rm -rf /", "-c", cfg], io), 64);
    assert.equal(await main(["unban", "198.51.100.200", "-c", cfg], io), 0);
    await until("removed by the daemon", () => !t.firewall()["198.51.100.200"]);
    const audit = await d.store.auditFor("198.51.100.200");
    assert.deepEqual(
      audit.map((a) => a.action).filter((a) => a === "ban" || a === "unban"),
      ["unban", "ban"],
    );
    const ban = audit.find((a) => a.action === "ban");
    assert.deepEqual(ban?.actor, { type: "api", name: "local-cli" });
    assert.match(String((ban?.detail as { reason?: string }).reason), /seen in honeypot \(by .+\)/);
  } finally {
    await d.stop();
  }
});

test("without a running daemon the CLI bans through the same policy; the next start enforces it", async () => {
  const t = setup("offline");
  const { main } = await import("../../src/cli/main.ts");
  const io = { stdout: sink(), stderr: sink(), stdin: process.stdin };
  const cfg = join(t.dir, "portcullis.yaml");
  writeFileSync(cfg, JSON.stringify(t.config.raw));
  assert.equal(
    await main(["ban", "198.51.100.201", "--reason", "from the CLI", "-c", cfg], io),
    0,
    io.stderr.text(),
  );
  assert.match(io.stdout.text(), /the daemon is not running: enforced at its next start/);
  // A longer ban of the same address extends the stored decision (and says so only because it did).
  assert.equal(await main(["ban", "198.51.100.201", "--duration", "2h", "-c", cfg], io), 0, io.stderr.text());
  assert.match(io.stdout.text(), /extended/);
  {
    const store = await openSqliteStore(join(t.dataDir, "portcullis.db"), { clock: () => Date.now() });
    try {
      const [dec] = await store.decisionsFor("198.51.100.201");
      assert.ok(dec!.expires >= SystemClock.now() + 7_000_000, "the 2h expiry is stored");
      assert.ok((await store.auditFor("198.51.100.201")).some((a) => a.action === "extend"));
    } finally {
      await store.close();
    }
  }
  // A duration no date can hold is refused before anything is decided.
  assert.equal(await main(["ban", "198.51.100.202", "--duration", "20000000w", "-c", cfg], io), 64);
  assert.match(io.stderr.text(), /--duration must be at most 3650d/);
  assert.equal(await main(["ban", "127.0.0.1", "-c", cfg], io), 1);
  assert.match(io.stderr.text(), /allowlisted \(loopback/);
  const d = t.make();
  await d.start();
  try {
    await until("enforced at start", () => t.firewall()["198.51.100.201"]);
    const [dec] = await d.store.decisionsFor("198.51.100.201");
    assert.equal(dec?.actor.type, "cli");
  } finally {
    await d.stop();
  }
  // Stopped: status still shows the API certificate's fingerprint (to pin it in a connector).
  const st = { stdout: sink(), stderr: sink(), stdin: process.stdin };
  assert.equal(await main(["status", "--json", "-c", cfg], st), 0, st.stderr.text());
  const report = JSON.parse(st.stdout.text()) as {
    running: boolean;
    tlsFingerprint?: string;
    activeBans: number;
  };
  assert.equal(report.running, false);
  assert.equal(report.activeBans, 1);
  assert.ok(d.tlsFingerprint, "the daemon had a certificate");
  assert.equal(report.tlsFingerprint, d.tlsFingerprint);
});

test("SIGHUP-style reload keeps windows of unchanged rules and the bans", async () => {
  const t = setup("reload");
  const d = t.make();
  await d.start();
  try {
    for (let i = 0; i < 4; i++) appendFileSync(t.log, fail("192.0.2.200", 9));
    await until("4 lines", () => d.pipeline.counters.lines >= 4);
    const next = validateConfig(
      { ...t.config.raw, rules: { builtin: true, paths: [], disable: ["ssh-slow-brute-force"] } },
      "reload.yaml",
      REGISTRIES,
    );
    await d.reload(next);
    assert.ok(!d.listRules().some((r) => r.id === "ssh-slow-brute-force"));
    appendFileSync(t.log, fail("192.0.2.200", 9));
    await until("ban after reload", () => t.firewall()["192.0.2.200"]);
  } finally {
    await d.stop();
  }
});

test("expired bans are removed from the firewall and marked expired", async () => {
  const t = setup("expiry", {}, { default_duration: "1s", escalation: { enabled: false } });
  // The rule's own 10m duration wins over the default: override it per rule.
  const raw = {
    ...t.config.raw,
    policy: { ...t.config.raw.policy, rules: { "ssh-brute-force": { duration: "1s" } } },
  };
  const config = validateConfig(raw, "expiry.yaml", REGISTRIES);
  const d = new Daemon({ config, clock: SystemClock, logger: t.logger, plugins: FACTORIES });
  await d.start();
  try {
    for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("198.51.100.66", 4));
    await until("ban", () => t.firewall()["198.51.100.66"]);
    await until("removal at expiry", () => !t.firewall()["198.51.100.66"]);
    const dec = await until("the removal recorded", async () => {
      const [x] = await d.store.decisionsFor("198.51.100.66");
      return x?.status.fakefw === "removed" ? x : undefined;
    });
    assert.equal(dec.state, "expired");
  } finally {
    await d.stop();
  }
});

function sink() {
  let buf = "";
  return Object.assign(
    {
      write(s: string) {
        buf += s;
        return true;
      },
      text: () => buf,
    },
    {},
  ) as unknown as NodeJS.WritableStream & { text(): string };
}

test("an IPv6 attacker is banned per /64; unban and explain by the address itself reach that ban", async () => {
  const t = setup("v6-unban");
  const d = t.make();
  await d.start();
  try {
    for (let i = 0; i < 5; i++) appendFileSync(t.log, fail(`2001:db8:7:7::${i + 1}`, 7));
    await until("the /64 on the firewall", () => t.firewall()["2001:db8:7:7::/64"]);
    const explained = await d.explain("2001:db8:7:7::3");
    assert.deepEqual(
      explained.decisions.map((x) => [x.target, x.state]),
      [["2001:db8:7:7::/64", "active"]],
    );
    assert.ok(explained.audit.some((a) => a.action === "ban" && a.target === "2001:db8:7:7::/64"));
    // A different /64 is not touched.
    assert.equal((await d.unban("2001:db8:7:8::1", { type: "cli", name: "tester" })).revoked, 0);
    const r = await d.unban("2001:db8:7:7::3", { type: "cli", name: "tester" });
    assert.equal(r.revoked, 1);
    await until("the /64 removed from the firewall", () => !t.firewall()["2001:db8:7:7::/64"]);
    const [dec] = await d.store.decisionsFor("2001:db8:7:7::/64");
    assert.equal(dec?.state, "revoked");
  } finally {
    await d.stop();
  }
});

test("a ban another process stored for an address the daemon allowlists is refused, never enforced", async () => {
  const t = setup("external-allow", {}, { allowlist: ["192.0.2.0/28"] });
  const d = t.make();
  await d.start();
  try {
    // What a CLI with a narrower view (e.g. no logged-in sessions) could have written.
    const now = SystemClock.now();
    await d.store.insertDecision(
      {
        id: "d-external-1",
        "@timestamp": now,
        target: "192.0.2.5",
        action: "ban",
        scope: "host",
        duration: 600_000,
        expires: now + 600_000,
        reason: "by hand",
        origin: "cli",
        actor: { type: "cli", name: "someone" },
        escalation: 0,
        simulated: false,
        status: {},
      },
      ["fakefw"],
      [],
    );
    const dec = await until("the decision refused", async () => {
      const x = await d.store.getDecision("d-external-1");
      return x?.state === "revoked" ? x : undefined;
    });
    assert.match(dec.ended_by ?? "", /portcullis/);
    assert.equal(t.firewall()["192.0.2.5"], undefined);
    assert.ok(!t.calls().some((c) => c.includes("192.0.2.5")), "never sent to the firewall");
  } finally {
    await d.stop();
  }
});

test("a source whose run fails (one store error) is reported down, restarted, and resumes from its checkpoint", async () => {
  const t = setup("source-restart");
  // The real file source, whose first batch of lines meets a failing store once (the push rejects, as when
  // SQLite reports the disk full): its run ends with that error.
  const file = FACTORIES.sources.file!;
  let failures = 0;
  const flaky: SourceDefinition<unknown> = {
    ...file,
    create(config, ctx) {
      const source = file.create(config, ctx);
      const run = source.run.bind(source);
      source.run = (sink: LineSink, signal: AbortSignal) =>
        run(
          {
            push: (b) => {
              if (b.lines.length && failures === 0) {
                failures++;
                return Promise.reject(new Error("SQLITE_FULL: database or disk is full"));
              }
              return sink.push(b);
            },
          },
          signal,
        );
      return source;
    },
  };
  const plugins: PluginFactories = { ...FACTORIES, sources: { ...FACTORIES.sources, file: flaky } };
  const d = new Daemon({ config: t.config, clock: SystemClock, logger: t.logger, plugins });
  await d.start();
  try {
    appendFileSync(t.log, fail("203.0.113.9"));
    await until("the failure", () => failures === 1);
    const [down] = await until("the source reported down", async () => {
      const s = (await d.status()).sources;
      return s[0]?.ok === false ? s : undefined;
    });
    assert.match(down!.detail, /not running: stopped with an error \(SQLITE_FULL.*restarting in/);
    // Restarted from its checkpoint: the line of the failed batch is read again, with four more: a ban.
    for (let i = 0; i < 4; i++) appendFileSync(t.log, fail("203.0.113.9"));
    await until("the ban on the firewall", () => t.firewall()["203.0.113.9"]);
    const [up] = (await d.status()).sources;
    assert.equal(up?.ok, true, up?.detail);
    assert.ok(t.logger.records.some((r) => r.level === "error" && /restarting it/.test(r.msg ?? "")));
  } finally {
    await d.stop();
  }
});

test("a commit that fails (disk full) loses no decision: it is committed with the kept position, once", async () => {
  const t = setup("commit-fails");
  const d = t.make();
  await d.start();
  // The store refuses the first transaction that holds a decision, as SQLite does when the disk is full.
  const record = d.store.recordOutcomes.bind(d.store);
  let refused = 0;
  d.store.recordOutcomes = (items, positions) => {
    if (refused === 0 && items.some((i) => i.decision)) {
      refused++;
      return Promise.reject(new Error("SQLITE_FULL: database or disk is full"));
    }
    return record(items, positions);
  };
  try {
    appendFileSync(t.log, fail("203.0.113.44").repeat(5));
    await until("the refused commit", () => refused === 1);
    // The source restarts after the five lines (their position, not committed, is kept in memory), so they
    // are not counted again; the kept decision is committed with that position, then enforced.
    await until("the ban on the firewall", () => t.firewall()["203.0.113.44"], 30_000);
    const decisions = await d.store.listDecisions({ limit: 100 });
    assert.deepEqual(
      decisions.map((x) => x.target),
      ["203.0.113.44"],
    );
    const audit = await d.store.auditFor("203.0.113.44");
    assert.equal(audit.filter((a) => a.action === "ban").length, 1);
  } finally {
    await d.stop();
  }
});

test("a line stamped far in the future does not empty the detection windows of everyone else", async () => {
  const t = setup("future-line");
  const d = t.make();
  await d.start();
  try {
    appendFileSync(t.log, fail("203.0.113.83").repeat(3));
    await until("three events read", () =>
      d.status().then((s) => (s.counters.events ?? 0) >= 3 || undefined),
    );
    appendFileSync(
      t.log,
      "9999-12-31T23:59:59+00:00 srv sshd[999]: Failed password for root from 198.51.100.1 port 1 ssh2\n",
    );
    // Its batch ends with a sweep of the windows (at the latest event time seen), before the next lines come.
    await until("the future line read", () =>
      d.status().then((s) => (s.counters.events ?? 0) >= 4 || undefined),
    );
    appendFileSync(t.log, fail("203.0.113.83").repeat(3));
    await until("the ban on the firewall", () => t.firewall()["203.0.113.83"]);
  } finally {
    await d.stop();
  }
});

test("a ban extended just before it expires stays in force: expiry never ends it under an extension being written", async () => {
  const t = setup("extend-at-expiry");
  const d = t.make();
  await d.start();
  const record = d.store.recordOutcomes.bind(d.store);
  let slow = false;
  // The extension's write takes 1.5 s (a busy disk), long enough for the expiry pass (every second) to run.
  d.store.recordOutcomes = async (items, positions) => {
    if (slow && items.some((i) => i.extend)) await new Promise((r) => setTimeout(r, 1500));
    return record(items, positions);
  };
  try {
    const first = await d.ban({
      target: "198.51.100.30",
      duration: 2000,
      actor: { type: "api", name: "ops" },
      origin: "api",
    });
    assert.equal(first.outcome, "banned");
    await until("the ban on the firewall", () => t.firewall()["198.51.100.30"]);
    await new Promise((r) => setTimeout(r, 1700));
    slow = true;
    const again = await d.ban({
      target: "198.51.100.30",
      duration: 3_600_000,
      actor: { type: "api", name: "ops" },
      origin: "api",
    });
    assert.equal(again.outcome, "extended");
    await new Promise((r) => setTimeout(r, 1500));
    const [dec] = await d.store.decisionsFor("198.51.100.30");
    assert.equal(dec?.state, "active");
    assert.ok(dec.expires > SystemClock.now() + 3_000_000);
    assert.ok(t.firewall()["198.51.100.30"], "still on the firewall");
  } finally {
    await d.stop();
  }
});

test("a SIEM or API ban whose write fails is taken back: the retry bans, never 'already banned' by a phantom", async () => {
  const t = setup("siem-commit-fails");
  const d = t.make();
  await d.start();
  // The store refuses every transaction while `full` holds (a locked or full database).
  const record = d.store.recordOutcomes.bind(d.store);
  let full = true;
  d.store.recordOutcomes = (items, positions) =>
    full ? Promise.reject(new Error("SQLITE_BUSY: database is locked")) : record(items, positions);
  const now = SystemClock.now();
  const alert = (ip: string): Alert => ({
    id: `a-${ip}`,
    "@timestamp": now,
    rule: { id: "kibana-ssh", name: "SSH brute force (Kibana)", type: "threshold" },
    severity: "high",
    group: { "source.ip": ip },
    count: 20,
    first_seen: now,
    last_seen: now,
    events: [],
    attack: [],
    origin: "kibana",
    response: "ban",
  });
  const actor = { type: "siem", name: "kibana" } as const;
  try {
    await assert.rejects(d.ingestAlert(alert("198.51.100.7"), actor), /SQLITE_BUSY/);
    await assert.rejects(
      d.ban({ target: "198.51.100.8", actor: { type: "api", name: "ops" }, origin: "api" }),
      /SQLITE_BUSY/,
    );
    assert.equal(d.policy.bans.size, 0, "nothing stays banned in memory");
    full = false;
    const siem = await d.ingestAlert(alert("198.51.100.7"), actor);
    const api = await d.ban({ target: "198.51.100.8", actor: { type: "api", name: "ops" }, origin: "api" });
    assert.equal(siem.outcome, "banned");
    assert.equal(api.outcome, "banned");
    // Taken back entirely: the escalation history does not count the ban that was never made.
    assert.equal(siem.decision?.escalation, 0);
    await until(
      "both bans on the firewall",
      () => t.firewall()["198.51.100.7"] && t.firewall()["198.51.100.8"],
    );
    const stored = await d.store.listDecisions({ limit: 10 });
    assert.deepEqual(stored.map((x) => x.target).sort(), ["198.51.100.7", "198.51.100.8"]);
  } finally {
    await d.stop();
  }
});

test("windows restored after a crash drop the counts a ban made after the snapshot had consumed", async () => {
  const t = setup(
    "windows-crash",
    { rules: { windows_snapshot: "1h" } },
    { rules: { "ssh-brute-force": { duration: "2s" } } },
  );
  let d = t.make();
  await d.start();
  for (let i = 0; i < 4; i++) appendFileSync(t.log, fail("203.0.113.70", 7));
  await until("4 lines", () => d.pipeline.counters.lines >= 4);
  await d.stop();
  // The snapshot holding 4 failures of .70, as a crash would find it if it came after the ban below.
  const db = join(t.dataDir, "portcullis.db");
  let store = await openSqliteStore(db, { clock: () => Date.now() });
  const snapshot = [
    (await store.checkpoints.get("detection.windows"))!,
    (await store.checkpoints.get("detection.windows.at"))!,
  ];
  await store.close();
  d = t.make();
  await d.start();
  appendFileSync(t.log, fail("203.0.113.70", 7));
  await until("the ban", () => t.firewall()["203.0.113.70"]);
  await d.stop();
  // "Crash": the clean stop's snapshot is replaced by the older one, taken before the ban.
  store = await openSqliteStore(db, { clock: () => Date.now() });
  await store.checkpoints.set("detection.windows", snapshot[0]!);
  await store.checkpoints.set("detection.windows.at", snapshot[1]!);
  await store.close();
  d = t.make();
  await d.start();
  try {
    const restored = t.logger.records.filter((r) => r.msg === "detection windows restored").at(-1);
    assert.ok(Number(restored?.forgotten) >= 1, JSON.stringify(restored));
    // The ban ends by expiry (an unban would forget the address's counts by itself).
    await until("the ban expired", () => !t.firewall()["203.0.113.70"]);
    // One new failure (a few seconds later: an alert's id holds its time): with the consumed four restored,
    // this would be a fifth and ban at once.
    const later = `${syslogStamp(new Date(Date.now() + 3000))} srv sshd[7]: Failed password for root from 203.0.113.70 port 4242 ssh2\n`;
    appendFileSync(t.log, later);
    await until("the line read", () => d.pipeline.counters.lines >= 1);
    // Decisions are serialised: this no-op unban runs after the commit of the batch that held the line.
    await d.unban("192.0.2.250", { type: "cli", name: "test" });
    const decisions = await d.store.listDecisions({ target: "203.0.113.70" });
    assert.equal(decisions.length, 1, "no second ban");
  } finally {
    await d.stop();
  }
});

/**
 * Makes the daemon's store refuse every transaction while `locked` holds, as SQLite does when another process
 * holds the database longer than the busy timeout; counts the refusals and the commits of source positions.
 */
function lockable(d: Daemon) {
  const record = d.store.recordOutcomes.bind(d.store);
  const s = { locked: false, refused: 0, committed: 0 };
  d.store.recordOutcomes = async (items, positions = []) => {
    if (s.locked) {
      s.refused++;
      throw new Error("SQLITE_BUSY: database is locked");
    }
    await record(items, positions);
    if (positions.some((p) => p.key.startsWith("file:"))) s.committed++;
  };
  return s;
}

/** Resolves once every decision queued before it (the commit of the lines read so far) is done. */
const settled = (d: Daemon) => d.unban("192.0.2.254", { type: "cli", name: "test" });

test("a failed commit leaves its lines counted once: the restarted source resumes after them, no early ban", async () => {
  const t = setup("locked-store");
  const d = t.make();
  await d.start();
  const store = lockable(d);
  try {
    await until("the file's first position committed", () => store.committed > 0);
    store.locked = true;
    appendFileSync(t.log, fail("203.0.113.91").repeat(3));
    await until("the batch's commit refused", () => store.refused > 0);
    await until("the source reported down", async () => (await d.status()).sources[0]?.ok === false);
    store.locked = false;
    const before = store.committed;
    await until("the kept position committed", () => store.committed > before);
    // A fourth failure: four, not seven (the three read again) nor six: no ban.
    appendFileSync(t.log, fail("203.0.113.91"));
    await until("the fourth line read", () => d.pipeline.counters.lines >= 4);
    await settled(d);
    assert.equal(d.pipeline.counters.lines, 4, "no line is read twice");
    assert.deepEqual(await d.store.listDecisions({ target: "203.0.113.91" }), []);
    // The fifth bans, on five events.
    appendFileSync(t.log, fail("203.0.113.91"));
    await until("the ban on the firewall", () => t.firewall()["203.0.113.91"]);
    const [alert] = await d.store.listAlerts({ sourceIp: "203.0.113.91" });
    assert.equal(alert?.count, 5);
  } finally {
    await d.stop();
  }
});

test("stopping while a commit fails saves the windows only with the positions of the lines they counted", async () => {
  const t = setup("locked-stop");
  let d = t.make();
  await d.start();
  const store = lockable(d);
  await until("the file's first position committed", () => store.committed > 0);
  store.locked = true;
  appendFileSync(t.log, fail("203.0.113.92").repeat(3));
  await until("the batch's commit refused", () => store.refused > 0);
  // The store is back just as the daemon stops (SIGTERM while the source waits to be restarted).
  store.locked = false;
  await d.stop();
  d = t.make();
  await d.start();
  try {
    // The three lines are in the saved windows and behind the saved position: neither lost nor read again.
    appendFileSync(t.log, fail("203.0.113.92"));
    await until("the fourth line read", () => d.pipeline.counters.lines >= 1);
    await settled(d);
    assert.equal(d.pipeline.counters.lines, 1, "only the new line is read after the restart");
    assert.deepEqual(await d.store.listDecisions({ target: "203.0.113.92" }), []);
    appendFileSync(t.log, fail("203.0.113.92"));
    await until("the ban on the firewall", () => t.firewall()["203.0.113.92"]);
    const [alert] = await d.store.listAlerts({ sourceIp: "203.0.113.92" });
    assert.equal(alert?.count, 5);
  } finally {
    await d.stop();
  }
});

/**
 * A daemon on a clock that stays put, without sources, whose store refuses transactions while `store.locked`
 * holds: a failed commit of lines is then retried only when a test calls {@link Daemon.flushDecisions}, as the
 * periodic retry does (the retry's next try is always later than now on this clock).
 */
async function heldWorkDaemon(name: string, extra: Record<string, unknown> = {}) {
  const t = setup(name, { sources: [], ...extra });
  const clock = new ManualClock(SystemClock.now());
  const d = new Daemon({ config: t.config, clock, logger: t.logger, plugins: FACTORIES });
  await d.start();
  return { t, d, clock, store: lockable(d) };
}

/**
 * Five failures of `ip` go through the pipeline (as a source's batch) while the store refuses the commit: the
 * ban is decided and in force in memory, and held, with the batch's position, for the next commit.
 */
async function holdBan(
  d: Daemon,
  store: ReturnType<typeof lockable>,
  ip: string,
  now: number,
): Promise<number> {
  store.locked = true;
  const lines = fail(ip).repeat(5).trimEnd().split("\n");
  await assert.rejects(
    d.pipeline.push({ lines, stream: "held", position: { key: "test:held", value: "5" } }),
    /SQLITE_BUSY/,
  );
  const held = d.policy.bans.active(ip, now);
  assert.ok(held, "banned in memory");
  assert.deepEqual(await d.store.decisionsFor(ip), [], "not in the store yet");
  return held.expires;
}

const ops = { type: "cli", name: "ops" } as const;

test("an unban while the ban is held (its commit failed) wins: the retry writes it revoked, never enforces it", async () => {
  const { t, d, clock, store } = await heldWorkDaemon("unban-held-failing");
  try {
    await holdBan(d, store, "203.0.113.120", clock.now());
    // The store still refuses the held work, but takes the unban's own transaction.
    const out = await d.unban("203.0.113.120", ops, "false positive");
    assert.equal(out.revoked, 1);
    assert.equal(d.policy.bans.active("203.0.113.120", clock.now()), undefined);
    store.locked = false;
    await d.flushDecisions(); // the periodic retry
    const [dec, ...more] = await d.store.decisionsFor("203.0.113.120");
    assert.deepEqual(more, []);
    assert.equal(dec?.state, "revoked");
    assert.equal(dec.ended_by, "cli:ops");
    const audit = await d.store.auditFor("203.0.113.120");
    assert.deepEqual(audit.map((a) => a.action).reverse(), ["ban", "unban"]);
    assert.deepEqual(audit[0]?.detail, { reason: "false positive" });
    assert.equal(await d.store.checkpoints.get("test:held"), "5", "the lines' position is committed too");
    await d.sync.idle();
    assert.ok(!t.calls().some((c) => c.includes("203.0.113.120")), "never sent to the firewall");
  } finally {
    store.locked = false;
    await d.stop();
  }
});

test("an unban once the store is back writes the held ban revoked at once; it is never enforced", async () => {
  const { t, d, clock, store } = await heldWorkDaemon("unban-held-back");
  try {
    await holdBan(d, store, "203.0.113.121", clock.now());
    store.locked = false;
    const out = await d.unban("203.0.113.121", ops);
    assert.equal(out.revoked, 1);
    // Written with the unban, not left for the retry.
    assert.equal(await d.store.checkpoints.get("test:held"), "5");
    const [dec, ...more] = await d.store.decisionsFor("203.0.113.121");
    assert.deepEqual(more, []);
    assert.equal(dec?.state, "revoked");
    const audit = await d.store.auditFor("203.0.113.121");
    assert.deepEqual(audit.map((a) => a.action).reverse(), ["ban", "unban"]);
    assert.equal(d.policy.bans.active("203.0.113.121", clock.now()), undefined);
    await d.flushDecisions(); // the periodic retry: nothing is left to write
    await d.sync.idle();
    assert.ok(!t.calls().some((c) => c.includes("203.0.113.121")), "never sent to the firewall");
  } finally {
    await d.stop();
  }
});

test("a manual ban extending a held ban is written after it: the retry does not bring back the first expiry", async () => {
  const { t, d, clock, store } = await heldWorkDaemon("extend-held");
  const ip = "203.0.113.122";
  const longer = { target: ip, duration: 3_600_000, actor: ops, origin: "cli" };
  try {
    const first = await holdBan(d, store, ip, clock.now());
    // While the store refuses the held ban, the extension is refused too, and taken back in memory.
    await assert.rejects(d.ban(longer), /SQLITE_BUSY/);
    assert.equal(d.policy.bans.active(ip, clock.now())?.expires, first);
    store.locked = false;
    const out = await d.ban(longer);
    assert.equal(out.outcome, "extended");
    assert.equal(out.expires, clock.now() + 3_600_000);
    assert.equal(out.decision?.expires, out.expires);
    await d.flushDecisions(); // the periodic retry: nothing is left to write
    const [dec, ...more] = await d.store.decisionsFor(ip);
    assert.deepEqual(more, []);
    assert.equal(dec?.state, "active");
    assert.equal(dec.expires, out.expires);
    const audit = await d.store.auditFor(ip);
    assert.deepEqual(audit.map((a) => a.action).reverse(), ["ban", "extend"]);
    await d.sync.idle();
    assert.ok(t.firewall()[ip], "enforced");
  } finally {
    await d.stop();
  }
});

/** Lets pending I/O callbacks and promise continuations run (a rejected commit settles within a few turns). */
async function turns(n = 20): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r));
}

/** The state of a promise, tracked without leaving a rejection unhandled. */
function track(p: Promise<unknown>): { state: string } {
  const s = { state: "pending" };
  p.then(
    () => (s.state = "resolved"),
    (e: unknown) => (s.state = `rejected: ${(e as Error).message}`),
  );
  return s;
}

/** A metric's value in the Prometheus text. */
const metric = (text: string, name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1]);

test("at store.max_held_outcomes, a new batch waits unread until the retry commits the held work; all committed once", async () => {
  const { t, d, clock, store } = await heldWorkDaemon("held-cap", { store: { max_held_outcomes: 2 } });
  const batch = (ip: string, position: number) => ({
    lines: fail(ip).repeat(5).trimEnd().split("\n"),
    stream: "held",
    position: { key: "test:held", value: String(position) },
  });
  const ips = ["203.0.113.130", "203.0.113.131", "203.0.113.132"];
  try {
    store.locked = true;
    await assert.rejects(d.pipeline.push(batch(ips[0]!, 5)), /SQLITE_BUSY/);
    assert.equal((await d.status()).counters.ingestion_paused, 0, "one outcome held: below the cap");
    await assert.rejects(d.pipeline.push(batch(ips[1]!, 10)), /SQLITE_BUSY/);
    // Two held: ingestion is paused, and says so.
    const paused = await d.status();
    assert.equal(paused.counters.ingestion_paused, 1);
    assert.equal(paused.counters.held_outcomes, 2);
    const text = await d.metrics();
    assert.equal(metric(text, "portcullis_ingestion_paused"), 1);
    assert.equal(metric(text, "portcullis_held_outcomes"), 2);
    assert.equal(metric(text, "portcullis_ingestion_pauses_total"), 1);
    const warned = t.logger.records.filter((r) => r.level === "warn" && /ingestion paused/.test(r.msg ?? ""));
    assert.equal(warned.length, 1);
    assert.equal(warned[0]?.held_bans, 2);

    // The next batch is not read: its push does not resolve.
    const third = track(d.pipeline.push(batch(ips[2]!, 15)));
    await turns();
    assert.equal(third.state, "pending");
    assert.equal(d.pipeline.counters.lines, 10, "the waiting batch is not read");
    // Manual operations are not held up: a ban fails with the store's error, as before.
    await assert.rejects(d.ban({ target: "198.51.100.40", actor: ops, origin: "cli" }), /SQLITE_BUSY/);
    // A retry that fails again keeps the batch waiting; the pause is announced once.
    await assert.rejects(d.flushDecisions(), /SQLITE_BUSY/);
    await turns();
    assert.equal(third.state, "pending");
    assert.equal(
      t.logger.records.filter((r) => r.level === "warn" && /ingestion paused/.test(r.msg ?? "")).length,
      1,
    );

    // The store is back; the periodic retry (due once the clock passes its backoff, at most 60 s) takes the
    // held work.
    store.locked = false;
    clock.advanceBy(60_000);
    await until("the waiting batch read and committed", () => third.state !== "pending");
    assert.equal(third.state, "resolved");
    assert.ok(t.logger.records.some((r) => r.level === "info" && /ingestion resumed/.test(r.msg ?? "")));
    assert.equal(d.pipeline.counters.lines, 15, "every line read once");
    assert.equal(await d.store.checkpoints.get("test:held"), "15");
    for (const ip of ips) {
      const decisions = await d.store.decisionsFor(ip);
      assert.equal(decisions.length, 1, ip);
      assert.equal(decisions[0]?.state, "active");
      const audit = await d.store.auditFor(ip);
      assert.deepEqual(
        audit.map((a) => a.action),
        ["ban"],
        ip,
      );
      assert.equal((await d.store.listAlerts({ sourceIp: ip })).length, 1, ip);
    }
    await until("the three bans on the firewall", () => ips.every((ip) => t.firewall()[ip]));
    const after = await d.status();
    assert.equal(after.counters.ingestion_paused, 0);
    assert.equal(after.counters.held_outcomes, 0);
    assert.equal(metric(await d.metrics(), "portcullis_ingestion_paused"), 0);
  } finally {
    store.locked = false;
    await d.stop();
  }
});

test("SIGTERM while ingestion is paused: stop returns, the lost held work is logged, its lines are read again", async () => {
  const t = setup("held-cap-stop", { store: { max_held_outcomes: 1 } });
  // The real file source, whose pushes are counted: one that has not settled is a batch waiting in the sink.
  const file = FACTORIES.sources.file!;
  const pushes = { started: 0, settled: 0 };
  const counted: SourceDefinition<unknown> = {
    ...file,
    create(config, ctx) {
      const source = file.create(config, ctx);
      const run = source.run.bind(source);
      source.run = (sink: LineSink, signal: AbortSignal) =>
        run(
          {
            push: (b) => {
              pushes.started++;
              return sink.push(b).finally(() => pushes.settled++);
            },
          },
          signal,
        );
      return source;
    },
  };
  const plugins: PluginFactories = { ...FACTORIES, sources: { ...FACTORIES.sources, file: counted } };
  const clock = new ManualClock(SystemClock.now());
  let d = new Daemon({ config: t.config, clock, logger: t.logger, plugins });
  await d.start();
  const store = lockable(d);
  try {
    await until("the file's first position committed", () => store.committed > 0);
    store.locked = true;
    appendFileSync(t.log, fail("203.0.113.140").repeat(5));
    await until("ingestion paused", async () => (await d.status()).counters.ingestion_paused === 1);
    // The source, restarted from the held position after its failed batch, waits in its next push.
    const before = pushes.started;
    await until("a push waiting", () => pushes.started > before && pushes.started > pushes.settled);
    const [source] = (await d.status()).sources;
    assert.equal(source?.ok, false);
    assert.match(source.detail, /ingestion paused .*SQLITE_BUSY.*1 outcome\(s\)/);
    appendFileSync(t.log, fail("203.0.113.141").repeat(5));
    await turns();
    assert.equal(d.pipeline.counters.lines, 5, "not read while paused");
  } finally {
    await d.stop();
  }
  assert.equal(pushes.settled, pushes.started, "the waiting batch was turned away");
  const lost = t.logger.records.find((r) => r.level === "error" && /stopping with work/.test(r.msg ?? ""));
  assert.equal(lost?.held_outcomes, 1);
  assert.equal(lost.held_bans, 1);
  assert.ok(
    !t.logger.records.some((r) => r.level === "error" && r.msg === "source stopped with an error"),
    "a source stopped while it waited is no error",
  );
  assert.ok(
    t.logger.records.some(
      (r) => r.level === "info" && /stopped while ingestion was paused/.test(r.msg ?? ""),
    ),
  );
  // Nothing of the held work was committed: the next start reads every line, and decides, once.
  d = t.make();
  await d.start();
  try {
    await until(
      "both bans on the firewall",
      () => t.firewall()["203.0.113.140"] && t.firewall()["203.0.113.141"],
    );
    await settled(d);
    assert.equal(d.pipeline.counters.lines, 10);
    for (const ip of ["203.0.113.140", "203.0.113.141"]) {
      assert.equal((await d.store.decisionsFor(ip)).length, 1, ip);
    }
  } finally {
    await d.stop();
  }
});

test("a reload that drops a source waiting while ingestion is paused returns; the source is stopped", async () => {
  const t = setup("held-cap-reload", { store: { max_held_outcomes: 1 } });
  const clock = new ManualClock(SystemClock.now());
  const d = new Daemon({ config: t.config, clock, logger: t.logger, plugins: FACTORIES });
  await d.start();
  const store = lockable(d);
  try {
    await until("the file's first position committed", () => store.committed > 0);
    store.locked = true;
    appendFileSync(t.log, fail("203.0.113.150").repeat(5));
    await until("ingestion paused", async () => (await d.status()).counters.ingestion_paused === 1);
    // Past the source's restart (1 s): it is running again, waiting in its first push.
    await until("the source running again", async () =>
      /ingestion paused .*followed/.test((await d.status()).sources[0]?.detail ?? ""),
    );
    await d.reload(validateConfig({ ...t.config.raw, sources: [] }, "no-sources.yaml", REGISTRIES));
    assert.deepEqual((await d.status()).sources, []);
  } finally {
    store.locked = false;
    await d.stop();
  }
});

test("a start that fails (the API's port in use) names the address, releases the directory, closes the store", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as AddressInfo).port;
  const t = setup("port-in-use", { api: { listen: `127.0.0.1:${port}` } });
  const d = t.make();
  try {
    await assert.rejects(d.start(), (e: unknown) => {
      assert.ok(e instanceof ApiListenError, String(e));
      assert.equal(e.code, "UNAVAILABLE");
      assert.ok(e.message.includes(`127.0.0.1:${port}`), e.message);
      assert.match(e.message, /already in use/);
      return true;
    });
    // The store is closed and the state directory free: the next start (or another process) takes it.
    await assert.rejects(d.store.listDecisions({ limit: 1 }), /destroyed/);
    lockStateDirectory(t.dataDir).release();
    assert.ok(!existsSync(join(t.dataDir, "portcullis.pid")));
    await d.stop(); // nothing left to stop
  } finally {
    await new Promise((resolve) => taken.close(resolve));
  }
});

test("a second daemon on the same state directory is refused; the first keeps its pid file and runs on", async () => {
  const t = setup("two-daemons");
  const first = t.make();
  await first.start();
  const pidFile = join(t.dataDir, "portcullis.pid");
  const second = t.make();
  try {
    await assert.rejects(second.start(), (e: unknown) => {
      assert.ok(e instanceof DaemonRunningError, String(e));
      assert.ok(e.message.includes(t.dataDir), e.message);
      assert.ok(e.message.includes(`pid ${process.pid}`), e.message);
      return true;
    });
    // Stopping the refused one touches nothing of the running one's.
    await second.stop();
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(process.pid));
    assert.equal(
      (JSON.parse(readFileSync(join(t.dataDir, "status.json"), "utf8")) as { running: boolean }).running,
      true,
    );
    for (let i = 0; i < 5; i++) appendFileSync(t.log, fail("203.0.113.93"));
    await until("the first one still bans", () => t.firewall()["203.0.113.93"]);
  } finally {
    await second.stop();
    await first.stop();
  }
  assert.ok(!existsSync(pidFile), "removed by the daemon that wrote it");
  // Released at stop: the next daemon starts.
  const third = t.make();
  await third.start();
  await third.stop();
});

test("a reload from dry run to enforcing sets the responders up and enforces", async () => {
  const t = setup("dry-to-enforcing", {}, { dry_run: true });
  const marker = join(t.dir, "setup-ran");
  const raw = (dryRun: boolean) => ({
    ...t.config.raw,
    responders: [{ type: "command", name: "fakefw", ...fakeFirewall(t.fw), setup: ["touch", marker] }],
    policy: { ...t.config.raw.policy, dry_run: dryRun },
  });
  const d = new Daemon({
    config: validateConfig(raw(true), "dry.yaml", REGISTRIES),
    clock: SystemClock,
    logger: t.logger,
    plugins: FACTORIES,
  });
  await d.start();
  try {
    assert.ok(!existsSync(marker), "no setup in dry run");
    await d.reload(validateConfig(raw(false), "enforcing.yaml", REGISTRIES));
    assert.equal(d.dryRun, false);
    assert.ok(existsSync(marker), "set up by the reload");
    const r = await d.ban({ target: "203.0.113.94", actor: { type: "cli", name: "t" }, origin: "cli" });
    assert.ok(r.decision);
    assert.equal(r.decision.simulated, false);
    await until("the ban on the firewall", () => t.firewall()["203.0.113.94"]);
    assert.equal((await d.enforcement(r.decision.id, 10_000)).state, "applied");
  } finally {
    await d.stop();
  }
});
