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

const run = (docs: (object | string)[], mode = "normal") => parseEach(docs, ["winlogbeat"], mode);

function one(doc: object, mode = "normal"): SecurityEvent {
  const [evs] = run([doc], mode);
  return onlyEvent(evs!, `one event for ${JSON.stringify(doc).slice(0, 200)}`);
}

const PROVIDER = "Microsoft-Windows-Security-Auditing";

/** A Security event as Winlogbeat 8 ships it before any ingest pipeline (output.file / Logstash). */
function security(id: string, keywords: string, data: Record<string, string>, extra: object = {}): object {
  return {
    "@timestamp": "2024-05-30T07:00:00.000Z",
    agent: { type: "winlogbeat", version: "8.13.4" },
    ecs: { version: "8.0.0" },
    event: { code: id, kind: "event", provider: PROVIDER, created: "2024-05-30T07:00:01.000Z" },
    host: { name: "FS01" },
    log: { level: "information" },
    message: "(rendered description)",
    winlog: {
      channel: "Security",
      computer_name: "FS01.corp.example",
      event_id: id,
      keywords: [keywords],
      provider_name: PROVIDER,
      record_id: "81234",
      event_data: data,
    },
    ...extra,
  };
}

const failed4625 = security("4625", "Audit Failure", {
  SubjectUserSid: "S-1-0-0",
  TargetUserName: "Administrator",
  TargetDomainName: "CORP",
  Status: "0xc000006d",
  FailureReason: "%%2313",
  SubStatus: "0xc000006a",
  LogonType: "3",
  LogonProcessName: "NtLmSsp ",
  AuthenticationPackageName: "NTLM",
  WorkstationName: "203.0.113.99",
  IpAddress: "::ffff:203.0.113.50",
  IpPort: "51234",
});

test("4625 from raw Winlogbeat: a failure with the network address, user, logon type and status", () => {
  const e = one(failed4625);
  assert.deepEqual(
    [e.event.dataset, e.event.action, e.event.outcome, e.event.code, e.event.category],
    ["winlogbeat", "logon-failed", "failure", "4625", ["authentication"]],
  );
  assert.deepEqual(
    e.source,
    { ip: "203.0.113.50", port: 51234 },
    "WorkstationName (client-chosen) is never a source",
  );
  assert.deepEqual(e.user, { name: "Administrator", domain: "CORP" });
  const winlog = e.winlog as { logon: unknown; event_data: Record<string, string>; record_id: string };
  assert.deepEqual(winlog.logon, {
    type: "Network",
    failure: {
      status: "This is either due to a bad username or authentication information",
      sub_status: "User logon with misspelled or bad password",
    },
  });
  assert.deepEqual(
    [winlog.event_data.Status, winlog.event_data.SubStatus],
    ["0xc000006d", "0xc000006a"],
    "the pipeline's descriptions, as Kibana rules on pipeline data expect; the codes stay in event_data",
  );
  assert.equal(winlog.event_data.FailureReason, "%%2313", "the document is kept");
  assert.equal(winlog.record_id, "81234");
  assert.equal(e["@timestamp"], Date.UTC(2024, 4, 30, 7, 0, 0));
  assert.equal(e.host?.name, "FS01");
});

test("a document already through the ingest pipeline keeps its own values", () => {
  const e = one({
    "@timestamp": "2024-05-30T07:01:00.000Z",
    event: {
      code: "4625",
      action: "logon-failed",
      outcome: "failure",
      category: ["authentication"],
      type: ["start"],
      module: "security",
      provider: PROVIDER,
    },
    source: { ip: "198.51.100.20", port: 4455, domain: "KALI" },
    user: { name: "svc_backup", domain: "CORP" },
    winlog: {
      channel: "Security",
      event_id: "4625",
      provider_name: PROVIDER,
      logon: { type: "RemoteInteractive", failure: { reason: "Unknown user name or bad password." } },
      event_data: { IpAddress: "198.51.100.20", TargetUserName: "svc_backup", LogonType: "10" },
    },
  });
  assert.deepEqual(
    [e.event.action, e.event.outcome, e.event.module],
    ["logon-failed", "failure", "security"],
  );
  assert.deepEqual(e.source, { ip: "198.51.100.20", port: 4455, domain: "KALI" });
  assert.deepEqual((e.winlog as { logon: unknown }).logon, {
    type: "RemoteInteractive",
    failure: { reason: "Unknown user name or bad password." },
  });
});

