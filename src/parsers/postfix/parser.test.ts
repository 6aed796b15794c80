import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness } from "../../../test/support/parser-harness.ts";
import { postfix } from "./parser.ts";

const { run, one } = lineHarness("postfix");

const P = "Jun  3 10:11:12 mx1 postfix/smtpd[4242]: ";

test("RCPT, HELO and milter rejects are failures with the bracketed client address", () => {
  const e = one(
    `${P}NOQUEUE: reject: RCPT from host-9.example.net[198.51.100.9]:40312: 550 5.1.1 <nobody@example.org>: Recipient address rejected: User unknown in local recipient table; from=<x@example.net> to=<nobody@example.org> proto=ESMTP helo=<pc>`,
  );
  assert.equal(e.event.action, "postfix_reject");
  assert.equal(e.event.outcome, "failure");
  assert.equal(e.event.dataset, "postfix");
  assert.equal(e.event.code, "550");
  assert.deepEqual(e.source, { ip: "198.51.100.9", port: 40312, domain: "host-9.example.net" });
  assert.match(e.event.reason!, /User unknown in local recipient table$/);
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));
  assert.equal(e.process?.name, "postfix/smtpd");

  const m = one(
    "Jun  3 10:11:13 mx1 postfix-in/smtpd[77]: 3F9A2B01C: milter-reject: END-OF-MESSAGE from unknown[2001:DB8::7]: 550 5.7.1 Spam detected; from=<a@b.example> to=<c@d.example> proto=ESMTP helo=<x>",
  );
  assert.equal(m.event.action, "postfix_reject");
  assert.deepEqual(m.source, { ip: "2001:db8::7" });
});

test("RBL rejects from smtpd and postscreen get their own action", () => {
  const a = one(
    `${P}NOQUEUE: reject: RCPT from unknown[203.0.113.40]: 554 5.7.1 Service unavailable; Client host [203.0.113.40] blocked using dnsbl.example.net; from=<s@example.com> to=<r@example.org> proto=ESMTP helo=<x>`,
  );
  assert.equal(a.event.action, "postfix_rbl_reject");
  const b = one(
    "Jun  3 10:11:14 mx1 postfix/postscreen[90]: NOQUEUE: reject: RCPT from [203.0.113.41]:51000: 550 5.7.1 Service unavailable; client [203.0.113.41] blocked using dnsbl.example.net; from=<s@example.com>, to=<r@example.org>, proto=ESMTP, helo=<x>",
  );
  assert.equal(b.event.action, "postfix_rbl_reject");
  assert.deepEqual(b.source, { ip: "203.0.113.41", port: 51000 });
});

test("server-side conditions (mailbox, system status) and warn-only rejects are not failures", () => {
  const lines = [
    `${P}NOQUEUE: reject: RCPT from mx.example.net[198.51.100.2]: 450 4.2.0 <r@example.org>: Recipient address rejected: Greylisted; from=<s@example.net> to=<r@example.org> proto=ESMTP helo=<mx.example.net>`,
    `${P}NOQUEUE: reject: RCPT from mx.example.net[198.51.100.2]: 451 4.3.0 <r@example.org>: Temporary lookup failure; from=<s@example.net> to=<r@example.org> proto=ESMTP helo=<mx.example.net>`,
    `${P}NOQUEUE: reject_warning: RCPT from mx.example.net[198.51.100.2]: 554 5.7.1 <r@example.org>: Relay access denied; from=<s@example.net> to=<r@example.org> proto=ESMTP helo=<mx>`,
    `${P}lost connection after DATA (0 bytes) from mx.example.net[198.51.100.2]`,
    `${P}lost connection after AUTH from unknown[198.51.100.2]`,
    `${P}warning: unknown[198.51.100.2]: SASL LOGIN authentication failed: Connection lost to authentication server`,
    `${P}disconnect from unknown[198.51.100.2] ehlo=1 auth=1/2 quit=1 commands=3/4`,
    `${P}disconnect from unknown[198.51.100.2] ehlo=1 auth=1 quit=1 commands=3`,
    "Jun  3 10:11:12 mx1 postfix/qmgr[12]: 3F9A2B01C: from=<a@example.net>, size=1234, nrcpt=1 (queue active)",
    `${P}connect from unknown[198.51.100.2]`,
  ];
  assert.deepEqual(
    run(lines).filter((e) => e.event.outcome === "failure"),
    [],
  );
});

test("SASL failures carry the user when logged; the mechanism error is its own action", () => {
  const e = one(
    "Jun  3 10:12:00 mx1 postfix/submission/smtpd[31]: warning: unknown[192.0.2.50]:61000: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=info@example.org",
  );
  assert.equal(e.event.action, "postfix_sasl_auth_failed");
  assert.deepEqual(e.event.category, ["authentication"]);
  assert.deepEqual(e.source, { ip: "192.0.2.50", port: 61000 });
  assert.equal(e.user?.name, "info@example.org");
  assert.equal(e.event.mechanism, "LOGIN");

  const plain = one(`${P}warning: mail.example.com[192.0.2.51]: SASL PLAIN authentication failed: `);
  assert.equal(plain.user, undefined);
  assert.equal(plain.source?.domain, "mail.example.com");

  const invalid = `${P}warning: unknown[192.0.2.52]: SASL NTLM authentication failed: Invalid authentication mechanism`;
  assert.equal(one(invalid).event.action, "postfix_sasl_mechanism_invalid");
  // No password was tried: not an authentication failure, so the mail brute-force rule does not count it.
  assert.deepEqual(one(invalid).event.category, ["email"]);
  assert.equal(run([invalid], "auth").length, 0);
  assert.equal(run([invalid], "aggressive").length, 1);
});

