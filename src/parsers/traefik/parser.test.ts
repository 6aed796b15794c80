import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness, parseEach, time } from "../../../test/support/parser-harness.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { LineFramer } from "../../framing/framer.ts";
import { ParserSet } from "../dispatch.ts";

const { run } = lineHarness("traefik");

/** The events of `lines` (one stream, every parser unless `only`) and the reasons of the lines refused. */
function runCounted(lines: readonly string[], only?: readonly string[]): [SecurityEvent[], string[]] {
  const refused: string[] = [];
  const set = new ParserSet({
    time,
    allActions: true,
    ...(only && { only }),
    onRejected: (p, why) => refused.push(`${p}: ${why}`),
  });
  const framer = new LineFramer(time);
  const out: SecurityEvent[] = [];
  for (const l of lines) {
    const f = framer.frame(l);
    if (f) set.parse(f, out);
  }
  return [out, refused];
}

const line = (client: string, user: string, status: number, path = "/dashboard/") =>
  `${client} - ${user} [03/Jun/2024:10:11:12 +0000] "GET ${path} HTTP/2.0" ${status} 17 "-" "Mozilla/5.0 (X11)" 42 "dashboard@docker" "http://172.18.0.3:8080" 1ms`;

test("401 with a user name is http_auth_failed; without, http_unauthorized", () => {
  const evs = run([
    line("203.0.113.5", "alice", 401),
    line("203.0.113.6", "-", 401),
    line("203.0.113.7", "alice", 200),
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.dataset, e.event.action, e.source?.ip, e.user?.name]),
    [
      ["traefik", "http_auth_failed", "203.0.113.5", "alice"],
      ["traefik", "http_unauthorized", "203.0.113.6", undefined],
    ],
  );
  const e = evs[0]!;
  assert.equal(e["@timestamp"], Date.UTC(2024, 5, 3, 10, 11, 12));
  assert.equal(e.user_agent?.original, "Mozilla/5.0 (X11)");
  assert.deepEqual(e.event.category, ["authentication", "web"]);
  // No credentials, no failed authentication: a challenge (a browser's first request, a Docker registry's token
  // challenge before each pull) is not what the HTTP brute-force rule counts.
  assert.deepEqual(evs[1]!.event.category, ["web"]);
});

test("modes as in fail2ban's traefik-auth: normal (with user), ddos (without), aggressive (both and more)", () => {
  const lines = [
    line("203.0.113.10", "bob", 401),
    line("203.0.113.11", "-", 401),
    line("203.0.113.12", "-", 404, "/.env"),
    line("203.0.113.13", "-", 403),
  ];
  const ips = (mode: string) => run(lines, mode).map((e) => e.source!.ip!.slice(-2));
  assert.deepEqual(ips("normal"), ["10", "12"]);
  assert.deepEqual(ips("auth"), ["10"]);
  assert.deepEqual(ips("ddos"), ["11"]);
  assert.deepEqual(ips("botsearch"), ["12"]);
  assert.deepEqual(ips("aggressive"), ["10", "11", "12", "13"]);
});

test("probe routing: Traefik's tail claims the line from the nginx and apache probes", () => {
  const evs = run([line("203.0.113.20", "x", 401)], "all", ["apache", "nginx", "traefik"]);
  assert.deepEqual(
    evs.map((e) => e.event.dataset),
    ["traefik"],
  );
  // Through syslog / journald with program traefik.
  const j = run([`Jun  3 10:11:12 gw traefik[9]: ${line("203.0.113.21", "y", 401)}`]);
  assert.deepEqual([j[0]!.source?.ip, j[0]!.process?.name], ["203.0.113.21", "traefik"]);
});

test("spoofing: the router name, service URL and user agent cannot supply the address", () => {
  const [e] = run([
    '203.0.113.30 - 192.0.2.1 [03/Jun/2024:10:11:12 +0000] "GET /192.0.2.2 HTTP/2.0" 401 17 "-" "192.0.2.3 - - [03/Jun/2024:10:11:12 +0000]" 1 "r" "http://192.0.2.4" 0ms',
  ]);
  assert.deepEqual(e!.source, { ip: "203.0.113.30" });
});

