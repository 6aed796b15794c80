import assert from "node:assert/strict";
import { test } from "node:test";
import type { Alert } from "../core/alert.ts";
import type { SecurityEvent } from "../core/event.ts";
import { parseKql } from "../kql/index.ts";
import { DetectionEngine, indexedOnly, sourceBanned } from "./engine.ts";
import { parseRules } from "./load.ts";

/** An sshd failure from `ip` at `t`, standing for `count` of them. */
const fail = (ip: string, t: number, count = 1): SecurityEvent => ({
  "@timestamp": t,
  event: { dataset: "sshd", action: "ssh_auth_failed", outcome: "failure", ...(count > 1 && { count }) },
  source: { ip },
});

test("indexedOnly: conditions the candidate index decides exactly", () => {
  for (const q of [
    "event.dataset: sshd",
    "event.dataset: sshd and event.action: (a or b)",
    'event.dataset: "system.auth" and event.outcome: failure',
  ])
    assert.equal(indexedOnly(parseKql(q)), true, q);
  for (const q of [
    "event.dataset: sshd and not event.action: a",
    "event.dataset: sshd and source.ip: 10.0.0.0/8",
    "event.action: a or event.dataset: b",
    "event.action: ssh_*",
    "event.*: x",
  ])
    assert.equal(indexedOnly(parseKql(q)), false, q);
});

const rules = parseRules(
  [
    "id: r",
    "type: threshold",
    "query: 'event.dataset: sshd and event.action: (fail or invalid)'",
    "threshold: 2",
    "window: 1m",
  ].join("\n"),
  "inline",
).rules;

function ev(action: unknown, t: number): SecurityEvent {
  return {
    "@timestamp": t,
    event: { dataset: "sshd", action: action as string, outcome: "failure" },
    source: { ip: "203.0.113.1" },
  };
}

test("indexed conditions count matching events and skip the rest, whatever the value's type", () => {
  const e = new DetectionEngine(rules);
  const out: Alert[] = [];
  e.process(ev("fail", 0), out);
  e.process(ev("login", 1), out);
  e.process(ev(["other"], 2), out); // an array value: the condition is evaluated (no match)
  assert.equal(out.length, 0);
  e.process(ev(["invalid"], 3), out); // an array holding a listed value matches, as in Elasticsearch
  assert.equal(out.length, 1);
  assert.equal(out[0]!.count, 2);
});

test("requiredFields: what must be present for a condition to hold", async () => {
  const { requiredFields } = await import("./engine.ts");
  const f = (q: string) => [...requiredFields(parseKql(q))].sort();
  assert.deepEqual(f("process.command_line: (*wget* or *curl*)"), ["process.command_line"]);
  assert.deepEqual(f("http.request.method: POST and url.path: *wp-login.php"), [
    "http.request.method",
    "url.path",
  ]);
  assert.deepEqual(f("a: 1 or b: 2"), []);
  assert.deepEqual(f("not a: 1"), []);
  assert.deepEqual(f("a: * and (b: 1 or (b: 2 and c: 3))"), ["a", "b"]);
  assert.deepEqual(f("wget"), []);
});

test("forgetSource: a ban forgets the groups it covers under every rule's ipv6_prefix, not wider ones", () => {
  const rules = parseRules(
    [128, 48]
      .map((p) =>
        [
          `id: brute-${p}`,
          "type: threshold",
          "query: 'event.dataset: sshd and event.outcome: failure'",
          "threshold: 5",
          "window: 10m",
          `ipv6_prefix: ${p}`,
          "response: ban",
        ].join("\n"),
      )
      .join("\n---\n"),
    "inline.yaml",
  ).rules;
  const engine = new DetectionEngine(rules);
  const out: Alert[] = [];
  for (let i = 0; i < 4; i++) {
    engine.process(fail("2001:db8::1", i), out);
    engine.process(fail("2001:db9::1", i), out);
  }
  assert.deepEqual(engine.ipv6Prefixes, [128, 48]);
  // A /64 ban: the /128 group of 2001:db8::1 is inside it, the /48 group 2001:db8::/48 is wider (kept).
  engine.forgetSource("2001:db8::/64");
  engine.process(fail("2001:db8::1", 4), out);
  engine.process(fail("2001:db9::1", 4), out);
  assert.deepEqual(
    out.map((a) => `${a.rule.id} ${a.group["source.ip"]}`),
    ["brute-48 2001:db8::/48", "brute-128 2001:db9::1", "brute-48 2001:db9::/48"],
  );
});

