/**
 * `portcullis run` killed with SIGKILL (kill -9) again and again while a log is being written and read: after
 * the restarts, every line was read exactly once and every ban exists once, in the store and on the firewall.
 *
 * What makes it hold: a batch's file position is committed in the same SQLite transaction as the alerts and
 * decisions its lines produced, so a crash either keeps both or neither. To see each line, every "marker" line
 * (a sudo command naming its own number) raises exactly one alert, stored with the line's number: a line read
 * twice would show as two alerts, a missed line as none. Attackers send bursts of 5 failures (one ban each).
 * Detection windows are saved every 10 s (and at a clean stop), so a kill that falls inside one attacker's burst
 * may lose the part counted since the last snapshot: at most one ban per kill can be missing, never duplicated.
 * The second test checks that windows saved by a snapshot survive a kill.
 * The firewall is the stand-in script of the daemon tests (no privileges needed).
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import Database from "better-sqlite3";
import { fakeFirewallYaml, spawnDaemon, syslogStamp, until } from "../support/daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-crash-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MARKERS = 12_000;
const ATTACKERS = 150;
const KILLS = 4;

const marker = (n: number) =>
  `${syslogStamp()} srv sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/echo marker-${n}\n`;
const attacker = (i: number) => `198.51.${100 + Math.floor(i / 250)}.${(i % 250) + 1}`;
const failure = (ip: string) =>
  `${syslogStamp()} srv sshd[77]: Failed password for root from ${ip} port 2222 ssh2\n`;

/** Runs `fn` on a read-only connection to the daemon's database (SQLite WAL: readers never block the writer). */
function readDb<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(join(dataDir, "portcullis.db"), { readonly: true, fileMustExist: true });
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

