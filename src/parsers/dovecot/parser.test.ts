import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness, work } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("dovecot");

const S = "Jun  3 10:11:12 mail dovecot: ";

test("login-process failures take rip=, never lip=, and the user between <>", () => {
  const e = one(
    `${S}imap-login: Disconnected (auth failed, 2 attempts in 5 secs): user=<carol@example.org>, method=PLAIN, rip=198.51.100.20, lip=192.0.2.1, TLS, session=<AbCd+eF>`,
  );
  assert.equal(e.event.action, "dovecot_auth_failed");
  assert.equal(e.event.outcome, "failure");
  assert.equal(e.event.dataset, "dovecot");
  assert.deepEqual(e.event.category, ["authentication"]);
  assert.deepEqual(e.source, { ip: "198.51.100.20" });
  assert.equal(e.user?.name, "carol@example.org");
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));

  const v6 = one(
    "Jun  3 10:11:12 mail dovecot[88]: pop3-login: Login aborted: Connection closed (auth failed, 3 attempts in 9 secs) (auth_failed): user=<x y>, method=LOGIN, rip=2001:DB8:0:0::21, lip=::1, session=<q>",
  );
  assert.deepEqual(v6.source, { ip: "2001:db8::21" });
  assert.equal(v6.user?.name, "x y");

  const plain = one(
    `${S}pop3-login: Aborted login (tried to use disallowed plaintext auth): rip=198.51.100.22, lip=192.0.2.1, session=<z>`,
  );
  assert.equal(plain.event.action, "dovecot_auth_disallowed");
  assert.equal(plain.user, undefined);

  const old = one(
    `${S}pop3-login: Aborted login (2 authentication attempts): user=<v1>, method=PLAIN, rip=::ffff:198.51.100.24, lip=::ffff:192.0.2.1`,
  );
  assert.equal(old.event.action, "dovecot_auth_failed");
  assert.deepEqual(old.source, { ip: "198.51.100.24" });

  const proxy = one(
    `${S}imap-login: Disconnected (proxy dest auth failed): user=<p>, method=PLAIN, rip=198.51.100.23, lip=10.0.0.1`,
  );
  assert.equal(proxy.event.action, "dovecot_proxy_auth_failed");
});

test("connections without an authentication attempt count only in aggressive mode", () => {
  const lines = [
    `${S}imap-login: Disconnected (no auth attempts in 3 secs): user=<>, rip=198.51.100.30, lip=192.0.2.1, TLS handshaking: SSL_accept() failed: unknown protocol`,
    `${S}imap-login: Disconnected (disconnected before auth was ready, waited 0 secs): user=<>, rip=198.51.100.31, lip=192.0.2.1`,
    `${S}imap-login: Disconnected (client didn't finish SASL auth, waited 1 secs): user=<>, method=PLAIN, rip=198.51.100.32, lip=192.0.2.1`,
    `${S}imap-login: Login aborted: Connection closed: SSL_accept() failed: no shared cipher (disconnected during TLS handshake) (tls_handshake_not_finished): user=<>, rip=198.51.100.33, lip=192.0.2.1`,
  ];
  assert.deepEqual(run(lines, "normal"), []);
  const agg = run(lines, "aggressive");
  assert.deepEqual(
    agg.map((e) => [e.event.action, e.source?.ip, e.user]),
    [
      ["dovecot_no_auth_attempt", "198.51.100.30", undefined],
      ["dovecot_no_auth_attempt", "198.51.100.31", undefined],
      ["dovecot_auth_unfinished", "198.51.100.32", undefined],
      ["dovecot_tls_handshake_failed", "198.51.100.33", undefined],
    ],
  );
  // None of them is a refused login: the mail brute-force rule (category authentication) does not count them.
  assert.ok(agg.every((e) => e.event.category?.[0] === "network"));
});

test("successful logins are success events", () => {
  const e = one(
    `${S}imap-login: Login: user=<dave>, method=PLAIN, rip=198.51.100.40, lip=192.0.2.1, mpid=4711, TLS, session=<s>`,
  );
  assert.equal(e.event.action, "dovecot_login");
  assert.equal(e.event.outcome, "success");
  assert.equal(e.user?.name, "dave");
  assert.equal(e.source?.ip, "198.51.100.40");
});

