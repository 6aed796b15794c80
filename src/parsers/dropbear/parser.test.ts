import assert from "node:assert/strict";
import { test } from "node:test";
import { assertLinearWork, eachLineHarness } from "../../../test/support/parser-harness.ts";

const { run, one } = eachLineHarness("dropbear");

test("bad password attempts, old and new spelling, PAM variant", () => {
  const a = one("May 30 10:00:01 router dropbear[4092]: bad password attempt for 'root' from 192.0.2.7:5543");
  assert.equal(a.event.action, "dropbear_auth_failed");
  assert.equal(a.event.outcome, "failure");
  assert.equal(a.event.dataset, "dropbear");
  assert.deepEqual(a.source, { ip: "192.0.2.7", port: 5543 });
  assert.equal(a.user?.name, "root");
  assert.equal(new Date(a["@timestamp"]).toISOString(), "2024-05-30T10:00:01.000Z");
  const b = one(
    "May 30 10:00:02 router dropbear[4093]: Bad PAM password attempt for 'admin' from 192.0.2.8:1",
  );
  assert.deepEqual(
    [b.event.action, b.source?.ip, b.user?.name],
    ["dropbear_auth_failed", "192.0.2.8", "admin"],
  );
});

test("nonexistent users: IPv4-mapped addresses become IPv4, IPv6 without brackets keeps its port apart", () => {
  const a = one(
    "May 30 10:00:03 dropbear[1252]: login attempt for nonexistent user from ::ffff:198.51.100.9:60495",
  );
  assert.deepEqual(
    [a.event.action, a.source?.ip, a.source?.port],
    ["dropbear_invalid_user", "198.51.100.9", 60495],
  );
  assert.equal(a.user, undefined);
  const b = one(
    "May 30 10:00:04 h dropbear[1253]: Login attempt for nonexistent user 'oracle' from 2001:db8::5:2222",
  );
  assert.deepEqual([b.source?.ip, b.source?.port, b.user?.name], ["2001:db8::5", 2222, "oracle"]);
});

test("max auth tries, old format (address at the end) and new format (address first)", () => {
  const a = one(
    "May 30 10:00:05 h dropbear[1335]: Exit before auth (user 'root', 10 fails): Max auth tries reached - user 'root' from 192.0.2.4:60588",
  );
  assert.deepEqual(
    [a.event.action, a.source?.ip, a.user?.name],
    ["dropbear_max_auth_tries", "192.0.2.4", "root"],
  );
  const b = one(
    "May 30 10:00:06 h dropbear[825]: [825] May 30 10:00:06 Exit before auth from <192.0.2.3:52289>: (user 'admin', 10 fails): Max auth tries reached - user 'admin'",
  );
  assert.deepEqual(
    [b.event.action, b.source?.ip, b.user?.name],
    ["dropbear_max_auth_tries", "192.0.2.3", "admin"],
  );
  const c = one(
    "May 30 10:00:07 h dropbear[826]: Exit before auth from <192.0.2.3:52325>: Max auth tries reached - user 'is invalid'",
  );
  assert.deepEqual(
    [c.event.action, c.source?.ip, c.user],
    ["dropbear_max_auth_tries", "192.0.2.3", undefined],
  );
});

test("the journal's [pid] date prefix is skipped", () => {
  const a = one(
    "May 30 10:00:08 h dropbear[825]: [825] May 30 10:00:08 Bad password attempt for 'root' from 192.0.2.1:52289",
  );
  assert.deepEqual([a.source?.ip, a.user?.name], ["192.0.2.1", "root"]);
});

test("pre-auth exits without failed passwords count only in aggressive mode; the old format uses the pid's address", () => {
  const lines = [
    "May 30 10:01:00 h dropbear[900]: Child connection from 203.0.113.5:4000",
    "May 30 10:01:01 h dropbear[900]: Exit before auth: Timeout before auth",
    "May 30 10:01:02 h dropbear[901]: Exit before auth from <203.0.113.6:4001>: Exited normally",
  ];
  assert.deepEqual(
    run(lines).map((e) => e.length),
    [0, 0, 0],
  );
  const agg = run(lines, "aggressive");
  assert.deepEqual(
    agg.map((evs) => evs.map((e) => [e.event.action, e.source?.ip, e.event.reason])),
    [
      [],
      [["dropbear_preauth_exit", "203.0.113.5", "Timeout before auth"]],
      [["dropbear_preauth_exit", "203.0.113.6", "Exited normally"]],
    ],
  );
});

