import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork } from "../../test/support/parser-harness.ts";
import { Zone } from "../framing/zone.ts";
import {
  classifyResponse,
  hasTraefikTail,
  isProbeFile,
  isProbePath,
  looksLikeAccessLine,
  pathOf,
  readAccessLine,
  servedPath,
} from "./access-log.ts";

const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2024, 5, 30, 12) };

test("reads a combined-format line up to the status", () => {
  const l = readAccessLine(
    '198.51.100.4 - carol [03/Jun/2024:10:11:12 +0200] "POST /wp-login.php?x=1 HTTP/1.1" 401 512 "https://example.org/" "curl/8.5.0"',
    time,
  )!;
  assert.equal(l.client, "198.51.100.4");
  assert.equal(l.user, "carol");
  assert.equal(l.time, Date.UTC(2024, 5, 3, 8, 11, 12));
  assert.equal(l.method, "POST");
  assert.equal(l.target, "/wp-login.php?x=1");
  assert.equal(l.status, 401);
  const common = readAccessLine('2001:db8::5 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.0" 200 -', time)!;
  assert.deepEqual([common.client, common.user, common.status], ["2001:db8::5", undefined, 200]);
});

test("user names with spaces and brackets, an empty user, escaped and raw quotes in the request", () => {
  const sp = readAccessLine(
    '198.51.100.5 - john [x] doe [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 0 "-" "-"',
    time,
  )!;
  assert.equal(sp.user, "john [x] doe");
  const empty = readAccessLine(
    '198.51.100.5 - "" [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 0',
    time,
  )!;
  assert.equal(empty.user, "");
  const esc = readAccessLine(
    '198.51.100.6 - - [03/Jun/2024:10:11:12 +0000] "GET /a\\" 200 1 \\"b HTTP/1.1" 404 0 "-" "-"',
    time,
  )!;
  assert.equal(esc.status, 404);
  assert.equal(esc.target, '/a\\" 200 1 \\"b');
  const raw = readAccessLine(
    '198.51.100.7 - - [03/Jun/2024:10:11:12 +0000] "GET /a"b HTTP/1.1" 403 0 "-" "-"',
    time,
  )!;
  assert.equal(raw.status, 403);
  assert.equal(raw.target, '/a"b');
  const junk = readAccessLine(
    '198.51.100.8 - - [03/Jun/2024:10:11:12 +0000] "\\x16\\x03\\x01" 400 150',
    time,
  )!;
  assert.deepEqual([junk.method, junk.target, junk.status], [undefined, undefined, 400]);
});

test("vhost_combined: the client is the field after the server name and port", () => {
  const v = readAccessLine(
    'www.example.com:443 198.51.100.4 - carol [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 5 "-" "x"',
    time,
  )!;
  assert.deepEqual([v.client, v.user, v.status], ["198.51.100.4", "carol", 401]);
  const v6 = readAccessLine(
    'example.org:80 2001:db8::7 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 404 5',
    time,
  )!;
  assert.deepEqual([v6.client, v6.user], ["2001:db8::7", undefined]);
  // An IPv6 client ending in digits is an address, not a name and port.
  assert.equal(
    readAccessLine('2001:db8::443 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 5', time)!.client,
    "2001:db8::443",
  );
  // A Host header in front of the client (`$host $remote_addr - ...`, `%V %h %l ...`): the first field is the
  // sender's, so the line is not read at all.
  for (const host of ["203.0.113.66", "www.example.com"])
    assert.equal(
      readAccessLine(`${host} 198.51.100.4 - bob [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 5`, time),
      undefined,
    );
});

