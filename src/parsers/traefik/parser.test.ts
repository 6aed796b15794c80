import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, lineHarness } from "../../../test/support/parser-harness.ts";

const { run } = lineHarness("traefik");

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

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. Access lines are read without regexes, with
  // searches and character reads (counted): the scaling check on n/2 and n guards against a search repeated over
  // the rest of the line.
  const lines = [
    (n: number) => `203.0.113.1 - ${" [".repeat(n / 2)} 0ms`,
    (n: number) => `203.0.113.1 - - [03/Jun/2024:10:11:12 +0000] "${'" 4'.repeat(n / 3)} 0ms`,
    (n: number) => `${"1".repeat(n)} 0ms`,
  ];
  for (const make of lines) {
    assert.deepEqual(
      assertLinearWork(make, (line) => run([line]), { perChar: 10 }),
      [],
      make(6),
    );
  }
});
