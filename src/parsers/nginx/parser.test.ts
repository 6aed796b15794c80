import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness, time } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { LineFramer } from "../../framing/framer.ts";
import { ParserSet } from "../dispatch.ts";

const { run, one } = lineHarness("nginx");

const E = "2024/06/03 10:11:12 [error] 4242#4242: *17 ";
const TAIL = ', server: www.example.org, request: "GET /private/ HTTP/1.1", host: "www.example.org"';

test("lines refused for an untrustworthy address are reported with their reason, not dropped silently", () => {
  const refused: string[] = [];
  const set = new ParserSet({ time, only: ["nginx"], onRejected: (p, why) => refused.push(`${p}: ${why}`) });
  const framer = new LineFramer(time);
  const out: SecurityEvent[] = [];
  for (const l of [
    // A decoded path may hold a whole fake context, a fake referrer included: which client is nginx's is unknown.
    `${E}open() "/srv/www/x), client: 192.0.2.99, server: a, request: "GET /pma/ HTTP/1.1", host: "h", referrer: "z" failed (2: No such file or directory), client: 203.0.113.21, server: a, request: "GET /x)%2C HTTP/1.1", host: "h"`,
    `${E}user "${", client: 192.0.2.1, server: a".repeat(9)}": password mismatch, client: 203.0.113.23${TAIL}`,
    `${E}user "carol": password mismatch, client: 203.0.113.24${TAIL}`,
    `${E}limiting requests, excess: 0.5 by zone "one", client: 203.0.113.25${TAIL}`,
  ]) {
    set.parse(framer.frame(l)!, out);
  }
  assert.deepEqual(refused, ["nginx: client address after a referrer", "nginx: too many client addresses"]);
  assert.deepEqual(
    out.map((e) => e.source?.ip),
    ["203.0.113.24", "203.0.113.25"],
  );
});

