// Takes the ecs parser through the dispatcher (the harness: dispatch.ts -> registry.ts) rather than importing
// ./parser.ts first: the parser and the registry import each other (nested parsing), see parser.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  assertLinearWork,
  onlyEvent,
  parseEach,
  REF,
  utcTime,
} from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { LineFramer } from "../../framing/framer.ts";
import { ParserSet } from "../dispatch.ts";
import { expand } from "./document.ts";

const run = (docs: (object | string)[], only = ["ecs"]) => parseEach(docs, only);

/** Like {@link run}, with the lines the parsers refused (`parser: reason`), in order. */
function runCounted(
  docs: (object | string)[],
  only = ["ecs"],
): { events: SecurityEvent[][]; rejected: string[] } {
  const ctx = utcTime(REF);
  const framer = new LineFramer(ctx);
  const rejected: string[] = [];
  const set = new ParserSet({
    time: ctx,
    only,
    allActions: true,
    onRejected: (parser, reason) => rejected.push(`${parser}: ${reason}`),
  });
  const events = docs.map((d) => {
    const out: SecurityEvent[] = [];
    set.parse(framer.frame(typeof d === "string" ? d : JSON.stringify(d))!, out);
    return out;
  });
  return { events, rejected };
}

function one(doc: object | string): SecurityEvent {
  const [evs] = run([doc]);
  return onlyEvent(evs!, `one event for ${JSON.stringify(doc).slice(0, 200)}`);
}

const failedPassword = {
  "@timestamp": "2024-05-30T06:10:00.000Z",
  message: "Failed password for admin from ::ffff:192.0.2.61 port 40404 ssh2",
  event: {
    dataset: "system.auth",
    module: "system",
    kind: "event",
    action: "ssh_login",
    category: ["authentication"],
    outcome: "failure",
  },
  fileset: { name: "auth" },
  host: { hostname: "jump01" },
  process: { name: "sshd", pid: 3001 },
  source: { address: "::ffff:192.0.2.61", ip: "::ffff:192.0.2.61", port: 40404 },
  user: { name: "admin" },
  system: { auth: { ssh: { event: "Failed", method: "password" } } },
  related: { ip: ["192.0.2.61"], user: ["admin"] },
};

test("a Filebeat system.auth document passes through with every field, canonical source.ip, epoch @timestamp", () => {
  const e = one(failedPassword);
  assert.equal(e["@timestamp"], Date.UTC(2024, 4, 30, 6, 10, 0));
  assert.deepEqual(
    [e.event.dataset, e.event.action, e.event.outcome, e.event.module],
    ["system.auth", "ssh_login", "failure", "system"],
  );
  assert.deepEqual(e.source, { address: "::ffff:192.0.2.61", ip: "192.0.2.61", port: 40404 });
  assert.deepEqual(e.system, failedPassword.system);
  assert.deepEqual(e.related, failedPassword.related);
  assert.deepEqual(e.fileset, { name: "auth" });
  assert.equal(e.user?.name, "admin");
  assert.equal(e.message, failedPassword.message);
});

test("flattened dotted keys are expanded; action and outcome are derived when the pipeline left them out", () => {
  const e = one({
    "@timestamp": "2024-05-30T06:11:00Z",
    "event.dataset": "system.auth",
    "system.auth.ssh.event": "Invalid",
    "source.ip": "2001:DB8:0:0::7",
    "user.name": "oracle",
    message: "Invalid user oracle from 2001:db8::7 port 1",
  });
  assert.deepEqual(
    [e.event.action, e.event.outcome, e.event.category],
    ["ssh_login", "failure", ["authentication"]],
  );
  assert.equal(e.source?.ip, "2001:db8::7");
  assert.equal(e.user?.name, "oracle");
  assert.deepEqual(e.system, { auth: { ssh: { event: "Invalid" } } });
  assert.equal(e["event.dataset"], undefined);

  const ok = one({
    event: { dataset: "system.auth" },
    system: { auth: { ssh: { event: "Accepted" } } },
    message: "x",
  });
  assert.deepEqual([ok.event.action, ok.event.outcome], ["ssh_login", "success"]);
  assert.equal(ok["@timestamp"], REF, "no @timestamp: the reference time");

  const dropped = one({
    event: { dataset: "system.auth", module: "system" },
    system: { auth: { ssh: { dropped_ip: "192.0.2.62" } } },
    message: "Did not receive identification string from 192.0.2.62 port 5",
  });
  assert.deepEqual(
    [dropped.event.action, dropped.event.outcome, dropped.source?.ip],
    ["ssh_dropped_connection", "unknown", "192.0.2.62"],
  );

  const sudo = one({
    event: { dataset: "system.auth" },
    user: { name: "alice", effective: { name: "root" } },
    system: { auth: { sudo: { error: "3 incorrect password attempts", command: "/usr/bin/id" } } },
    message: "alice : 3 incorrect password attempts ; ...",
  });
  assert.deepEqual(
    [sudo.event.action, sudo.event.outcome, sudo.source],
    ["sudo_failed", "failure", undefined],
  );

  const legacy = one({
    "system.auth.ssh.event": "Failed",
    "system.auth.ssh.ip": "192.0.2.63",
    "system.auth.user": "bob",
  });
  assert.deepEqual(
    [legacy.source?.ip, legacy.user?.name, legacy.event.dataset],
    ["192.0.2.63", "bob", "ecs"],
  );
});

