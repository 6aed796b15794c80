import assert from "node:assert/strict";
import { test } from "node:test";
import { seededInts } from "../../test/support/random.ts";
import { LineFramer } from "./framer.ts";
import {
  readClfDate,
  readEpochSeconds,
  readIso,
  readSlashDate,
  readSyslogDate,
  readTai64n,
} from "./timestamps.ts";
import { parseOffset, Zone } from "./zone.ts";

const REF = Date.UTC(2005, 7, 14, 10, 0, 0);
const utc = () => new LineFramer({ zone: new Zone("UTC"), reference: () => REF });

test("classic syslog with inferred year (a date more than a day ahead belongs to last year)", () => {
  const f = utc().frame("Nov 11 23:33:27 Server sshd[5174]: refused connect from x")!;
  assert.equal(f.format, "syslog");
  assert.equal(new Date(f.time!).toISOString(), "2004-11-11T23:33:27.000Z");
  assert.equal(f.host, "Server");
  assert.equal(f.program, "sshd");
  assert.equal(f.pid, 5174);
  assert.equal(f.message, "refused connect from x");
  const g = utc().frame("Jul 20 14:42:11 localhost sshd[22708]: Invalid user ftp from 192.0.2.1")!;
  assert.equal(new Date(g.time!).toISOString(), "2005-07-20T14:42:11.000Z");
});

test("syslog variants: single-digit day, no host, bracketed program, Solaris tag, year", () => {
  const fr = utc();
  assert.equal(fr.frame("Feb 7 16:01:07 linux-m899 sshd[5106]: User root")!.host, "linux-m899");
  const nohost = fr.frame("Nov 23 21:50:19 sshd[8148]: Disconnecting: x")!;
  assert.deepEqual(
    [nohost.host, nohost.program, nohost.pid, nohost.message],
    [undefined, "sshd", 8148, "Disconnecting: x"],
  );
  const br = fr.frame("Mar  3 00:17:22 [sshd]: User root from 1.2.3.4")!;
  assert.deepEqual([br.program, br.message], ["sshd", "User root from 1.2.3.4"]);
  const br2 = fr.frame("Jun 25 23:53:34 [sshd] User root from 1.2.3.4")!;
  assert.deepEqual([br2.program, br2.message], ["sshd", "User root from 1.2.3.4"]);
  const sol = fr.frame(
    "Mar 29 05:59:23 dusky sshd[20878]: [ID 800047 auth.info] Failed keyboard-interactive",
  )!;
  assert.equal(sol.message, "Failed keyboard-interactive");
  const paren = fr.frame("Jan 29 13:54:06 auth-worker(22401): Info: sql(x)")!;
  assert.deepEqual([paren.program, paren.pid, paren.message], ["auth-worker", 22401, "Info: sql(x)"]);
  const pam = fr.frame("Nov 25 17:12:13 webmail pop(pam_unix)[4920]: authentication failure;")!;
  assert.deepEqual([pam.program, pam.pid], ["pop(pam_unix)", 4920]);
  const y = fr.frame("Jun 21 2012 16:47:48 host sshd[1]: x")!;
  assert.equal(new Date(y.time!).toISOString(), "2012-06-21T16:47:48.000Z");
});

test("message repeated N times", () => {
  const f = utc().frame(
    "Mar  2 00:00:09 srv01 sshd[1]: message repeated 3 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
  )!;
  assert.equal(f.repeat, 3);
  assert.equal(f.message, "Failed password for root from 1.2.3.4 port 22 ssh2");
  // An absurd count is bounded (it would weigh in every window and metric).
  const huge = utc().frame(
    "Mar  2 00:00:09 srv01 sshd[1]: message repeated 99999999999999999999999 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]",
  )!;
  assert.equal(huge.repeat, 1_000_000);
});

test("ISO timestamps with and without offsets; zone-less ones read in the configured zone", () => {
  const f = utc().frame("2019-07-08T17:40:16.954167-04:00 h sshd[1]: x")!;
  assert.equal(new Date(f.time!).toISOString(), "2019-07-08T21:40:16.954Z");
  const cet = new LineFramer({ zone: new Zone("Europe/Paris"), reference: () => REF });
  const g = cet.frame("2005-08-14T12:00:00 h sshd[1]: x")!;
  assert.equal(new Date(g.time!).toISOString(), "2005-08-14T10:00:00.000Z");
  const w = cet.frame("2005-01-14 12:00:00 h sshd[1]: x")!;
  assert.equal(new Date(w.time!).toISOString(), "2005-01-14T11:00:00.000Z");
  const p = utc().frame("2024-01-01T12:00:00+0100 host sshd[7]: y")!;
  assert.equal(new Date(p.time!).toISOString(), "2024-01-01T11:00:00.000Z");
});

