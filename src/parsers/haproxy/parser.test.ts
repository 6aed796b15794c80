import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness, parseLines } from "../../../test/support/parser-harness.ts";

const { run } = lineHarness("haproxy");

const P = "Jun  3 10:11:12 lb1 haproxy[2200]: ";
const line = (client: string, status: number, req = "GET / HTTP/1.1", srv = "app/web1") =>
  `${P}${client} [03/Jun/2024:10:11:09.512] www~ ${srv} 0/0/1/2/3 ${status} 512 - - ---- 4/4/0/0/0 0/0 "${req}"`;

test("a 401 is http_unauthorized with the client address and port; time from syslog", () => {
  const [e] = run([line("203.0.113.5:51000", 401, "GET /admin HTTP/1.1", "www/<NOSRV>")]);
  assert.equal(e!.event.dataset, "haproxy");
  assert.equal(e!.event.action, "http_unauthorized");
  assert.equal(e!.event.outcome, "failure");
  // Not `authentication`: HAProxy does not log whether credentials were sent, and a 401 without them is a
  // challenge (a browser's first request, a Docker client's before each pull), not a failed login.
  assert.deepEqual(e!.event.category, ["web"]);
  assert.deepEqual(e!.source, { ip: "203.0.113.5", port: 51000 });
  assert.equal(e!["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));
  assert.equal(e!.http?.response?.status_code, 401);
  assert.equal(e!.url?.path, "/admin");
  assert.equal(e!.process?.name, "haproxy");
});

test("IPv6 clients as haproxy prints them: address:port without brackets, IPv4-mapped", () => {
  const evs = run([line("2001:db8::1234:58430", 401), line("::ffff:203.0.113.6:58431", 401)]);
  assert.deepEqual(
    evs.map((e) => e.source),
    [
      { ip: "2001:db8::1234", port: 58430 },
      { ip: "203.0.113.6", port: 58431 },
    ],
  );
});

test("probes, 403s, WordPress login posts; served requests and TCP logs yield nothing", () => {
  const evs = run([
    line("203.0.113.7:1", 404, "GET /.git/config HTTP/1.1"),
    line("203.0.113.8:1", 403, "GET /private HTTP/1.1"),
    line("203.0.113.9:1", 200, "POST /xmlrpc.php HTTP/1.1"),
    line("203.0.113.10:1", 200),
    line("203.0.113.11:1", 404, "GET /missing.png HTTP/1.1"),
    `${P}203.0.113.12:1 [03/Jun/2024:10:11:09.512] tcp-in tcp-out/srv1 0/0/5 512 -- 1/1/0/0/0 0/0`,
    `${P}Proxy www started.`,
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.event.outcome, e.source?.ip]),
    [
      ["http_probe", "failure", "203.0.113.7"],
      ["http_forbidden", "failure", "203.0.113.8"],
      ["http_login_attempt", "unknown", "203.0.113.9"],
    ],
  );
});

test("option httpslog: the request line is followed by the TLS fields", () => {
  const tls = " 0/0/0/0/0 www.example.com/TLSv1.3/TLS_AES_256_GCM_SHA384";
  const evs = run([
    `${line("203.0.113.20:1", 404, "GET /.env HTTP/1.1")}${tls}`,
    `${line("203.0.113.21:1", 200, "POST /xmlrpc.php HTTP/1.1")}${tls}`,
    `${line("203.0.113.22:1", 401)}${tls}`,
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.source?.ip, e.url?.path]),
    [
      ["http_probe", "203.0.113.20", "/.env"],
      ["http_login_attempt", "203.0.113.21", "/xmlrpc.php"],
      ["http_unauthorized", "203.0.113.22", "/"],
    ],
  );
});

test("TCP logs (option tcplog) are not HTTP logs: their bytes read are no status", () => {
  // `Tw/Tc/Tt BYTES TERM CONNS QUEUES`: 401 and 403 bytes read looked like statuses.
  const tcp = (bytes: number) =>
    `${P}203.0.113.14:33313 [03/Jun/2024:10:11:09.443] fnt bck/srv1 0/0/5007 ${bytes} -- 0/0/0/0/3 0/0`;
  assert.deepEqual(run([tcp(401), tcp(403), tcp(404)], "aggressive"), []);
  // Five timers but no request line: not an HTTP log line either.
  assert.deepEqual(
    run([
      `${P}203.0.113.15:1 [03/Jun/2024:10:11:09.512] www app/web1 0/0/1/2/3 401 512 - - ---- 4/4/0/0/0 0/0`,
    ]),
    [],
  );
  // An HTTP log with fields after the request (a custom log-format) is still read.
  const [e] = run([`${line("203.0.113.16:1", 401)} 0/0/0/0/0 example.com/TLSv1.3`]);
  assert.equal(e?.source?.ip, "203.0.113.16");
});