test("a port above 65535 is not taken; the address and the event are", () => {
  for (const port of ["99999", "1234567"]) {
    const e = one(`${P}warning: unknown[203.0.113.1]:${port}: SASL LOGIN authentication failed: x`);
    assert.equal(e.event.action, "postfix_sasl_auth_failed");
    assert.deepEqual(e.source, { ip: "203.0.113.1" });
  }
  assert.deepEqual(
    one(`${P}warning: unknown[203.0.113.2]:65535: SASL LOGIN authentication failed: x`).source,
    { ip: "203.0.113.2", port: 65535 },
  );
  assert.deepEqual(one(`${P}lost connection after EHLO from unknown[203.0.113.3]:70000`).source, {
    ip: "203.0.113.3",
  });
});

test("SASL logins are success events with the user name", () => {
  const e = one(
    `${P}5B1C2D3E4F: client=laptop.example.com[192.0.2.60]:50123, sasl_method=PLAIN, sasl_username=alice smith`,
  );
  assert.equal(e.event.action, "postfix_sasl_auth_success");
  assert.equal(e.event.outcome, "success");
  assert.equal(e.user?.name, "alice smith");
  assert.deepEqual(e.source, { ip: "192.0.2.60", port: 50123, domain: "laptop.example.com" });
  // An ordinary relayed message (no SASL) is not a login.
  assert.equal(run([`${P}5B1C2D3E4F: client=mx.example.net[192.0.2.61]`]).length, 0);
});

test("connection abuse: pipelining, errors, lost connections, auth=0/N, postscreen, rate limits", () => {
  const cases: [string, string, string][] = [
    [
      `${P}improper command pipelining after EHLO from unknown[192.0.2.70]: QUIT\\r\\n`,
      "postfix_pipelining",
      "192.0.2.70",
    ],
    [`${P}too many errors after RCPT from unknown[192.0.2.71]`, "postfix_too_many_errors", "192.0.2.71"],
    [`${P}lost connection after EHLO from unknown[192.0.2.72]`, "postfix_lost_connection", "192.0.2.72"],
    [
      `${P}NOQUEUE: lost connection after CONNECT from unknown[192.0.2.73]`,
      "postfix_lost_connection",
      "192.0.2.73",
    ],
    [
      `${P}disconnect from unknown[192.0.2.74] ehlo=1 auth=0/3 rset=1 commands=2/5`,
      "postfix_auth_disconnect",
      "192.0.2.74",
    ],
    [
      "Jun  3 10:11:12 mx1 postfix/postscreen[9]: PREGREET 11 after 0.1 from [192.0.2.75]:4000: EHLO [6.6.6.6]\\r\\n",
      "postfix_postscreen_violation",
      "192.0.2.75",
    ],
    [
      "Jun  3 10:11:12 mx1 postfix/postscreen[9]: HANGUP after 2.1 from [192.0.2.76]:4001 in tests after SMTP handshake",
      "postfix_postscreen_violation",
      "192.0.2.76",
    ],
    [
      "Jun  3 10:11:12 mx1 postfix/postscreen[9]: NON-SMTP COMMAND from [192.0.2.77]:4002 after CONNECT: GET / HTTP/1.1",
      "postfix_postscreen_violation",
      "192.0.2.77",
    ],
    [
      "Jun  3 10:11:12 mx1 postfix/postscreen[9]: COMMAND COUNT LIMIT from [192.0.2.78]:4003 after RCPT",
      "postfix_postscreen_violation",
      "192.0.2.78",
    ],
    [
      `${P}warning: Connection rate limit exceeded: 40 from unknown[192.0.2.79] for service smtp`,
      "postfix_rate_limited",
      "192.0.2.79",
    ],
    [
      `${P}warning: hostname fake.example.com does not resolve to address 2001:db8::80: Name or service not known`,
      "postfix_reverse_dns_mismatch",
      "2001:db8::80",
    ],
  ];
  for (const [line, action, ip] of cases) {
    const e = one(line);
    assert.equal(e.event.action, action, line);
    // Only the SASL warning is the authentication failure; the disconnect summary would count it twice.
    assert.notDeepEqual(e.event.category, ["authentication"], line);
    assert.equal(e.source?.ip, ip, line);
    assert.equal(e.event.outcome, "failure");
  }
});

