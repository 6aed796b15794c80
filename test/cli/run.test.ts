/**
 * `portcullis run` as a real process: it starts from a config file, reloads on SIGHUP keeping its windows (an
 * invalid new config is refused and the running one stays), and stops cleanly on SIGTERM (exit 0, pid file
 * removed, status recorded). The firewall is the stand-in script of the daemon tests.
 */
import assert from "node:assert/strict";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fakeFirewallYaml, spawnDaemon, syslogStamp, until } from "../support/daemon.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-run-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const line = (ip: string) =>
  `${syslogStamp()} srv sshd[77]: Failed password for root from ${ip} port 1 ssh2\n`;

test("run: SIGHUP reloads keeping windows, refuses a bad config, SIGTERM stops cleanly", async () => {
  const log = join(dir, "auth.log");
  const fw = join(dir, "fw.json");
  const data = join(dir, "data");
  const cfg = join(dir, "portcullis.yaml");
  writeFileSync(log, "");
  const config = (disable: string[]) =>
    [
      `data_dir: ${data}`,
      "sources:",
      "  - type: file",
      `    path: ${log}`,
      "    start: beginning",
      "    poll_interval: 100ms",
      "responders:",
      ...fakeFirewallYaml(fw),
      "policy:",
      "  allow_admin_sessions: false",
      "rules:",
      `  disable: [${disable.join(", ")}]`,
      "api:",
      '  listen: "127.0.0.1:0"',
      "",
    ].join("\n");
  writeFileSync(cfg, config([]));
  let err = "";
  const { child, exited } = spawnDaemon(cfg, (t) => (err += t));
  try {
    await until("started", () => err.includes("portcullis started"), 20_000);
    for (let i = 0; i < 4; i++) appendFileSync(log, line("203.0.113.61"));
    await until(
      "4 lines read",
      () => {
        try {
          const s = JSON.parse(readFileSync(join(data, "status.json"), "utf8")) as {
            counters?: { lines?: number };
          };
          return (s.counters?.lines ?? 0) >= 4;
        } catch {
          return false;
        }
      },
      20_000,
    );
    writeFileSync(cfg, config(["ssh-slow-brute-force"]));
    child.kill("SIGHUP");
    await until("reloaded", () => err.includes("configuration reloaded"), 20_000);
    appendFileSync(log, line("203.0.113.61"));
    await until(
      "the fifth failure bans (windows kept)",
      () => existsSync(fw) && readFileSync(fw, "utf8").includes("203.0.113.61"),
      20_000,
    );
    writeFileSync(cfg, "sources: [{ type: nope }]\n");
    child.kill("SIGHUP");
    await until("bad reload refused", () => err.includes("reload refused"), 20_000);
    assert.equal(child.exitCode, null, "still running");
    child.kill("SIGTERM");
    assert.equal(await exited, 0, err.slice(-2000));
    assert.ok(!existsSync(join(data, "portcullis.pid")));
    assert.equal(
      (JSON.parse(readFileSync(join(data, "status.json"), "utf8")) as { running: boolean }).running,
      false,
    );
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("run: a broken config reports every problem with file:line and starts nothing", async () => {
  const cfg = join(dir, "broken.yaml");
  writeFileSync(
    cfg,
    [
      "sources:",
      "  - type: file",
      "    path: relative.log",
      "responders:",
      "  - type: nftables",
      "    verdict: explode",
      "policy:",
      "  dry_runn: true",
      "",
    ].join("\n"),
  );
  const { main } = await import("../../src/cli/main.ts");
  let err = "";
  const io = {
    stdout: { write: () => true },
    stderr: { write: (s: string) => ((err += s), true) },
    stdin: process.stdin,
  } as never;
  assert.equal(await main(["run", "--config", cfg], io), 65);
  assert.match(err, /broken\.yaml:3 sources\[0\]\.path: expected an absolute path/);
  assert.match(err, /broken\.yaml:6 responders\[0\]\.verdict/);
  assert.match(err, /broken\.yaml:8 policy\.dry_runn: unknown key/);
});
