/**
 * `portcullis demo` end to end: the real daemon on the scenario played at high speed, through the CLI (JSON and
 * text output, --keep), compared with `replay` over the very log it wrote; and, as root, `--enforce` with real
 * nftables in private namespaces: the attacker's connections work before its ban and fail after it, and nothing
 * is left behind (namespaces, root ruleset, links), also when the demo is stopped with SIGINT.
 * Only functional assertions: nothing here depends on how fast the machine is.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { builtinRules } from "../../src/detect/builtin.ts";
import { DetectionEngine } from "../../src/detect/engine.ts";
import { Zone } from "../../src/framing/zone.ts";
import { demoNamespaces, enforceUnavailable, PROBE_TARGETS } from "../../src/demo/netns.ts";
import { runDemo, SCENARIO_SPAN } from "../../src/demo/run.ts";
import { ACTORS } from "../../src/demo/scenario.ts";
import { replay } from "../../src/pipeline/replay.ts";
import { Policy } from "../../src/policy/policy.ts";
import { ownAddresses } from "../../src/policy/guards.ts";
import { repoRoot } from "../support/shared.ts";

const tmp = mkdtempSync(join(tmpdir(), "portcullis-demo-test-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/** Fast enough for tests, slow enough that the file source sees the log grow in several batches. */
const FAST = "4000";

async function cli(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (b: Buffer) => (out += b.toString("utf8")));
  stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
  const code = await main(args, { stdout, stderr, stdin: new PassThrough() });
  return { code, out, err };
}

const own = new Set(ownAddresses());
const ownAttacker = Object.values(ACTORS).find((a) => a !== ACTORS.local && own.has(a));
const hostSkip = ownAttacker ? `${ownAttacker} (a scenario attacker) is an address of this host` : false;

const BANNED = [ACTORS.burst, ACTORS.ipv6Prefix, ACTORS.burst2, ACTORS.forgedReal, ACTORS.repeated];

interface Line {
  kind: string;
  [k: string]: unknown;
}