test("RFC 5424 with structured data containing brackets", () => {
  const f = utc().frame(
    '<38>1 2019-07-08T17:40:17.954167-04:00 hostname.example.com sshd 55555 - [timeQuality tzKnown="1"][x@1 t="[b]"] Failed unknown for x',
  )!;
  assert.deepEqual(
    [f.format, f.host, f.program, f.pid, f.message],
    ["rfc5424", "hostname.example.com", "sshd", 55555, "Failed unknown for x"],
  );
});

test("journal-style lines without timestamp, TAI64N, plain lines", () => {
  const j = utc().frame("srv sshd[13709]: error: PAM: Authentication failure")!;
  assert.deepEqual([j.format, j.time, j.host, j.program], ["journal", undefined, "srv", "sshd"]);
  const t = utc().frame("@400000004c91b044077a9e94 imap-login: Info: Aborted login")!;
  assert.deepEqual([t.format, t.program, t.message], ["tai64n", "imap-login", "Info: Aborted login"]);
  assert.equal(new Date(t.time!).toISOString(), "2010-09-16T05:50:50.125Z");
  const p = utc().frame('12.34.56.78 - - [20/Jan/2015:19:53:28 +0100] "GET / HTTP/1.1" 404 47')!;
  assert.equal(p.format, "plain");
  const a = utc().frame("[Sat Jun 01 02:17:42 2013] [error] [client 192.168.33.1] x")!;
  assert.equal(a.format, "plain");
});

test("journalctl -o json and -o export", () => {
  const fr = utc();
  const j = fr.frame(
    '{"__REALTIME_TIMESTAMP":"1700000000123456","_HOSTNAME":"h","SYSLOG_IDENTIFIER":"sshd","_PID":"42","MESSAGE":"Failed password"}',
  )!;
  assert.deepEqual(
    [j.format, j.time, j.host, j.program, j.pid, j.message],
    ["journal-json", 1700000000123, "h", "sshd", 42, "Failed password"],
  );
  const lines = [
    "__CURSOR=s=1",
    "__REALTIME_TIMESTAMP=1700000000000000",
    "_HOSTNAME=h2",
    "SYSLOG_IDENTIFIER=sshd",
    "_PID=7",
    "MESSAGE=Invalid user x from 1.2.3.4",
    "",
  ];
  const out = lines.map((l) => fr.frame(l)).filter(Boolean);
  assert.equal(out.length, 1);
  assert.deepEqual(
    [out[0]!.format, out[0]!.host, out[0]!.pid, out[0]!.message],
    ["journal-export", "h2", 7, "Invalid user x from 1.2.3.4"],
  );
});

test("ECS JSON documents", () => {
  const f = utc().frame(
    '{"@timestamp":"2026-03-02T10:00:00.000Z","event":{"dataset":"system.auth"},"process":{"name":"sshd","pid":3},"host":{"hostname":"b"},"message":"Failed password"}',
  )!;
  assert.deepEqual([f.format, f.time, f.program, f.host], ["ecs", Date.UTC(2026, 2, 2, 10), "sshd", "b"]);
  assert.ok(f.doc);
});