test("run: kill -9 mid-stream, four times: no line missed or read twice, no ban lost or duplicated", async () => {
  const log = join(dir, "auth.log");
  const fw = join(dir, "fw.json");
  const data = join(dir, "data");
  const cfg = join(dir, "portcullis.yaml");
  const rules = join(dir, "rules.yaml");
  writeFileSync(log, "");
  writeFileSync(
    rules,
    [
      "id: line-marker",
      "name: Line marker",
      "type: match",
      "query: 'process.command_line: *marker-*'",
      "group_by: [process.command_line]",
      "severity: low",
      "response: alert",
      "---",
      "id: burst",
      "name: Burst of failures",
      "type: threshold",
      "query: 'event.action: ssh_auth_failed'",
      "group_by: [source.ip]",
      "threshold: 5",
      "window: 10m",
      "severity: medium",
      "response: ban",
      "duration: 1h",
      "",
    ].join("\n"),
  );
  writeFileSync(
    cfg,
    [
      `data_dir: ${data}`,
      "sources:",
      "  - type: file",
      `    path: ${log}`,
      "    start: beginning",
      "    poll_interval: 50ms",
      "    batch_lines: 64",
      "responders:",
      ...fakeFirewallYaml(fw),
      "policy:",
      "  allow_admin_sessions: false",
      "  circuit_breaker: { max_bans_per_minute: 0 }",
      "rules:",
      "  builtin: false",
      `  paths: [${JSON.stringify(rules)}]`,
      "api:",
      '  listen: "127.0.0.1:0"',
      "",
    ].join("\n"),
  );

  let stderr = "";
  const daemon = () => spawnDaemon(cfg, (t) => (stderr += t));

  // What the daemon has committed so far (read while it runs: SQLite WAL readers do not block the writer).
  const committed = (): number => {
    if (!existsSync(join(data, "portcullis.db"))) return 0;
    return readDb(data, (db) => {
      try {
        return (
          db.prepare("SELECT count(*) AS n FROM alerts WHERE rule_id = 'line-marker'").get() as { n: number }
        ).n;
      } catch {
        return 0; // not migrated yet
      }
    });
  };

  /**
   * Right after a kill, the store must be consistent: the saved position (the next line to read) and the
   * committed alerts describe the same lines. An alert of a line at or past the position would be read again
   * after the restart; a marker line before it without its alert was skipped.
   */
  const consistent = (): { nextLine: number } =>
    readDb(data, (db) => {
      const saved = db.prepare("SELECT value FROM checkpoints WHERE key LIKE 'file:%'").all() as {
        value: string;
      }[];
      assert.equal(saved.length, 1);
      const { files } = JSON.parse(saved[0]!.value) as { files: { line: number }[] };
      const nextLine = files.at(-1)!.line;
      const lines = (
        db.prepare("SELECT events FROM alerts WHERE rule_id = 'line-marker'").all() as { events: string }[]
      )
        .map((r) => (JSON.parse(r.events) as { log: { file: { line: number } } }[])[0]!.log.file.line)
        .sort((a, b) => a - b);
      const expected = readFileSync(log, "utf8")
        .split("\n")
        .slice(0, nextLine - 1)
        .flatMap((l, i) => (l.includes("marker-") ? [i + 1] : []));
      assert.deepEqual(
        lines,
        expected,
        `alerts committed beyond or short of the saved position (line ${nextLine})`,
      );
      return { nextLine };
    });

  // The log: markers with an attacker's burst of 5 failures after every 80 of them, appended in chunks while the
  // daemon runs (and while it is down).
  const chunks: string[] = [];
  let chunk = "";
  let bursts = 0;
  for (let n = 1; n <= MARKERS; n++) {
    chunk += marker(n);
    if (n % 80 === 0 && bursts < ATTACKERS) chunk += failure(attacker(bursts++)).repeat(5);
    if (n % 100 === 0) {
      chunks.push(chunk);
      chunk = "";
    }
  }
  if (chunk) chunks.push(chunk);
  assert.equal(bursts, ATTACKERS);
  const kills: { committed: number; writtenChunks: number; nextLine: number }[] = [];
  let written = 0;
  let writing = true;
  let abandoned = false;
  const writer = (async () => {
    for (const c of chunks) {
      // Never far ahead of the daemon, however slow the machine: each kill falls while lines are still coming.
      // The last chunks wait for the last kill, so that every kill falls while lines are still coming.
      const held = () => kills.length < KILLS && written >= chunks.length - 5;
      while (!abandoned && (written * 100 > committed() + 3000 || held()))
        await new Promise((r) => setTimeout(r, 50));
      if (abandoned) return;
      appendFileSync(log, c);
      written++;
      await new Promise((r) => setTimeout(r, 5));
    }
    writing = false;
  })();

  let run = daemon();
  try {
    for (let k = 1; k <= KILLS; k++) {
      // Kill while the daemon is busy: some lines committed since the start, more still unread.
      const target = Math.floor((MARKERS * k) / (KILLS + 2));
      await until(`progress before kill ${k}`, () => committed() >= target, 120_000);
      run.child.kill("SIGKILL");
      assert.equal(await run.exited, null, "killed");
      // Mid-stream: the log was still being written, and not everything written had been committed.
      assert.ok(writing, `kill ${k} came after the last line was written`);
      kills.push({ committed: committed(), writtenChunks: written, ...consistent() });
      // Written while it was down, too.
      await new Promise((r) => setTimeout(r, 100));
      run = daemon();
    }
    await writer;
    console.log(`# kills at (markers committed, chunks of 100 written): ${JSON.stringify(kills)}`);
    assert.equal(writing, false);
    assert.equal(written, chunks.length);
    await until("every marker line committed", () => committed() >= MARKERS, 120_000);
    // Let the last bans reach the firewall, then stop cleanly.
    await new Promise((r) => setTimeout(r, 500));
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0, stderr.slice(-3000));
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
    abandoned = true;
    await writer;
  }

  readDb(data, (db) => {
    // Every marker line exactly once, at its own line of the file.
    const rows = db.prepare("SELECT group_key, events FROM alerts WHERE rule_id = 'line-marker'").all() as {
      group_key: string;
      events: string;
    }[];
    const seen = new Map<number, number>();
    for (const r of rows) {
      const m = /marker-(\d+)/.exec(r.group_key);
      assert.ok(m, r.group_key);
      seen.set(Number(m[1]), (seen.get(Number(m[1])) ?? 0) + 1);
    }
    const twice = [...seen].filter(([, c]) => c > 1).map(([n]) => n);
    const missing = Array.from({ length: MARKERS }, (_, i) => i + 1).filter((n) => !seen.has(n));
    assert.deepEqual(twice, [], "marker lines read twice");
    assert.deepEqual(missing, [], "marker lines never read");
    assert.equal(rows.length, MARKERS);
    // The line numbers recorded are the lines' own: continued across the restarts.
    const fileLines = readFileSync(log, "utf8").split("\n");
    for (const r of rows) {
      const e = (JSON.parse(r.events) as { log: { file: { line: number } } }[])[0]!;
      const name = /marker-\d+/.exec(r.group_key)![0];
      assert.ok(fileLines[e.log.file.line - 1]!.endsWith(` ${name}`), `${name} at line ${e.log.file.line}`);
    }

    // Every ban once: one decision per attacker at most, at most one burst lost per kill.
    const bans = db.prepare("SELECT target, count(*) AS n FROM decisions GROUP BY target").all() as {
      target: string;
      n: number;
    }[];
    assert.deepEqual(
      bans.filter((b) => b.n > 1),
      [],
      "duplicated bans",
    );
    console.log(
      `# ${bans.length} of ${ATTACKERS} attackers banned (a burst straddling a kill may be missed)`,
    );
    assert.ok(bans.length >= ATTACKERS - KILLS, `${bans.length} bans of ${ATTACKERS} attackers`);
    assert.ok(bans.length <= ATTACKERS);
    // What the store holds is what the firewall holds.
    const onFirewall = Object.keys(JSON.parse(readFileSync(fw, "utf8")) as Record<string, unknown>).sort();
    assert.deepEqual(onFirewall, bans.map((b) => b.target).sort());
    const audit = db.prepare("SELECT count(*) AS n FROM audit WHERE action = 'ban'").get() as { n: number };
    assert.equal(audit.n, bans.length, "one audit record per ban");
  });
});