test("dovecot 2.4: `Logged in:` successes, auth-worker `request [N]:` lines, named passdbs", () => {
  const ok = one(
    `${S}imap-login: Logged in: user=<dave>, method=PLAIN, rip=198.51.100.41, lip=192.0.2.1, mpid=4712, TLS, session=<s2>`,
  );
  assert.deepEqual(
    [ok.event.action, ok.event.outcome, ok.user?.name, ok.source],
    ["dovecot_login", "success", "dave", { ip: "198.51.100.41" }],
  );
  const lines = [
    "Jun  3 10:11:12 mail dovecot[996]: auth-worker(jose,198.51.100.42)<1489164><8oNSumM3A8mK/86a>: request [393]: unix_user: pam_authenticate() failed: Authentication failure (Password mismatch?)",
    "Jun  3 10:11:12 mail dovecot[996]: auth-worker(ana,198.51.100.43,sasl:plain)<1489164><s43>: request [5]: unix_user: pam_authenticate() failed: User not known to the underlying authentication module",
    "Jun  3 10:11:12 mail dovecot[996]: auth(ana,198.51.100.44)<s44>: passdb_users.v2: unknown user",
  ];
  assert.deepEqual(
    run(lines, "normal").map((e) => [
      e.event.action,
      e.source,
      e.user?.name,
      (e.dovecot as { session?: string } | undefined)?.session,
    ]),
    [
      ["dovecot_password_mismatch", { ip: "198.51.100.42" }, "jose", "8oNSumM3A8mK/86a"],
      ["dovecot_unknown_user", { ip: "198.51.100.43" }, "ana", "s43"],
      ["dovecot_unknown_user", { ip: "198.51.100.44" }, "ana", "s44"],
    ],
  );
});

test("a client that hangs up while its authentication is pending is an unfinished attempt (aggressive only)", () => {
  const line = `${S}imap-login: Login aborted: Connection closed (disconnected while authenticating, waited 1 secs) (auth_waiting_client): user=<zoe>, method=PLAIN, rip=198.51.100.45, lip=192.0.2.1, session=<s45>`;
  assert.deepEqual(run([line], "normal"), []);
  const e = one(line, "aggressive");
  assert.deepEqual(
    [e.event.action, e.event.category, e.source, e.user?.name],
    ["dovecot_auth_unfinished", ["network"], { ip: "198.51.100.45" }, "zoe"],
  );
});

test("authentication back ends: pam, sql, ldap, passwd-file, dovecot 2.4 and dovecot's own log file", () => {
  const cases: [string, string, string, string][] = [
    [
      `${S}auth-worker(991): pam(erin,198.51.100.50): pam_authenticate() failed: Authentication failure (password mismatch?)`,
      "dovecot_password_mismatch",
      "198.51.100.50",
      "erin",
    ],
    [
      `${S}auth: sql(frank@example.org,198.51.100.51,<Xy12>): unknown user`,
      "dovecot_unknown_user",
      "198.51.100.51",
      "frank@example.org",
    ],
    [
      "Jun  3 10:11:12 auth: Info: ldap(gina,198.51.100.52,): invalid credentials",
      "dovecot_password_mismatch",
      "198.51.100.52",
      "gina",
    ],
    [
      "Jun  3 10:11:12 mail dovecot[5]: dovecot: auth(default): passwd-file(hank,198.51.100.53): unknown user",
      "dovecot_unknown_user",
      "198.51.100.53",
      "hank",
    ],
    [
      "Jun  3 10:11:12 auth(ivy@example.org,198.51.100.54,sasl:plain)<Q1w2>: Info: sql: Password mismatch",
      "dovecot_password_mismatch",
      "198.51.100.54",
      "ivy@example.org",
    ],
    [
      "2024-06-03 10:11:12 auth-worker(default): Info: pam(jack,198.51.100.55): pam_authenticate() failed: User not known to the underlying authentication module",
      "dovecot_unknown_user",
      "198.51.100.55",
      "jack",
    ],
    [
      "Jun  3 10:11:12 mail dovecot: auth-worker(77): conn unix:auth-worker (pid=70,uid=97): auth-worker<3>: sql(kim,198.51.100.56): Password mismatch",
      "dovecot_password_mismatch",
      "198.51.100.56",
      "kim",
    ],
  ];
  for (const [line, action, ip, user] of cases) {
    const e = one(line, "normal");
    assert.equal(e.event.action, action, line);
    assert.equal(e.source?.ip, ip, line);
    assert.equal(e.user?.name, user, line);
  }
  // A server-side PAM problem is not the client's failure.
  assert.equal(
    run([
      `${S}auth-worker(9): pam(x,198.51.100.57): pam_authenticate() failed: Authentication service cannot retrieve authentication info`,
    ]).length,
    0,
  );
});