test("4624 logons: '-' means no address, loopback is kept; flattened documents work", () => {
  const [[a], [b], [c]] = run([
    security("4624", "Audit Success", {
      TargetUserName: "alice",
      LogonType: "2",
      IpAddress: "-",
      IpPort: "-",
    }),
    security("4624", "Audit Success", {
      TargetUserName: "bob",
      LogonType: "10",
      IpAddress: "::1",
      IpPort: "0",
    }),
    {
      "@timestamp": "2024-05-30T07:02:00Z",
      "winlog.event_id": 4624,
      "winlog.channel": "Security",
      "winlog.event_data.IpAddress": "192.0.2.90",
      "winlog.event_data.TargetUserName": "carol",
    },
  ]) as [[SecurityEvent], [SecurityEvent], [SecurityEvent]];
  assert.deepEqual(
    [a.event.action, a.event.outcome, a.source, a.user?.name],
    ["logged-in", "success", undefined, "alice"],
  );
  assert.deepEqual((a.winlog as { logon: unknown }).logon, { type: "Interactive" });
  assert.deepEqual([b.source, b.user?.name], [{ ip: "::1" }, "bob"]);
  assert.deepEqual(
    [c.event.action, c.event.outcome, c.source?.ip, c.user?.name],
    ["logged-in", "success", "192.0.2.90", "carol"],
  );
});

test("4688 process creation: command line, executable, pids from hex, parent", () => {
  const e = one(
    security("4688", "Audit Success", {
      SubjectUserName: "alice",
      SubjectDomainName: "CORP",
      NewProcessId: "0x1a2c",
      NewProcessName: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
      CommandLine: 'powershell.exe -nop -w hidden -enc SQBFAFgA "from 203.0.113.9"',
      ProcessId: "0x3e8",
      ParentProcessName: "C:\\Windows\\System32\\cmd.exe",
      TokenElevationType: "%%1936",
    }),
  );
  assert.deepEqual(
    [e.event.action, e.event.outcome, e.event.category],
    ["created-process", "success", ["process"]],
  );
  assert.deepEqual(e.process, {
    command_line: 'powershell.exe -nop -w hidden -enc SQBFAFgA "from 203.0.113.9"',
    executable: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    name: "powershell.exe",
    pid: 6700,
    parent: { executable: "C:\\Windows\\System32\\cmd.exe", name: "cmd.exe", pid: 1000 },
  });
  assert.deepEqual(e.user, { name: "alice", domain: "CORP" });
  assert.equal(e.source, undefined, "text in a command line is never an address");
});

test("Kerberos pre-auth failures count; NTLM validation failures only in aggressive mode; lockouts", () => {
  const k = one(
    security("4771", "Audit Failure", {
      TargetUserName: "dave",
      ServiceName: "krbtgt/CORP.EXAMPLE",
      Status: "0x18",
      IpAddress: "::ffff:192.0.2.80",
      IpPort: "49822",
    }),
  );
  assert.deepEqual(
    [k.event.action, k.event.outcome, k.source?.ip, k.user?.name],
    ["kerberos-preauth-failed", "failure", "192.0.2.80", "dave"],
  );

  const ntlm = security("4776", "Audit Failure", {
    TargetUserName: "erin",
    Workstation: "X",
    Status: "0xc000006a",
  });
  assert.deepEqual(run([ntlm]), [[]]);
  const n = one(ntlm, "aggressive");
  assert.deepEqual(
    [n.event.action, n.event.outcome, n.user?.name, n.source],
    ["credential-validated", "failure", "erin", undefined],
  );
  assert.deepEqual((n.winlog as { logon: unknown }).logon, {
    failure: { status: "User logon with misspelled or bad password" },
  });
  const ok = one({
    ...ntlm,
    winlog: { event_id: "4776", event_data: { TargetUserName: "erin", Status: "0x0" } },
  });
  assert.equal(ok.event.outcome, "success");

  const lock = one(
    security("4740", "Audit Success", {
      TargetUserName: "frank",
      TargetDomainName: "WS07",
      SubjectUserName: "DC01$",
      SubjectDomainName: "CORP",
    }),
  );
  assert.deepEqual(
    [lock.event.action, lock.event.outcome, lock.user],
    ["locked-out-user-account", "success", { name: "DC01$", domain: "CORP", target: { name: "frank" } }],
    "as the pipeline: the subject locked the target out (TargetDomainName is the caller computer)",
  );
});