test("ECS @timestamp: ISO-8601 read whole, or epoch seconds / milliseconds; anything else is counted, not guessed", () => {
  const fr = utc();
  const time = (ts: unknown) => fr.frame(JSON.stringify({ "@timestamp": ts, message: "m" }))!.time;
  const at = Date.UTC(2024, 6, 2, 8, 15, 1);
  assert.equal(time("2024-07-02T08:15:01Z"), at);
  assert.equal(time("2024-07-02T08:15:01.123456789+02:00"), at - 2 * 3600_000 + 123);
  assert.equal(time("2024-07-02T08:15:01"), at, "no offset: the configured zone (UTC here)");
  // Epoch numbers: seconds below 1e11 (Winlogbeat and scripts write seconds too), milliseconds above; as text too.
  assert.equal(time(1719908101), at);
  assert.equal(time(1719908101.5), at + 500);
  assert.equal(time(1719908101000), at);
  assert.equal(time("1719908101"), at);
  assert.equal(time("1719908101000"), at);
  assert.equal(fr.unreadableTimestamps, 0);
  // Date.parse read these: "1" as 2001, "x 5" as some year 5, Feb 30 as Mar 1; and what follows a time.
  const bad: unknown[] = [
    "1",
    "x 5",
    "foo 12 bar",
    "2024-02-30T08:15:01Z",
    "2024-07-02T08:15:01+99:99",
    "2024-07-02T08:15:01Z trailing",
    "2024-07-02",
    "07/02/2024",
    "Tue, 02 Jul 2024 08:15:01 GMT",
    "",
    1,
    0,
    -1719908101,
    1e300,
    9e15,
    { a: 1 },
    [1719908101],
    true,
  ];
  for (const ts of bad) assert.equal(time(ts), undefined, JSON.stringify(ts));
  assert.equal(fr.unreadableTimestamps, bad.length);
  // No @timestamp (or null, as Elasticsearch reads it) is no time, and not an unreadable one.
  assert.equal(fr.frame('{"message":"m"}')!.time, undefined);
  assert.equal(time(null), undefined);
  assert.equal(fr.unreadableTimestamps, bad.length);
});

test("ECS documents: the program is process.name or log.syslog.identifier, checked against the executable", () => {
  const fr = utc();
  const program = (doc: object) => fr.frame(JSON.stringify({ message: "m", ...doc }))!.program;
  // Without an executable (a syslog file read by Filebeat): as written.
  assert.equal(program({ process: { name: "sshd" } }), "sshd");
  assert.equal(program({ "process.name": "sshd-session" }), "sshd-session");
  // Filebeat 8 journald input; Filebeat 7's (process.name and process.executable are _COMM and _EXE).
  const fb8 = (identifier: string, name: string, executable?: string) => ({
    log: { syslog: { identifier } },
    journald: { process: { name, ...(executable && { executable }) } },
  });
  assert.equal(program(fb8("sshd", "sshd", "/usr/sbin/sshd")), "sshd");
  assert.equal(program(fb8("sshd-session", "sshd-session", "/usr/lib/openssh/sshd-session")), "sshd-session");
  assert.equal(program(fb8("sshd", "logger", "/usr/bin/logger")), "/usr/bin/logger");
  assert.equal(program(fb8("sshd", "logger")), "logger", "no executable: the process name");
  assert.equal(program(fb8("myapp", "python3", "/usr/bin/python3")), "myapp");
  assert.equal(program({ journald: { process: { name: "sshd" } } }), "sshd");
  assert.equal(
    program({ process: { name: "sshd", executable: "/home/eve/sshd" }, syslog: { identifier: "sshd" } }),
    "/home/eve/sshd",
  );
  assert.equal(program({ process: { name: "sshd", executable: "/usr/sbin/sshd" } }), "sshd");
  assert.equal(
    program({ process: { name: "sudo", executable: "/usr/../home/eve/sudo" } }),
    "/usr/../home/eve/sudo",
  );
  assert.equal(program({ process: { name: "postfix/smtpd", executable: "/tmp/x" } }), "postfix/smtpd");
});

test("hostile lines never throw and frame in linear time", () => {
  const fr = utc();
  for (const l of [
    "",
    "{",
    "{]",
    "<999999>",
    "<1>1 ",
    "@4000",
    "Jan",
    "Jan 99 99:99:99 x",
    "x".repeat(1 << 20),
    `Mar  2 00:00:00 h sshd[1]: ${"[".repeat(1 << 20)}`,
    `<38>1 - - - - - ${"[a ".repeat(100000)}`,
  ]) {
    fr.frame(l);
  }
});

test("the per-hour stamp cache gives readSyslogDate's time, across year boundaries, DST and reference changes", () => {
  const months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
  const pad = (n: number) => String(n).padStart(2, "0");
  for (const zone of ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo"]) {
    let ref = Date.UTC(2025, 11, 31, 22, 0, 0);
    const ctx = { zone: new Zone(zone), reference: () => ref };
    const framer = new LineFramer(ctx);
    const rand = seededInts(7);
    for (let i = 0; i < 20_000; i++) {
      if (i % 500 === 0) ref += rand(4) * 12 * 3_600_000; // the daemon's reference moves
      const mo = [0, 1, 2, 9, 11][rand(5)]!;
      const day = [1, 2, 25, 26, 29, 30, 31][rand(7)]!;
      const dd = rand(3) === 0 ? ` ${day}`.slice(-2) : pad(day);
      const stamp = `${months[mo]} ${dd} ${pad(rand(24))}:${pad(rand(60))}:${pad(rand(61))}`;
      const line = `${stamp} host sshd[1]: x`;
      const expected = readSyslogDate(line, 0, ctx);
      assert.equal(
        framer.frame(line)?.time,
        expected?.time,
        `${zone} ${stamp} ref ${new Date(ref).toISOString()}`,
      );
    }
  }
});

