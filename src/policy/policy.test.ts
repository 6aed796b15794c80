import assert from "node:assert/strict";
import { test } from "node:test";
import type { Alert } from "../core/alert.ts";
import { Allowlist } from "./allowlist.ts";
import { sourceBanned } from "../detect/engine.ts";
import { coveringTargets, Policy } from "./policy.ts";

const T = Date.UTC(2026, 2, 2, 10);
const actor = { type: "cli" as const, name: "tester" };
const alert = (ip: string, rule = "ssh-brute-force", response: "ban" | "alert" = "ban"): Alert => ({
  id: `a-${ip}-${rule}`,
  "@timestamp": T,
  rule: { id: rule, name: rule, type: "threshold" },
  severity: "medium",
  group: { "source.ip": ip },
  count: 5,
  first_seen: T,
  last_seen: T,
  events: [],
  attack: [],
  origin: "native",
  response,
});

test("a ban, then the same target again: extended to the later expiry (or left, with noop), recorded once", () => {
  const p = new Policy({ defaultDuration: 600_000 });
  const first = p.onAlert(alert("203.0.113.1"), T);
  assert.equal(first.outcome, "banned");
  assert.equal(first.decision?.expires, T + 600_000);
  // Within the de-duplication window (1 minute by default) a report is a duplicate: nothing changes.
  const dup = p.onAlert(alert("203.0.113.1"), T + 60_000);
  assert.deepEqual(
    [dup.outcome, dup.expires, dup.decisionId],
    ["already_banned", T + 600_000, first.decision.id],
  );
  const again = p.onAlert(alert("203.0.113.1"), T + 60_001);
  assert.deepEqual(
    [again.outcome, again.expires, again.decisionId],
    ["extended", T + 660_001, first.decision.id],
  );
  const noop = new Policy({ onDuplicate: "noop" });
  noop.onAlert(alert("203.0.113.1"), T);
  assert.equal(noop.onAlert(alert("203.0.113.1"), T + 1).outcome, "already_banned");
});

test("escalation multiplies the duration for repeat offenders, capped", () => {
  const p = new Policy({
    defaultDuration: 600_000,
    escalation: { enabled: true, factor: 3, max: 3_600_000, lookback: 86_400_000 },
  });
  const durations: number[] = [];
  let t = T;
  for (let i = 0; i < 4; i++) {
    const r = p.ban({ target: "198.51.100.5", reason: "x", actor, origin: "cli" }, t);
    durations.push(r.decision!.duration);
    t = r.decision!.expires + 1;
  }
  assert.deepEqual(durations, [600_000, 1_800_000, 3_600_000, 3_600_000]);
});

test("refusals: allowlisted (also a range overlapping it), loopback, too wide, invalid", () => {
  const p = new Policy({}, new Allowlist([{ cidrs: ["10.1.0.0/16"], why: "office" }]));
  assert.match(
    p.ban({ target: "10.1.2.3", reason: "", actor, origin: "cli" }, T).reason,
    /allowlisted \(office: 10\.1\.0\.0\/16\)/,
  );
  assert.equal(p.ban({ target: "10.0.0.0/16", reason: "", actor, origin: "cli" }, T).outcome, "banned");
  assert.equal(
    p.ban({ target: "10.0.0.0/15", reason: "", actor, origin: "cli" }, T).outcome,
    "refused_too_wide",
  );
  const overlapping = new Policy(
    { maxPrefix: { v4: 8, v6: 48 } },
    new Allowlist([{ cidrs: ["10.1.0.0/16"], why: "office" }]),
  );
  assert.equal(
    overlapping.ban({ target: "10.0.0.0/8", reason: "", actor, origin: "cli" }, T).outcome,
    "refused_allowlisted",
  );
  assert.equal(p.ban({ target: "::1", reason: "", actor, origin: "cli" }, T).outcome, "refused_allowlisted");
  assert.equal(
    p.ban({ target: "::ffff:127.0.0.9", reason: "", actor, origin: "cli" }, T).outcome,
    "refused_allowlisted",
  );
  assert.equal(
    p.ban({ target: "2001:db8::/32", reason: "", actor, origin: "cli" }, T).outcome,
    "refused_too_wide",
  );
  assert.equal(
    p.ban({ target: "1.2.3.4 OR 1=1", reason: "", actor, origin: "cli" }, T).outcome,
    "refused_invalid",
  );
  assert.equal(p.counts.refused_allowlisted, 3);
});