test("log injection: a user name with a newline cannot forge a record for another address", () => {
  // Traefik writes Basic user names unescaped: `x\n203.0.113.99 - admin` makes one request two physical lines,
  // the second one a complete record whose first field the sender chose. Repeated, it banned 203.0.113.99.
  const forged = (at: string) =>
    `203.0.113.99 - admin [03/Jun/2024:10:${at} +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0" 72 "Auth" "/dashboard/" 0ms`;
  const real = line("198.51.100.40", "carol", 401);
  for (const prefix of ["", "Jun  3 10:11:12 gw traefik[9]: "]) {
    const lines = [
      "192.0.2.2 - x",
      forged("11:12"),
      // Several lines of user name, one of them looking like a record's start: all of it up to the date.
      "192.0.2.2 - x",
      "198.51.100.7 - y",
      "junk without a date",
      forged("11:13"),
      // Cut right after the ident (an empty first line of user name).
      "192.0.2.2 - ",
      forged("11:14"),
      real,
    ].map((l) => prefix + l);
    const [evs, refused] = runCounted(lines, prefix === "" ? undefined : ["traefik"]);
    assert.deepEqual(
      evs.map((e) => [e.event.dataset, e.source?.ip, e.user?.name]),
      [["traefik", "198.51.100.40", "carol"]],
      prefix,
    );
    assert.deepEqual(refused, [
      "traefik: line after a record cut by a user name",
      "traefik: line after a record cut by a user name",
      "traefik: line after a record cut by a user name",
    ]);
  }
});

test("log injection: a request hidden in the user name or user agent cannot hide a 401 as a 200", () => {
  const [hidden, inAgent] = run([
    '192.0.2.2 - x [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 1 y [03/Jun/2024:10:11:12 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0" 72 "Auth" "/dashboard/" 0ms',
    '192.0.2.3 - bob [03/Jun/2024:10:11:12 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "x [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 1 y" 72 "Auth" "/dashboard/" 0ms',
    // Served, whichever request is real: nothing.
    '192.0.2.4 - x [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 1 y [03/Jun/2024:10:11:12 +0000] "GET /a HTTP/2.0" 200 17 "-" "-" 72 "r" "s" 0ms',
  ]).map((e) => [e.source?.ip, e.event.action, e.http?.response?.status_code]);
  // The client is the line's first field whichever request is real: the first attack signal is reported.
  assert.deepEqual(hidden, ["192.0.2.2", "http_auth_failed", 401]);
  assert.deepEqual(inAgent, ["192.0.2.3", "http_auth_failed", 401]);
});

test("JSON access log: read from its fields, left alone by the ecs parser", () => {
  const doc = (o: object) => ({
    ClientAddr: "192.0.2.7:51234",
    ClientHost: "192.0.2.7",
    ClientPort: "51234",
    ClientUsername: "bob",
    DownstreamContentSize: 17,
    DownstreamStatus: 401,
    RequestMethod: "GET",
    RequestPath: "/dashboard/",
    RequestProtocol: "HTTP/2.0",
    RouterName: "dash@file",
    StartUTC: "2024-05-01T10:00:00.123Z",
    "request_User-Agent": "curl/8.5.0",
    level: "info",
    msg: "",
    time: "2024-05-01T10:00:01Z",
    ...o,
  });
  const evs = parseEach(
    [
      doc({}),
      doc({ ClientUsername: "-", ClientAddr: "[2001:DB8::7]:443", ClientHost: "2001:DB8::7" }),
      doc({ ClientUsername: "", DownstreamStatus: 404, RequestPath: "/.env?x=1" }),
      doc({ DownstreamStatus: 200 }),
      doc({ ClientAddr: "not an address!" }),
      // ClientHost is the X-Forwarded-For header when one reached the log: a forwarded request, whose peer is a
      // proxy (never banned) and whose ClientHost the sender chose: refused.
      doc({ ClientHost: "198.51.100.66", "request_X-Forwarded-For": "198.51.100.66" }),
      doc({ ClientHost: "198.51.100.66, 192.0.2.7" }),
      // Without ClientAddr (dropped by `fields.names`), ClientHost, unless an X-Forwarded-For was logged.
      doc({ ClientAddr: undefined, ClientHost: "192.0.2.8" }),
      doc({ ClientAddr: undefined, "request_X-Forwarded-For": "198.51.100.66", ClientHost: "198.51.100.66" }),
    ],
    ["ecs", "traefik"],
    "all",
  );
  assert.deepEqual(
    evs.map((l) => l.map((e) => [e.event.dataset, e.event.action, e.source?.ip, e.user?.name, e.url?.path])),
    [
      [["traefik", "http_auth_failed", "192.0.2.7", "bob", "/dashboard/"]],
      [["traefik", "http_unauthorized", "2001:db8::7", undefined, "/dashboard/"]],
      [["traefik", "http_probe", "192.0.2.7", undefined, "/.env"]],
      [],
      [],
      [],
      [],
      [["traefik", "http_auth_failed", "192.0.2.8", "bob", "/dashboard/"]],
      [],
    ],
  );
  const e = evs[0]![0]!;
  assert.equal(e["@timestamp"], Date.UTC(2024, 4, 1, 10, 0, 0, 123));
  assert.deepEqual(e.event.category, ["authentication", "web"]);
  assert.equal(e.user_agent?.original, "curl/8.5.0");
  assert.equal(e.http?.response?.status_code, 401);
  // A Traefik line wrapped in a Filebeat document's `message` is still read.
  const [wrapped] = parseEach([{ message: line("203.0.113.50", "eve", 401) }], ["ecs"], "all");
  assert.deepEqual(
    wrapped!.map((x) => [x.event.dataset, x.source?.ip]),
    [["traefik", "203.0.113.50"]],
  );
});