test("a repeated envelope is reused only when the line really has the same one", () => {
  const fr = utc();
  const read = (l: string) => {
    const f = fr.frame(`Mar  3 00:17:22 ${l}`)!;
    return [f.host, f.program, f.pid, f.message];
  };
  assert.deepEqual(read("srv sshd[1]: a"), ["srv", "sshd", 1, "a"]);
  assert.deepEqual(read("srv sshd[1]:  b"), ["srv", "sshd", 1, "b"]);
  assert.deepEqual(read("srv sshd[1]: c"), ["srv", "sshd", 1, "c"]);
  assert.deepEqual(read("srv sshd[1]: "), ["srv", "sshd", 1, ""]);
  assert.deepEqual(read("srv sshd[12]: d"), ["srv", "sshd", 12, "d"]);
  assert.deepEqual(read("srv sshd[1]:x y"), ["srv", undefined, undefined, "sshd[1]:x y"]);
  assert.deepEqual(read("sshd[1]: e"), [undefined, "sshd", 1, "e"]);
  assert.deepEqual(read("sshd[1]: f"), [undefined, "sshd", 1, "f"]);
});

test("envelopes read through the remembered host or envelope equal those read from scratch", () => {
  const envelopes = [
    "srv sshd[1]: ",
    "srv sshd[2]: ",
    "srv  sshd[2]: ",
    "srv cron[5]: ",
    "srv cron: ",
    "srv [sshd]: ",
    "srv sshd[1]:",
    "srv sshd[1]",
    "srv hello ",
    "srv2 sshd[1]: ",
    "sr sshd[1]: ",
    "srsshd[1]: ",
    "srvcron[5]: ",
    "sshd[1]: ",
    "srv pop(pam_unix)[4920]: ",
    "srv ",
    "",
  ];
  const messages = ["x", " y", "", "a: b", "srv sshd[1]: z"];
  const shared = utc();
  const next = seededInts(7);
  for (let i = 0; i < 2000; i++) {
    const line = `Mar  3 00:17:22 ${envelopes[next(envelopes.length)]!}${messages[next(messages.length)]!}`;
    assert.deepEqual(shared.frame(line), utc().frame(line), line);
  }
});

const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

test("a line cut short anywhere, even inside its timestamp, frames without throwing, its time a Date's or none", () => {
  const lines = [
    "<38>1 2024-01-01T10:00:00.123456+01:00 host sshd 1 - - Failed password for root from 192.0.2.1 port 22 ssh2",
    "<38>Jan  1 10:00:00 host sshd[1]: x",
    "2024-01-01T10:00:00.123+01:00 host sshd[1]: x",
    "2024-01-01 10:00:00,388 fail2ban.actions [1]: x",
    "Jan  1 10:00:00 host sshd[1]: x",
    "Jan  1 2024 10:00:00 host sshd[1]: x",
    "Jan  1 10:00:00.5+01:00 host sshd[1]: x",
    "Jun  1 02:17:42 2013] x",
    '{"@timestamp":"2024-01-01T10:00:00.000Z","message":"x"}',
    "@400000004c91b044077a9e94 imap-login: x",
  ];
  for (const zone of ["UTC", "Europe/Paris"]) {
    const ctx = { zone: new Zone(zone), reference: () => REF };
    for (const line of lines) {
      for (let n = 0; n <= line.length; n++) {
        const cut = line.slice(0, n);
        const t = new LineFramer(ctx).frame(cut)?.time;
        if (t !== undefined) assert.ok(Number.isFinite(new Date(t).getTime()), `${zone} ${cut}`);
        for (const read of [readIso, readSyslogDate, readSlashDate, readClfDate]) {
          const r = read(cut, 0, ctx);
          if (r) assert.ok(Number.isFinite(new Date(r.time).getTime()), `${read.name} ${cut}`);
        }
      }
    }
  }
  const rfc = utc().frame(
    "<38>1 2024-01-01T10:00:0 host sshd 1 - - Failed password for root from 192.0.2.1 port 22 ssh2",
  )!;
  assert.deepEqual([rfc.format, rfc.time, rfc.program], ["rfc5424", undefined, "sshd"]);
  const ecs = utc().frame('{"@timestamp":"2024-01-01T10:00:","message":"Failed password"}')!;
  assert.deepEqual([ecs.format, ecs.time], ["ecs", undefined]);
  const paris = new LineFramer({ zone: new Zone("Europe/Paris"), reference: () => REF });
  assert.equal(paris.frame("Jan  1 10:00:0")?.time, undefined);
  assert.equal(readIso("2024-01-01T10:00:0", 0, paris.ctx), undefined);
  assert.equal(readClfDate("20/Jan/2015:19:53:2", 0, paris.ctx), undefined);
});

