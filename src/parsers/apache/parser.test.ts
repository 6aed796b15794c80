import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness } from "../../../test/support/parser-harness.ts";

const { run, one } = lineHarness("apache");

const V22 = "[Mon Jun 03 10:11:12 2024] [error] [client 203.0.113.5] ";
const V24 = (mod: string) =>
  `[Mon Jun 03 10:11:12.123456 2024] [${mod}:error] [pid 811:tid 1404] [client 203.0.113.6:50312] `;

test("Apache 2.2 and 2.4 basic-auth failures: user, address, port and time", () => {
  const a = one(`${V22}user mallory not found: /private/`);
  assert.equal(a.event.dataset, "apache");
  assert.equal(a.event.action, "apache_auth_failed");
  assert.equal(a.event.outcome, "failure");
  assert.deepEqual(a.event.category, ["authentication", "web"]);
  assert.equal(a.user?.name, "mallory");
  assert.deepEqual(a.source, { ip: "203.0.113.5" });
  assert.equal(a["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));

  const b = one(
    `${V24("auth_basic")}AH01617: user bob: authentication failure for "/admin": Password Mismatch`,
  );
  assert.equal(b.user?.name, "bob");
  assert.deepEqual(b.source, { ip: "203.0.113.6", port: 50312 });
  assert.equal(b["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12, 123));
  assert.equal(b.log?.level, "auth_basic:error");

  const empty = one(`${V24("auth_basic")}AH01618: user  not found: /admin`);
  assert.equal(empty.user?.name, "");
  const v6 = one(
    "[Mon Jun 03 10:11:12.5 2024] [auth_basic:error] [pid 1] [client [2001:DB8::9]:50000] AH01618: user x not found: /",
  );
  assert.deepEqual(v6.source, { ip: "2001:db8::9", port: 50000 });
  const remote = one(
    "[Mon Jun 03 10:11:12.5 2024] [auth_basic:error] [pid 1] [remote 203.0.113.7:4000] AH01618: user y not found: /",
  );
  assert.deepEqual(remote.source, { ip: "203.0.113.7", port: 4000 });
});

test("ErrorLogFormat: compact ISO times (%{c}t, %{cu}t) and the source-file prefix (%F)", () => {
  // ErrorLogFormat "[%{cu}t] [%-m:%l] [pid %P:tid %T] %7F: %E: [client\ %a] %M% ,\ referer\ %{Referer}i"
  const tail =
    '[client 192.0.2.7:51234] AH01617: user bob: authentication failure for "/private": Password Mismatch';
  const expected = (line: string, time: number) => ({
    "@timestamp": time,
    event: {
      dataset: "apache",
      action: "apache_auth_failed",
      outcome: "failure",
      category: ["authentication", "web"],
      reason: 'authentication failure for "/private": Password Mismatch',
    },
    message: line,
    source: { ip: "192.0.2.7", port: 51234 },
    log: { level: "auth_basic:error" },
    user: { name: "bob" },
  });
  const usec = Date.UTC(2013, 6, 20, 21, 39, 11, 978);
  const sec = Date.UTC(2013, 6, 20, 21, 39, 11);
  const cases: [string, number][] = [
    [`[2013-07-20 21:39:11.978080] [auth_basic:error] [pid 1234:tid 5678] ${tail}`, usec], // %{cu}t
    [`[2013-07-20 21:39:11] [auth_basic:error] [pid 1234:tid 5678] ${tail}`, sec], // %{c}t
    [
      `[Sat Jul 20 21:39:11.978080 2013] [auth_basic:error] [pid 1234:tid 5678] mod_auth_basic.c(422): ${tail}`,
      usec,
    ],
    [
      `[2013-07-20 21:39:11.978080] [auth_basic:error] [pid 1234:tid 5678] mod_auth_basic.c(422): ${tail}`,
      usec,
    ],
    [
      `[2013-07-20 21:39:11] [auth_basic:error] [pid 1234] mod_auth_basic.c(422): (13)Permission denied: ${tail}`,
      sec,
    ],
    [`[2013-07-20 21:39:11] [auth_basic:error] mod_auth_basic.c(422): ${tail}`, sec],
  ];
  // Compared as JSON, what is written (the event's internal marker is not).
  for (const [line, time] of cases)
    assert.deepEqual(JSON.parse(JSON.stringify(one(line))), expected(line, time), line);
  // Through syslog the time is the envelope's; the source-file prefix is skipped there too.
  const sys = one(
    `Jun  3 10:11:12 web1 httpd[811]: [auth_basic:error] [pid 811] mod_auth_basic.c(422): ${tail}`,
  );
  assert.deepEqual(
    [sys.event.action, sys.source, sys.user?.name, sys["@timestamp"]],
    ["apache_auth_failed", { ip: "192.0.2.7", port: 51234 }, "bob", Date.UTC(2024, 5, 3, 10, 11, 12)],
  );
  // A compact time that is no date, or is followed by more than the time, is not read: no event.
  for (const date of [
    "2013-13-20 21:39:11",
    "2013-02-30 21:39:11",
    "2013-07-20 25:39:11",
    "2013-07-20 21:39:11 x",
  ])
    assert.equal(run([`[${date}] [auth_basic:error] [pid 1] ${tail}`]).length, 0, date);
});

test("digest failures, authz failures, access denials, SNI mismatches", () => {
  const cases: [string, string, string | undefined][] = [
    [`${V22}Digest: user \`zoe' in realm \`private' not found: /d/`, "apache_auth_failed", "zoe"],
    [`${V24("auth_digest")}AH01792: user zoe: password mismatch: /d/`, "apache_auth_failed", "zoe"],
    [`${V22}Digest: invalid nonce abc= received - length is not 52`, "apache_auth_invalid", undefined],
    [
      `${V24("auth_digest")}AH01777: invalid nonce abc= received - user attempted time travel`,
      "apache_auth_invalid",
      undefined,
    ],
    [
      `${V24("auth_digest")}AH01788: realm mismatch - got \`x' but expected \`y'`,
      "apache_auth_invalid",
      undefined,
    ],
    [
      `${V24("auth_basic")}AH01614: client used wrong authentication scheme: /b/`,
      "apache_auth_invalid",
      undefined,
    ],
    [`${V24("authz_core")}AH01631: user ann: authorization failure for "/x": `, "apache_authz_failed", "ann"],
    [
      `${V22}Authorization of user ann to access /x failed, reason: file owner bob does not match.`,
      "apache_authz_failed",
      "ann",
    ],
    [
      `${V24("authz_core")}AH01630: client denied by server configuration: /srv/secret`,
      "apache_access_denied",
      undefined,
    ],
    [
      `${V24("ssl")}AH02033: No hostname was provided via SNI for a name based virtual host`,
      "apache_sni_mismatch",
      undefined,
    ],
    [
      `${V24("evasive20")}client denied by server configuration: /index.php, referer: https://x/`,
      "apache_evasive_denied",
      undefined,
    ],
  ];
  for (const [line, action, user] of cases) {
    const e = one(line);
    assert.equal(e.event.action, action, line);
    assert.equal(e.user?.name, user, line);
  }
  // A nonce that fails its hash check is what clients send after a server restart: not counted.
  assert.equal(
    run([`${V24("auth_digest")}AH01776: invalid nonce abc received - hash is not 0123`]).length,
    0,
  );
});

test("ModSecurity denials carry the rule and the status; warnings are ignored", () => {
  const m = one(
    `${V24("security2")}[client 203.0.113.6] ModSecurity: Access denied with code 403 (phase 2). Pattern match "x" at REQUEST_URI. [file "/etc/modsecurity/r.conf"] [line "1"] [id "942100"] [msg "SQL Injection Attack"] [hostname "example.org"] [uri "/?id=1"] [unique_id "abc"]`,
  );
  assert.equal(m.event.action, "apache_modsecurity_denied");
  assert.equal(m.event.reason, "ModSecurity rule 942100: SQL Injection Attack");
  assert.equal(m.http?.response?.status_code, 403);
  assert.deepEqual(m.source, { ip: "203.0.113.6", port: 50312 });
  assert.equal(
    run([`${V24("security2")}ModSecurity: Warning. Pattern match "x" at ARGS. [id "1"]`]).length,
    0,
  );
});

test("not-found errors are probes when the missing component is a scanner target", () => {
  const evs = run([
    `${V22}File does not exist: /var/www/html/phpMyAdmin`,
    `${V22}File does not exist: /var/www/html/roundcube, referer: http://example.org/`,
    `${V24("cgi")}AH01264: script not found or unable to stat: /usr/lib/cgi-bin/wp-login.php`,
    `${V22}script '/var/www/html/setup.php' not found or unable to stat`,
    `${V22}File does not exist: /var/www/html/favicon.ico`,
    `${V22}script '/var/www/html/blog/mail.php' not found or unable to stat`,
  ]);
  assert.deepEqual(
    evs.map((e) => e.event.action),
    ["http_probe", "http_probe", "http_probe", "http_probe"],
  );
});

test("spoofing: only the header's [client] is an address; messages cannot fake one", () => {
  // The not-found path carries a fake `[client ...] user ... not found`: a probe check on the path, not auth.
  assert.equal(run([`${V22}File does not exist: /var/www/[client 192.0.2.9] user root not found`]).length, 0);
  const u = one(`${V22}user [client 192.0.2.8] from 192.0.2.7 not found: /`);
  assert.deepEqual(u.source, { ip: "203.0.113.5" });
  assert.equal(u.user?.name, "[client 192.0.2.8] from 192.0.2.7");
  const r = one(
    `${V24("authz_core")}AH01630: client denied by server configuration: /x, referer: [client 192.0.2.6]`,
  );
  assert.deepEqual(r.source, { ip: "203.0.113.6", port: 50312 });
  // A user name holding ` not found` cannot hide the failure: the first ` not found:` ends it (no `:` in a
  // Basic user name).
  for (const name of ["a not found b", "not found", "x not found"]) {
    const n = one(`${V24("auth_basic")}AH01618: user ${name} not found: /private/ not found: x`);
    assert.deepEqual([n.event.action, n.user?.name], ["apache_auth_failed", name]);
  }
  // The source-file prefix is a source file's name and a line number, nothing else: a message that only looks
  // like one (`evil(1): `, `x.c(1)` without `: `, no number) is not skipped, so no client follows.
  for (const head of ["evil(1): ", "x.c(1)", "x.c(): ", "x.c(1):", "mod x.c(1): ", "x.c(12345678): "])
    assert.equal(
      run([`[2013-07-20 21:39:11] [error] [pid 1] ${head}[client 192.0.2.5] user root not found: /`]).length,
      0,
      head,
    );
  // A forged prefix and client inside the message are the message's text: the header's client is the source.
  const f = one(`${V24("auth_basic")}AH01618: user mod_x.c(1): [client 192.0.2.4:1] not found: /`);
  assert.deepEqual(
    [f.source, f.user?.name],
    [{ ip: "203.0.113.6", port: 50312 }, "mod_x.c(1): [client 192.0.2.4:1]"],
  );
  assert.equal(
    run([
      "[2013-07-20 21:39:11] [core:error] [pid 1] AH00126: mod_x.c(1): [client 192.0.2.3] user root not found: /",
    ]).length,
    0,
  );
  // Lines without a client in the header yield nothing.
  assert.equal(run(["[Mon Jun 03 10:11:12 2024] [notice] user x not found: [client 192.0.2.5]"]).length, 0);
});

test("ErrorLog syslog: programs httpd, apache2 and httpd/<vhost>, time from syslog", () => {
  const evs = run([
    "Jun  3 10:11:12 web1 httpd[811]: [authz_core:error] [pid 811] [client 203.0.113.10:5000] AH01630: client denied by server configuration: /srv/",
    "Jun  3 10:11:13 web1 httpd/shop[811]: [auth_basic:error] [pid 812] [client 203.0.113.11:5001] AH01618: user x not found: /",
    "Jun  3 10:11:14 web1 apache2[811]: [error] [client 203.0.113.12] user y not found: /",
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.source?.ip, e["@timestamp"], e.process?.name]),
    [
      ["apache_access_denied", "203.0.113.10", Date.UTC(2024, 5, 3, 10, 11, 12), "httpd"],
      ["apache_auth_failed", "203.0.113.11", Date.UTC(2024, 5, 3, 10, 11, 13), "httpd/shop"],
      ["apache_auth_failed", "203.0.113.12", Date.UTC(2024, 5, 3, 10, 11, 14), "apache2"],
    ],
  );
});

test("access log lines (shared reader): 401 with a user, probes", () => {
  const evs = run([
    '203.0.113.20 - jim [03/Jun/2024:10:11:12 +0000] "GET /secure/ HTTP/1.1" 401 381 "-" "Mozilla/5.0"',
    '203.0.113.21 - - [03/Jun/2024:10:11:12 +0000] "GET /phpmyadmin/ HTTP/1.1" 404 196 "-" "-"',
    '203.0.113.22 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 45 "-" "-"',
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.dataset, e.event.action, e.source?.ip]),
    [
      ["apache", "http_auth_failed", "203.0.113.20"],
      ["apache", "http_probe", "203.0.113.21"],
    ],
  );
});

test("modes", () => {
  const lines = [
    `${V22}user a not found: /`,
    `${V24("evasive20")}client denied by server configuration: /`,
    `${V24("security2")}ModSecurity: Access denied with code 403 (phase 2). [id "1"] [msg "m"]`,
    `${V22}File does not exist: /var/www/pma`,
    '203.0.113.30 - - [03/Jun/2024:10:11:12 +0000] "GET /private/ HTTP/1.1" 403 0 "-" "-"',
  ];
  const actions = (mode: string) => run(lines, mode).map((e) => e.event.action);
  assert.deepEqual(actions("normal"), [
    "apache_auth_failed",
    "apache_evasive_denied",
    "apache_modsecurity_denied",
    "http_probe",
  ]);
  assert.deepEqual(actions("auth"), ["apache_auth_failed"]);
  assert.deepEqual(actions("botsearch"), ["http_probe"]);
  assert.deepEqual(actions("modsecurity"), ["apache_modsecurity_denied"]);
  assert.equal(actions("aggressive").length, 5);
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. The line is read with searches and character
  // reads (counted); the two ModSecurity regexes (`[id "..."]`, `[msg "..."]`) are unanchored but match at most a
  // few hundred characters from any start, and each call is counted over the whole message. The scaling check on
  // n/2 and n guards against a search or a regex call repeated over the rest of the line.
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `${V22}user ${" not found".repeat(n / 10)}`, [["apache_auth_failed", "203.0.113.5"]]],
    [(n) => `${V22}user ${" not found".repeat(n / 10)}x`, []],
    [(n) => `${V22}File does not exist: ${"/".repeat(n)}`, []],
    [(n) => `[Mon Jun 03 10:11:12 2024] [error] ${"[client ".repeat(n / 8)}`, []],
    [(n) => `[Mon Jun 03 10:11:12 2024] [${"]".repeat(n)}`, []],
    [
      (n) => `${V24("security2")}ModSecurity: Access denied with code 403 ${'[id "'.repeat(n / 5)}`,
      [["apache_modsecurity_denied", "203.0.113.6"]],
    ],
    [
      (n) => `${V24("security2")}ModSecurity: Access denied with code 403 [msg "${"x".repeat(n)}`,
      [["apache_modsecurity_denied", "203.0.113.6"]],
    ],
    [(n) => `${V22}Digest: user \`${"' in realm `".repeat(n / 12)}`, []],
    [(n) => `${V22}script '${"'".repeat(n)}`, []],
    [
      (n) =>
        `[2013-07-20 21:39:11] [error] [pid 1] ${"a".repeat(n)}.c(1): [client 192.0.2.1] user x not found`,
      [],
    ],
    [
      (n) =>
        `[2013-07-20 21:39:11] [error] [pid 1] a.c(${"1".repeat(n)}): [client 192.0.2.1] user x not found`,
      [],
    ],
    [(n) => `[2013-07-20 ${"1".repeat(n)}`, []],
    [
      (n) =>
        `[2013-07-20 21:39:11] [auth_basic:error] [pid 1] a.c(1): [client 192.0.2.1] user ${"x".repeat(n)} not found`,
      [["apache_auth_failed", "192.0.2.1"]],
    ],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip]),
      expected,
      make(24),
    );
  }
});
