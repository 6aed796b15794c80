import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("courier");

const H = "Jun  3 10:11:12 mail";

test("IMAP/POP3 login failures: user, mapped IPv4, port, method", () => {
  const e = one(
    `${H} imapd-ssl: LOGIN FAILED, user=pat@example.org, ip=[::ffff:198.51.100.10], port=[40123]`,
  );
  assert.equal(e.event.action, "courier_auth_failed");
  assert.equal(e.event.outcome, "failure");
  assert.equal(e.event.dataset, "courier");
  assert.deepEqual(e.event.category, ["authentication"]);
  assert.deepEqual(e.source, { ip: "198.51.100.10", port: 40123 });
  assert.equal(e.user?.name, "pat@example.org");
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));

  const m = one(`${H} pop3d: LOGIN FAILED, method=CRAM-MD5, ip=[2001:db8::11]`);
  assert.deepEqual(m.source, { ip: "2001:db8::11" });
  assert.equal(m.user, undefined);
  assert.equal(m.event.mechanism, "CRAM-MD5");

  const spaced = one(`${H} courierpop3login: LOGIN FAILED, user=first last, ip=[::ffff:198.51.100.12]`);
  assert.equal(spaced.user?.name, "first last");
});

test("logins are success events", () => {
  const e = one(`${H} imapd: LOGIN, user=quinn, ip=[::ffff:198.51.100.20], port=[50000], protocol=IMAP`);
  assert.equal(e.event.action, "courier_login");
  assert.equal(e.event.outcome, "success");
  assert.equal(e.user?.name, "quinn");
  assert.equal(e.source?.ip, "198.51.100.20");
});

test("ESMTP AUTH failures", () => {
  const e = one(
    `${H} courieresmtpd: error,relay=::ffff:198.51.100.30,msg="535 Authentication failed.",cmd: AUTH PLAIN AHgAeQ==`,
  );
  assert.equal(e.event.action, "courier_smtp_auth_failed");
  assert.deepEqual(e.source, { ip: "198.51.100.30" });
  // Another error is not an authentication failure, even if the client's command imitates one.
  assert.deepEqual(
    run([
      `${H} courieresmtpd: error,relay=::ffff:198.51.100.31,msg="502 ESMTP command error",cmd: X ,msg="535 x"`,
    ]),
    [],
  );
});

test("renamed daemons are recognised by their message", () => {
  const e = one(`${H} imapd-custom: LOGIN FAILED, user=ray, ip=[::ffff:198.51.100.40]`);
  assert.equal(e.source?.ip, "198.51.100.40");
});

test("addresses injected through user names are never reported", () => {
  const a = one(`${H} imapd: LOGIN FAILED, user=x, ip=[::ffff:203.0.113.9], ip=[::ffff:198.51.100.50]`);
  assert.equal(a.source?.ip, "198.51.100.50");
  assert.equal(a.user?.name, "x, ip=[::ffff:203.0.113.9]");
  const b = one(
    `${H} imapd: LOGIN FAILED, user=x, ip=[203.0.113.9], port=[1], ip=[::ffff:198.51.100.51], port=[2]`,
  );
  assert.equal(b.source?.ip, "198.51.100.51");
  assert.equal(b.source?.port, 2);
  // A trailing fake that is not followed by courier's own fields is not taken.
  assert.deepEqual(run([`${H} imapd: LOGIN FAILED, user=x, ip=[203.0.113.9]junk`]), []);
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. Fields are found with searches (counted); the one
  // regex (`, port=[N]`) runs on a slice of 16 characters. The scaling check on n/2 and n guards against a search
  // repeated over the rest of the line.
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `${H} imapd: LOGIN FAILED, user=${", ip=[".repeat(n / 6)}`, []],
    [
      (n) => `${H} imapd: LOGIN FAILED, method=${"x".repeat(n)}, ip=[1.2.3.4]`,
      [["courier_auth_failed", "1.2.3.4", undefined, undefined]],
    ],
    // A port of a million digits is no port.
    [
      (n) => `${H} imapd: LOGIN FAILED, user=x, ip=[1.2.3.4], port=[${"9".repeat(n)}`,
      [["courier_auth_failed", "1.2.3.4", undefined, "x"]],
    ],
    [(n) => `${H} courieresmtpd: error,relay=1.2.3.4${",msg=".repeat(n / 5)}`, []],
    [(n) => `${H} other: LOGIN FAILED, ${"a".repeat(n)}`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip, e.source?.port, e.user?.name]),
      expected,
      make(12),
    );
  }
});