test("other Windows events pass through with their own action, or windows-event", () => {
  const sysmon = one({
    "@timestamp": "2024-05-30T07:03:00Z",
    event: { code: "1", provider: "Microsoft-Windows-Sysmon" },
    winlog: {
      channel: "Microsoft-Windows-Sysmon/Operational",
      event_id: "1",
      provider_name: "Microsoft-Windows-Sysmon",
    },
  });
  assert.deepEqual(
    [sysmon.event.action, sysmon.event.outcome, sysmon.event.dataset],
    ["windows-event", "unknown", "winlogbeat"],
  );
  const agent = one({
    data_stream: { dataset: "system.security" },
    event: { code: "4672", action: "logged-in-special" },
    winlog: { channel: "Security", event_id: "4672", provider_name: PROVIDER, keywords: ["Audit Success"] },
  });
  assert.deepEqual(
    [agent.event.dataset, agent.event.action, agent.event.outcome],
    ["system.security", "logged-in-special", "success"],
  );
  // 4625 from another provider is not the Security logon failure.
  const other = one({ winlog: { event_id: "4625", provider_name: "Microsoft-Windows-EventSystem" } });
  assert.deepEqual([other.event.action, other.event.outcome], ["windows-event", "unknown"]);
});

test("documents without winlog are not ours", () => {
  assert.deepEqual(run([{ event: { dataset: "system.auth" }, message: "x" }, { message: "plain" }]), [
    [],
    [],
  ]);
});

test("hostile documents cost work linear in their size and never throw", () => {
  // Each document is built from n, the length of its hostile value. The document is parsed by JSON.parse (not
  // counted); the parser then reads a few known fields: counted are the address check on IpAddress and the
  // anchored, bounded regexes on the ids and the port. The scaling check on n/2 and n guards against a search
  // over the whole value per field; the last two documents do not grow with n (they check shape handling).
  const N = 1 << 20;
  const docs: [(n: number) => object, (e: SecurityEvent[]) => void][] = [
    [
      (n) =>
        security("4688", "Audit Success", {
          CommandLine: "a".repeat(n),
          NewProcessId: "0x".padEnd(1000, "f"),
        }),
      ([e, ...more]) => {
        assert.deepEqual([e?.event.action, e?.event.outcome, more.length], ["created-process", "success", 0]);
        // The command line is kept whole; a 1000-digit process id is no pid.
        assert.deepEqual(e?.process, { command_line: "a".repeat(N) });
      },
    ],
    [
      (n) =>
        security("4625", "Audit Failure", {
          IpAddress: ":".repeat(n),
          IpPort: "9".repeat(1000),
          LogonType: "3",
        }),
      ([e, ...more]) => {
        assert.deepEqual([e?.event.action, e?.event.outcome, more.length], ["logon-failed", "failure", 0]);
        // Not an address: kept as source.address, with no ip and no port.
        assert.deepEqual(e?.source, { address: ":".repeat(N) });
      },
    ],
    [() => ({ winlog: "not an object", "winlog.event_id": "4625" }), (evs) => assert.deepEqual(evs, [])],
    [
      () => ({ winlog: { event_id: { nested: true }, event_data: ["x"] } }),
      (evs) =>
        assert.deepEqual(
          evs.map((e) => [e.event.action, e.event.outcome]),
          [["windows-event", "unknown"]],
        ),
    ],
  ];
  for (const [make, check] of docs) {
    const [evs] = assertLinearWork(make, (doc) => run([doc]), { n: N, perChar: 10 });
    check(evs!);
  }
});

