/**
 * Saving and restoring detection windows (what the daemon does across a clean restart): a window restored from
 * JSON continues exactly where it stopped, for every detector type; changed rules and malformed state start
 * empty without an error.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Alert } from "../core/alert.ts";
import type { SecurityEvent } from "../core/event.ts";
import { DetectionEngine } from "./engine.ts";
import { parseRules } from "./load.ts";

const RULES = `
id: brute
type: threshold
query: 'event.dataset: sshd and event.outcome: failure'
threshold: 5
window: 10m
---
id: spray
type: distinct
query: 'event.dataset: sshd and event.outcome: failure'
field: user.name
threshold: 3
window: 1h
---
id: then-success
type: sequence
first:
  query: 'event.dataset: sshd and event.outcome: failure'
  count: 3
then:
  query: 'event.dataset: sshd and event.action: ssh_login'
window: 10m
---
id: cmd
type: match
query: 'event.dataset: sudo'
group_by: [user.name]
suppress: 5m
`;

const rules = () => parseRules(RULES, "inline.yaml").rules;
const MIN = 60_000;

function fail(ip: string, t: number, user = "root"): SecurityEvent {
  return {
    "@timestamp": t,
    event: { dataset: "sshd", action: "ssh_auth_failed", outcome: "failure" },
    source: { ip },
    user: { name: user },
  };
}

/** Feeds events, returns the alerts' rule ids. */
function feed(e: DetectionEngine, events: SecurityEvent[]): Alert[] {
  const out: Alert[] = [];
  for (const ev of events) e.process(ev, out);
  return out;
}

/** The engine's state through JSON (as the daemon stores it), into a new engine with `nextRules`. */
function restart(e: DetectionEngine, nextRules = rules()): { engine: DetectionEngine; groups: number } {
  const saved = JSON.parse(JSON.stringify(e.saveState())) as unknown;
  const engine = new DetectionEngine(nextRules);
  return { engine, groups: engine.restoreState(saved).groups };
}

test("a threshold window continues across a restart: 4 failures before, 1 after = an alert of 5", () => {
  const a = new DetectionEngine(rules());
  assert.deepEqual(
    feed(
      a,
      [0, 1, 2, 3].map((i) => fail("203.0.113.9", i * MIN)),
    ),
    [],
  );
  const { engine: b } = restart(a);
  const alerts = feed(b, [fail("203.0.113.9", 4 * MIN)]).filter((x) => x.rule.id === "brute");
  assert.equal(alerts.length, 1);
  assert.equal(alerts[0]!.count, 5);
  assert.equal(alerts[0]!.first_seen, 0);
  assert.equal(alerts[0]!.events.length, 5, "sample events restored with the window");
  assert.equal(alerts[0]!.events[0]!["@timestamp"], 0);
});

test("restored windows still slide: failures older than the window do not count after the restart", () => {
  const a = new DetectionEngine(rules());
  feed(
    a,
    [0, 1, 2, 3].map((i) => fail("203.0.113.9", i * MIN)),
  );
  const { engine: b } = restart(a);
  // At 12 minutes only the restored failures of minutes 2 and 3 are within 10 minutes: 3 in all, no alert.
  assert.deepEqual(
    feed(b, [fail("203.0.113.9", 12 * MIN)]).filter((x) => x.rule.id === "brute"),
    [],
  );
});