test("WordPress logins and probes are recognised as the server resolves the path", () => {
  for (const p of [
    "/WP-LOGIN.PHP",
    "/wp-login%2ephp",
    "/wp-login%2Ephp",
    "/%77p-login.php",
    "/xmlrpc.php;jsessionid=1",
    "/blog/./wp-login.php",
    "/x/../xmlrpc.php",
    "/wp-login.php/",
    "/xmlrpc.php/x",
  ])
    assert.equal(classifyResponse(200, undefined, "POST", p), "http_login_attempt", p);
  for (const p of ["/wp-login.php.bak", "/my-wp-login.php", "/%252e/wp-login.php2", "/wp-login%2ephp%2ebak"])
    assert.equal(classifyResponse(200, undefined, "POST", p), undefined, p);
  for (const p of [
    "/%2eenv",
    "/%2Egit/config",
    "/pma;x/",
    "/a/b/../../phpmyadmin/",
    "/./././phpmyadmin/",
    "/xmlrpc.php;x",
  ])
    assert.ok(isProbePath(p), p);
  // Decoded once, as the server does.
  assert.equal(servedPath("/%252e%2e"), "/%2e.");
  assert.equal(servedPath("/%zz%2"), "/%zz%2");
  assert.equal(servedPath("/../../.env"), "/.env");
});

test("shape tests", () => {
  assert.ok(looksLikeAccessLine('192.0.2.1 - - [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 1'));
  assert.ok(!looksLikeAccessLine("2024/06/03 10:11:12 [error] 1#1: *1 x"));
  assert.ok(!looksLikeAccessLine("[Mon Jun 03 10:11:12 2024] [error] [client 192.0.2.1] x"));
  assert.ok(hasTraefikTail('1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 "-" "-" 5 "r" "http://b" 12ms'));
  assert.ok(!hasTraefikTail('1.2.3.4 - - [x] "GET / HTTP/1.1" 200 1 "-" "-"'));
  assert.equal(readAccessLine("192.0.2.1 - - [not a date] x", time), undefined);
});

test("classification: 401 with and without a user, probes, 403, WordPress login posts", () => {
  assert.equal(classifyResponse(401, "bob", "GET", "/"), "http_auth_failed");
  assert.equal(classifyResponse(401, "", "GET", "/"), "http_auth_failed");
  assert.equal(classifyResponse(401, undefined, "GET", "/"), "http_unauthorized");
  assert.equal(classifyResponse(404, undefined, "GET", "/phpMyAdmin/index.php"), "http_probe");
  assert.equal(classifyResponse(403, undefined, "GET", "/.git/config"), "http_probe");
  assert.equal(classifyResponse(403, undefined, "GET", "/private/"), "http_forbidden");
  assert.equal(classifyResponse(404, undefined, "GET", "/missing.png"), undefined);
  assert.equal(classifyResponse(200, undefined, "GET", "/phpmyadmin/"), undefined);
  assert.equal(classifyResponse(200, undefined, "POST", "/blog/wp-login.php"), "http_login_attempt");
  assert.equal(classifyResponse(200, undefined, "POST", "/xmlrpc.php"), "http_login_attempt");
  assert.equal(classifyResponse(500, undefined, "GET", "/.env"), undefined);
});

test("probe paths", () => {
  for (const p of [
    "//phpMyAdmin-4.9/scripts/setup.php",
    "/pma/",
    "/admin/pma/index.php",
    "/cgi-bin/test.cgi",
    "/roundcube/",
    "/wp-login.php",
    "/blog/wp-login.php",
    "/.env",
    "/app/.env.production",
    "/.git/HEAD",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/wp-config.php.bak",
    "/MYSQLADMIN/",
    "/phpMyAdmin-5.2.1-all-languages/",
    "/phpmyadmin2/index.php",
    "/pma2005/",
    "/blog/.env~",
    "/.git-credentials",
    "/.htpasswd",
    "/site/.DS_Store",
  ])
    assert.ok(isProbePath(p), p);
  for (const p of [
    "/",
    "/index.html",
    "/blog/2024/06/mail-merge",
    "/mail.php",
    "/static/pma.js",
    "/env",
    "/git/",
  ])
    assert.ok(!isProbePath(p), p);
});