test("basic auth: unknown user and wrong password, with user, address, time and request", () => {
  const a = one(`${E}user "mallory" was not found in "/etc/nginx/htpasswd", client: 203.0.113.5${TAIL}`);
  assert.equal(a.event.dataset, "nginx");
  assert.equal(a.event.action, "nginx_auth_failed");
  assert.equal(a.event.outcome, "failure");
  assert.deepEqual(a.event.category, ["authentication", "web"]);
  assert.equal(a.event.reason, "user not found");
  assert.deepEqual(a.source, { ip: "203.0.113.5" });
  assert.equal(a.user?.name, "mallory");
  assert.equal(a["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));
  assert.equal(a.url?.path, "/private/");
  assert.equal(a.http?.request?.method, "GET");

  const b = one(
    `${E}user "mal lory": password mismatch, client: 2001:DB8::7${TAIL}, referrer: "https://x.example/"`,
  );
  assert.equal(b.event.reason, "password mismatch");
  assert.equal(b.user?.name, "mal lory");
  assert.deepEqual(b.source, { ip: "2001:db8::7" });

  const pam = one(
    `${E}PAM: user 'eve' - not authenticated: Authentication failure, client: 203.0.113.6${TAIL}`,
  );
  assert.equal(pam.event.action, "nginx_auth_failed");
  assert.equal(pam.user?.name, "eve");
  assert.equal(pam.event.reason, "not authenticated: Authentication failure");
});

test("limit_req, delayed requests and limit_conn", () => {
  const r = one(`${E}limiting requests, excess: 3.120 by zone "api", client: 203.0.113.7${TAIL}`);
  assert.equal(r.event.action, "nginx_limit_req");
  assert.equal(r.event.reason, 'limiting requests, excess: 3.120 by zone "api"');
  const d = one(
    `2024/06/03 10:11:12 [warn] 1#1: *2 delaying request, excess: 0.500, by zone "api", client: 203.0.113.8${TAIL}`,
  );
  assert.equal(d.event.action, "nginx_limit_req_delayed");
  assert.equal(d.log?.level, "warn");
  const c = one(`${E}limiting connections by zone "perip", client: 203.0.113.9${TAIL}`);
  assert.equal(c.event.action, "nginx_limit_conn");
});

test("limit_req_dry_run / limit_conn_dry_run lines are not failures: the request was served", () => {
  assert.deepEqual(
    run([
      `${E}limiting requests, dry run, excess: 3.120 by zone "api", client: 203.0.113.7${TAIL}`,
      `2024/06/03 10:11:12 [warn] 1#1: *2 delaying request, dry run, excess: 0.500, by zone "api", client: 203.0.113.8${TAIL}`,
      `${E}limiting connections, dry run, by zone "perip", client: 203.0.113.9${TAIL}`,
    ]),
    [],
  );
});

test("TLS handshake failures; upstream errors are not failures", () => {
  const s = one(
    "2024/06/03 10:11:12 [crit] 9#9: *3 SSL_do_handshake() failed (SSL: error:0A00010B:SSL routines::wrong version number) while SSL handshaking, client: 203.0.113.10, server: 0.0.0.0:443",
  );
  assert.equal(s.event.action, "nginx_ssl_handshake_failed");
  assert.deepEqual(s.event.category, ["network"]);
  assert.equal(s.url, undefined);
  assert.equal(
    run([
      `${E}connect() failed (111: Connection refused) while connecting to upstream, client: 203.0.113.11${TAIL}`,
    ]).length,
    0,
  );
  assert.equal(
    run([`${E}SSL_shutdown() failed (SSL: error:0A000126), client: 203.0.113.12${TAIL}`]).length,
    0,
  );
  // A client that finished the handshake and closed without close_notify (OpenSSL 3): a browser, not junk.
  assert.deepEqual(
    run([
      "2024/06/03 10:11:12 [crit] 9#9: *4 SSL_read() failed (SSL: error:0A000126:SSL routines::unexpected eof while reading) while keepalive, client: 203.0.113.13, server: 0.0.0.0:443",
      "2024/06/03 10:11:12 [crit] 9#9: *5 SSL_read() failed (SSL: error:0A000461:SSL routines::reason(1121):SSL alert number 121) while waiting for request, client: 203.0.113.14, server: 0.0.0.0:443",
    ]).map((e) => [e.event.action, e.source?.ip]),
    [["nginx_ssl_handshake_failed", "203.0.113.14"]],
  );
});

test("not-found errors are probes only for well-known attack paths", () => {
  const p = one(
    `${E}open() "/srv/www/wp-login.php" failed (2: No such file or directory), client: 203.0.113.13, server: x, request: "POST /wp-login.php HTTP/1.1", host: "x"`,
  );
  assert.equal(p.event.action, "http_probe");
  assert.equal(p.url?.path, "/wp-login.php");
  const q = one(
    `${E}"/srv/www/phpmyadmin/index.html" is not found (2: No such file or directory), client: 203.0.113.14, server: x, request: "GET /phpmyadmin/ HTTP/1.1", host: "x"`,
  );
  assert.equal(q.event.action, "http_probe");
  assert.equal(
    run([
      `${E}open() "/srv/www/favicon.ico" failed (2: No such file or directory), client: 203.0.113.15, server: x, request: "GET /favicon.ico HTTP/1.1", host: "x"`,
    ]).length,
    0,
  );
});

test("spoofing: addresses injected in user names, paths and referrers are never taken", () => {
  // A user name carrying a complete fake message tail: nginx's own client comes after it.
  const u = one(
    `${E}user "x": password mismatch, client: 127.0.0.1, server: a, request: "GET / HTTP/1.1", host: "a"" was not found in "/etc/nginx/htpasswd", client: 203.0.113.20${TAIL}`,
  );
  assert.deepEqual(u.source, { ip: "203.0.113.20" });
  assert.equal(u.event.reason, "user not found");
  // A referrer carrying a fake message tail: nginx writes the referrer last, and a user name cannot hold
  // `, referrer: "` (nginx cuts Basic credentials at the first `:`, so a user name has none), so the client
  // before the first referrer is nginx's. Refusing these lines let any brute forcer hide behind a Referer header;
  // fail2ban's anchored regex takes the last client, i.e. the fake one. The second line is the same text with the
  // addresses swapped: its first client is nginx's too (a user name holding the fake context and referrer would
  // need `:`s).
  assert.deepEqual(
    run([
      `${E}user "bob": password mismatch, client: 203.0.113.21${TAIL}, referrer: "x": password mismatch, client: 192.0.2.99, server: a, request: "GET / HTTP/1.1", host: "a"`,
      `${E}user "a": password mismatch, client: 192.0.2.99, server: a, request: "GET / HTTP/1.1", host: "a", referrer: "x": password mismatch, client: 203.0.113.21${TAIL}`,
      '2014/04/01 22:20:38 [error] 30708#0: *3 user "bob": password mismatch, client: 192.0.2.11, server: , request: "GET / HTTP/1.1", host: "localhost:8443", referrer: "a": password mismatch, client: 9.9.9.9, server: s, request: "GET / HTTP/1.1"',
      `${E}user "bob" was not found in "/etc/nginx/htpasswd", client: 203.0.113.25${TAIL}, referrer: "x" was not found in "/y", client: 192.0.2.98${TAIL}`,
      `${E}PAM: user 'bob' - not authenticated: Authentication failure, client: 203.0.113.26${TAIL}, referrer: "x' - y, client: 192.0.2.97${TAIL}"`,
    ]).map((e) => [e.source?.ip, e.user?.name]),
    [
      ["203.0.113.21", "bob"],
      ["192.0.2.99", "a"],
      ["192.0.2.11", "bob"],
      ["203.0.113.25", "bob"],
      ["203.0.113.26", "bob"],
    ],
  );
  // A referrer without a fake client is fine.
  const r = one(`${E}user "bob": password mismatch, client: 203.0.113.21${TAIL}, referrer: "https://x/, y"`);
  assert.deepEqual(r.source, { ip: "203.0.113.21" });
  const p = one(
    `${E}PAM: user 'a' - not authenticated: x, client: 192.0.2.98, server: y' - not authenticated: Authentication failure, client: 203.0.113.22${TAIL}`,
  );
  assert.deepEqual(p.source, { ip: "203.0.113.22" });
  // A decoded path with a fake client and a fake referrer (the reviewer's probe forgery): dropped.
  assert.equal(
    run([
      `${E}open() "/var/www/html/x, client: 198.51.100.77, server: a, request: "GET /phpmyadmin/ HTTP/1.1", referrer: "z" failed (2: No such file or directory), client: 192.0.2.15, server: localhost, request: "GET /x%2C HTTP/1.1", host: "h"`,
    ]).length,
    0,
  );
  // A decoded path with a fake client (and no referrer): nginx's own client is the last one, since only the
  // raw request and the host (no spaces in either) follow it.
  const path = run([
    `${E}open() "/srv/www/pma/x, client: 192.0.2.97, server: a, request: "GET /pma/ HTTP/1.1"" failed (2: No such file or directory), client: 203.0.113.23, server: x, request: "GET /pma/x%2C%20client HTTP/1.1", host: "x"`,
  ]);
  assert.deepEqual(
    path.map((e) => e.source?.ip),
    ["203.0.113.23"],
  );
  // limit_req: the first client is nginx's; a fake one in the request or referrer is ignored.
  const l = one(
    `${E}limiting requests, excess: 1.0 by zone "one", client: 203.0.113.24, server: x, request: "GET /, client: 192.0.2.96, server: a HTTP/1.1", host: "x"`,
  );
  assert.deepEqual(l.source, { ip: "203.0.113.24" });
  // A non-address where the client belongs yields nothing.
  assert.equal(run([`${E}limiting requests, excess: 1.0 by zone "one", client: unix:, server: x`]).length, 0);
});

test("spoofing: fake clients in a Host header or request line with spaces (nginx < 1.21.1) are never taken", () => {
  // nginx before 1.21.1 (Debian 11, Ubuntu 22.04) accepts spaces in the request line and the Host header, which
  // nginx writes after its own client: the fake client comes after the real one.
  const H = "2024/06/01 10:00:10 [error] 2865#0: *1 ";
  const real = ", client: 203.0.113.5, server: www.example.com";
  const fake = ", client: 198.51.100.1, server: y";
  const pad = "x".repeat(600); // a line long enough to have been cut by nginx or a relay
  const lines = [
    `${H}user "admin": password mismatch${real}, request: "GET / HTTP/1.1", host: "x": password mismatch${fake}"`,
    `${H}user "admin": password mismatch${real}, request: "GET /": password mismatch${fake} HTTP/1.1", host: "h"`,
    `${H}user "admin" was not found in "/etc/nginx/htpasswd"${real}, request: "GET / HTTP/1.1", host: "x" was not found in "f"${fake}"`,
    `${H}PAM: user 'admin' - not authenticated: x${real}, request: "GET / HTTP/1.1", host: "x' - y${fake}"`,
    `${H}open() "/srv/www/phpmyadmin/index.php" failed (2: No such file or directory)${real}, request: "GET /phpmyadmin/index.php HTTP/1.1", host: "x (2: No such file or directory)${fake}"`,
    `${H}open() "/srv/www/phpmyadmin/index.php" failed (2: No such file or directory)${real}, request: "GET /phpmyadmin/index.php (2: x)${fake} HTTP/1.1", host: "h"`,
    // A Host with a whole fake context: a Host never holds "/", which every request line has.
    `${H}user "admin": password mismatch${real}, request: "GET / HTTP/1.1", host: "x": password mismatch${fake}, request: "GET x"`,
    `${H}user "admin": password mismatch${real}, request: "GET / HTTP/2.0", host: "x": password mismatch${fake}, request: "GET http:"`,
    // The same on long lines, which may have been cut anywhere.
    `${H}user "admin": password mismatch${real}, request: "GET / HTTP/1.1", host: "${pad}": password mismatch${fake}"`,
    `${H}user "admin": password mismatch${real}, request: "GET /${pad}": password mismatch${fake} HTTP/1.1", host: "h"`,
  ];
  const evs = run(lines);
  assert.deepEqual(
    evs.map((e) => e.source?.ip),
    lines.map(() => "203.0.113.5"),
  );
  assert.deepEqual(
    evs.map((e) => e.event.action),
    lines.map((l) => (l.startsWith("open()", H.length) ? "http_probe" : "nginx_auth_failed")),
  );
  assert.deepEqual(
    evs.map((e) => e.user?.name),
    lines.map((l) => (l.startsWith("open()", H.length) ? undefined : "admin")),
  );
  assert.equal(evs[1]!.url?.path, '/": password mismatch, client: 198.51.100.1, server: y');
});

test("spoofing: when more than one client can be nginx's and they disagree, the line is refused with its reason", () => {
  const refused: string[] = [];
  const set = new ParserSet({ time, only: ["nginx"], onRejected: (p, why) => refused.push(why) });
  const framer = new LineFramer(time);
  const out: SecurityEvent[] = [];
  const H = "2024/06/01 10:00:10 [error] 2865#0: *1 ";
  for (const l of [
    // A request line holding a whole fake context: it may be the user name that holds the first one.
    `${H}user "a": password mismatch, client: 203.0.113.5, server: s, request: "GET /": password mismatch, client: 198.51.100.1, server: y, request: "GET / HTTP/1.1", host: "h"`,
    // HTTP/2 request lines come from :path, which nginx < 1.21.1 let hold spaces: the end of the request is unknown.
    `${H}user "a": password mismatch, client: 198.51.100.1, server: y, request: "GET /": password mismatch, client: 203.0.113.5, server: s, request: "GET / HTTP/2.0", host: "h"`,
    // The same two before nginx's referrer: it does not tell which of them is nginx's.
    `${H}user "a": password mismatch, client: 203.0.113.5, server: s, request: "GET /": password mismatch, client: 198.51.100.1, server: y, request: "GET / HTTP/1.1", host: "h", referrer: "r"`,
    // nginx's client is a Unix socket (no address) and a fake one follows in the referrer: not ambiguous, and
    // nothing to report either (no event, no refusal).
    `${H}user "a": password mismatch, client: unix:, server: s, request: "GET / HTTP/1.1", host: "h", referrer: "x": password mismatch, client: 198.51.100.1, server: y, request: "GET / HTTP/1.1"`,
  ]) {
    set.parse(framer.frame(l)!, out);
  }
  assert.deepEqual(out, []);
  assert.deepEqual(refused, [
    "ambiguous client address",
    "ambiguous client address",
    "ambiguous client address",
  ]);
});

test("syslog and journald envelopes: program nginx, with or without nginx's own date", () => {
  const j = run([
    'web1 nginx[812]: 2024/06/03 10:11:12 [error] 812#812: *5 user "amy" was not found in "/etc/htpasswd", client: 203.0.113.30, server: s, request: "GET / HTTP/1.1", host: "s"',
    'web1 nginx[812]: web1 nginx: 2024/06/03 10:11:13 [error] 812#812: *6 user "amy": password mismatch, client: 203.0.113.31, server: s, request: "GET / HTTP/1.1", host: "s"',
    'Jun  3 10:11:14 web1 nginx[812]: [error] 812#812: *7 limiting requests, excess: 2.0 by zone "one", client: 203.0.113.32, server: s',
    'Jun  3 10:11:15 web1 nginx: 203.0.113.33 - sam [03/Jun/2024:10:11:15 +0000] "GET /admin HTTP/1.1" 401 0 "-" "x"',
  ]);
  assert.deepEqual(
    j.map((e) => [e.event.action, e.source?.ip, e["@timestamp"]]),
    [
      ["nginx_auth_failed", "203.0.113.30", Date.UTC(2024, 5, 3, 10, 11, 12)],
      ["nginx_auth_failed", "203.0.113.31", Date.UTC(2024, 5, 3, 10, 11, 13)],
      ["nginx_limit_req", "203.0.113.32", Date.UTC(2024, 5, 3, 10, 11, 14)],
      ["http_auth_failed", "203.0.113.33", Date.UTC(2024, 5, 3, 10, 11, 15)],
    ],
  );
  assert.equal(j[0]!.process?.name, "nginx");
});

test("access log: 401s, probes, 403s and WordPress login posts; served requests yield nothing", () => {
  const evs = run([
    '203.0.113.40 - admin [03/Jun/2024:10:11:12 +0200] "GET /admin/ HTTP/1.1" 401 179 "-" "curl/8.5.0"',
    '203.0.113.41 - - [03/Jun/2024:10:11:12 +0200] "GET /admin/ HTTP/1.1" 401 179 "-" "Mozilla/5.0"',
    '203.0.113.42 - - [03/Jun/2024:10:11:12 +0200] "GET /.env HTTP/1.1" 404 153 "-" "zgrab/0.x"',
    '203.0.113.43 - - [03/Jun/2024:10:11:12 +0200] "GET /private/ HTTP/1.1" 403 153 "-" "-"',
    '203.0.113.44 - - [03/Jun/2024:10:11:12 +0200] "POST /wp-login.php HTTP/1.1" 200 4120 "-" "-"',
    '203.0.113.45 - - [03/Jun/2024:10:11:12 +0200] "GET / HTTP/1.1" 200 612 "-" "Mozilla/5.0"',
    '203.0.113.46 - - [03/Jun/2024:10:11:12 +0200] "GET /missing.css HTTP/1.1" 404 153 "-" "Mozilla/5.0"',
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.event.outcome, e.source?.ip, e.user?.name]),
    [
      ["http_auth_failed", "failure", "203.0.113.40", "admin"],
      ["http_unauthorized", "failure", "203.0.113.41", undefined],
      ["http_probe", "failure", "203.0.113.42", undefined],
      ["http_forbidden", "failure", "203.0.113.43", undefined],
      ["http_login_attempt", "unknown", "203.0.113.44", undefined],
    ],
  );
  const a = evs[0]!;
  assert.equal(a["@timestamp"], Date.UTC(2024, 5, 3, 8, 11, 12));
  assert.equal(a.http?.response?.status_code, 401);
  assert.equal(a.user_agent?.original, "curl/8.5.0");
  assert.equal(evs[2]!.url?.original, "/.env");
});

test("access log spoofing: the address is always the first field", () => {
  const e = one(
    '203.0.113.50 - 192.0.2.1 from 192.0.2.5 [03/Jun/2024:10:11:12 +0000] "GET /192.0.2.3/ HTTP/1.1" 401 0 "http://192.0.2.4/" "192.0.2.2 - - [03/Jun/2024:10:11:12 +0000]"',
  );
  assert.deepEqual(e.source, { ip: "203.0.113.50" });
  assert.equal(e.user?.name, "192.0.2.1 from 192.0.2.5");
});

test("modes: the default reports auth, limits and probes; fallback is TLS only; aggressive is everything", () => {
  const lines = [
    `${E}user "a": password mismatch, client: 203.0.113.60${TAIL}`,
    `${E}limiting requests, excess: 1.0 by zone "one", client: 203.0.113.61${TAIL}`,
    `2024/06/03 10:11:12 [warn] 1#1: *2 delaying request, excess: 0.5, by zone "one", client: 203.0.113.62${TAIL}`,
    "2024/06/03 10:11:12 [crit] 9#9: *3 SSL_do_handshake() failed (SSL: x) while SSL handshaking, client: 203.0.113.63, server: 0.0.0.0:443",
    '203.0.113.64 - - [03/Jun/2024:10:11:12 +0000] "GET /cgi-bin/x.cgi HTTP/1.1" 404 0 "-" "-"',
    '203.0.113.65 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 0 "-" "-"',
  ];
  const ips = (mode: string) => run(lines, mode).map((e) => e.source!.ip!.slice(-2));
  assert.deepEqual(ips("normal"), ["60", "61", "64"]);
  assert.deepEqual(ips("auth"), ["60"]);
  assert.deepEqual(ips("fallback"), ["63"]);
  assert.deepEqual(ips("limit-req"), ["61", "62"]);
  assert.deepEqual(ips("botsearch"), ["64"]);
  assert.deepEqual(ips("aggressive"), ["60", "61", "62", "63", "64", "65"]);
});

test("routing without a parser restriction: error lines to nginx, Traefik lines left to traefik", () => {
  const evs = run(
    [
      `${E}user "a": password mismatch, client: 203.0.113.70${TAIL}`,
      '203.0.113.71 - a [03/Jun/2024:10:11:12 +0000] "GET / HTTP/2.0" 401 17 "-" "-" 72 "auth@file" "-" 0ms',
    ],
    "all",
    ["nginx", "traefik"],
  );
  assert.deepEqual(
    evs.map((e) => e.event.dataset),
    ["nginx", "traefik"],
  );
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. Error and access lines are read with searches and
  // character reads (counted); the one regex (` while ...` before a client) runs on a slice of at most 90
  // characters. The scaling check on n/2 and n guards against a search repeated over the rest of the line.
  const lines = [
    (n: number) => `${E}user "${'", client: 1.2.3.4'.repeat(n / 18)}`,
    (n: number) => `${E}user "a": password mismatch${", client: 203.0.113.1, server: ".repeat(n / 33)}`,
    (n: number) => `${E}open() "${", client: ".repeat(n / 10)}`,
    (n: number) => `${E}limiting requests${', referrer: "'.repeat(n / 13)}`,
    (n: number) => `${E}PAM: user '${"' - ".repeat(n / 4)}`,
    (n: number) => `203.0.113.1 - ${" [".repeat(n / 2)}`,
    (n: number) => `2024/06/03 10:11:12 [${"1#".repeat(n / 2)}`,
  ];
  for (const make of lines) {
    assert.deepEqual(
      assertLinearWork(make, (line) => run([line]), { perChar: 10 }),
      [],
      make(66),
    );
  }
});