test("JSON access log: a forwarded request is refused and counted, neither the proxy nor the header banned", () => {
  const entry = (o: object) =>
    JSON.stringify({
      ClientAddr: "10.0.0.2:40000",
      ClientHost: "10.0.0.2",
      ClientUsername: "bob",
      DownstreamStatus: 401,
      RequestMethod: "GET",
      RequestPath: "/dashboard/",
      StartUTC: "2024-05-01T10:00:00Z",
      ...o,
    });
  const [evs, refused] = runCounted(
    [entry({}), entry({ ClientHost: "203.0.113.9" }), entry({ "request_X-Forwarded-For": "10.0.0.2" })],
    ["ecs", "traefik"],
  );
  assert.deepEqual(
    evs.map((e) => e.source?.ip),
    ["10.0.0.2"],
  );
  assert.deepEqual(refused, [
    "traefik: forwarded request (ClientHost is not the peer)",
    "traefik: forwarded request (ClientHost is not the peer)",
  ]);
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. Access lines are read without regexes, with
  // searches and character reads (counted): the scaling check on n/2 and n guards against a search repeated over
  // the rest of the line.
  const lines = [
    (n: number) => `203.0.113.1 - ${" [".repeat(n / 2)} 0ms`,
    (n: number) => `203.0.113.1 - - [03/Jun/2024:10:11:12 +0000] "${'" 4'.repeat(n / 3)} 0ms`,
    (n: number) => `${"1".repeat(n)} 0ms`,
    // A record start without a date (the first part of a cut record), and requests repeated in one line.
    (n: number) => `203.0.113.1 - ${"x ".repeat(n / 2)}`,
    (n: number) =>
      `203.0.113.1 - ${' [03/Jun/2024:10:11:12 +0000] "GET / HTTP/1.1" 200 1'.repeat(n / 50)} 0ms`,
    (n: number) => `203.0.113.1 - ${' [03/Jun/2024:10:11:12 +0000] "'.repeat(n / 31)} 0ms`,
  ];
  for (const make of lines) {
    assert.deepEqual(
      assertLinearWork(make, (line) => run([line]), { perChar: 10 }),
      [],
      make(6),
    );
  }
  // After the first part of a cut record, more of the user name (no date) and the record's end (refused).
  for (const make of [
    (n: number) => `${"x [0".repeat(n / 4)}`,
    (n: number) => `${" [03/Jun/2024:10:11:12 +0000".repeat(n / 28)} 0ms`,
  ]) {
    assert.deepEqual(
      assertLinearWork(make, (line) => run(["192.0.2.2 - x", line, line]), { perChar: 10 }),
      [],
      make(56),
    );
  }
});