test("run: kill -9 keeps the detection windows as of the last snapshot (4 failures before, 1 after: a ban)", async () => {
  const d = mkdtempSync(join(dir, "windows-"));
  const log = join(d, "auth.log");
  const fw = join(d, "fw.json");
  const data = join(d, "data");
  const cfg = join(d, "portcullis.yaml");
  writeFileSync(log, "");
  writeFileSync(
    cfg,
    [
      `data_dir: ${data}`,
      "sources: [{ type: file, path: " + JSON.stringify(log) + ", start: beginning, poll_interval: 50ms }]",
      "responders:",
      ...fakeFirewallYaml(fw),
      "policy: { allow_admin_sessions: false }",
      "rules: { windows_snapshot: 1s }",
      'api: { listen: "127.0.0.1:0" }',
      "",
    ].join("\n"),
  );
  let stderr = "";
  let run = spawnDaemon(cfg, (t) => (stderr += t));
  try {
    await until("started", () => stderr.includes("portcullis started"), 60_000);
    // What `config check` warns about is in the daemon's log too: this configuration bans with no allowlist.
    assert.match(stderr, /policy\.allowlist.*configuration: empty while bans are enforced/);
    // One write: the daemon reads the four lines in one batch, so the snapshot waited for below holds all four
    // (four writes could be read in two batches, the snapshot taken between them holding fewer: a crash then
    // loses the later counts, the documented gap this test is not about).
    appendFileSync(log, failure("203.0.113.80").repeat(4));
    // Saved within a snapshot interval, even though no line follows (the daemon is idle).
    await until(
      "the windows snapshot holding the four failures",
      () =>
        readDb(data, (db) => {
          const row = db.prepare("SELECT value FROM checkpoints WHERE key = 'detection.windows'").get() as
            | { value: string }
            | undefined;
          return row?.value.includes("203.0.113.80");
        }),
      30_000,
    );
    run.child.kill("SIGKILL");
    assert.equal(await run.exited, null, "killed");
    run = spawnDaemon(cfg, (t) => (stderr += t));
    await until("restarted", () => stderr.split("portcullis started").length === 3, 60_000);
    appendFileSync(log, failure("203.0.113.80"));
    await until(
      "the fifth failure bans",
      () => existsSync(fw) && readFileSync(fw, "utf8").includes("203.0.113.80"),
      60_000,
    );
    run.child.kill("SIGTERM");
    assert.equal(await run.exited, 0, stderr.slice(-3000));
  } finally {
    if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill("SIGKILL");
  }
});