test("postscreen COMMAND PIPELINING and smtpd's non-SMTP command warning are connection abuse (ddos mode)", () => {
  const pipe =
    "Jun  3 10:11:12 mx1 postfix/postscreen[9]: COMMAND PIPELINING from [192.0.2.81]:4004 after EHLO: MAIL FROM:<a@[203.0.113.9]>\\r\\n";
  const http = `${P}warning: non-SMTP command from unknown[192.0.2.82]: GET http://[203.0.113.9]/ HTTP/1.1`;
  const sub =
    "Jun  3 10:11:12 mx1 postfix/submission/smtpd[9]: warning: non-SMTP command from mail.example.net[2001:db8::83]:5123: POST / HTTP/1.1";
  assert.deepEqual(run([pipe, http, sub], "more"), []);
  assert.deepEqual(
    run([pipe, http, sub], "ddos").map((e) => [e.event.action, e.event.category, e.source, e.event.reason]),
    [
      ["postfix_postscreen_violation", ["network"], { ip: "192.0.2.81", port: 4004 }, "COMMAND PIPELINING"],
      ["postfix_non_smtp_command", ["network"], { ip: "192.0.2.82" }, "non-SMTP command"],
      [
        "postfix_non_smtp_command",
        ["network"],
        { ip: "2001:db8::83", port: 5123, domain: "mail.example.net" },
        "non-SMTP command",
      ],
    ],
  );
});

test("modes select the failure actions", () => {
  const sasl = `${P}warning: unknown[192.0.2.90]: SASL LOGIN authentication failed: authentication failure`;
  const rej = `${P}NOQUEUE: reject: RCPT from unknown[192.0.2.91]: 554 5.7.1 <a@example.org>: Relay access denied; from=<> to=<a@example.org> proto=SMTP`;
  const lost = `${P}lost connection after CONNECT from unknown[192.0.2.92]`;
  const errors = `${P}too many errors after DATA from unknown[192.0.2.93]`;
  const count = (mode: string) => run([sasl, rej, lost, errors], mode).map((e) => e.event.action);
  assert.deepEqual(count("more"), ["postfix_reject", "postfix_too_many_errors"]);
  assert.deepEqual(count("auth"), ["postfix_sasl_auth_failed"]);
  assert.deepEqual(count("ddos"), ["postfix_lost_connection"]);
  assert.deepEqual(count("errors"), ["postfix_too_many_errors"]);
  assert.deepEqual(count("extra"), ["postfix_sasl_auth_failed", "postfix_reject", "postfix_too_many_errors"]);
  assert.equal(count("aggressive").length, 4);
  assert.equal(Object.keys(postfix.modes)[0], "more");
});

test("addresses in attacker-controlled text are never taken", () => {
  // SASL user name with an embedded client, HELO/envelope with addresses, a fake `from x[ip]` in the reason.
  const a = one(
    `${P}warning: unknown[192.0.2.100]: SASL LOGIN authentication failed: authentication failure, sasl_username=x from unknown[203.0.113.9]: SASL`,
  );
  assert.equal(a.source?.ip, "192.0.2.100");
  assert.equal(a.user?.name, "x from unknown[203.0.113.9]: SASL");
  const b = one(
    `${P}NOQUEUE: reject: RCPT from unknown[192.0.2.101]: 554 5.7.1 <x@[203.0.113.9]>: Relay access denied; from=<RCPT from unknown[203.0.113.9]> to=<x@[203.0.113.9]> proto=ESMTP helo=<unknown[203.0.113.9]>`,
  );
  assert.equal(b.source?.ip, "192.0.2.101");
  // A SASL login whose user name imitates another client.
  const c = one(
    `${P}1A2B: client=unknown[192.0.2.102], sasl_method=PLAIN, sasl_username=client=unknown[203.0.113.9]`,
  );
  assert.equal(c.source?.ip, "192.0.2.102");
  // Garbage in the bracket is not an address.
  assert.equal(run([`${P}too many errors after RCPT from unknown[not-an-ip]`]).length, 0);
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. The parser finds its fields with searches
  // (counted); its regexes are anchored and run on a bounded slice or prefix. The scaling check on n/2 and n
  // guards against a search repeated over the rest of the line.
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `${P}warning: unknown${"[1.2.3.4".repeat(n / 8)}`, []],
    [
      (n) => `${P}NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 550 5.7.1 ${"; from=".repeat(n / 7)}`,
      [["postfix_reject", "192.0.2.1", undefined]],
    ],
    [(n) => `${P}warning: hostname ${"x ".repeat(n / 2)} does not resolve to address`, []],
    [(n) => `${P}disconnect from unknown[192.0.2.1] ${" auth=0/".repeat(n / 8)}`, []],
    [(n) => `${P}PREGREET 1 after 0 from [${"1".repeat(n)}`, []],
    // The user is the rest of the line (compared by its length).
    [
      (n) =>
        `${P}warning: unknown[192.0.2.1]: SASL LOGIN authentication failed: ${", sasl_username=".repeat(n / 16)}`,
      [["postfix_sasl_auth_failed", "192.0.2.1", (1 << 20) - 16]],
    ],
    [(n) => `${P}warning: Connection rate limit exceeded: ${"9".repeat(n)}`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
      make(16),
    );
  }
});