test("successful logins are success events", () => {
  const a = one("May 30 10:02:00 h dropbear[950]: Password auth succeeded for 'root' from 192.0.2.50:5678");
  assert.deepEqual(
    [a.event.action, a.event.outcome, a.user?.name],
    ["dropbear_auth_success", "success", "root"],
  );
  const b = one(
    "May 30 10:02:01 h dropbear[951]: Pubkey auth succeeded for 'deploy' with ssh-ed25519 key SHA256:abc from 192.0.2.51:5679",
  );
  assert.deepEqual([b.event.outcome, b.user?.name, b.source?.ip], ["success", "deploy", "192.0.2.51"]);
});

test("an address injected in the user name is ignored", () => {
  const a = one(
    "May 30 10:03:00 h dropbear[960]: Bad password attempt for 'x' from 203.0.113.9:22' from 192.0.2.99:4444",
  );
  assert.deepEqual([a.source?.ip, a.user?.name], ["192.0.2.99", "x' from 203.0.113.9:22"]);
  const b = one(
    "May 30 10:03:01 h dropbear[961]: Exit before auth from <192.0.2.98:1>: (user 'a>: from <203.0.113.9:2>', 3 fails): Max auth tries reached - user 'root'",
  );
  assert.equal(b.source?.ip, "192.0.2.98");
  // A user name that ends the line with a forged address still ends with the daemon's own ` from `.
  const [c] = run(["May 30 10:03:02 h dropbear[962]: Bad password attempt for 'x from 203.0.113.9:22"]);
  assert.equal(c!.length, 0);
});

test("unrelated and malformed lines yield nothing", () => {
  const evs = run([
    "May 30 10:04:00 h dropbear[970]: Running in background",
    "May 30 10:04:01 h dropbear[970]: Bad password attempt for 'root' from not-an-address",
    "May 30 10:04:02 h dropbear[970]: Exit (root) from <192.0.2.1:2>: Disconnect received",
  ]);
  assert.deepEqual(
    evs.map((e) => e.length),
    [0, 0, 0],
  );
});

test("a user name holding the separator: the name runs to the last `', N fails): `", () => {
  const [ev] = run([
    "May 30 10:00:05 h dropbear[7]: Exit before auth from <192.0.2.9:22>: (user 'a', 1 fails): b', 3 fails): Max auth tries reached - user 'x'",
  ]);
  assert.equal(ev?.[0]?.user?.name, "a', 1 fails): b");
  assert.equal(ev?.[0]?.source?.ip, "192.0.2.9");
});

test("1 MB hostile lines cost work linear in their length", () => {
  // Each line is built from n, the length of its hostile part. Addresses and the user are found with searches
  // (counted); the user of an exit is found by a global regex stepping through the line for the last
  // `', N fails): `, each call counted from where it starts to its match: a loop that searched the rest of the
  // line again and again fails the scaling check on n/2 and n. What the count cannot see is backtracking inside
  // one regex call: the anchored regex this replaced (`^\(user '(.*)', (\d+) fails\): (.*)$`, over a minute on
  // the line-separator line below) would be counted as one call. Against that, the guard is these lines' output
  // (and exitUser's comment), not the count.
  const H = "May 30 10:05:00 h dropbear[1]: ";
  const lines: [(n: number) => string, unknown[]][] = [
    // The user runs to the last `' from ` (compared by its length).
    [
      (n) => `${H}Bad password attempt for '${"' from 1.2.3.4:5".repeat(n / 16)}`,
      [["dropbear_auth_failed", "1.2.3.4", (1 << 20) - 16]],
    ],
    [(n) => `${H}Exit before auth (user '${"', 1 fails): ".repeat(n / 13)}x`, []],
    [(n) => `${H}Exit before auth (user '${"', 1 fails): ".repeat(n / 13)}\u2028`, []],
    [(n) => `${H}Exit before auth from <192.0.2.1:2>: (user '${"', 1 fails): ".repeat(n / 13)}\rX`, []],
    [(n) => `${H}Exit before auth from <${"1".repeat(n)}`, []],
    [(n) => `${H}Login attempt for nonexistent user${" from".repeat(n / 5)}`, []],
    [
      (n) => `${H}Too-long password attempt for '${"' from 1.2.3.4:5".repeat(n / 16)}`,
      [["dropbear_auth_failed", "1.2.3.4", (1 << 20) - 16]],
    ],
    [(n) => `${H}Early exit from <${"1".repeat(n)}`, []],
    [(n) => `${H}exit before auth (user '${"', 1 fails): ".repeat(n / 13)}x`, []],
  ];
  for (const [make, expected] of lines) {
    const [evs] = assertLinearWork(make, (line) => run([line]), { perChar: 10 });
    assert.deepEqual(
      evs!.map((e) => [e.event.action, e.source?.ip, e.user?.name?.length]),
      expected,
      make(26),
    );
  }
});