test("a time a Date cannot hold is no time: TAI64N, journald and ECS", () => {
  const fr = utc();
  assert.equal(readTai64n("@7fffffffffffffff00000000", 0), undefined);
  assert.equal(readTai64n("@0000000000000000ffffffff", 0), undefined);
  const tai = fr.frame("@7fffffffffffffff00000000 sshd[1]: Failed password for root from 192.0.2.1")!;
  assert.equal(tai.time, undefined);
  const j = fr.frame(
    '{"__REALTIME_TIMESTAMP":"99999999999999999999","SYSLOG_IDENTIFIER":"sshd","MESSAGE":"m"}',
  )!;
  assert.deepEqual([j.format, j.time, j.message], ["journal-json", undefined, "m"]);
  const e = fr.frame('{"@timestamp":1e300,"message":"m"}')!;
  assert.deepEqual([e.format, e.time, e.message], ["ecs", undefined, "m"]);
  // A time a Date holds, but no document's: epoch numbers are read in [1990, 2200) only.
  assert.equal(fr.frame('{"@timestamp":-8.64e15,"message":"m"}')!.time, undefined);
  assert.equal(readEpochSeconds("1e300"), undefined);
  assert.equal(readEpochSeconds("1373330716.415"), 1373330716415);
});

test("a year-less date takes the year of the zone's calendar near the reference, and a year that has it", () => {
  const read = (zone: string, ref: string, line: string) => {
    const ctx = { zone: new Zone(zone), reference: () => Date.parse(ref) };
    const fast = new LineFramer(ctx).frame(line)?.time;
    assert.equal(fast, readSyslogDate(line, 0, ctx)?.time, `${zone} ${ref} ${line}`);
    return iso(fast);
  };
  // Just after New Year in a zone east of UTC: the reference's UTC year is still the old one.
  const paris = ["Europe/Paris", "2025-01-01T00:30:00+01:00"] as const;
  assert.equal(read(...paris, "Jan  1 00:29:00 host sshd[1]: x"), "2024-12-31T23:29:00.000Z");
  assert.equal(read(...paris, "Jan  1 00:29:00.5 host sshd[1]: x"), "2024-12-31T23:29:00.500Z");
  assert.equal(read(...paris, "Dec 31 23:59:00 host sshd[1]: x"), "2024-12-31T22:59:00.000Z");
  assert.equal(read(...paris, "Jan  2 00:29:00 host sshd[1]: x"), "2025-01-01T23:29:00.000Z");
  assert.equal(read(...paris, "Jan  3 00:29:00 host sshd[1]: x"), "2024-01-02T23:29:00.000Z");
  assert.equal(
    read("Asia/Tokyo", "2024-12-31T23:30:00Z", "Jan  1 08:29:00 host sshd[1]: x"),
    "2024-12-31T23:29:00.000Z",
  );
  // West of UTC, just after New Year in UTC: still last year's Dec 31.
  assert.equal(
    read("America/Los_Angeles", "2025-01-01T05:00:00Z", "Dec 31 20:59:00 host sshd[1]: x"),
    "2025-01-01T04:59:00.000Z",
  );
  // Feb 29 belongs to a leap year; Feb 30 to none.
  assert.equal(
    read("UTC", "2025-03-15T00:00:00Z", "Feb 29 10:00:00 host sshd[1]: x"),
    "2024-02-29T10:00:00.000Z",
  );
  assert.equal(
    read("UTC", "2024-02-15T00:00:00Z", "Feb 29 10:00:00 host sshd[1]: x"),
    "2020-02-29T10:00:00.000Z",
  );
  assert.equal(
    read("UTC", "2024-03-15T00:00:00Z", "Feb 29 10:00:00 host sshd[1]: x"),
    "2024-02-29T10:00:00.000Z",
  );
  assert.equal(read("UTC", "2025-03-15T00:00:00Z", "Feb 30 10:00:00 host sshd[1]: x"), undefined);
  assert.equal(read("UTC", "2025-03-15T00:00:00Z", "Apr 31 10:00:00 host sshd[1]: x"), undefined);
});