test("addresses that are not one remote host are never banned: unspecified, broadcast, multicast, link-local", () => {
  const p = new Policy({});
  const refused = [
    "0.0.0.0",
    "255.255.255.255",
    "224.0.0.1",
    "169.254.169.254", // a cloud's metadata service
    "::",
    "ff02::1",
    "fe80::1", // a router's link-local address: its advertisements keep the host's IPv6 up
    "fe80::/64",
  ];
  for (const target of refused) {
    const r = p.ban({ target, reason: "", actor, origin: "cli" }, T);
    assert.equal(r.outcome, "refused_allowlisted", target);
    assert.match(r.reason, /not a unicast host address/, target);
  }
  // Their neighbours are ordinary addresses.
  for (const target of ["1.0.0.1", "169.253.255.255", "223.255.255.255", "2001:db8::1", "fec0::/64"]) {
    assert.equal(p.ban({ target, reason: "", actor, origin: "cli" }, T).outcome, "banned", target);
  }
});

test("circuit breaker: at most N new bans per minute, a warning once per opening, then it closes", () => {
  const p = new Policy({ maxBansPerMinute: 2 });
  const opened: number[] = [];
  p.onBreakerOpen = (at) => opened.push(at);
  const out = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"].map(
    (ip, i) => p.onAlert(alert(ip), T + i).outcome,
  );
  assert.deepEqual(out, ["banned", "banned", "refused_circuit_breaker", "refused_circuit_breaker"]);
  assert.deepEqual(opened, [T + 2]);
  assert.equal(p.onAlert(alert("203.0.113.5"), T + 61_000).outcome, "banned");
});

test("per-rule overrides: alert-only rules, durations, shadow mode; dry run simulates everything", () => {
  const p = new Policy({
    rules: {
      "ssh-slow-brute-force": { response: "ban", duration: 3_600_000 },
      "ssh-brute-force": { shadow: true },
    },
  });
  const slow = p.onAlert(alert("203.0.113.10", "ssh-slow-brute-force", "alert"), T);
  assert.deepEqual(
    [slow.outcome, slow.decision?.duration, slow.decision?.simulated],
    ["banned", 3_600_000, false],
  );
  const shadow = p.onAlert(alert("203.0.113.11"), T);
  assert.deepEqual([shadow.outcome, shadow.decision?.simulated], ["banned", true]);
  assert.equal(p.onAlert(alert("203.0.113.12", "ssh-password-spraying", "alert"), T).outcome, "alert_only");
  const dry = new Policy({ dryRun: true });
  assert.equal(dry.onAlert(alert("203.0.113.13"), T).decision?.simulated, true);
});

test("a shadow rule's simulated ban stands in the way of nothing on a live daemon; in dry-run every ban counts", () => {
  const escalation = { enabled: true, factor: 2, max: 86_400_000, lookback: 86_400_000 };
  const p = new Policy({ rules: { "shadow-rule": { shadow: true } }, escalation });
  const shadow = p.onAlert(alert("203.0.113.20", "shadow-rule"), T);
  assert.deepEqual([shadow.outcome, shadow.decision?.simulated], ["banned", true]);
  assert.equal(p.onAlert(alert("203.0.113.20", "shadow-rule"), T + 1).outcome, "already_banned");
  // Not in force: events of the address keep counting, a real rule bans it, with no escalation from the shadow.
  assert.equal(p.blocking.active("203.0.113.20", T + 1), undefined);
  const real = p.onAlert(alert("203.0.113.20"), T + 2);
  assert.deepEqual([real.outcome, real.decision?.simulated, real.decision?.escalation], ["banned", false, 0]);
  assert.equal(p.blocking.active("203.0.113.20", T + 3)?.decisionId, real.decision?.id);
  // The real ban now de-duplicates shadow reports too.
  assert.equal(p.onAlert(alert("203.0.113.20", "shadow-rule"), T + 3).outcome, "already_banned");
  // Dry run: everything is simulated and behaves as it would for real (de-duplication, suppression, escalation).
  const dry = new Policy({ dryRun: true, defaultDuration: 1000, escalation });
  const first = dry.onAlert(alert("203.0.113.21"), T);
  assert.equal(dry.blocking.active("203.0.113.21", T)?.decisionId, first.decision?.id);
  assert.equal(dry.onAlert(alert("203.0.113.21"), T + 1).outcome, "already_banned");
  assert.equal(dry.onAlert(alert("203.0.113.21"), T + 5000).decision?.escalation, 1);
});