test("PAM lines written by dovecot's auth process", () => {
  const a = one(
    "Jun  3 10:11:12 mail auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=lena rhost=198.51.100.60",
  );
  assert.equal(a.event.action, "dovecot_pam_auth_failed");
  assert.deepEqual(a.source, { ip: "198.51.100.60" });
  assert.equal(a.user?.name, "lena");
  const b = one(
    "@4000000066a1b2c30000000a dovecot-auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=root rhost=198.51.100.61  user=root",
  );
  assert.deepEqual(b.source, { ip: "198.51.100.61" });
  assert.equal(b.user?.name, "root");
});

test("addresses injected through user names or passwords are never reported", () => {
  // Login line: a user name imitating `rip=`; the real rip= follows the user.
  const a = one(
    `${S}imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<x>, method=PLAIN, rip=203.0.113.9, lip=1.1.1.1>, method=PLAIN, rip=198.51.100.70, lip=192.0.2.1, TLS`,
  );
  assert.equal(a.source?.ip, "198.51.100.70");
  assert.equal(a.user?.name, "x>, method=PLAIN, rip=203.0.113.9, lip=1.1.1.1");
  // A user name that fakes a whole reason does not change the classification.
  assert.deepEqual(
    run(
      [
        `${S}imap-login: Disconnected (no auth attempts in 0 secs): user=<(auth failed, 1 attempts)>, rip=198.51.100.71, lip=192.0.2.1`,
      ],
      "normal",
    ),
    [],
  );
  // Back end: a user name imitating `,ip): unknown user`.
  const b = one(`${S}auth: sql(x,203.0.113.9): unknown user,198.51.100.72,<s1>): Password mismatch`);
  assert.equal(b.source?.ip, "198.51.100.72");
  assert.equal(b.user?.name, "x,203.0.113.9): unknown user");
  // Back end with the given password logged: both sides are attacker text, so no address at all.
  const c = one(
    `${S}auth: sql(bob,198.51.100.73,<s2>): Password mismatch (given password: a,203.0.113.9): unknown user)`,
  );
  assert.equal(c.event.outcome, "failure");
  assert.equal(c.source, undefined);
  // PAM: `ruser=` carrying a fake rhost (the fail2ban case) and a fake on both sides.
  const d = one(
    "Jun  3 10:11:12 mail auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=rhost=203.0.113.9 rhost=198.51.100.74",
  );
  assert.equal(d.source?.ip, "198.51.100.74");
  const e = one(
    "Jun  3 10:11:12 mail auth: pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=a rhost=203.0.113.9  user=b rhost=198.51.100.75",
  );
  assert.equal(e.source, undefined);
});

test("unrelated dovecot lines produce nothing", () => {
  const lines = [
    `${S}imap(dave)<4711><s>: Disconnected: Logged out in=70 out=900`,
    `${S}master: Dovecot v2.3.21 starting up for imap, pop3`,
    `${S}imap-login: Disconnected: a: a: a: a: a: test no match`,
    `${S}auth: Error: sql(x,198.51.100.80): Password query failed: connection lost`,
  ];
  assert.deepEqual(run(lines), []);
});