test(
  "dry-run through the CLI: the expected alerts and simulated bans, the same as replay of its log",
  { skip: hostSkip },
  async () => {
    const r = await cli(["demo", "--speed", FAST, "--json", "--keep"]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Line);
    const start = lines[0]!;
    const summary = lines.at(-1)!;
    assert.equal(start.kind, "demo");
    assert.equal(start.mode, "dry-run");
    assert.equal(summary.kind, "summary");
    const dir = summary.data_dir as string;
    try {
      assert.deepEqual(summary.lines, { written: start.lines, total: start.lines });
      assert.equal(summary.interrupted, false);

      // Bans: both bursts, the IPv6 /64, the real source of the forged lines, the repeated-message attacker.
      const decisions = lines.filter((l) => l.kind === "decision");
      const bans = summary.bans as { target: string; rule: string; simulated: boolean; enforced: boolean }[];
      assert.deepEqual(bans.map((b) => b.target).sort(), [...BANNED].sort());
      assert.deepEqual(decisions.map((d) => (d.source as { ip: string }).ip).sort(), [...BANNED].sort());
      for (const b of bans) {
        assert.equal(b.rule, "ssh-brute-force", b.target);
        assert.equal(b.simulated, true, b.target);
        assert.equal(b.enforced, false, b.target);
      }
      assert.ok(!bans.some((b) => b.target === ACTORS.forgedClaimed), "the forged address is never banned");

      // Alerts: slow brute force, spraying, failures then success, both suspicious commands; loopback refused.
      const alerts = lines.filter((l) => l.kind === "alert");
      const alert = (rule: string, ip?: string) =>
        alerts.filter(
          (a) =>
            (a.rule as { id: string }).id === rule &&
            (ip === undefined || (a.group as Record<string, string>)["source.ip"] === ip),
        );
      const outcome = (a: Line) => (a.policy as { outcome: string }).outcome;
      assert.deepEqual(alert("ssh-slow-brute-force", ACTORS.slow).map(outcome), ["alert_only"]);
      assert.deepEqual(alert("ssh-password-spraying", ACTORS.spraying).map(outcome), ["alert_only"]);
      assert.deepEqual(alert("ssh-failures-then-success", ACTORS.guessed).map(outcome), ["alert_only"]);
      const commands = alert("suspicious-command").map(
        (a) => (a.events as { process?: { command_line?: string } }[]).at(-1)?.process?.command_line ?? "",
      );
      assert.equal(commands.length, 2);
      assert.match(commands[0]!, /wget/);
      assert.match(commands[1]!, /base64 -d/);
      assert.deepEqual(alert("ssh-brute-force", ACTORS.local).map(outcome), ["refused_allowlisted"]);
      assert.deepEqual(
        (summary.refused as { target: string }[]).map((x) => x.target),
        [ACTORS.local],
      );
      assert.equal(alerts.length, (summary.counters as { alerts: number }).alerts);

      // The live daemon judged the accelerated log exactly as replay judges the finished file.
      const got = alerts.map(
        (a) => `${(a.rule as { id: string }).id} ${JSON.stringify(a.group)} ${outcome(a)}`,
      );
      const want: string[] = [];
      await replay({
        inputs: [
          {
            path: join(dir, "auth.log"),
            time: { zone: new Zone("UTC"), reference: () => Date.parse(start.scenario_start as string) },
          },
        ],
        engine: new DetectionEngine(builtinRules()),
        policy: new Policy(),
        hooks: { onAlert: (a, res) => want.push(`${a.rule.id} ${JSON.stringify(a.group)} ${res.outcome}`) },
      });
      assert.deepEqual(got, want);

      // --keep: the CLI reads the kept state.
      assert.ok(existsSync(join(dir, "portcullis.db")));
      const listed = await cli(["bans", "-d", dir, "--json"]);
      assert.equal(listed.code, 0, listed.err);
      const kept = listed.out
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { target?: string; source?: { ip: string } });
      assert.deepEqual(kept.map((k) => k.target ?? k.source?.ip).sort(), [...BANNED].sort());
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  "text output off a terminal: readable lines, summary tables, the temporary directory removed",
  { skip: hostSkip },
  async () => {
    const r = await cli(["demo", "--duration", `${Math.round(SCENARIO_SPAN / Number(FAST))}s`]);
    assert.equal(r.code, 0, r.err);
    assert.ok(!r.out.includes("\x1b"), "no terminal control sequences");
    assert.equal(r.err, "");
    for (const want of [
      /^portcullis demo: /m,
      /firewall {2}dry-run/,
      /ALERT .* ssh-brute-force .* 203\.0\.113\.23 .* -> ban$/m,
      /BAN {4}203\.0\.113\.23 .* simulated \(dry-run\)$/m,
      /command: \/usr\/bin\/wget/,
      /^demo summary/m,
      /^alerts by rule/m,
      /^bans .* firewall$/m,
      /^2001:db8:beef:1::\/64 +ssh-brute-force +10m +\+16:20 +simulated$/m,
      /^refused +rule +reason$/m,
      /^127\.0\.0\.1 +ssh-brute-force +127\.0\.0\.1 is allowlisted/m,
      /temporary data directory was removed/,
    ]) {
      assert.match(r.out, want);
    }
    const log = /^ {2}log {7}(\S+)/m.exec(r.out)?.[1];
    assert.ok(log, r.out);
    assert.ok(!existsSync(log), `${log} removed`);
  },
);

test("usage errors exit 64 with a reason", async () => {
  for (const [args, why] of [
    [["demo", "--speed", "0"], /--speed: expected a positive number/],
    [["demo", "--speed", "10", "--duration", "5s"], /give one of them/],
    [["demo", "--duration", "soon"], /duration/],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 64, args.join(" "));
    assert.match(r.err, why);
  }
});

test(
  "--enforce without root is refused with a clear reason",
  { skip: process.getuid?.() === 0 ? "runs as root" : false },
  async () => {
    const r = await cli(["demo", "--enforce"]);
    assert.equal(r.code, 64);
    assert.match(r.err, /demo --enforce cannot run here: .*root.*dry-run/);
  },
);

// ---------------------------------------------------------------------------------------------- --enforce

const enforceSkip = (() => {
  const why = enforceUnavailable();
  if (why && process.env.PORTCULLIS_REQUIRE_NETNS === "1") {
    throw new Error(`PORTCULLIS_REQUIRE_NETNS=1 but demo --enforce cannot run: ${why}`);
  }
  return why ? `demo --enforce cannot run here: ${why}` : hostSkip;
})();

function rootState(): { ruleset: string; links: string[] } {
  const ruleset = spawnSync("nft", ["list", "ruleset"], { encoding: "utf8" }).stdout;
  const links = spawnSync("ip", ["-o", "link", "show"], { encoding: "utf8" })
    .stdout.split("\n")
    .map((l) => l.split(":")[1]?.trim() ?? "")
    .filter((n) => n.length > 0)
    .sort();
  return { ruleset, links };
}

test(
  "--enforce: real nftables in a namespace cuts the attacker off; nothing is left behind",
  { skip: enforceSkip },
  async () => {
    const before = rootState();
    const report = await runDemo({ enforce: true, speed: 600, tmpRoot: tmp });
    assert.equal(report.interrupted, false);
    assert.ok(report.network);

    assert.deepEqual(report.bans.map((b) => b.decision.target).sort(), [...BANNED].sort());
    for (const b of report.bans) {
      assert.equal(b.decision.simulated, false, b.decision.target);
      assert.equal(b.decision.status.nftables, "applied", b.decision.target);
      assert.equal(b.enforced, true);
    }
    assert.deepEqual(
      report.refused.map((a) => a.alert.group["source.ip"]),
      [ACTORS.local],
    );

    // The attacker namespace holds the burst attacker's address and the IPv6 attacker's first address.
    assert.deepEqual(
      PROBE_TARGETS.map((t) => t.from),
      [ACTORS.burst, ACTORS.ipv6],
    );
    const probes = report.probes!;
    assert.deepEqual(
      probes.map((p) => p.bannedAs),
      [ACTORS.burst, ACTORS.ipv6Prefix],
    );
    for (const p of probes) {
      assert.ok(p.before.ok >= 1, `${p.from}: connections work before the ban ${JSON.stringify(p.before)}`);
      assert.ok(p.after.failed >= 1, `${p.from}: attempts after the ban ${JSON.stringify(p.after)}`);
      assert.equal(
        p.after.ok,
        0,
        `${p.from}: no connection gets through after the ban ${JSON.stringify(p.after)}`,
      );
    }

    // Nothing left: the namespaces, the root namespace's ruleset and links, the temporary directory.
    const left = await demoNamespaces();
    assert.ok(
      !left.includes(report.network.server) && !left.includes(report.network.attacker),
      left.join(" "),
    );
    assert.deepEqual(rootState(), before);
    assert.ok(!existsSync(report.dataDir));
  },
);

test(
  "--enforce stopped by SIGINT after the first ban: exit 130, namespaces removed",
  { skip: enforceSkip },
  async () => {
    const before = rootState();
    const namespacesBefore = await demoNamespaces();
    const cliPath = join(repoRoot, "src", "cli", "main.ts");
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "-e",
        `import(${JSON.stringify(cliPath)}).then((m) => m.main(["demo", "--enforce", "--speed", "120"])).then((c) => { process.exitCode = c; })`,
      ],
      { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
    );
    let out = "";
    let err = "";
    let sent = false;
    child.stderr.on("data", (b: Buffer) => (err += b.toString("utf8")));
    child.stdout.on("data", (b: Buffer) => {
      out += b.toString("utf8");
      if (!sent && /BAN {4}203\.0\.113\.23 .*ENFORCED/.test(out)) {
        sent = true;
        child.kill("SIGINT");
      }
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    assert.ok(sent, `no enforced ban seen:\n${out}\n${err}`);
    assert.equal(code, 130, `${out}\n${err}`);
    assert.match(out, /demo summary \(interrupted\)/);
    const ns = /namespace (pcl-demo-\d+-[0-9a-f]+)-srv/.exec(out)?.[1];
    assert.ok(ns, out);
    const left = await demoNamespaces();
    assert.ok(!left.some((n) => n.startsWith(ns)), left.join(" "));
    assert.deepEqual(
      left.filter((n) => !namespacesBefore.includes(n)),
      [],
    );
    assert.deepEqual(rootState(), before);
  },
);