test("option httplog clf: the CLF variant is read like the default format", () => {
  const clf = (client: string, status: number, req: string) =>
    `${P}${client} - - [03/Jun/2024:10:11:09 +0000] "${req}" ${status} 2750 "" "" 33317 655 "http-in" "static" "srv1" 10 0 30 69 109 ---- 1 1 1 1 0 0 0 "" ""`;
  const evs = run([
    clf("203.0.113.30", 401, "GET /admin HTTP/1.1"),
    clf("2001:db8::30", 404, "GET /.env HTTP/1.1"),
    clf("203.0.113.31", 200, "GET / HTTP/1.1"),
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.dataset, e.event.action, e.event.category, e.source?.ip, e.url?.path]),
    [
      ["haproxy", "http_unauthorized", ["web"], "203.0.113.30", "/admin"],
      ["haproxy", "http_probe", ["web"], "2001:db8::30", "/.env"],
    ],
  );
  assert.equal(evs[0]!["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));
});

test("lines without a program name (log stdout format raw, format short / iso) are recognised by their shape", () => {
  const raw =
    '203.0.113.40:51000 [03/Jun/2024:10:11:09.512] www app/web1 0/0/1/2/3 401 512 - - ---- 4/4/0/0/0 0/0 "GET /admin HTTP/1.1"';
  // Routed like `parse` without --parser: the access-log parsers' probes see these lines first.
  const evs = parseLines(
    [raw, `<134>${raw.replace(".40:", ".41:")}`, `2024-06-03T10:11:12+00:00 ${raw.replace(".40:", ".42:")}`],
    ["apache", "haproxy", "lighttpd", "nginx", "traefik"],
  );
  assert.deepEqual(
    evs.map((e) => [e.event.dataset, e.event.action, e.source, e["@timestamp"]]),
    [
      [
        "haproxy",
        "http_unauthorized",
        { ip: "203.0.113.40", port: 51000 },
        Date.UTC(2024, 5, 3, 10, 11, 9, 512),
      ],
      [
        "haproxy",
        "http_unauthorized",
        { ip: "203.0.113.41", port: 51000 },
        Date.UTC(2024, 5, 3, 10, 11, 9, 512),
      ],
      ["haproxy", "http_unauthorized", { ip: "203.0.113.42", port: 51000 }, Date.UTC(2024, 5, 3, 10, 11, 12)],
    ],
  );
});

test("spoofing: addresses in the request line are never taken", () => {
  const [e] = run([
    line("203.0.113.13:1", 401, 'GET /192.0.2.1:80 [03/Jun/2024:10:11:09.512] x" 192.0.2.2:1 HTTP/1.1'),
  ]);
  assert.deepEqual(e!.source, { ip: "203.0.113.13", port: 1 });
  assert.equal(
    run([
      `${P}not-an-address:1 [03/Jun/2024:10:11:09.512] www app/web1 0/0/1/2/3 401 1 - - ---- 0/0 "GET / HTTP/1.1"`,
    ]).length,
    0,
  );
});

test("modes: normal = 401 + probes, auth = 401, aggressive adds 403", () => {
  const lines = [
    line("203.0.113.20:1", 401),
    line("203.0.113.21:1", 404, "GET /pma/ HTTP/1.1"),
    line("203.0.113.22:1", 403),
  ];
  const ips = (mode: string) => run(lines, mode).map((e) => e.source!.ip!.slice(-2));
  assert.deepEqual(ips("normal"), ["20", "21"]);
  assert.deepEqual(ips("auth"), ["20"]);
  assert.deepEqual(ips("botsearch"), ["21"]);
  assert.deepEqual(ips("aggressive"), ["20", "21", "22"]);
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. The line is read with searches and character
  // reads (counted), no regex: the scaling check on n/2 and n guards against a search repeated over the rest of
  // the line.
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `${P}203.0.113.1:1 [03/Jun/2024:10:11:09.512] ${"a ".repeat(n / 2)}`, []],
    [
      (n) => `${P}203.0.113.1:1 [03/Jun/2024:10:11:09.512] a b 1/2/3/4/5 401 ${' "'.repeat(n / 2)}`,
      [["http_unauthorized", "203.0.113.1"]],
    ],
    [(n) => `${P}${" [".repeat(n / 2)}`, []],
    [(n) => `${P}203.0.113.1 - - ${" [".repeat(n / 2)}`, []],
    [(n) => `${P}203.0.113.1 - - [03/Jun/2024:10:11:09 +0000] "${'" 40'.repeat(n / 4)}`, []],
    [(n) => `${P}${"1:".repeat(n / 2)} [03/Jun/2024:10:11:09.512] a b c 401 1 "GET / HTTP/1.1"`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip]),
      expected,
      make(6),
    );
  }
});
