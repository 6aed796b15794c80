// Takes the ecs parser through the dispatcher (the harness: dispatch.ts -> registry.ts) rather than importing
// ./parser.ts first: the parser and the registry import each other (nested parsing), see parser.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, onlyEvent, parseEach, REF } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { expand } from "./document.ts";

const run = (docs: (object | string)[], only = ["ecs"]) => parseEach(docs, only);

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
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-05-30T06:12:08.000Z", "the line's own time");
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