test("an address inside a banned range is banned already: no second decision, its events are blocked", () => {
  const p = new Policy({ defaultDuration: 600_000, maxPrefix: { v4: 16, v6: 32 } });
  const range = p.ban(
    { target: "203.0.113.0/24", duration: 86_400_000, reason: "by hand", actor, origin: "cli" },
    T,
  );
  assert.equal(range.outcome, "banned");
  const inside = p.onAlert(alert("203.0.113.85"), T + 1);
  assert.deepEqual([inside.outcome, inside.decisionId], ["already_banned", range.decision?.id]);
  assert.equal(sourceBanned(p.blocking, "203.0.113.85", [64], T + 1), true);
  assert.equal(sourceBanned(p.blocking, "203.0.114.85", [64], T + 1), false);
  // IPv6: a /64 (how IPv6 attackers are banned) inside a /48 banned by hand, and an address in it.
  const v6 = p.ban(
    { target: "2001:db8:2::/48", duration: 86_400_000, reason: "by hand", actor, origin: "api" },
    T,
  );
  assert.equal(p.onAlert(alert("2001:db8:2:0:1::/64"), T + 1).decisionId, v6.decision?.id);
  assert.equal(sourceBanned(p.blocking, "2001:db8:2::77", [64], T + 1), true);
  // A ban that outlasts the range's stands on its own; once the range is lifted nothing covers the rest.
  const longer = p.ban(
    { target: "203.0.113.86", duration: 7 * 86_400_000, reason: "x", actor, origin: "cli" },
    T,
  );
  assert.equal(longer.outcome, "banned");
  p.bans.remove("203.0.113.0/24");
  assert.equal(p.bans.covering("203.0.113.85", T + 2), undefined);
  assert.equal(sourceBanned(p.blocking, "203.0.113.85", [64], T + 2), false);
  assert.equal(p.onAlert(alert("203.0.113.85"), T + 2).outcome, "banned");
  // Expired ranges stop covering too.
  assert.equal(p.bans.covering("2001:db8:2::1", T + 86_400_000), undefined);
});

test("an expired ban is no longer in force: the next offence bans anew", () => {
  const p = new Policy({ defaultDuration: 1000 });
  p.onAlert(alert("203.0.113.20"), T);
  assert.equal(p.bans.active("203.0.113.20", T + 999)?.target, "203.0.113.20");
  assert.equal(p.bans.active("203.0.113.20", T + 1000), undefined);
  assert.equal(p.onAlert(alert("203.0.113.20"), T + 1000).outcome, "banned");
});

test("undo takes back a ban or an extension that could not be recorded: no ban, history or breaker slot left", () => {
  const p = new Policy({
    defaultDuration: 600_000,
    maxBansPerMinute: 1,
    escalation: { enabled: true, factor: 2, max: 86_400_000, lookback: 86_400_000 },
  });
  const lost = p.onAlert(alert("203.0.113.9"), T);
  assert.equal(lost.outcome, "banned");
  p.undo(lost);
  p.undo(lost); // a second undo changes nothing
  assert.equal(p.bans.active("203.0.113.9", T), undefined);
  assert.equal(p.counts.banned, 0);
  // The retry is a first ban (no escalation), and the breaker's only slot was given back.
  const retry = p.onAlert(alert("203.0.113.9"), T + 1);
  assert.deepEqual([retry.outcome, retry.decision?.escalation], ["banned", 0]);
  const extended = p.onAlert(alert("203.0.113.9"), T + 120_000);
  assert.deepEqual([extended.outcome, extended.expires], ["extended", T + 720_000]);
  p.undo(extended);
  assert.equal(p.bans.active("203.0.113.9", T + 120_000)?.expires, T + 600_001);
  // The retry extends again; a duplicate report then has nothing to take back.
  assert.equal(p.onAlert(alert("203.0.113.9"), T + 120_000).outcome, "extended");
  const dup = p.onAlert(alert("203.0.113.9"), T + 120_001);
  assert.equal(dup.outcome, "already_banned");
  p.undo(dup);
  assert.equal(p.bans.active("203.0.113.9", T + 120_001)?.expires, T + 720_000);
});

test("coveringTargets: an address is blocked by itself and by every banned range containing it", () => {
  const banned = [
    "2001:db8:7:7::/64",
    "2001:db8:7::/48",
    "2001:db8::/48",
    "2001:db9::/64",
    "198.51.100.0/24",
    "198.51.100.9",
  ];
  assert.deepEqual(coveringTargets("2001:db8:7:7::3", banned), [
    "2001:db8:7:7::3",
    "2001:db8:7:7::/64",
    "2001:db8:7::/48",
  ]);
  assert.deepEqual(coveringTargets("198.51.100.9", banned), ["198.51.100.9", "198.51.100.0/24"]);
  assert.deepEqual(coveringTargets("203.0.113.1", banned), ["203.0.113.1"]);
  assert.deepEqual(coveringTargets("198.51.100.0/24", banned), ["198.51.100.0/24"], "a range: only itself");
});

test("a reloaded allowlist keeps the admin sessions of the one it replaces until it reads its own", () => {
  const old = new Allowlist();
  old.setDynamic("sessions", ["198.51.100.50"], "logged-in session");
  const fresh = new Allowlist([{ cidrs: ["192.0.2.0/24"], why: "configured allowlist" }]);
  assert.equal(fresh.match("198.51.100.50"), undefined);
  fresh.inheritDynamic(old);
  assert.deepEqual(fresh.match("198.51.100.50"), { cidr: "198.51.100.50", why: "logged-in session" });
  fresh.setDynamic("sessions", [], "");
  assert.equal(fresh.match("198.51.100.50"), undefined);
  assert.equal(old.match("198.51.100.50")?.why, "logged-in session", "the old list is not changed");
});