test("only login processes and the auth process are read: text senders write in other services' lines is not", () => {
  // lmtp/lda delivery logs (default format), sieve, imap's mail_log plugin: the Message-ID and addresses are the
  // sender's text; auth_debug echoes requests. None of these is a login result, whatever the text imitates.
  const lines = [
    `${S}lmtp(alice)<12345><qwFhAbc>: msgid=<x,203.0.113.66): unknown user>: saved mail to INBOX`,
    `${S}lmtp(alice)<12345><qwFhAbc>: msgid=<y,203.0.113.66): Password mismatch@evil>: saved mail to INBOX`,
    `${S}lmtp(alice)<12345><qwFhAbc>: msgid=<(auth failed: user=<x>, rip=203.0.113.77, z@evil>: saved mail to INBOX`,
    `${S}lmtp(alice)<12345><qwFhAbc>: sieve: msgid=<a@b>: sent vacation response to <q,203.0.113.78): unknown user@evil>`,
    `${S}lmtp(12345, alice): msgid=<r,203.0.113.66): unknown user>: saved mail to INBOX`,
    `${S}lda(alice)<12346><qwFhAbd>: msgid=<z,203.0.113.66): unknown user>: saved mail to INBOX`,
    `${S}lda(alice): msgid=<z,203.0.113.66): pam_authenticate() failed: Permission denied>: saved mail to INBOX`,
    `${S}imap(alice)<12347><s>: Info: expunge: box=INBOX, uid=5, msgid=<q,203.0.113.66): unknown user>, size=100`,
    `${S}imap(alice)<12347><s>: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=203.0.113.79, lip=192.0.2.1`,
    `${S}auth: Debug: passwd-file(x,203.0.113.66): unknown user,198.51.100.7,<sess>): lookup: user=x file=/etc/users`,
    `${S}auth-worker(12): Debug: pam(x,203.0.113.66,<s>): pam_authenticate() failed: Authentication failure`,
    "Jun  3 10:11:12 auth(x,203.0.113.66,sasl:plain)<s>: Debug: sql: Password mismatch",
    // A back-end shape after the auth prefix, but no passdb driver's name.
    `${S}auth: lmtp(x,203.0.113.66): unknown user`,
    // A login-line shape from the auth process.
    `${S}auth: Disconnected (auth failed, 1 attempts): user=<x>, method=PLAIN, rip=203.0.113.80, lip=192.0.2.1`,
  ];
  assert.deepEqual(run(lines), []);
  // The same back-end and login lines from their own services are read.
  assert.equal(one(`${S}auth: passwd-file(x,198.51.100.81): unknown user`).source?.ip, "198.51.100.81");
  assert.equal(
    one(
      "Jun  3 10:11:12 mail pop3-login: Info: Aborted login (auth failed, 1 attempts): user=<x>, rip=198.51.100.82",
    ).source?.ip,
    "198.51.100.82",
  );
});

test("a login process's summary weighs the session's failed attempts", () => {
  const line = (n: string) =>
    `${S}imap-login: Disconnected (auth failed, ${n} attempts in 60 secs): user=<bob>, method=PLAIN, rip=192.0.2.51, lip=192.0.2.9, TLS, session=<abd>`;
  assert.equal(one(line("10")).event.count, 10);
  assert.equal(one(line("1")).event.count, undefined);
  // Bounded: one line does not weigh as much as a whole attack.
  assert.equal(one(line("5000")).event.count, 1000);
  assert.equal(
    one(`${S}pop3-login: Aborted login (3 authentication attempts): user=<v1>, method=PLAIN, rip=192.0.2.52`)
      .event.count,
    3,
  );
  // rsyslog's repeat count multiplies it.
  const rep = one(
    `Jun  3 10:11:12 mail dovecot: message repeated 4 times: [ imap-login: Disconnected (auth failed, 3 attempts in 9 secs): user=<bob>, method=PLAIN, rip=192.0.2.53, lip=192.0.2.9]`,
  );
  assert.equal(rep.event.count, 12);
  // Other login-line results are one event each.
  assert.equal(
    one(
      `${S}imap-login: Disconnected (proxy dest auth failed): user=<p>, method=PLAIN, rip=192.0.2.54, lip=10.0.0.1`,
    ).event.count,
    undefined,
  );
});