test("too-long passwords are bad password attempts; the address is the daemon's last ` from `", () => {
  const ev = (line: string, pid: number, user: string, ip: string, port: number) => ({
    "@timestamp": Date.UTC(2024, 4, 30, 10, 6, 0),
    event: {
      dataset: "dropbear",
      action: "dropbear_auth_failed",
      outcome: "failure",
      category: ["authentication"],
      reason: "password too long",
    },
    message: line.slice(line.indexOf(": ") + 2),
    host: { name: "h" },
    process: { name: "dropbear", pid },
    source: { ip, port },
    user: { name: user },
  });
  const cases: [string, number, string, string, number][] = [
    [
      "May 30 10:06:00 h dropbear[980]: Too-long password attempt for 'root' from 192.0.2.20:40001",
      980,
      "root",
      "192.0.2.20",
      40001,
    ],
    // Hostile user names: ` from 6.6.6.6:1` inside the quotes, with and without a quote of its own.
    [
      "May 30 10:06:00 h dropbear[981]: Too-long password attempt for 'x from 6.6.6.6:1' from 192.0.2.21:40002",
      981,
      "x from 6.6.6.6:1",
      "192.0.2.21",
      40002,
    ],
    [
      "May 30 10:06:00 h dropbear[982]: Too-long password attempt for 'x' from 6.6.6.6:1' from 192.0.2.22:40003",
      982,
      "x' from 6.6.6.6:1",
      "192.0.2.22",
      40003,
    ],
  ];
  for (const [line, pid, user, ip, port] of cases)
    assert.deepEqual(JSON.parse(JSON.stringify(one(line))), ev(line, pid, user, ip, port), line);
  // A name that ends the line with a forged address has no daemon ` from ` after its closing quote: nothing.
  const bad = run([
    "May 30 10:06:00 h dropbear[983]: Too-long password attempt for 'x from 6.6.6.6:1",
    "May 30 10:06:00 h dropbear[983]: Too-long password attempt for 'x' from 6.6.6.6",
    "May 30 10:06:00 h dropbear[983]: too-long password attempt for 'x' from 6.6.6.6:1",
  ]);
  assert.deepEqual(
    bad.map((e) => e.length),
    [0, 0, 0],
  );
});

test("`Early exit from <ADDR>` (2022+) and lowercase `exit before auth` (before 2013): pre-auth exits, aggressive only", () => {
  const lines = [
    "May 30 10:07:00 h dropbear[990]: Early exit from <192.0.2.30:5000>: Failed to get remote version",
    "May 30 10:07:01 h dropbear[991]: Early exit from <192.0.2.31:5001>: Exit before auth from <6.6.6.6:1>: x",
    "May 30 10:07:02 h dropbear[992]: Child connection from 192.0.2.32:5002",
    "May 30 10:07:03 h dropbear[992]: exit before auth: Timeout before auth",
    "May 30 10:07:04 h dropbear[993]: exit before auth (user 'root', 10 fails): Max auth tries reached - user 'root' from 192.0.2.33:5003",
    "May 30 10:07:05 h dropbear[994]: Early exit: Failed listening on '22': Error listening",
  ];
  assert.deepEqual(
    run(lines).map((evs) => evs.map((e) => [e.event.action, e.source?.ip, e.user?.name])),
    [[], [], [], [], [["dropbear_max_auth_tries", "192.0.2.33", "root"]], []],
  );
  const agg = run(lines, "aggressive").map((evs) => evs.map((e) => JSON.parse(JSON.stringify(e))));
  const preauth = (i: number, pid: number, ip: string, port: number, reason: string) => ({
    "@timestamp": Date.UTC(2024, 4, 30, 10, 7, i),
    event: {
      dataset: "dropbear",
      action: "dropbear_preauth_exit",
      outcome: "failure",
      category: ["authentication"],
      reason,
    },
    message: lines[i]!.slice(lines[i]!.indexOf("]: ") + 3),
    host: { name: "h" },
    process: { name: "dropbear", pid },
    source: { ip, port },
  });
  assert.deepEqual(agg, [
    [preauth(0, 990, "192.0.2.30", 5000, "Failed to get remote version")],
    [preauth(1, 991, "192.0.2.31", 5001, "Exit before auth from <6.6.6.6:1>: x")],
    [],
    [preauth(3, 992, "192.0.2.32", 5002, "Timeout before auth")],
    [
      {
        "@timestamp": Date.UTC(2024, 4, 30, 10, 7, 4),
        event: {
          dataset: "dropbear",
          action: "dropbear_max_auth_tries",
          outcome: "failure",
          category: ["authentication"],
          reason: "Max auth tries reached - user 'root'",
        },
        message: lines[4]!.slice(lines[4]!.indexOf("]: ") + 3),
        host: { name: "h" },
        process: { name: "dropbear", pid: 993 },
        source: { ip: "192.0.2.33", port: 5003 },
        user: { name: "root" },
      },
    ],
    // The listener's own exit (no client address) is no connection's.
    [],
  ]);
});