test("event ids and logon types are looked up as the document's text: __proto__, constructor, toString are unknown", () => {
  for (const id of ["__proto__", "constructor", "toString", "hasOwnProperty"]) {
    const e = one(security(id, "Audit Failure", { IpAddress: "203.0.113.60", LogonType: "3" }), "all");
    assert.deepEqual(
      [e.event.action, e.event.outcome, e.event.code, e.event.type, e.source, e.user],
      ["windows-event", "failure", id, undefined, undefined, undefined],
      id,
    );
  }
  for (const type of ["__proto__", "constructor", "toString"]) {
    const e = one(security("4625", "Audit Failure", { IpAddress: "203.0.113.61", LogonType: type }));
    assert.deepEqual((e.winlog as { logon?: unknown }).logon, undefined, type);
    assert.equal(JSON.stringify(e).includes("function"), false);
  }
});

test("IpAddress, which Windows wrote, is the source: a document's own different or multi-valued source gives way", () => {
  const data = {
    TargetUserName: "Administrator",
    LogonType: "3",
    IpAddress: "203.0.113.150",
    IpPort: "5000",
  };
  const [[a], [b], [c], [d], [e]] = run([
    security("4625", "Audit Failure", data, {
      source: { ip: "198.51.100.2", geo: { country_iso_code: "XX" } },
    }),
    security("4625", "Audit Failure", data, { source: { ip: ["198.51.100.2", "203.0.113.150"] } }),
    security("4625", "Audit Failure", data, { source: [{ ip: "198.51.100.2" }, { ip: "203.0.113.150" }] }),
    // The same address: the document's source is kept, its port filled in.
    security("4625", "Audit Failure", data, { source: { ip: "::ffff:203.0.113.150", domain: "KALI" } }),
    // No address from Windows: the document's own is kept.
    security("4625", "Audit Failure", { ...data, IpAddress: "-" }, { source: { ip: "198.51.100.3" } }),
  ]) as [[SecurityEvent], [SecurityEvent], [SecurityEvent], [SecurityEvent], [SecurityEvent]];
  for (const x of [a, b, c]) assert.deepEqual(x.source, { ip: "203.0.113.150", port: 5000 });
  assert.deepEqual(d.source, { ip: "203.0.113.150", domain: "KALI", port: 5000 });
  assert.deepEqual(e.source, { ip: "198.51.100.3" });
});

test("an unreadable @timestamp is refused and counted; epoch seconds are seconds", () => {
  const ctx = utcTime(REF);
  const framer = new LineFramer(ctx);
  const rejected: string[] = [];
  const set = new ParserSet({
    time: ctx,
    only: ["winlogbeat"],
    allActions: true,
    onRejected: (parser, reason) => rejected.push(`${parser}: ${reason}`),
  });
  const times = ["x 5", "2024-02-30T07:00:00Z", 1717225200, 1717225200000].map((ts) => {
    const out: SecurityEvent[] = [];
    set.parse(
      framer.frame(JSON.stringify({ ...security("4625", "Audit Failure", {}), "@timestamp": ts }))!,
      out,
    );
    return out.map((e) => e["@timestamp"]);
  });
  assert.deepEqual(times, [[], [], [Date.UTC(2024, 5, 1, 7)], [Date.UTC(2024, 5, 1, 7)]]);
  assert.deepEqual(rejected, ["winlogbeat: unreadable @timestamp", "winlogbeat: unreadable @timestamp"]);
});

/**
 * A Security event exactly as Winlogbeat writes it before any ingest pipeline (output.file / Logstash):
 * Winlogbeat puts the event's task in event.action and the keyword's outcome in event.outcome, the computer's
 * FQDN in host.name, and every event_data value as a string.
 */
function raw(id: string, task: string, outcome: string, data: Record<string, string>): object {
  return {
    "@timestamp": "2024-05-30T07:00:00.000Z",
    agent: { type: "winlogbeat", version: "8.13.4" },
    event: {
      action: task,
      code: id,
      created: "2024-05-30T07:00:01.000Z",
      kind: "event",
      outcome,
      provider: PROVIDER,
    },
    host: { name: "FS01.corp.example" },
    log: { level: "information" },
    winlog: {
      channel: "Security",
      computer_name: "FS01.corp.example",
      event_id: id,
      keywords: [outcome === "failure" ? "Audit Failure" : "Audit Success"],
      opcode: "Info",
      provider_name: PROVIDER,
      record_id: "81234",
      task,
      event_data: data,
    },
  };
}