test("the document's own values win; odd outcomes become unknown; names leave source.ip", () => {
  const e = one({
    event: { dataset: "nginx.access", action: "http_request", outcome: "partial" },
    source: { ip: "gateway.example.org" },
    destination: { ip: "::ffff:10.0.0.1" },
  });
  assert.deepEqual([e.event.action, e.event.outcome], ["http_request", "unknown"]);
  assert.deepEqual(e.source, { domain: "gateway.example.org" });
  assert.deepEqual(e.destination, { ip: "10.0.0.1" });
  const f = one({ event: { outcome: "FAILURE", category: "authentication" }, source: { ip: "not an ip" } });
  assert.deepEqual(
    [f.event.action, f.event.outcome, f.source],
    ["ecs_event", "failure", { address: "not an ip" }],
  );
  const g = one({ data_stream: { dataset: "custom.app" }, event: { kind: "event", category: ["web"] } });
  assert.equal(g.event.dataset, "custom.app");
});

test("a raw log line inside a document is parsed by the line parsers, with the document's context", () => {
  const [[a], [b], c] = run([
    {
      "@timestamp": "2024-05-30T06:12:09.123Z",
      message: "May 30 06:12:08 router dropbear[77]: Bad password attempt for 'root' from 192.0.2.64:5555",
      log: { file: { path: "/var/log/messages" }, offset: 10 },
      agent: { type: "filebeat" },
      input: { type: "filestream" },
    },
    {
      "@timestamp": "2024-05-30T06:12:10Z",
      message: "Login attempt for nonexistent user from 192.0.2.65:5556",
      process: { name: "dropbear", pid: 78 },
      host: { name: "router2" },
    },
    { "@timestamp": "2024-05-30T06:12:11Z", message: "kernel: eth0 link up" },
  ]) as [[SecurityEvent], [SecurityEvent], SecurityEvent[]];
  assert.deepEqual(
    [a.event.dataset, a.event.action, a.source?.ip, a.host?.name],
    ["dropbear", "dropbear_auth_failed", "192.0.2.64", "router"],
  );
  // The document's @timestamp (it has a zone; the line's `May 30 06:12:08` has none), not the line's.
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-05-30T06:12:09.123Z", "the document's time");
  assert.deepEqual(a.log, { file: { path: "/var/log/messages" }, offset: 10 });
  assert.deepEqual(a.agent, { type: "filebeat" });
  assert.deepEqual(
    [b.event.action, b.source?.ip, b.host?.name],
    ["dropbear_invalid_user", "192.0.2.65", "router2"],
  );
  assert.equal(new Date(b["@timestamp"]).toISOString(), "2024-05-30T06:12:10.000Z", "the document's time");
  assert.deepEqual(c, []);
});

test("an address injected in a raw line's user name is not taken", () => {
  const e = one({
    message:
      "May 30 06:12:08 router dropbear[77]: Bad password attempt for 'x' from 203.0.113.9:22' from 192.0.2.66:1",
  });
  assert.equal(e.source?.ip, "192.0.2.66");
});