test("forgetSource: a ban resets the counts of the rule that made it; other rules keep theirs", () => {
  const rule = (id: string, type: string, extra: string[]) =>
    [`id: ${id}`, `type: ${type}`, "window: 1h", ...extra].join("\n");
  const rules = parseRules(
    [
      rule("fast", "threshold", ["query: 'event.outcome: failure'", "threshold: 3", "response: ban"]),
      rule("other-ban", "threshold", ["query: 'event.outcome: failure'", "threshold: 5", "response: ban"]),
      rule("slow", "threshold", ["query: 'event.outcome: failure'", "threshold: 5"]),
      rule("then-success", "sequence", [
        "first:\n  query: 'event.outcome: failure'\n  count: 3",
        "then:\n  query: 'event.outcome: success'",
      ]),
    ].join("\n---\n"),
    "inline.yaml",
  ).rules;
  const ev = (outcome: "failure" | "success", t: number, dataset = "sshd"): SecurityEvent => ({
    "@timestamp": t,
    event: { dataset, action: outcome === "failure" ? "ssh_auth_failed" : "ssh_login", outcome },
    source: { ip: "192.0.2.7" },
  });
  const run = (forget: (e: DetectionEngine) => void) => {
    const engine = new DetectionEngine(rules);
    const out: Alert[] = [];
    for (let i = 0; i < 3; i++) engine.process(ev("failure", i), out);
    forget(engine);
    // A ban event fed back (a rule on event.outcome alone must not count it as a failure).
    engine.process(ev("failure", 3, "portcullis"), out);
    for (let i = 4; i < 6; i++) engine.process(ev("failure", i), out);
    engine.process(ev("success", 6), out);
    return out.map((a) => `${a.rule.id}:${a.count}`);
  };
  // The first three failures made `fast` alert at 3; the ban (by `fast`) resets fast alone: the slow rule
  // reaches 5 with the failures before the ban, the other banning rule too, and the success after them is a
  // compromise.
  assert.deepEqual(
    run((e) => e.forgetSource("192.0.2.7", "fast")),
    ["fast:3", "other-ban:5", "slow:5", "then-success:3"],
  );
  // A ban no rule made (an operator's, a SIEM's) resets every banning rule; the alert-only rules keep counting.
  assert.deepEqual(
    run((e) => e.forgetSource("192.0.2.7")),
    ["fast:3", "slow:5", "then-success:3"],
  );
});

test("sourceBanned: an address is banned under every prefix in use, and as itself (a manual ban)", () => {
  const keys = new Set<string>();
  const bans = { active: (k: string) => (keys.has(k) ? {} : undefined) };
  const v6 = "2001:db8:7:7::5";
  assert.equal(sourceBanned(bans, v6, [64, 128], 0), false);
  keys.add("2001:db8:7:7::/64");
  assert.equal(sourceBanned(bans, v6, [64], 0), true, "the policy's /64");
  keys.clear();
  keys.add("2001:db8:7::/48");
  assert.equal(sourceBanned(bans, v6, [64, 48], 0), true, "a rule's /48");
  assert.equal(sourceBanned(bans, v6, [64], 0), false, "a prefix no rule uses is not looked up");
  keys.clear();
  keys.add(v6);
  assert.equal(sourceBanned(bans, v6, [64], 0), true, "the single address, banned by hand");
  keys.add("192.0.2.7");
  assert.equal(sourceBanned(bans, "192.0.2.7", [64], 0), true);
  assert.equal(sourceBanned(bans, "192.0.2.8", [64], 0), false);
});

