/**
 * `portcullis run` as a real process: it starts from a config file, reloads on SIGHUP keeping its windows (an
 * invalid new config is refused and the running one stays), and stops cleanly on SIGTERM (exit 0, pid file
 * removed, status recorded). The firewall is the stand-in script of the daemon tests.
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
import { fakeFirewallYaml, spawnDaemon, syslogStamp, until } from "../support/daemon.ts";
import { EXIT_ALREADY_RUNNING } from "../../src/cli/commands/run.ts";

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

/** A daemon's config whose responder setup (run while the daemon starts) waits for `release` to exist. */
function slowStartConfig(name: string) {
  const base = join(dir, name);
  const data = join(base, "data");
  const log = join(base, "auth.log");
  const cfg = join(base, "portcullis.yaml");
  const marker = join(base, "setup-started");
  const release = join(base, "setup-release");
  const script = join(base, "setup.cjs");
  mkdirSync(base, { recursive: true });
  writeFileSync(log, "");
  writeFileSync(
    script,
    [
      'const fs = require("node:fs");',
      "const [marker, release] = process.argv.slice(2);",
      'fs.writeFileSync(marker, "");',
      "const end = Date.now() + 60000;",
      "const wait = () => (fs.existsSync(release) || Date.now() > end ? process.exit(0) : setTimeout(wait, 20));",
      "wait();",
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
      "responders:",
      ...fakeFirewallYaml(join(base, "fw.json")),
      `    setup: ${JSON.stringify([process.execPath, script, marker, release])}`,
      "policy:",
      "  allow_admin_sessions: false",
      "api:",
      '  listen: "127.0.0.1:0"',
      "",
    ].join("\n"),
  );
  return { cfg, data, marker, release };
}

test("run: a signal while starting is handled once started (SIGHUP reloads, SIGTERM stops), not fatal", async () => {
  const c = slowStartConfig("signals-at-start");
  let err = "";
  let { child, exited } = spawnDaemon(c.cfg, (t) => (err += t));
  try {
    await until("the daemon starting (its responder's setup runs)", () => existsSync(c.marker), 20_000);
    child.kill("SIGHUP");
    await until(
      "the SIGHUP handled",
      () => err.includes("reload requested while starting") || child.exitCode !== null || child.signalCode,
      20_000,
    );
    assert.equal(child.signalCode, null, "not killed by SIGHUP");
    writeFileSync(c.release, "");
    await until("reloaded once started", () => err.includes("configuration reloaded"), 20_000);
    assert.ok(err.indexOf("portcullis started") < err.indexOf("configuration reloaded"));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, err.slice(-2000));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
  // SIGTERM while starting: the daemon finishes starting, then stops cleanly.
  rmSync(c.marker);
  rmSync(c.release);
  err = "";
  ({ child, exited } = spawnDaemon(c.cfg, (t) => (err += t)));
  try {
    await until("the daemon starting again", () => existsSync(c.marker), 20_000);
    child.kill("SIGTERM");
    await until(
      "the SIGTERM handled",
      () => err.includes("stop requested while starting") || child.exitCode !== null || child.signalCode,
      20_000,
    );
    assert.equal(child.signalCode, null, "not killed by SIGTERM");
    writeFileSync(c.release, "");
    assert.equal(await exited, 0, err.slice(-2000));
    assert.ok(err.includes("portcullis started") && err.includes("portcullis stopped"), err.slice(-2000));
    assert.ok(!existsSync(join(c.data, "portcullis.pid")));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("run: a second daemon on a running daemon's state directory is refused; kill -9 leaves no stale lock", async () => {
  const c = slowStartConfig("second-daemon");
  writeFileSync(c.release, "");
  let err = "";
  let { child, exited } = spawnDaemon(c.cfg, (t) => (err += t));
  try {
    await until("started", () => err.includes("portcullis started"), 20_000);
    const pidFile = join(c.data, "portcullis.pid");
    let second = "";
    const refused = spawnDaemon(c.cfg, (t) => (second += t));
    try {
      await until("the second daemon to exit", () => refused.child.exitCode !== null, 20_000);
    } finally {
      if (refused.child.exitCode === null) refused.child.kill("SIGKILL");
    }
    assert.equal(await refused.exited, EXIT_ALREADY_RUNNING, second);
    assert.ok(second.includes(`state directory ${c.data} (pid ${child.pid})`), second);
    assert.equal(
      readFileSync(pidFile, "utf8").trim(),
      String(child.pid),
      "the running daemon's pid file stays",
    );
    assert.equal(child.exitCode, null, "the first one runs on");
    // Killed without a chance to clean up: the OS released the lock, the next start takes it.
    child.kill("SIGKILL");
    await exited;
    err = "";
    ({ child, exited } = spawnDaemon(c.cfg, (t) => (err += t)));
    await until("started after kill -9", () => err.includes("portcullis started"), 20_000);
    assert.equal(readFileSync(pidFile, "utf8").trim(), String(child.pid));
    child.kill("SIGTERM");
    assert.equal(await exited, 0, err.slice(-2000));
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
  }
});

test("run: the API's port in use is one clear line naming the address, and exit 69 (EX_UNAVAILABLE)", async () => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
  const port = (taken.address() as AddressInfo).port;
  const base = join(dir, "port-in-use");
  mkdirSync(base, { recursive: true });
  const cfg = join(base, "portcullis.yaml");
  writeFileSync(
    cfg,
    [
      `data_dir: ${join(base, "data")}`,
      "sources: []",
      "responders: []",
      "policy:",
      "  allow_admin_sessions: false",
      "api:",
      `  listen: "127.0.0.1:${port}"`,
      "",
    ].join("\n"),
  );
  let err = "";
  const { child, exited } = spawnDaemon(cfg, (t) => (err += t));
  try {
    assert.equal(await exited, 69, err.slice(-2000));
    assert.ok(
      err.includes(
        `portcullis: the API cannot listen on 127.0.0.1:${port} (api.listen): the address is already in use`,
      ),
      err.slice(-2000),
    );
    assert.doesNotMatch(err, /^\s+at /m, "no stack trace");
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    await new Promise((resolve) => taken.close(resolve));
  }
});