test("Windows documents are left to the winlogbeat parser: one event per document", () => {
  const win = { winlog: { event_id: "4625", channel: "Security" }, event: { code: "4625" } };
  const flat = { "winlog.event_id": 4625, "event.code": "4625" };
  assert.deepEqual(run([win, flat]), [[], []]);
  const both = run([win, flat, failedPassword], ["ecs", "winlogbeat"]);
  assert.deepEqual(
    both.map((l) => l.map((e) => e.event.dataset)),
    [["winlogbeat"], ["winlogbeat"], ["system.auth"]],
  );
});

test("hostile documents: __proto__ keys, deep nesting, 1 MB messages", () => {
  const polluted = one('{"__proto__": {"polluted": 1}, "a.__proto__.b": 2, "event": {"action": "x"}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.getPrototypeOf(polluted), Object.prototype);
  assert.equal(polluted.event.action, "x");
  // Deep nesting (5000 levels): JSON.parse reads it, and the copy that expands dotted keys drops what lies below
  // depth 24 (kept by reference, it made JSON.stringify, i.e. `portcullis parse` and the store, overflow the
  // stack). That is work on objects, which the count does not see (it only checks that no string work grows
  // faster than the document); the guard here is the output: one event, cut at depth 24, that serialises.
  const head = '{"event":{"action":"deep"},"source":{"ip":"192.0.2.70"},';
  const deep = (n: number) => `${head}"z":${'{"a":'.repeat(n)}1${"}".repeat(n)}}`;
  const [nested] = assertLinearWork(deep, (line) => run([line]), { n: 5000, perChar: 10 });
  const e = onlyEvent(nested!, "one event for the nested document");
  assert.deepEqual([e.event.action, e.source?.ip], ["deep", "192.0.2.70"]);
  let v: unknown = (e as { z?: unknown }).z;
  let depth = 0;
  for (; typeof v === "object" && v !== null; depth++) v = (v as { a?: unknown }).a;
  assert.deepEqual([depth, v], [24, undefined]);
  for (const line of [
    deep(5000),
    `${head}"z":${"[".repeat(5000)}1${"]".repeat(5000)}}`,
    `${head}"z":[${'{"a.b":['.repeat(5000)}1${"]}".repeat(5000)}]}`,
    `${head}${'"a.b":{'.repeat(5000)}"c":1${"}".repeat(5000)}}`,
  ]) {
    const d = onlyEvent(run([line])[0]!, line.slice(0, 80));
    assert.ok(JSON.stringify(d).length < 1000, line.slice(0, 80));
  }
  // 1 MB messages and values, built from n (the length of the hostile part): a raw line in `message` goes to
  // the line parsers (here dropbear, which finds the user and address with searches, counted). The scaling check
  // on n/2 and n guards against a search repeated over the rest of the message.
  const docs: [(n: number) => object, unknown[]][] = [
    [
      (n) => ({
        message: `May 30 06:12:08 router dropbear[77]: Bad password attempt for '${"' from 1.2.3.4:5".repeat(n / 16)}`,
      }),
      // The user runs to the last `' from ` (compared by its length).
      [["dropbear", "dropbear_auth_failed", "1.2.3.4", (1 << 20) - 16]],
    ],
    [(n) => ({ message: "x".repeat(n) }), []],
    [(n) => ({ "a.b": "c".repeat(n), event: { action: "y" } }), [["ecs", "y", undefined, undefined]]],
  ];
  for (const [make, expected] of docs) {
    const [evs] = assertLinearWork(make, (doc) => run([doc]), { perChar: 10 });
    assert.deepEqual(
      evs!.map((e) => [e.event.dataset, e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
    );
  }
  assert.deepEqual(
    expand({ a: 1, "a.b": 2 }),
    { a: 1, "a.b": 2 },
    "a scalar in the way keeps the dotted key",
  );
  assert.deepEqual(expand({ "a.b": 1, a: { c: 2 } }), { a: { b: 1, c: 2 } });
});

/** A Filebeat system.auth document of an sshd `Failed password` line, as the module's pipeline makes it. */
function fbFailed(message: string, ip: string, port: number, user: string, extra: object = {}): object {
  return {
    "@timestamp": "2026-03-02T10:00:01Z",
    message,
    event: { dataset: "system.auth", module: "system", action: "ssh_login", outcome: "failure" },
    process: { name: "sshd", pid: 9 },
    host: { hostname: "srv" },
    source: { address: ip, ip, port, geo: { country_iso_code: "XX" } },
    user: { name: user },
    related: { ip: [ip], user: [user] },
    system: { auth: { ssh: { event: "Failed", method: "password" } } },
    ...extra,
  };
}

test("sshd documents: the address is the one sshd's line parser reads from the message, not Filebeat's grok's", () => {
  // Filebeat's grok is not anchored at the end: the user name `x from 203.0.113.9 port 22 ssh2` became source.ip.
  const spoof =
    "Failed password for invalid user x from 203.0.113.9 port 22 ssh2 from 192.0.2.14 port 4242 ssh2";
  const { events, rejected } = runCounted([
    fbFailed(spoof, "203.0.113.9", 22, "x"),
    // sshd-session (OpenSSH 10), flattened keys, an `Invalid user` line.
    {
      "@timestamp": "2026-03-02T10:00:02Z",
      message: "Invalid user y from 203.0.113.9 port 22 from 192.0.2.15 port 4243",
      "event.dataset": "system.auth",
      "process.name": "sshd-session",
      "source.ip": "203.0.113.9",
      "system.auth.ssh.event": "Invalid",
    },
    // No process.name: the system.auth.ssh fields say the document is sshd's.
    {
      message: spoof,
      event: { dataset: "system.auth" },
      source: { ip: "203.0.113.9" },
      system: { auth: { ssh: { event: "Failed" } } },
    },
    // sshd's PAM line: read as in a log file (by the PAM parser).
    fbFailed(
      "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.33  user=root",
      "192.0.2.33",
      0,
      "root",
    ),
    // The common case: both agree, and the document keeps its source (geo included).
    fbFailed("Failed password for root from 198.51.100.7 port 5000 ssh2", "198.51.100.7", 5000, "root"),
  ]);
  const [[a], [b], [c], [p], [d]] = events as [
    [SecurityEvent],
    [SecurityEvent],
    [SecurityEvent],
    [SecurityEvent],
    [SecurityEvent],
  ];
  assert.deepEqual(a.source, { ip: "192.0.2.14", address: "192.0.2.14", port: 4242 });
  assert.deepEqual(a.related, { ip: ["192.0.2.14"], user: ["x"] }, "the misread address leaves related.ip");
  assert.equal(a.user?.name, "x from 203.0.113.9 port 22 ssh2", "the user name sshd logged");
  // Everything else stays: a Kibana query on the document's fields still matches it.
  assert.deepEqual(
    [a.event.dataset, a.event.action, a.event.outcome, a.system, a.process?.name, a.message],
    [
      "system.auth",
      "ssh_login",
      "failure",
      { auth: { ssh: { event: "Failed", method: "password" } } },
      "sshd",
      spoof,
    ],
  );
  assert.deepEqual(
    [b.source, b.event.action, b.event.outcome],
    [{ ip: "192.0.2.15", port: 4243 }, "ssh_login", "failure"],
  );
  assert.deepEqual(c.source, { ip: "192.0.2.14", port: 4242 });
  assert.deepEqual(p.source?.ip, "192.0.2.33");
  assert.deepEqual(d.source, {
    address: "198.51.100.7",
    ip: "198.51.100.7",
    port: 5000,
    geo: { country_iso_code: "XX" },
  });
  assert.deepEqual(rejected, [], "an address read from sshd's own text is no rejection");
});

test("sshd documents whose message gives no address lose theirs, counted; other programs keep theirs", () => {
  const { events, rejected } = runCounted([
    // sshd writes no such line: whatever put 203.0.113.9 in source.ip, sshd's text does not confirm it.
    fbFailed("Failed password for root", "203.0.113.9", 22, "root"),
    fbFailed("something sshd never wrote from 203.0.113.10 port 1", "203.0.113.10", 1, "root"),
    // Not sshd: the document's address is taken as before.
    fbFailed("anything", "203.0.113.11", 1, "root", { process: { name: "myapp" } }),
    // No message: nothing to read it from.
    { event: { dataset: "system.auth" }, process: { name: "sshd" }, source: { ip: "203.0.113.12" } },
  ]);
  const [[a], [b], [c], [d]] = events as [[SecurityEvent], [SecurityEvent], [SecurityEvent], [SecurityEvent]];
  assert.deepEqual(
    [a.source, a.event.outcome, a.system],
    [undefined, "failure", { auth: { ssh: { event: "Failed", method: "password" } } }],
  );
  assert.equal(b.source, undefined);
  assert.equal(c.source?.ip, "203.0.113.11");
  assert.equal(d.source?.ip, "203.0.113.12");
  assert.deepEqual(rejected, [
    "ecs: document address not read from its message by the service's parser",
    "ecs: document address not read from its message by the service's parser",
  ]);
});

test("a document claiming sshd whose executable is not the system's sshd is not sshd's", () => {
  const line = (n: number) => `Failed password for root from 198.51.100.1 port 5123${n} ssh2`;
  const { events, rejected } = runCounted([
    // Parsed, written by a copy of sshd in a home directory (Filebeat 7 journald: process.executable = _EXE).
    fbFailed(line(1), "198.51.100.1", 51231, "root", {
      process: { name: "sshd", pid: 777, executable: "/home/eve/sshd" },
    }),
    // Unparsed journald documents (Filebeat 8): `logger -t sshd`, and a copy of sshd.
    {
      "@timestamp": "2024-07-02T08:15:02.000Z",
      message: line(2),
      input: { type: "journald" },
      journald: { process: { name: "logger", executable: "/usr/bin/logger" } },
      log: { syslog: { identifier: "sshd", pid: 777 } },
    },
    {
      "@timestamp": "2024-07-02T08:15:03.000Z",
      message: line(3),
      input: { type: "journald" },
      process: { name: "sshd", executable: "/home/eve/sshd", pid: 777 },
      syslog: { identifier: "sshd" },
      journald: { uid: 1000 },
    },
    // The real sshd, wherever the distribution puts it.
    fbFailed(line(4), "198.51.100.1", 51234, "root", {
      process: { name: "sshd", pid: 40112, executable: "/usr/sbin/sshd" },
    }),
    {
      "@timestamp": "2024-07-02T08:15:05.000Z",
      message: line(5),
      journald: { process: { name: "sshd", executable: "/usr/lib/openssh/sshd-session" } },
      log: { syslog: { identifier: "sshd-session" } },
      user: { id: "0" },
    },
  ]);
  const [[a], b, c, [d], [e]] = events as [
    [SecurityEvent],
    SecurityEvent[],
    SecurityEvent[],
    [SecurityEvent],
    [SecurityEvent],
  ];
  assert.deepEqual([a.source, a.event.dataset], [undefined, "system.auth"]);
  assert.deepEqual([b, c], [[], []]);
  assert.deepEqual([d.source?.ip, d.source?.port], ["198.51.100.1", 51234]);
  assert.deepEqual(
    [e.event.dataset, e.event.action, e.source?.ip, e.process?.name],
    ["sshd", "ssh_auth_failed", "198.51.100.1", "sshd-session"],
  );
  assert.deepEqual(rejected, ["ecs: program belied by its executable"]);
});

test("unparsed Filebeat documents (system module before its pipeline, journald input) reach the line parsers", () => {
  const { events, rejected } = runCounted([
    // The system module's document before its ingest pipeline: the whole syslog line, wall time of +02:00.
    {
      "@timestamp": "2024-07-02T06:15:01.000Z",
      message:
        "Jul  2 08:15:01 bastion sshd[40112]: Failed password for root from 203.0.113.45 port 51231 ssh2",
      event: { module: "system", dataset: "system.auth", timezone: "+02:00" },
      fileset: { name: "auth" },
      log: { file: { path: "/var/log/auth.log" }, offset: 100 },
      host: { name: "bastion" },
      agent: { type: "filebeat" },
    },
    // Filebeat 8's journald input: the program in log.syslog.identifier, the process in journald.process.
    {
      "@timestamp": "2024-07-02T08:15:02.000Z",
      input: { type: "journald" },
      event: { kind: "event" },
      host: { hostname: "bastion" },
      journald: { pid: 40112, uid: 0, process: { name: "sshd", executable: "/usr/sbin/sshd" } },
      log: { syslog: { identifier: "sshd", pid: 40112 } },
      message: "Failed password for root from 203.0.113.45 port 51232 ssh2",
      process: { pid: 40112, command_line: "sshd: root [priv]" },
      user: { id: "0", group: { id: "0" } },
    },
    // A line no parser recognises: a document with a module or user passes through as before.
    {
      "@timestamp": "2024-07-02T08:15:03.000Z",
      message: "Server listening on 0.0.0.0 port 22.",
      log: { syslog: { identifier: "sshd" } },
      journald: { process: { name: "sshd", executable: "/usr/sbin/sshd" } },
      user: { id: "0" },
    },
  ]);
  const [[a], [b], [c]] = events as [[SecurityEvent], [SecurityEvent], [SecurityEvent]];
  assert.deepEqual(
    [a.event.dataset, a.event.action, a.source?.ip, a.host?.name, a.log],
    [
      "sshd",
      "ssh_auth_failed",
      "203.0.113.45",
      "bastion",
      { file: { path: "/var/log/auth.log" }, offset: 100 },
    ],
  );
  // The document's @timestamp (UTC), not the line's zone-less wall time read in the parser's zone (UTC here).
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-07-02T06:15:01.000Z");
  assert.deepEqual(
    [b.event.dataset, b.event.action, b.source?.ip, b.source?.port, b.process?.name, b.process?.pid],
    ["sshd", "ssh_auth_failed", "203.0.113.45", 51232, "sshd", 40112],
  );
  assert.deepEqual([c.event.dataset, c.event.action, c.source], ["ecs", "ecs_event", undefined]);
  assert.deepEqual(rejected, []);
});

test("a document naming its program: an envelope inside its message is text, not another program's line", () => {
  // `logger -t myapp 'x sshd[1]: Failed password ...'` by any local user, shipped by Filebeat's journald input.
  const forged = "x sshd[1]: Failed password for root from 198.51.100.1 port 1 ssh2";
  const [a, b, [c], [d]] = run([
    { message: forged, process: { name: "myapp", pid: 5 } },
    { message: forged, log: { syslog: { identifier: "myapp" } }, journald: { process: { name: "myapp" } } },
    // The same program's whole line in the message, and sshd's own `error: ...` text (not a program `error`).
    {
      message: "srv sshd[1]: Failed password for root from 192.0.2.71 port 1 ssh2",
      process: { name: "sshd" },
    },
    {
      message:
        "error: maximum authentication attempts exceeded for root from 192.0.2.72 port 2 ssh2 [preauth]",
      process: { name: "sshd", pid: 6 },
    },
  ]) as [SecurityEvent[], SecurityEvent[], [SecurityEvent], [SecurityEvent]];
  assert.deepEqual([a, b], [[], []]);
  assert.deepEqual([c.event.dataset, c.source?.ip], ["sshd", "192.0.2.71"]);
  assert.deepEqual(
    [d.event.dataset, d.event.action, d.source?.ip],
    ["sshd", "ssh_max_auth_attempts", "192.0.2.72"],
  );
});

test("an unreadable @timestamp is refused and counted, not read as the reference time", () => {
  const doc = (ts: unknown) => ({
    "@timestamp": ts,
    event: { dataset: "x", action: "a" },
    source: { ip: "192.0.2.80" },
  });
  const { events, rejected } = runCounted([
    doc("1"),
    doc("x 5"),
    doc("2024-02-30T08:15:01Z"),
    doc("2024-07-02T08:15:01+99:99"),
    doc("Tue, 02 Jul 2024 08:15:01 GMT"),
    doc(1719908101),
    doc(1719908101500),
    doc(null),
  ]);
  assert.deepEqual(
    events.map((l) => l.map((e) => e["@timestamp"])),
    [[], [], [], [], [], [1719908101000], [1719908101500], [REF]],
  );
  assert.deepEqual(rejected, Array(5).fill("ecs: unreadable @timestamp"));
});

test("multi-valued source.ip and event.dataset", () => {
  const { events, rejected } = runCounted([
    { event: { dataset: ["x", "y"], action: ["a"] }, source: { ip: ["::ffff:192.0.2.90", "192.0.2.90"] } },
    {
      event: { dataset: "x" },
      source: { ip: ["192.0.2.91", "192.0.2.92"], port: 1 },
      related: { ip: ["192.0.2.91"] },
    },
    { event: { dataset: "x" }, source: { ip: [] } },
  ]);
  const [[a], [b], [c]] = events as [[SecurityEvent], [SecurityEvent], [SecurityEvent]];
  assert.deepEqual([a.event.dataset, a.event.action, a.source], ["x", "a", { ip: "192.0.2.90" }]);
  // Several peers: no ban target; the addresses stay findable in related.ip.
  assert.deepEqual([b.source, b.related], [{ port: 1 }, { ip: ["192.0.2.91", "192.0.2.92"] }]);
  assert.deepEqual(c.source, {});
  assert.deepEqual(rejected, ["ecs: several addresses in source.ip"]);
});
