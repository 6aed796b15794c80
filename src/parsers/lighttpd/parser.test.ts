import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, parseLines } from "../../../test/support/parser-harness.ts";

const run = (lines: string[], only = ["lighttpd"]) => parseLines(lines, only);

test("mod_auth failures of old and new lighttpd versions: user, address, time", () => {
  const evs = run([
    "2024-06-03 10:11:12: (http_auth.c.875) password doesn't match for /git/ username: alice, IP: 203.0.113.5",
    "2024-06-03 10:11:13: (mod_auth.c.828) password doesn't match for /secure/ username: bob IP: 2001:db8::5",
    "2024-06-03 10:11:14: mod_auth.c.828) password doesn't match for /secure/ username: carl IP: 203.0.113.6",
    "2024-06-03 10:11:15: (mod_auth.c.1136) digest: auth failed for  dave : wrong password, IP: 203.0.113.7",
    "2024-06-03 10:11:16: (http_auth.c.877) get_password failed, IP: 203.0.113.8",
    "2024-06-03 10:11:17: (mod_auth.c.791) digest: auth failed: uri mismatch (/a != /b), IP: 203.0.113.9",
    "2024-06-03 10:11:18: (mod_auth.c.1201) digest: auth failed for erin: wrong password, IP: 203.0.113.11",
  ]);
  assert.deepEqual(
    evs.map((e) => [e.event.action, e.source?.ip, e.user?.name, e["@timestamp"]]),
    [
      ["lighttpd_auth_failed", "203.0.113.5", "alice", Date.UTC(2024, 5, 3, 10, 11, 12)],
      ["lighttpd_auth_failed", "2001:db8::5", "bob", Date.UTC(2024, 5, 3, 10, 11, 13)],
      ["lighttpd_auth_failed", "203.0.113.6", "carl", Date.UTC(2024, 5, 3, 10, 11, 14)],
      ["lighttpd_auth_failed", "203.0.113.7", "dave", Date.UTC(2024, 5, 3, 10, 11, 15)],
      ["lighttpd_auth_failed", "203.0.113.8", undefined, Date.UTC(2024, 5, 3, 10, 11, 16)],
      ["lighttpd_auth_failed", "203.0.113.9", undefined, Date.UTC(2024, 5, 3, 10, 11, 17)],
      ["lighttpd_auth_failed", "203.0.113.11", "erin", Date.UTC(2024, 5, 3, 10, 11, 18)],
    ],
  );
  const e = evs[0]!;
  assert.equal(e.event.dataset, "lighttpd");
  assert.equal(e.event.outcome, "failure");
  assert.deepEqual(e.event.category, ["authentication", "web"]);
  assert.equal(e.event.reason, "password doesn't match for /git/ username: alice");
});

test("through syslog / journald (program lighttpd)", () => {
  const [e] = run([
    "2024-06-03T10:11:12.602061 web1 lighttpd[764]: (mod_auth.c.853) password doesn't match for / username: eve IP: 203.0.113.10",
  ]);
  assert.deepEqual([e!.source?.ip, e!.user?.name, e!.process?.name], ["203.0.113.10", "eve", "lighttpd"]);
});

test("other lighttpd messages are not failures", () => {
  assert.equal(
    run([
      "2024-06-03 10:11:12: (server.c.1513) server started (lighttpd/1.4.73)",
      "2024-06-03 10:11:12: (mod_fastcgi.c.2543) connect failed: Connection refused, IP: 203.0.113.11",
      "2024-06-03 10:11:12: (mod_auth.c.828) password doesn't match, IP: not-an-address",
    ]).length,
    0,
  );
});

test("spoofing: the address is the one lighttpd writes last", () => {
  const evs = run([
    "2024-06-03 10:11:12: (mod_auth.c.828) password doesn't match for /IP: 192.0.2.1/ username: x, IP: 192.0.2.2 IP: 203.0.113.12",
    "2024-06-03 10:11:12: (mod_auth.c.828) password doesn't match for / username: x IP: 192.0.2.3 IP: 203.0.113.13 trailing",
  ]);
  assert.deepEqual(
    evs.map((e) => [e.source?.ip, e.user?.name]),
    [["203.0.113.12", "x, IP: 192.0.2.2"]],
  );
});

test("a 1 MB hostile line is handled in linear time", () => {
  // Each line is built from n, the length of its hostile part. The address and the user are found with searches
  // (counted); the one regex checks the bounded source-file token. The scaling check on n/2 and n guards against
  // a search repeated over the rest of the line.
  const lines: [(n: number) => string, unknown[]][] = [
    [(n) => `2024-06-03 10:11:12: (mod_auth.c.828) ${"IP: ".repeat(n / 4)}`, []],
    // The user runs to the last `IP: ` (compared by its length).
    [
      (n) => `2024-06-03 10:11:12: (mod_auth.c.828) ${" username: ".repeat(n / 11)}IP: 203.0.113.1`,
      [["lighttpd_auth_failed", "203.0.113.1", 1048563]],
    ],
    [
      (n) => `2024-06-03 10:11:12: (mod_auth.c.828) auth failed for ${" : ".repeat(n / 3)}IP: 203.0.113.1`,
      [["lighttpd_auth_failed", "203.0.113.1", 1048571]],
    ],
    [(n) => `2024-06-03 10:11:12: (${"a".repeat(n)}`, []],
  ];
  for (const [make, expected] of lines) {
    const evs = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs.map((e) => [e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
      make(22),
    );
  }
});
