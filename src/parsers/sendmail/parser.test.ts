import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("sendmail");

const P = "Jun  3 10:11:12 relay sm-mta[4242]: 453AbCdE004242: ";

test("AUTH failures: user, relay address, host name unless forged", () => {
  const e = one(
    `${P}AUTH failure (PLAIN): authentication failure (-13) SASL(-13): authentication failure: Password verification failed, user=mia@example.org, relay=client.example.net [198.51.100.10]`,
  );
  assert.equal(e.event.action, "sendmail_auth_failed");
  assert.equal(e.event.outcome, "failure");
  assert.equal(e.event.dataset, "sendmail");
  assert.deepEqual(e.event.category, ["authentication"]);
  assert.deepEqual(e.source, { ip: "198.51.100.10", domain: "client.example.net" });
  assert.equal(e.user?.name, "mia@example.org");
  assert.equal(e.event.mechanism, "PLAIN");
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));

  const forged = one(
    "Jun  3 10:11:12 relay sendmail[7]: 453AbCdE004243: AUTH failure (LOGIN): user not found (-20) SASL(-13): user not found: unable to canonify user, user=nils, relay=fake.example.com [IPv6:2001:db8::10] (may be forged)",
  );
  assert.deepEqual(forged.source, { ip: "2001:db8::10" });
  assert.equal(forged.user?.name, "nils");

  const noUser = one(
    `${P}AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, relay=[198.51.100.11]`,
  );
  assert.equal(noUser.user, undefined);
  assert.equal(noUser.source?.ip, "198.51.100.11");
});

test("server-side SASL errors are not failures", () => {
  assert.deepEqual(
    run([
      `${P}AUTH failure (DIGEST-MD5): generic failure (-1) SASL(-1): generic failure: unable to open sasldb, user=x, relay=[198.51.100.12]`,
    ]),
    [],
  );
});

test("possible SMTP attack: AUTH is an authentication failure, other commands only in aggressive mode", () => {
  const a = one(
    `${P}mail.example.net [198.51.100.20] (may be forged): possible SMTP attack: command=AUTH, count=7`,
  );
  assert.equal(a.event.action, "sendmail_auth_attack");
  assert.deepEqual(a.source, { ip: "198.51.100.20" });
  assert.equal(a.event.reason, "possible SMTP attack: command=AUTH, count=7");
  assert.equal(a.event.count, undefined);
  const rcpt = `${P}[198.51.100.21]: possible SMTP attack: command=RCPT, count=100`;
  assert.deepEqual(run([rcpt], "normal"), []);
  assert.equal(one(rcpt, "aggressive").event.action, "sendmail_smtp_attack");
});

test("AUTH successes are success events", () => {
  const e = one(`${P}AUTH=server, relay=laptop.example.net [198.51.100.30], authid=olga, mech=LOGIN, bits=0`);
  assert.equal(e.event.action, "sendmail_auth_success");
  assert.equal(e.event.outcome, "success");
  assert.equal(e.user?.name, "olga");
  assert.deepEqual(e.source, { ip: "198.51.100.30", domain: "laptop.example.net" });
});

test("check_* rejects in reject mode, not in the default mode", () => {
  const line = `${P}ruleset=check_rcpt, arg1=<p@example.org>, relay=[198.51.100.40], reject=550 5.7.1 <p@example.org>... Relaying denied`;
  assert.deepEqual(run([line]).length, 1);
  assert.deepEqual(run([line], "normal"), []);
  const e = one(line, "reject");
  assert.equal(e.event.action, "sendmail_reject");
  assert.equal(e.source?.ip, "198.51.100.40");
  // A full mailbox is not the client's doing.
  assert.deepEqual(
    run([
      `${P}ruleset=check_rcpt, arg1=<q@example.org>, relay=[198.51.100.41], reject=452 4.2.2 <q@example.org>... Mailbox full`,
    ]),
    [],
  );
});

test("ratecontrol/conncontrol limits (4.3.2) are rate-limit failures, not skipped as system conditions", () => {
  const rate = `${P}ruleset=check_relay, arg1=[198.51.100.60], arg2=198.51.100.60, relay=[198.51.100.60], reject=421 4.3.2 Connection rate limit exceeded.`;
  const conn = `${P}ruleset=check_relay, arg1=host.example.net, arg2=198.51.100.61, relay=host.example.net [198.51.100.61], reject=421 4.3.2 Too many open connections.`;
  assert.deepEqual(run([rate, conn], "normal"), []);
  const evs = run([rate, conn], "reject");
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.event.category, e.source, e.event.reason]),
    [
      [
        "sendmail_rate_limited",
        ["network"],
        { ip: "198.51.100.60" },
        "421 4.3.2 Connection rate limit exceeded.",
      ],
      [
        "sendmail_rate_limited",
        ["network"],
        { ip: "198.51.100.61", domain: "host.example.net" },
        "421 4.3.2 Too many open connections.",
      ],
    ],
  );
  // Other 4.3.x replies are still the server's condition.
  assert.deepEqual(
    run(
      [
        `${P}ruleset=check_relay, arg1=[198.51.100.62], arg2=198.51.100.62, relay=[198.51.100.62], reject=451 4.3.0 Temporary system failure.`,
      ],
      "reject",
    ),
    [],
  );
});

