/**
 * `portcullis run` as a real process: it starts from a config file, reloads on SIGHUP keeping its windows (an
 * invalid new config is refused and the running one stays), and stops cleanly on SIGTERM (exit 0, pid file
 * removed, status recorded). The firewall is the stand-in script of the daemon tests.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { repoRoot } from "../support/shared.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-run-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const MON = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
function line(ip: string): string {
  const d = new Date();
  const p = (n: number) => String(n).padStart(2, "0");
  return `${MON[d.getMonth()]} ${String(d.getDate()).padStart(2, " ")} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())} srv sshd[77]: Failed password for root from ${ip} port 1 ssh2\n`;
}

async function until<T>(what: string, fn: () => T | undefined | false, ms = 20_000): Promise<T> {
  const end = performance.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("run: SIGHUP reloads keeping windows, refuses a bad config, SIGTERM stops cleanly", async () => {
  const log = join(dir, "auth.log");
  const fw = join(dir, "fw.json");
  const data = join(dir, "data");
  const cfg = join(dir, "portcullis.yaml");
  writeFileSync(log, "");
  const fake = join(repoRoot, "test", "support", "fake-firewall.mjs");
  const config = (disable: string[]) =>
    [
      `data_dir: ${data}`,
      "sources:",
      "  - type: file",
      `    path: ${log}`,
      "    start: beginning",
      "    poll_interval: 100ms",
      "responders:",
      "  - type: command",
      "    name: fakefw",
      `    apply: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fake)}, ${JSON.stringify(fw)}, apply, "{target}", "{expires_s}"]`,
      `    remove: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fake)}, ${JSON.stringify(fw)}, remove, "{target}"]`,
      `    list: [${JSON.stringify(process.execPath)}, ${JSON.stringify(fake)}, ${JSON.stringify(fw)}, list]`,
      "policy:",
      "  allow_admin_sessions: false",
      "rules:",
      `  disable: [${disable.join(", ")}]`,
      "api:",
      '  listen: "127.0.0.1:0"',
      "",
    ].join("\n");
  writeFileSync(cfg, config([]));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `import(${JSON.stringify(join(repoRoot, "src", "cli", "main.ts"))}).then((m) => m.main(["run", "--config", ${JSON.stringify(cfg)}])).then((c) => { process.exitCode = c; })`,
    ],
    { cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"] },
  );
  let err = "";
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  child.stdout.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  try {
    await until("started", () => err.includes("portcullis started"));
    for (let i = 0; i < 4; i++) appendFileSync(log, line("203.0.113.61"));
    await until("4 lines read", () => {
      try {
        const s = JSON.parse(readFileSync(join(data, "status.json"), "utf8")) as {
          counters?: { lines?: number };
        };
        return (s.counters?.lines ?? 0) >= 4;
      } catch {
        return false;
      }
    });
    writeFileSync(cfg, config(["ssh-slow-brute-force"]));
    child.kill("SIGHUP");
    await until("reloaded", () => err.includes("configuration reloaded"));
    appendFileSync(log, line("203.0.113.61"));
    await until(
      "the fifth failure bans (windows kept)",
      () => existsSync(fw) && readFileSync(fw, "utf8").includes("203.0.113.61"),
    );
    writeFileSync(cfg, "sources: [{ type: nope }]\n");
    child.kill("SIGHUP");
    await until("bad reload refused", () => err.includes("reload refused"));
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