test("back-end lines carry the login session they came from (none for SASL clients such as Postfix)", () => {
  const session = (line: string) => (one(line).dovecot as { session?: string } | undefined)?.session;
  assert.equal(
    session(
      `${S}auth-worker(1234): pam(alice,198.51.100.20,<s1>): pam_authenticate() failed: Permission denied`,
    ),
    "s1",
  );
  assert.equal(session(`${S}auth: sql(bob,198.51.100.21,<Xy12+/ab>): unknown user`), "Xy12+/ab");
  assert.equal(
    session("Jun  3 10:11:12 auth(ivy,198.51.100.22,sasl:plain)<Q1w2>: Info: sql: Password mismatch"),
    "Q1w2",
  );
  assert.equal(session(`${S}auth: passwd-file(dave,198.51.100.23): Password mismatch`), undefined);
  assert.equal(
    session(`${S}auth(dave,198.51.100.24,sasl:login): Info: passwd-file: unknown user`),
    undefined,
  );
  assert.equal(
    session("Jun  3 10:11:12 auth: Info: ldap(gina,198.51.100.25,): invalid credentials"),
    undefined,
  );
  // A given password imitating a closing with a session: which one dovecot wrote is unknown, so none is reported.
  assert.equal(
    session(
      `${S}auth: sql(bob,198.51.100.26): Password mismatch (given password: a,198.51.100.26,<s9>): unknown user)`,
    ),
    undefined,
  );
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. The parser reads these lines with searches and
  // character reads (counted); its regexes are sticky or anchored and bounded ({1,20}, {0,60}), so their calls,
  // counted up to their match, are the whole of the work: the scaling check on n/2 and n is the guard.
  const lines: [(n: number) => string, unknown[]][] = [
    [
      (n) => `${S}imap-login: Disconnected ${"(auth failed".repeat(n / 12)}: user=<${", rip=".repeat(n / 6)}`,
      [["dovecot_auth_failed", undefined, undefined]],
    ],
    [
      (n) => `${S}imap-login: Disconnected (auth failed): user=<${" rip=1".repeat(n / 6)}`,
      [["dovecot_auth_failed", undefined, undefined]],
    ],
    // The user is everything up to the last `,IP): unknown user` (1 MB of it).
    [
      (n) => `${S}auth: sql(${"x,1.2.3.4): unknown user".repeat(n / 24)}`,
      [["dovecot_unknown_user", "1.2.3.4", 1048537]],
    ],
    [(n) => `${S}auth: sql(${"a)<b>: ".repeat(n / 7)}`, []],
    [
      (n) => `${S}auth: sql(${"x,1.2.3.4,<s>): Password mismatch ".repeat(n / 33)}(given password: )`,
      [["dovecot_password_mismatch", undefined, undefined]],
    ],
    [(n) => `${S}auth: sql(${")".repeat(n)}`, []],
    [
      (n) =>
        `Jun  3 10:11:12 mail auth: pam_unix(dovecot:auth): authentication failure; ruser=${" rhost=1.2.3.4  user=".repeat(n / 21)}`,
      [["dovecot_pam_auth_failed", "1.2.3.4", 1048551]],
    ],
    [
      (n) =>
        `Jun  3 10:11:12 mail auth: pam_unix(dovecot:auth): authentication failure; ruser=${"x".repeat(n)}`,
      [["dovecot_pam_auth_failed", undefined, undefined]],
    ],
    [(n) => `${S}${"dovecot: ".repeat(n / 9)}`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    // Long user names are compared by their length.
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
      make(8),
    );
  }
});

test("back ends: a line of 1 MB full of `)<` costs work linear in its length", () => {
  // Each `)` followed by `<` used to search the rest of the line for `>`: 2.5 s for this line.
  const lines = [
    `Jun  1 10:00:00 host dovecot: auth: sql(${")<".repeat(500_000)}`,
    `${S}auth: sql(x,198.51.100.90,<s>): Password mismatch (given password: ${")<a>: x".repeat(150_000)})`,
  ];
  for (const line of lines) {
    let evs: ReturnType<typeof run> = [];
    const w = work(() => (evs = run([line])));
    assert.ok(w < 20 * line.length, `${w} characters examined for a line of ${line.length}`);
    if (line.includes("given password")) {
      assert.deepEqual(
        evs.map((e) => [e.event.action, e.source?.ip, e.user?.name]),
        [["dovecot_password_mismatch", "198.51.100.90", "x"]],
      );
    } else assert.deepEqual(evs, []);
  }
});