test("probe paths are whole segments: ordinary pages that merely start like a target are not probes", () => {
  // Directory targets matched as prefixes made a 404 on any of these a probe (10 ban a visitor).
  for (const p of [
    "/pmarket/item",
    "/shop/mail-order",
    "/blog/horde-of-cats",
    "/mailbox/42",
    "/mailman/listinfo/foo",
    "/webmails-guide",
    "/cgi-binary/",
    "/blog/.environment-friendly",
    "/docs/.github/x",
    "/articles/.htmlfoo",
    "/wp-config-sample.txt",
  ])
    assert.ok(!isProbePath(p), p);
  // WordPress answers 400 to admin-ajax.php requests for unknown actions (a logged-in editor's included).
  assert.ok(!isProbePath("/wp-admin/admin-ajax.php"));
  assert.ok(!isProbePath("/blog/wp-admin/admin-ajax.php"));
  assert.equal(classifyResponse(400, "editor", "POST", "/wp-admin/admin-ajax.php"), undefined);
  assert.equal(classifyResponse(404, undefined, "GET", "/wp-admin/install.php"), "http_probe");
  // Error-log file names keep fail2ban's prefix semantics (its apache-botsearch corpus expects them).
  assert.ok(isProbeFile("/var/www/pmapper-3.2-beta3"));
  assert.ok(isProbeFile("/var/www/mail_this_entry"));
  assert.equal(pathOf("/a/b?c=/d#e"), "/a/b");
  assert.equal(pathOf("http://example.org/x?y"), "/x");
  assert.equal(pathOf("http://example.org"), "/");
});

test("probe files: the last component of a file-system path", () => {
  for (const p of [
    "/var/www/pma",
    "/srv/http/site/phpmyadmin",
    "/var/www/wp-login.php",
    "/var/www/mails",
    "/var/www/webmail/",
  ])
    assert.ok(isProbeFile(p), p);
  for (const p of ["/var/www/forum/mail.php", "/var/www/webmail/index.html", "/var/www/missing.png", "/"])
    assert.ok(!isProbeFile(p), p);
});

test("1 MB hostile lines are read in linear time", () => {
  // Each line is built from n, the length of its hostile part. Access lines are read without regexes (the one
  // regex, on a path, is unanchored but matches a bounded text), with searches and character reads (counted): the
  // scaling check on n/2 and n guards against a search repeated over the rest of the line.
  const readAll = (l: string) => [
    readAccessLine(l, time),
    isProbePath(l),
    isProbeFile(l),
    looksLikeAccessLine(l),
    hasTraefikTail(l),
  ];
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `192.0.2.1 - ${" [".repeat(n / 2)}`, [undefined, false, false, false, false]],
    [
      (n) => `192.0.2.1 - - [03/Jun/2024:10:11:12 +0000] "${'" 20'.repeat(n / 4)}`,
      [undefined, false, false, true, false],
    ],
    [
      (n) => `192.0.2.1 - - [03/Jun/2024:10:11:12 +0000] "${"\\".repeat(n)}`,
      [undefined, false, false, true, false],
    ],
    [
      (n) => `192.0.2.1 - ${" [03/Jun/2024:10:11:12 +0000]".repeat(n / 29)} "GET / HTTP/1.1" 404 1`,
      [undefined, false, false, true, false],
    ],
    // Paths the server resolves: percent escapes, dot segments, path parameters.
    [(n) => `/${"%2e".repeat(n / 3)}`, [undefined, false, false, false, false]],
    [(n) => `/${"/..".repeat(n / 3)}/.env`, [undefined, true, true, false, false]],
    [(n) => `/${";/".repeat(n / 2)}pma`, [undefined, true, true, false, false]],
    [
      (n) => `vhost:443 ${"1:1 ".repeat(n / 4)}[03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 401 1`,
      [undefined, false, false, false, false],
    ],
  ];
  for (const [make, expected] of lines) {
    assert.deepEqual(assertLinearWork(make, readAll, { perChar: 10 }), expected, make(58));
  }
});