test("impossible dates and offsets are not read: Feb 30, 2024-02-31, +99:99; years 0-99 are not 19xx", () => {
  const fr = utc();
  assert.equal(fr.frame("2024-02-31T10:00:00Z host sshd[1]: x")!.format, "plain");
  assert.equal(fr.frame("2023-02-29 10:00:00 host sshd[1]: x")!.format, "plain");
  assert.equal(iso(fr.frame("2024-02-29T10:00:00Z host sshd[1]: x")!.time), "2024-02-29T10:00:00.000Z");
  assert.equal(fr.frame("2024-01-01T10:00:00+99:99 host sshd[1]: x")!.format, "plain");
  assert.equal(fr.frame("Feb 29 2025 10:00:00 host sshd[1]: x")!.format, "plain");
  assert.equal(fr.frame("Feb 30 10:00:00 host sshd[1]: x")!.format, "plain");
  assert.equal(fr.frame("Jan  1 10:00:00+24:00 host sshd[1]: x")!.format, "plain");
  assert.equal(readClfDate("31/Feb/2015:19:53:28 +0100", 0, fr.ctx), undefined);
  assert.equal(readClfDate("20/Jan/2015:19:53:28 +0160", 0, fr.ctx), undefined);
  assert.equal(readSlashDate("2012/04/31 11:53:29", 0, fr.ctx), undefined);
  assert.equal(iso(fr.frame("0099-01-01T00:00:00Z host sshd[1]: x")!.time), "0099-01-01T00:00:00.000Z");
  assert.equal(iso(fr.frame("0099-01-01T00:00:00 host sshd[1]: x")!.time), "0099-01-01T00:00:00.000Z");
  assert.equal(iso(fr.frame("0000-03-01T00:00:00+01:00 host sshd[1]: x")!.time), "0000-02-29T23:00:00.000Z");
  const paris = new LineFramer({ zone: new Zone("Europe/Paris"), reference: () => REF });
  // Paris kept its local mean time (+00:09:21) until 1891.
  assert.equal(iso(paris.frame("0099-06-01T12:00:00 host sshd[1]: x")!.time), "0099-06-01T11:50:39.000Z");
  assert.equal(iso(paris.frame("0000-06-01T12:00:00 host sshd[1]: x")!.time), "0000-06-01T11:50:39.000Z");
  assert.equal(iso(paris.frame("2024-06-01T12:00:00 host sshd[1]: x")!.time), "2024-06-01T10:00:00.000Z");
  assert.deepEqual(["+14:00", "-12:00", "+0530", "+23:59", "+24:00", "+01:60", "+99:99"].map(parseOffset), [
    50_400_000,
    -43_200_000,
    19_800_000,
    86_340_000,
    undefined,
    undefined,
    undefined,
  ]);
});

test("a stray __CURSOR= or __REALTIME_TIMESTAMP= line in an ordinary log does not swallow the lines after it", () => {
  for (const stray of ["__CURSOR=x", "__REALTIME_TIMESTAMP=1", "__CURSOR=s=1"]) {
    const fr = utc();
    assert.equal(fr.frame(stray), undefined);
    const f = fr.frame("Jan  1 10:00:01 host sshd[1]: Failed password for root from 192.0.2.1 port 22 ssh2")!;
    assert.deepEqual([f.format, f.program, f.message.slice(0, 15)], ["syslog", "sshd", "Failed password"]);
    assert.equal(fr.frame("Jan  1 10:00:02 host sshd[1]: y")!.message, "y");
    assert.equal(fr.flush(), undefined);
  }
  // Lines that are not FIELD=value end the export record: lower case, a leading digit, no name, a space.
  for (const line of ["foo=bar", "1A=b", "=x", "MESSAGE =x", "host sshd[1]: a=b"]) {
    const fr = utc();
    fr.frame("__CURSOR=x");
    fr.frame("_PID=1");
    const f = fr.frame(line);
    assert.ok(f && f.format !== "journal-export", line);
    assert.deepEqual(fr.frame(""), utc().frame(""), line);
  }
});