test("mayRead: a rule may read a (dataset, action) if its equalities admit them and the fields it needs can be there", () => {
  const engine = new DetectionEngine(
    parseRules(
      [
        "- { id: brute, type: threshold, threshold: 5, window: 10m,",
        "    query: 'event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user)' }",
        "- { id: cmd, type: match, query: 'process.command_line: *wget*' }",
        "- { id: seq, type: sequence, window: 1h, first: { query: 'event.dataset: pam and event.action: a' },",
        "    then: { query: 'event.dataset: pam and event.action: b and event.outcome: success' } }",
        "- { id: off, type: match, enabled: false, query: 'event.dataset: pam and event.action: c' }",
      ].join("\n"),
      "inline",
    ).rules,
  );
  const sshd = (f: string) => ["source", "source.ip", "user", "user.name"].includes(f);
  const sudo = (f: string) => ["process", "process.command_line"].includes(f);
  assert.equal(engine.mayRead("sshd", "ssh_auth_failed", sshd), true);
  assert.equal(
    engine.mayRead("sshd", "ssh_login", sshd),
    false,
    "no rule admits the action, cmd needs a command",
  );
  assert.equal(engine.mayRead("sshd", "ssh_login", sudo), true, "cmd reads any dataset with a command line");
  assert.equal(engine.mayRead("pam", "a", sshd), true, "a sequence's first condition");
  assert.equal(engine.mayRead("pam", "b", sshd), true, "its second, whatever the outcome");
  assert.equal(engine.mayRead("pam", "c", sshd), false, "a disabled rule reads nothing");
  assert.equal(
    engine.mayRead("nginx", "http_probe", () => false),
    false,
  );
});

/** An engine with one rule, 5 failures within 10 minutes, tracking at most `maxKeys` groups. */
function smallCapEngine(maxKeys: number): DetectionEngine {
  const rules = parseRules(
    [
      "id: small-cap",
      "type: threshold",
      "query: 'event.outcome: failure'",
      "threshold: 5",
      "window: 10m",
      `max_keys: ${maxKeys}`,
    ].join("\n"),
    "inline.yaml",
  ).rules;
  return new DetectionEngine(rules);
}

test("the cap on groups drops groups whose window has emptied before a live one", () => {
  const engine = smallCapEngine(3);
  const out: Alert[] = [];
  const min = 60_000;
  // Two addresses seen at 10:00 (their windows are empty by 10:10:01), no sweep in between.
  for (const ip of ["192.0.2.1", "192.0.2.2"]) for (let i = 0; i < 2; i++) engine.process(fail(ip, 0), out);
  // An attacker's 4 failures (rsyslog's "message repeated 4 times"), a new address, the attacker's 5th.
  engine.process(fail("203.0.113.66", 10 * min + 30_000, 4), out);
  engine.process(fail("198.51.100.99", 10 * min + 31_000), out);
  engine.process(fail("203.0.113.66", 10 * min + 32_000), out);
  assert.deepEqual(
    out.map((a) => `${a.group["source.ip"]} ${a.count}`),
    ["203.0.113.66 5"],
  );
  assert.deepEqual(
    engine.stats().map((s) => [s.keys, s.evictions]),
    [[2, 0]],
  );
});

test("at the cap, a flood of one-event groups evicts other one-event groups, not an attacker near the threshold", () => {
  const engine = smallCapEngine(16);
  const out: Alert[] = [];
  // The attacker's 4 failures first (the oldest group), then 200 addresses with one failure each, in a minute.
  for (let i = 0; i < 4; i++) engine.process(fail("203.0.113.66", i * 1000), out);
  for (let i = 0; i < 200; i++)
    engine.process(fail(`198.51.${100 + (i >> 8)}.${i & 255}`, 5000 + i * 250), out);
  engine.process(fail("203.0.113.66", 60_000), out);
  assert.deepEqual(
    out.map((a) => `${a.group["source.ip"]} ${a.count}`),
    ["203.0.113.66 5"],
  );
  const [stats] = engine.stats();
  assert.equal(stats?.keys, 16);
  assert.equal(stats?.evictions, 201 - 16);
});