test("greet_pause and connections without MAIL: pre-greeting traffic (reject mode), no MAIL (aggressive)", () => {
  const pre = `${P}rejecting commands from mx.example.net [198.51.100.63] due to pre-greeting traffic after 0 seconds`;
  const preNoName = `${P}rejecting commands from  [IPv6:2001:db8::64] due to pre-greeting traffic after 2 seconds`;
  const noMail = `${P}mx.example.net [198.51.100.65] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA`;
  const forged = `${P}x.example [198.51.100.66] (may be forged) did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA-v4`;
  // An ident answer (`user@` before the host name) is the client's text: the address is still the last bracket.
  const ident = `${P}a [203.0.113.9] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA@x.example [198.51.100.67] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA`;
  assert.deepEqual(run([pre, preNoName, noMail, forged, ident], "normal"), []);
  assert.deepEqual(
    run([pre, preNoName, noMail, forged, ident], "reject").map((e) => [e.event.action, e.source]),
    [
      ["sendmail_pregreet", { ip: "198.51.100.63", domain: "mx.example.net" }],
      ["sendmail_pregreet", { ip: "2001:db8::64" }],
    ],
  );
  assert.deepEqual(
    run([pre, preNoName, noMail, forged, ident], "aggressive").map((e) => [
      e.event.action,
      e.event.category,
      e.source,
    ]),
    [
      ["sendmail_pregreet", ["network"], { ip: "198.51.100.63", domain: "mx.example.net" }],
      ["sendmail_pregreet", ["network"], { ip: "2001:db8::64" }],
      ["sendmail_no_mail_command", ["network"], { ip: "198.51.100.65", domain: "mx.example.net" }],
      ["sendmail_no_mail_command", ["network"], { ip: "198.51.100.66" }],
      ["sendmail_no_mail_command", ["network"], { ip: "198.51.100.67" }],
    ],
  );
});

test("addresses injected through user names, host names or arguments are never reported", () => {
  // The fail2ban case: a user name carrying a relay= of its own.
  const a = one(
    `${P}AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=x, relay=[203.0.113.9], relay=[198.51.100.50]`,
  );
  assert.equal(a.source?.ip, "198.51.100.50");
  // A reverse-DNS name carrying a bracketed address.
  const b = one(
    `${P}x [203.0.113.9] [198.51.100.51] (may be forged): possible SMTP attack: command=AUTH, count=5`,
  );
  assert.equal(b.source?.ip, "198.51.100.51");
  // arg1 imitating `relay=..., reject=`: the two relays disagree, so no address is reported.
  const c = one(
    `${P}ruleset=check_rcpt, arg1=<x, relay=[203.0.113.9], reject=550 5.7.1 y>, relay=[198.51.100.52], reject=550 5.7.1 <x>... Relaying denied`,
  );
  assert.equal(c.event.outcome, "failure");
  assert.equal(c.source, undefined);
  // The SASL detail repeats the user name; the address still comes from the last relay=.
  const d = one(
    `${P}AUTH failure (CRAM-MD5): user not found (-20) SASL(-13): user not found: user: a, relay=[203.0.113.9] property: userPassword not found, user=a, relay=[198.51.100.53]`,
  );
  assert.equal(d.source?.ip, "198.51.100.53");
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. Fields are found with searches (counted); the
  // regexes are anchored and run on slices of at most 32 characters. The scaling check on n/2 and n guards
  // against a search repeated over the rest of the line. The bound is higher than elsewhere: for each
  // `, reject=` the parser looks back at most 330 characters for its `relay=` (25 characters per character of
  // the first line, linear all the same).
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `${P}ruleset=check_rcpt, ${", reject=550 ".repeat(n / 13)}`, []],
    [
      (n) => `${P}ruleset=check_rcpt, ${"relay=[1.2.3.4], reject=550 ".repeat(n / 28)}`,
      [["sendmail_reject", "1.2.3.4", undefined]],
    ],
    // The user is the text after the last `, user=` (here none).
    [
      (n) =>
        `${P}AUTH failure (LOGIN): authentication failure (-13) ${", user=".repeat(n / 7)}, relay=[1.2.3.4]`,
      [["sendmail_auth_failed", "1.2.3.4", ""]],
    ],
    [
      (n) => `${P}${"[1.2.3.4]".repeat(n / 9)}: possible SMTP attack: command=AUTH, count=5`,
      [["sendmail_auth_attack", "1.2.3.4", undefined]],
    ],
    [(n) => `${P}AUTH=server, relay=${"[".repeat(n)}`, []],
    [
      (n) => `${P}${"[1.2.3.4] did not issue MAIL/EXPN/VRFY/ETRN during connection to ".repeat(n / 65)}MTA`,
      [["sendmail_no_mail_command", "1.2.3.4", undefined]],
    ],
    [(n) => `${P}rejecting commands from ${"[".repeat(n)} due to pre-greeting traffic after 1 seconds`, []],
    [(n) => `${P}${"1".repeat(n)}`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 40 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip, e.user?.name]),
      expected,
      make(28),
    );
  }
});
