/**
 * What the user gives the CLI, checked: option values (`--reference-time`, `--mode`), rule and case paths
 * (exit 66 naming the path, a warning for "0 rules"), `replay --config`'s timezone and parser modes, and the
 * entry point's handling of output that cannot be written.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { repoRoot } from "../support/shared.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-input-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]) {
  let out = "";
  let err = "";
  const io = {
    stdout: { write: (s: string) => ((out += s), true), once: () => undefined, isTTY: false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    stdin: Readable.from([]),
  } as unknown as Parameters<typeof main>[1];
  const code = await main(args, io);
  return { code, out, err };
}

const log = join(dir, "auth.log");
writeFileSync(
  log,
  Array.from(
    { length: 9 },
    (_, i) => `Mar  2 10:00:0${i + 1} srv sshd[1]: Connection closed by 203.0.113.8 port 1 [preauth]\n`,
  ).join(""),
);

test("--reference-time takes ISO-8601 only: free-form and impossible dates are usage errors", async () => {
  for (const bad of ["Tue Mar 3 2026", "2026-02-30", "2026-13-01", "03/03/2026", "2026-03-03T25:00:00Z"]) {
    const r = await run("parse", "--reference-time", bad, log);
    assert.equal(r.code, 64, `${bad}: ${r.err}`);
    assert.match(r.err, /--reference-time: ".*" is not an ISO-8601 time/);
  }
  for (const good of [
    "2026-03-03",
    "2026-03-03T00:00:00Z",
    "2026-03-03T01:00:00.5+01:00",
    "2024-02-29T10:00",
  ]) {
    const r = await run("parse", "--timezone", "UTC", "--reference-time", good, log);
    assert.equal(r.code, 0, `${good}: ${r.err}`);
  }
});

test("--mode: an unknown mode lists the known ones, `all` once", async () => {
  const r = await run("parse", "--mode", "bogus", log);
  assert.equal(r.code, 64);
  assert.equal(r.err.match(/\ball\b/g)?.length, 1, r.err);
  const p = await run("parse", "--mode", "sshd=bogus", log);
  assert.equal(p.code, 64);
  assert.equal(p.err.match(/\ball\b/g)?.length, 1, p.err);
  // An object's inherited names are no modes (they passed, and the sshd parser crashed on its first line).
  for (const m of ["toString", "sshd=toString", "sshd=constructor"]) {
    const x = await run("parse", "--mode", m, log);
    assert.equal(x.code, 64, `${m}: ${x.err}`);
  }
});

test("rules test and rules validate: an unreadable path is exit 66 naming it; no rule at all is warned", async () => {
  const missing = join(dir, "nonexist");
  const t = await run("rules", "test", missing);
  assert.equal(t.code, 66, t.err);
  assert.equal(t.err, `portcullis: cannot read rule test cases from ${missing}: no such file or directory\n`);
  const empty = join(dir, "empty-rules");
  mkdirSync(empty);
  const v = await run("rules", "validate", empty);
  assert.equal(v.code, 0);
  assert.match(v.err, /warning: no rule in .*empty-rules/);
  const r = await run("replay", "--rules", empty, "--timezone", "UTC", log);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /warning: no detection rule/);
});

test("replay --config uses the configuration's timezone and parser modes; the command line overrides them", async () => {
  const cfg = join(dir, "tz.yaml");
  writeFileSync(cfg, "timezone: America/New_York\nparsers:\n  modes: { sshd: normal }\n");
  const ddos = join(dir, "ddos.yaml");
  writeFileSync(ddos, "timezone: America/New_York\nparsers:\n  modes: { sshd: ddos }\n");
  const ref = ["--reference-time", "2026-03-03T00:00:00Z"];
  const summary = async (...args: string[]) => {
    const r = await run("replay", "--json", ...ref, ...args, log);
    assert.equal(r.code, 0, r.err);
    return JSON.parse(r.err.trim().split("\n").at(-1)!) as { events: number; first?: string };
  };
  // 10:00:01 in New York (EST, UTC-5) is 15:00:01Z.
  assert.equal((await summary("--config", ddos)).first, "2026-03-02T15:00:01.000Z");
  assert.equal((await summary("--config", ddos, "--timezone", "UTC")).first, "2026-03-02T10:00:01.000Z");
  // sshd's normal mode does not count pre-auth disconnects; ddos mode does.
  assert.equal((await summary("--config", cfg)).events, 0);
  assert.equal((await summary("--config", ddos)).events, 9);
  assert.equal((await summary("--config", cfg, "--mode", "sshd=ddos")).events, 9);
});

test("bin/portcullis.js: output that cannot be written (ENOSPC) is one line and exit 74, no stack trace", (t) => {
  if (!existsSync("/dev/full")) return t.skip("no /dev/full on this system");
  // The entry point as installed, on the sources instead of dist/ (which a test must not need to be built).
  const bin = readFileSync(join(repoRoot, "bin", "portcullis.js"), "utf8")
    .replace(/^#!.*\n/, "")
    .replace('"../dist/cli/main.js"', JSON.stringify(join(repoRoot, "src", "cli", "main.ts")));
  const entry = join(dir, "bin.mjs");
  writeFileSync(entry, bin);
  const big = join(dir, "big.log");
  writeFileSync(
    big,
    Array.from(
      { length: 5000 },
      (_, i) => `Mar  2 10:00:00 srv sshd[${i}]: Failed password for root from 203.0.113.9 port ${i} ssh2\n`,
    ).join(""),
  );
  const r = spawnSync("bash", ["-c", `node --import tsx ${entry} parse --timezone UTC ${big} > /dev/full`], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 30_000,
  });
  assert.equal(r.status, 74, r.stderr);
  assert.equal(r.stderr, "portcullis: cannot write the output: no space left on device\n");
});
