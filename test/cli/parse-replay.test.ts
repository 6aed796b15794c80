/**
 * The offline CLI as users run it: `portcullis parse` and `portcullis replay` (in-process through main(), with
 * captured stdout/stderr), on plain, gzip and stdin input, with the errors a user can make.
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function io(stdin = "") {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: {
        write: (s: string) => ((out += s), true),
        once: () => undefined,
        isTTY: false,
      } as unknown as NodeJS.WritableStream,
      stderr: { write: (s: string) => ((err += s), true), isTTY: false } as unknown as NodeJS.WritableStream,
      stdin: Readable.from([Buffer.from(stdin)]) as unknown as NodeJS.ReadableStream,
    },
    out: () => out,
    err: () => err,
  };
}

const TZ = ["--timezone", "UTC", "--reference-time", "2026-03-03T00:00:00Z"];
const fails = (ip: string, n: number, start = 0) =>
  Array.from(
    { length: n },
    (_, i) =>
      `Mar  2 10:0${start + i}:00 srv sshd[${40 + i}]: Failed password for root from ${ip} port 5${i} ssh2`,
  );

test("parse prints one ECS event per recognised line, with file path and 1-based line numbers (comments counted)", async () => {
  const p = join(dir, "auth.log");
  writeFileSync(
    p,
    [
      "# a comment line",
      "Mar  2 10:00:00 srv sshd[1]: Failed password for invalid user admin from 203.0.113.7 port 4242 ssh2",
      "Mar  2 10:00:01 srv sshd[1]: Connection closed by 203.0.113.8 port 1 [preauth]",
      "Mar  2 10:00:02 srv CRON[9]: (root) CMD (true)",
      "Mar  2 10:00:03 srv sshd[2]: Accepted publickey for alice from ::ffff:198.51.100.4 port 5 ssh2",
      "",
    ].join("\n"),
  );
  const c = io();
  assert.equal(await main(["parse", ...TZ, p], c.io), 0, c.err());
  const events = c
    .out()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);
  assert.deepEqual(
    events.map((e) => [e.event.action, e.event.outcome, e.source?.ip, e.user?.name, e.log.file.line]),
    [
      ["ssh_auth_failed", "failure", "203.0.113.7", "admin", 2],
      ["ssh_login", "success", "198.51.100.4", "alice", 5],
    ],
  );
  assert.equal(events[0]!.log.file.path, p);
  assert.equal(events[0]!["@timestamp"], "2026-03-02T10:00:00.000Z");
  // In ddos mode the pre-auth close is a failure too.
  const d = io();
  assert.equal(await main(["parse", "--mode", "ddos", ...TZ, p], d.io), 0);
  assert.ok(d.out().includes('"ssh_preauth_disconnect"'), d.out());
});

test("parse: mode errors name the known modes; a mode can target one parser", async () => {
  const p = join(dir, "one.log");
  writeFileSync(p, `${fails("203.0.113.9", 1).join("\n")}\n`);
  const c = io();
  assert.equal(await main(["parse", "--mode", "turbo", p], c.io), 64);
  assert.match(c.err(), /--mode turbo: no parser has this mode \(modes: .*aggressive.*\)/);
  const d = io();
  assert.equal(await main(["parse", "--mode", "sshd=nope", p], d.io), 64);
  assert.match(d.err(), /parser sshd has modes normal, ddos, extra, aggressive/);
  const e = io();
  assert.equal(await main(["parse", "--mode", "sshd=aggressive", ...TZ, p], e.io), 0);
  assert.equal(e.out().trim().split("\n").length, 1);
  // A mistyped --parser is a usage error too (64), naming the known parsers.
  const f = io();
  assert.equal(await main(["parse", "--parser", "sshdd", p], f.io), 64);
  assert.match(f.err(), /--parser sshdd: unknown parser \(known: .*sshd/);
});

test("replay --json: alerts and decisions with source.ip, @timestamp and rule.id; gzip and stdin inputs", async () => {
  const lines = [...fails("203.0.113.20", 5), ...fails("203.0.113.21", 3)];
  const gz = join(dir, "auth.log.2.gz");
  writeFileSync(gz, gzipSync(`${lines.join("\n")}\n`));
  for (const [args, stdin] of [
    [[gz], ""],
    [["-"], `${lines.join("\n")}\n`],
  ] as const) {
    const c = io(stdin);
    assert.equal(await main(["replay", "--json", ...TZ, ...args], c.io), 0, c.err());
    const out = c
      .out()
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, any>);
    const decisions = out.filter((o) => o.kind === "decision");
    assert.deepEqual(
      decisions.map((d) => [d.source.ip, d["@timestamp"], d.rule.id, d.duration]),
      [["203.0.113.20", "2026-03-02T10:04:00.000Z", "ssh-brute-force", "10m"]],
    );
    assert.ok(
      out.some((o) => o.kind === "alert" && o.rule.id === "ssh-brute-force" && o.events.length === 5),
    );
    const summary = JSON.parse(c.err().trim().split("\n").at(-1)!) as Record<string, number>;
    assert.equal(summary.lines, 8);
    assert.equal(summary.decisions, 1);
  }
});

test("replay prints a summary table; rotated files are replayed oldest first", async () => {
  const older = join(dir, "auth.log.1");
  const newer = join(dir, "auth.log");
  writeFileSync(older, `${fails("203.0.113.30", 3).join("\n")}\n`);
  writeFileSync(newer, `${fails("203.0.113.30", 2, 3).join("\n")}\n`);
  const c = io();
  assert.equal(await main(["replay", ...TZ, newer, older], c.io), 0, c.err());
  assert.match(c.out(), /BAN {4}203\.0\.113\.30 {2}for 10m {2}by ssh-brute-force/);
  assert.match(c.out(), /replay summary/);
  assert.match(c.out(), /lines\/s/);
  assert.match(c.out(), /bans\s+1/);
});

test("replay --config: the daemon configuration's policy (durations, escalation, allowlist) and rule set", async () => {
  const cfg = join(dir, "portcullis.yaml");
  writeFileSync(
    cfg,
    [
      "data_dir: /nonexistent",
      "sources: [{ type: file, path: /var/log/auth.log }]",
      "rules: { disable: [ssh-slow-brute-force] }",
      "policy:",
      "  default_duration: 1h",
      "  allowlist: [198.51.100.0/24]",
      "  dry_run: true",
      "  escalation: { enabled: true, factor: 3, max: 1d, lookback: 1d }",
      "  rules: { ssh-brute-force: { duration: 30m } }",
      "",
    ].join("\n"),
  );
  const log = join(dir, "repeat.log");
  // Two bursts from one address (the second after the first ban has ended) and one from an allowlisted address.
  const burst = (ip: string, hour: string) =>
    Array.from(
      { length: 5 },
      (_, i) =>
        `Mar  2 ${hour}:0${i}:00 srv sshd[7${i}]: Failed password for root from ${ip} port 5${i} ssh2`,
    );
  writeFileSync(
    log,
    `${[...burst("203.0.113.40", "10"), ...burst("203.0.113.40", "12"), ...burst("198.51.100.7", "13")].join("\n")}\n`,
  );
  const c = io();
  assert.equal(await main(["replay", "--json", "--config", cfg, ...TZ, log], c.io), 0, c.err());
  const out = c
    .out()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);
  // The rule's override (30m), then escalated x3 for the repeat offence; dry_run does not hide bans from replay.
  assert.deepEqual(
    out.filter((o) => o.kind === "decision").map((d) => [d.source.ip, d.duration, d.escalation]),
    [
      ["203.0.113.40", "30m", 0],
      ["203.0.113.40", "1h30m", 1],
    ],
  );
  assert.deepEqual(
    out
      .filter((o) => o.kind === "alert" && o.source?.ip === "198.51.100.7" && o.rule.id === "ssh-brute-force")
      .map((o) => o.policy.outcome),
    ["refused_allowlisted"],
  );
  // Without --config: the built-in policy (10-minute bans, no escalation, no allowlist but loopback).
  const plain = io();
  assert.equal(await main(["replay", "--json", ...TZ, log], plain.io), 0, plain.err());
  const bans = plain
    .out()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>)
    .filter((o) => o.kind === "decision");
  assert.deepEqual(
    bans.map((d) => d.duration),
    ["10m", "10m", "10m"],
  );
  // A broken configuration is a configuration error naming the file.
  writeFileSync(cfg, "policy: { default_duration: soon }\n");
  const bad = io();
  assert.equal(await main(["replay", "--config", cfg, ...TZ, log], bad.io), 65);
  assert.match(bad.err(), /portcullis\.yaml:1 policy\.default_duration/);
});

test("unreadable input: a clear message and a non-zero exit", async () => {
  const c = io();
  assert.equal(await main(["replay", join(dir, "nope.log")], c.io), 66);
  assert.match(c.err(), /cannot read .*nope\.log: no such file/);
  const bad = join(dir, "broken.gz");
  writeFileSync(
    bad,
    Buffer.concat([gzipSync("Mar  2 10:00:00 srv sshd[1]: x\n".repeat(1000)).subarray(0, 40)]),
  );
  const d = io();
  assert.equal(await main(["replay", ...TZ, bad], d.io), 66);
  assert.match(d.err(), /cannot read .*broken\.gz: corrupt or truncated gzip data/);
  const e = io();
  assert.equal(await main(["parse", dir], e.io), 66);
  assert.match(e.err(), /cannot read .*: is a directory/);
  // With --reference-time nothing else stats the file first: still "cannot read", not a raw ENOENT (70).
  const r = io();
  assert.equal(await main(["replay", ...TZ, join(dir, "nope.log")], r.io), 66);
  assert.match(r.err(), /cannot read .*nope\.log: no such file/);
  // A binary file (a program, wtmp, an .xz log) is not "0 events": it is refused, by name.
  const bin = join(dir, "wtmp");
  writeFileSync(bin, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256)));
  for (const cmd of ["parse", "replay"]) {
    const b = io();
    assert.equal(await main([cmd, ...TZ, bin], b.io), 66, cmd);
    assert.match(b.err(), /cannot read .*wtmp: binary data, not a text log/, cmd);
    assert.equal(b.out(), "", cmd);
  }
  // --text reads such an input anyway (as grep -a): the text lines in it are found.
  const mixed = join(dir, "mixed.log");
  writeFileSync(
    mixed,
    Buffer.concat([
      Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256).filter((b) => b !== 10)),
      Buffer.from("\nMar  2 10:00:01 srv sshd[1]: Failed password for root from 203.0.113.61 port 22 ssh2\n"),
    ]),
  );
  const refused = io();
  assert.equal(await main(["parse", ...TZ, mixed], refused.io), 66);
  const t = io();
  assert.equal(await main(["parse", ...TZ, "--text", mixed], t.io), 0, t.err());
  assert.match(t.out(), /"ip":"203\.0\.113\.61"/);
  const r2 = io();
  assert.equal(await main(["replay", ...TZ, "--text", "--json", mixed], r2.io), 0, r2.err());
});

test("replay --rules: rule errors say file:line; rules test runs case files", async () => {
  const rules = join(dir, "rules.yaml");
  writeFileSync(
    rules,
    "id: x\ntype: threshold\nquery: 'event.outcome: failure'\nthreshold: many\nwindow: 1m\n",
  );
  const c = io();
  assert.equal(await main(["replay", "--rules", rules, join(dir, "auth.log")], c.io), 65);
  assert.match(c.err(), /rules\.yaml:4 threshold: /);
  const t = io();
  assert.equal(await main(["rules", "test"], t.io), 0, t.out());
  assert.match(t.out(), /\d+ passed, 0 failed/);
  // Own rules next to their cases: the rule file is skipped (and said), every case runs, a broken case fails.
  const own = join(dir, "own-rules");
  mkdirSync(own, { recursive: true });
  writeFileSync(
    join(own, "a-rules.yaml"),
    "id: own\ntype: threshold\nquery: 'event.outcome: failure'\ngroup_by: [source.ip]\nthreshold: 2\nwindow: 1m\n",
  );
  const line = (s: number) =>
    `Mar  2 10:00:0${s} srv sshd[1]: Failed password for root from 203.0.113.9 port 1 ssh2`;
  writeFileSync(
    join(own, "b-case.yaml"),
    [
      "description: two failures",
      "rules: a-rules.yaml",
      "reference_time: 2026-03-03T00:00:00Z",
      "input: |",
      `  ${line(1)}`,
      `  ${line(2)}`,
      "expect:",
      "  alerts:",
      '    - { rule: own, group: { source.ip: 203.0.113.9 }, at: "2026-03-02T10:00:02Z" }',
      "",
    ].join("\n"),
  );
  writeFileSync(join(own, "c-broken.yaml"), "rules: a-rules.yaml\ninput: 5\nexpect: {}\n");
  const o = io();
  assert.equal(await main(["rules", "test", own], o.io), 1, o.out());
  assert.match(o.out(), /skip {2}.*a-rules\.yaml {2}\(not a rule test case\)/);
  assert.match(o.out(), /ok {4}.*b-case\.yaml/);
  assert.match(o.out(), /FAIL {2}.*c-broken\.yaml/);
  assert.match(o.out(), /1 passed, 1 failed, 1 skipped/);
});

test("rules test: a KQL error of an inline rule keeps its caret under the column", async () => {
  const own = join(dir, "caret-case");
  mkdirSync(own, { recursive: true });
  writeFileSync(
    join(own, "case.yaml"),
    [
      "description: broken query",
      "rules:",
      "  - id: x",
      "    type: match",
      "    query: 'event.action: (a or'",
      "input: |",
      "  nothing",
      "expect: {}",
      "",
    ].join("\n"),
  );
  const o = io();
  assert.equal(await main(["rules", "test", own], o.io), 1, o.out());
  const lines = o.out().split("\n");
  const query = lines.findIndex((l) => l.trim() === "event.action: (a or");
  assert.ok(query > 0, o.out());
  // The caret points just past `or` (column 20), on the line under the query, both indented alike.
  assert.equal(lines[query + 1], `${" ".repeat(lines[query]!.indexOf("event"))}${" ".repeat(19)}^`, o.out());
});

test("a 1 MB hostile line is parsed without error or delay", async () => {
  const p = join(dir, "hostile.log");
  writeFileSync(
    p,
    `Mar  2 10:00:00 srv sshd[1]: Failed password for ${"from 1.2.3.4 port 1 ".repeat(50_000)} from 203.0.113.77 port 22 ssh2\n`,
  );
  const c = io();
  assert.equal(await main(["parse", ...TZ, p], c.io), 0, c.err());
  const [e] = c
    .out()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, any>);
  assert.equal(e?.source.ip, "203.0.113.77");
});

test("parse and replay warn when the rest of a journalctl -o export input was not read (a binary field)", async () => {
  const p = join(dir, "export.txt");
  const record = (msg: string, us: number) =>
    [
      `__CURSOR=s=1;i=${us}`,
      `__REALTIME_TIMESTAMP=${us}`,
      "_HOSTNAME=srv",
      "SYSLOG_IDENTIFIER=sshd",
      "_PID=7",
      `MESSAGE=${msg}`,
    ].join("\n") + "\n\n";
  const fail = "Failed password for root from 192.0.2.7 port 22 ssh2";
  // A binary MESSAGE (its name alone on a line, then a length and raw bytes), then two more records.
  writeFileSync(
    p,
    record(fail, 1772445600000000) +
      "__CURSOR=s=1;i=2\nSYSLOG_IDENTIFIER=sshd\nMESSAGE\n\u0005\u0000\u0000\u0000\u0000\u0000\u0000\u0000a\nb\nc\n\n" +
      record(fail, 1772445602000000) +
      record(fail, 1772445603000000),
  );
  const parse = io();
  assert.equal(await main(["parse", ...TZ, p], parse.io), 0);
  assert.equal(parse.out().trim().split("\n").length, 1, "only the record before the binary field");
  assert.match(parse.err(), /warning: .*export\.txt: the last 19 lines were not read: .*journalctl -o json/);
  const replayed = io();
  assert.equal(await main(["replay", ...TZ, "--json", p], replayed.io), 0);
  assert.match(replayed.err(), /warning: .*export\.txt: the last 19 lines were not read/);
});

test("parse: a journalctl -o export record's log.file.line is its first line (also the last one, without a blank line)", async () => {
  const p = join(dir, "export-lines.txt");
  const record = (ip: string, us: number) =>
    [`__CURSOR=s=1;i=${us}`, `__REALTIME_TIMESTAMP=${us}`, "SYSLOG_IDENTIFIER=sshd", "_PID=7"].join("\n") +
    `\nMESSAGE=Failed password for root from ${ip} port 22 ssh2\n`;
  // Records of 5 lines and a blank line each, at lines 1, 7 and 13; the last one ends the input.
  writeFileSync(
    p,
    record("192.0.2.1", 1772445600000000) +
      "\n" +
      record("192.0.2.2", 1772445601000000) +
      "\n" +
      record("192.0.2.3", 1772445602000000),
  );
  const parse = io();
  assert.equal(await main(["parse", ...TZ, p], parse.io), 0);
  const events = parse
    .out()
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { source: { ip: string }; log: { file: { line: number } } });
  assert.deepEqual(
    events.map((e) => [e.source.ip, e.log.file.line]),
    [
      ["192.0.2.1", 1],
      ["192.0.2.2", 7],
      ["192.0.2.3", 13],
    ],
  );
});

test("parse and replay warn about JSON documents whose @timestamp cannot be read (they are not judged)", async () => {
  const p = join(dir, "bad-times.ndjson");
  const doc = (ts: unknown) =>
    JSON.stringify({
      "@timestamp": ts,
      message: "Failed password for root from 192.0.2.9 port 22 ssh2",
      process: { name: "sshd", pid: 4 },
    });
  writeFileSync(
    p,
    [doc("yesterday"), doc("2026-02-30T10:00:00Z"), doc("2026-03-02T10:00:00Z")].join("\n") + "\n",
  );
  const parse = io();
  assert.equal(await main(["parse", ...TZ, p], parse.io), 0);
  assert.equal(parse.out().trim().split("\n").length, 1, "only the document with a readable time");
  assert.match(
    parse.err(),
    /warning: .*bad-times\.ndjson: 2 JSON documents were not judged: unreadable @timestamp/,
  );
  const replayed = io();
  assert.equal(await main(["replay", ...TZ, "--json", p], replayed.io), 0);
  assert.match(replayed.err(), /warning: .*bad-times\.ndjson: 2 JSON documents were not judged/);
});