test("raw Winlogbeat documents carry the task as event.action: the pipeline's names replace it, so modes keep their failures", () => {
  const docs = [
    raw("4625", "Logon", "failure", {
      TargetUserName: "Administrator",
      LogonType: "3",
      IpAddress: "203.0.113.50",
      IpPort: "0",
      WorkstationName: "KALI",
    }),
    raw("4771", "Kerberos Authentication Service", "failure", {
      TargetUserName: "dave",
      Status: "0x18",
      IpAddress: "::ffff:192.0.2.80",
      IpPort: "49822",
    }),
    raw("4776", "Credential Validation", "failure", {
      TargetUserName: "erin",
      Workstation: "X",
      Status: "0xc000006a",
    }),
    raw("4688", "Process Creation", "success", {
      NewProcessName: "C:\\Windows\\System32\\cmd.exe",
      SubjectUserName: "alice",
    }),
  ];
  const summary = (evs: SecurityEvent[][]) =>
    evs.map((es) => es.map((e) => [e.event.action, e.event.outcome, e.source?.ip, e.user?.name]));
  assert.deepEqual(summary(run(docs)), [
    [["logon-failed", "failure", "203.0.113.50", "Administrator"]],
    [["kerberos-preauth-failed", "failure", "192.0.2.80", "dave"]],
    [],
    [["created-process", "success", undefined, "alice"]],
  ]);
  assert.deepEqual(summary(run(docs, "aggressive")), [
    [["logon-failed", "failure", "203.0.113.50", "Administrator"]],
    [["kerberos-preauth-failed", "failure", "192.0.2.80", "dave"]],
    [["credential-validated", "failure", undefined, "erin"]],
    [["created-process", "success", undefined, "alice"]],
  ]);
  assert.deepEqual(summary(run(docs, "all")), [
    [["logon-failed", "failure", "203.0.113.50", "Administrator"]],
    [["kerberos-preauth-failed", "failure", "192.0.2.80", "dave"]],
    [["credential-validated", "failure", undefined, "erin"]],
    [["created-process", "success", undefined, "alice"]],
  ]);
  const [[e]] = run([docs[0]!]) as [[SecurityEvent]];
  assert.deepEqual((e.winlog as { task: string }).task, "Logon", "the task is kept in winlog.task");
  assert.deepEqual(e.source, { ip: "203.0.113.50" }, "port 0 is no port; WorkstationName is never a source");
});

test("UPN user names are the account, numeric event data is read, 4648's user is the subject", () => {
  const upn = one(
    raw("4625", "Logon", "failure", {
      TargetUserName: "alice@corp.example",
      TargetDomainName: "",
      LogonType: "8",
      IpAddress: "198.51.100.7",
    }),
  );
  assert.deepEqual(
    [upn.user, (upn.winlog as { logon: unknown }).logon],
    [{ name: "alice" }, { type: "NetworkCleartext" }],
  );
  const numeric = one({
    ...(raw("4625", "Logon", "failure", {}) as Record<string, unknown>),
    winlog: {
      channel: "Security",
      event_id: 4625,
      provider_name: PROVIDER,
      event_data: { TargetUserName: "bob", LogonType: 2, IpAddress: "127.0.0.1", IpPort: 0 },
    },
  });
  assert.deepEqual(
    [numeric.event.action, numeric.source, (numeric.winlog as { logon: unknown }).logon],
    ["logon-failed", { ip: "127.0.0.1" }, { type: "Interactive" }],
  );
  const explicit = one(
    raw("4648", "Logon", "success", {
      SubjectUserName: "alice",
      SubjectDomainName: "CORP",
      TargetUserName: "Administrator@corp.example",
      TargetDomainName: "CORP.EXAMPLE",
      TargetServerName: "fs02.corp.example",
      IpAddress: "-",
      IpPort: "-",
    }),
    "all",
  );
  assert.deepEqual(
    [explicit.event.action, explicit.user, explicit.source],
    [
      "logged-in-explicit",
      { name: "alice", domain: "CORP", effective: { name: "Administrator", domain: "CORP.EXAMPLE" } },
      undefined,
    ],
  );
});