test("distinct, sequence and match state survive a restart too", () => {
  const a = new DetectionEngine(rules());
  // Two users sprayed from one address, and three failures of a later successful address.
  feed(a, [fail("198.51.100.4", 0, "alice"), fail("198.51.100.4", MIN, "bob")]);
  feed(a, [fail("198.51.100.5", 0), fail("198.51.100.5", 1), fail("198.51.100.5", 2)]);
  const sudo: SecurityEvent = {
    "@timestamp": 0,
    event: { dataset: "sudo", action: "sudo_command", outcome: "success" },
    user: { name: "mallory" },
  };
  assert.equal(feed(a, [sudo]).length, 1);
  const { engine: b, groups } = restart(a);
  assert.ok(groups >= 4, `restored ${groups} groups`);
  const spray = feed(b, [fail("198.51.100.4", 2 * MIN, "carol")]).filter((x) => x.rule.id === "spray");
  assert.equal(spray.length, 1);
  assert.equal(spray[0]!.distinct, 3);
  const login: SecurityEvent = {
    "@timestamp": 3 * MIN,
    event: { dataset: "sshd", action: "ssh_login", outcome: "success" },
    source: { ip: "198.51.100.5" },
    user: { name: "root" },
  };
  assert.deepEqual(
    feed(b, [login]).map((x) => x.rule.id),
    ["then-success"],
  );
  // The command alert of mallory is still suppressed for 5 minutes after the restart.
  assert.deepEqual(feed(b, [{ ...sudo, "@timestamp": MIN }]), []);
  assert.equal(feed(b, [{ ...sudo, "@timestamp": 6 * MIN }]).length, 1);
});

test("a rule changed across the restart starts empty; unchanged rules keep their windows", () => {
  const a = new DetectionEngine(rules());
  feed(
    a,
    [0, 1, 2, 3].map((i) => fail("203.0.113.9", i * MIN)),
  );
  const changed = rules().map((r) =>
    r.id === "spray" ? { ...r, spec: { ...r.spec, threshold: 4 } as typeof r.spec } : r,
  );
  const saved = JSON.parse(JSON.stringify(a.saveState())) as { rules: { spec: string }[] };
  const b = new DetectionEngine(changed);
  const restored = b.restoreState(saved);
  assert.equal(restored.rules, saved.rules.length - 1, "every rule but the changed one");
  assert.equal(feed(b, [fail("203.0.113.9", 4 * MIN)]).filter((x) => x.rule.id === "brute").length, 1);
});

test("malformed saved state is ignored piece by piece, never an error", () => {
  const a = new DetectionEngine(rules());
  feed(
    a,
    [0, 1, 2, 3].map((i) => fail("203.0.113.9", i * MIN)),
  );
  const good = JSON.parse(JSON.stringify(a.saveState())) as { rules: { groups: unknown[] }[] };
  const hostile: unknown[] = [
    null,
    42,
    "text",
    { version: 2, rules: good.rules },
    { version: 1, rules: "x" },
    { version: 1, rules: [null, 1, { spec: 5 }, { spec: "{}", groups: [] }] },
    {
      version: 1,
      rules: good.rules.map((r) => ({
        ...r,
        groups: [
          null,
          [1, {}],
          ["k", null],
          ["k", { win: [[1, 2], [1]] }],
          [
            "k",
            {
              win: [
                [2, 1],
                [1, 1],
              ],
            },
          ], // out of time order
          ["k", { win: [["x"], [1]] }],
          ["k", { seen: [["a", "not a time"]] }],
          ["k", { seen: "x" }],
          ["k", { at: "later" }],
        ],
      })),
    },
  ];
  for (const state of hostile) {
    const b = new DetectionEngine(rules());
    assert.deepEqual(b.restoreState(state).groups, 0, JSON.stringify(state).slice(0, 80));
    // And the engine works normally afterwards.
    assert.equal(
      feed(
        b,
        [0, 1, 2, 3, 4].map((i) => fail("192.0.2.77", i * MIN)),
      ).filter((x) => x.rule.id === "brute").length,
      1,
    );
  }
});

test("saveState keeps at most `limit` groups, the most recent ones", () => {
  const a = new DetectionEngine(rules());
  for (let i = 0; i < 50; i++) feed(a, [fail(`203.0.113.${i}`, i)]);
  const state = a.saveState(10);
  const groups = state.rules.flatMap((r) => r.groups.map(([k]) => k));
  assert.equal(groups.length, 10);
  assert.ok(groups.includes("203.0.113.49"));
  assert.ok(!groups.includes("203.0.113.0"));
});
