import assert from "node:assert/strict";
import { test } from "node:test";
import { seededInts } from "../../test/support/random.ts";
import { LineFramer } from "./framer.ts";
import { readSyslogDate } from "./timestamps.ts";
import { Zone } from "./zone.ts";

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
  for (const zone of ["UTC", "Europe/Paris", "America/New_York"]) {
    let ref = Date.UTC(2025, 11, 31, 22, 0, 0);
    const ctx = { zone: new Zone(zone), reference: () => ref };
    const framer = new LineFramer(ctx);
    const rand = seededInts(7);
    for (let i = 0; i < 20_000; i++) {
      if (i % 500 === 0) ref += rand(4) * 12 * 3_600_000; // the daemon's reference moves
      const mo = [0, 2, 9, 11][rand(4)]!;
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