test("journalctl -o export binary fields: nothing after one is trusted, so no forged record gets through", () => {
  const fr = utc();
  const record = (cursor: string, message: string) => [
    `__CURSOR=${cursor}`,
    "__REALTIME_TIMESTAMP=1704103200000000",
    "_HOSTNAME=h",
    "SYSLOG_IDENTIFIER=sshd",
    message,
  ];
  const lines = [
    ...record("s=1", "MESSAGE=Invalid user a from 192.0.2.1"),
    "",
    // A binary MESSAGE: its name alone, then an 8-byte length and raw bytes holding a forged record.
    ...record("s=2", "MESSAGE"),
    "\u0049\0\0\0\0\0\0\0x",
    "",
    "__CURSOR=z",
    "__REALTIME_TIMESTAMP=1704103200000000",
    "SYSLOG_IDENTIFIER=sshd",
    "MESSAGE=Failed password for root from 203.0.113.66 port 22 ssh2",
    "",
    "Jan  1 10:00:01 host sshd[1]: Failed password for root from 203.0.113.66 port 22 ssh2",
    "_PID=1",
    "",
    ...record("s=3", "MESSAGE=Invalid user b from 192.0.2.3"),
    "",
  ];
  const out = lines.map((l) => fr.frame(l)).filter((f) => f !== undefined);
  assert.deepEqual(
    out.map((f) => f.message),
    ["Invalid user a from 192.0.2.1"],
  );
  assert.equal(fr.flush(), undefined);
  // The next input is read again.
  const next = record("s=4", "MESSAGE=Invalid user c from 192.0.2.4").map((l) => fr.frame(l));
  assert.deepEqual(next, [undefined, undefined, undefined, undefined, undefined]);
  assert.equal(fr.frame("")!.message, "Invalid user c from 192.0.2.4");
  assert.equal(fr.frame("Jan  1 10:00:01 host sshd[1]: z")!.message, "z");
});

test("a UTF-8 byte-order mark before the first line is not part of it", () => {
  const fr = utc();
  const f = fr.frame("\ufeffJan  1 10:00:00 host sshd[1]: Failed password for root from 192.0.2.1")!;
  assert.deepEqual(
    [f.format, f.host, f.program, f.message],
    ["syslog", "host", "sshd", "Failed password for root from 192.0.2.1"],
  );
  assert.equal(fr.frame("\ufeff2024-01-01T10:00:00Z host sshd[1]: x")!.format, "iso");
  assert.equal(fr.frame("\ufeff\ufeffsrv sshd[1]: x")!.format, "journal");
  assert.equal(fr.frame("\ufeff")!.message, "");
  assert.equal(fr.frame("\ufeff__CURSOR=x"), undefined);
  assert.equal(fr.frame("MESSAGE=m"), undefined);
  assert.equal(fr.frame("")!.format, "journal-export");
});

test("journal entries claiming sshd, dropbear, sudo or su are framed under the executable journald saw", () => {
  const f = new LineFramer({ zone: new Zone("UTC"), reference: () => Date.UTC(2024, 5, 1) });
  const entry = (fields: Record<string, string>) =>
    f.frame(
      JSON.stringify({
        __REALTIME_TIMESTAMP: "1717236000000000",
        MESSAGE: "Failed password for root from 192.0.2.1 port 22 ssh2",
        ...fields,
      }),
    )?.program;
  // The real daemons, wherever the distribution puts them.
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/usr/sbin/sshd" }), "sshd");
  assert.equal(
    entry({
      SYSLOG_IDENTIFIER: "sshd-session",
      _COMM: "sshd-session",
      _EXE: "/usr/lib/openssh/sshd-session",
    }),
    "sshd-session",
  );
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _EXE: "/nix/store/abc-openssh-9.9/bin/sshd" }), "sshd");
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sudo", _COMM: "sudo", _EXE: "/usr/bin/sudo" }), "sudo");
  // Forged by a local user: `logger -t sshd ...`, a script that renamed itself (prctl), a copy of sshd in a
  // home directory, a path through `..`; without _EXE, the process name.
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "logger", _EXE: "/usr/bin/logger" }),
    "/usr/bin/logger",
  );
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/usr/bin/python3.11" }),
    "/usr/bin/python3.11",
  );
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/home/eve/sshd" }), "/home/eve/sshd");
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/usr/../home/eve/sshd" }),
    "/usr/../home/eve/sshd",
  );
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "logger" }), "logger");
  // sshd or dropbear written by a user other than root: a user namespace's own /usr/sbin/sshd, a sender that exited before
  // journald read its _EXE and _COMM, a user-built copy in /nix/store.
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/usr/sbin/sshd", _UID: "65534" }),
    "/usr/sbin/sshd",
  );
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _UID: "1000" }), "uid 1000");
  assert.equal(entry({ SYSLOG_IDENTIFIER: "dropbear", _COMM: "dropbear", _UID: "1000" }), "uid 1000");
  // sudo and su are set-uid: their real user id is their caller's.
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sudo", _COMM: "sudo", _EXE: "/usr/bin/sudo", _UID: "1000" }),
    "sudo",
  );
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _EXE: "/nix/store/x-eve/bin/sshd", _UID: "1001" }),
    "/nix/store/x-eve/bin/sshd",
  );
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "sshd", _COMM: "sshd", _EXE: "/usr/sbin/sshd", _UID: "0" }),
    "sshd",
  );
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd", _UID: "0" }), "sshd");
  // Entries without trusted fields (a hand-made file) and other identifiers are taken as written.
  assert.equal(entry({ SYSLOG_IDENTIFIER: "sshd" }), "sshd");
  assert.equal(
    entry({ SYSLOG_IDENTIFIER: "postfix/smtpd", _EXE: "/usr/lib/postfix/sbin/smtpd" }),
    "postfix/smtpd",
  );
  assert.equal(entry({ _COMM: "sshd" }), "sshd");
});

test("clocks going back: a repeated hour is read as the first pass, then the second; gaps move forward", () => {
  const paris = new Zone("Europe/Paris");
  const ny = new Zone("America/New_York");
  const iso = (t: number) => new Date(t).toISOString();
  // The same rule in every zone: a repeated time is first read as the first pass, a skipped one moves forward.
  assert.equal(iso(paris.toEpoch(2024, 10, 27, 2, 5, 0)), "2024-10-27T00:05:00.000Z");
  assert.equal(iso(paris.toEpochLater(2024, 10, 27, 2, 5, 0)), "2024-10-27T01:05:00.000Z");
  assert.equal(iso(ny.toEpoch(2024, 11, 3, 1, 30, 0)), "2024-11-03T05:30:00.000Z");
  assert.equal(iso(ny.toEpochLater(2024, 11, 3, 1, 30, 0)), "2024-11-03T06:30:00.000Z");
  assert.equal(iso(paris.toEpoch(2024, 3, 31, 2, 30, 0)), "2024-03-31T01:30:00.000Z");
  assert.equal(iso(ny.toEpoch(2024, 3, 10, 2, 30, 0)), "2024-03-10T07:30:00.000Z");
  assert.equal(paris.toEpochLater(2024, 6, 1, 2, 5, 0), paris.toEpoch(2024, 6, 1, 2, 5, 0));
  // A log written in Paris local time through the night clocks go back: 02:05 and 02:40 summer time,
  // 02:10 and 02:50 winter time (a line a few seconds late in each pass), then 03:10.
  const f = new LineFramer({ zone: paris, reference: () => Date.UTC(2024, 10, 1) });
  const times = ["02:05:00", "02:40:00", "02:39:58", "02:10:00", "02:09:59", "02:50:00", "03:10:00"].map(
    (hms) => iso(f.frame(`Oct 27 ${hms} h sshd[1]: x`)!.time!),
  );
  assert.deepEqual(times, [
    "2024-10-27T00:05:00.000Z",
    "2024-10-27T00:40:00.000Z",
    "2024-10-27T00:39:58.000Z",
    "2024-10-27T01:10:00.000Z",
    "2024-10-27T01:09:59.000Z",
    "2024-10-27T01:50:00.000Z",
    "2024-10-27T02:10:00.000Z",
  ]);
});

test("NUL padding before a line (a log after a crash) is dropped, the line after it read", () => {
  const f = utc();
  const line = "Aug 14 11:40:01 host sshd[9]: Failed password for root from 192.0.2.9 port 22 ssh2";
  const padded = f.frame(`${"\0".repeat(4096)}${line}`);
  assert.equal(padded?.program, "sshd");
  assert.equal(padded?.message, f.frame(line)?.message);
  assert.equal(padded?.time, Date.UTC(2005, 7, 14, 11, 40, 1));
  assert.equal(f.frame("\0\0\0"), undefined);
});
