/**
 * Replay's time semantics: several inputs are one stream in event time (two hosts' logs, or sshd's and nginx's
 * of one host, overlap), a decision is stamped with its triggering event's time even when lines are a little
 * out of order, and a shadow rule's simulated ban does not stand in the way, as on a live daemon.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Decision } from "../../src/core/decision.ts";
import { builtinRules } from "../../src/detect/builtin.ts";
import { DetectionEngine } from "../../src/detect/engine.ts";
import { Zone } from "../../src/framing/zone.ts";
import { replay, type ReplayInput } from "../../src/pipeline/replay.ts";
import { Policy, type PolicyConfig } from "../../src/policy/policy.ts";
import { seededInts } from "../support/random.ts";

const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2026, 0, 31) };

const stamp = (t: number) => {
  const d = new Date(t);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `Jan ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
};
const fail = (t: number, host: string, ip: string, pid: number) =>
  `${stamp(t)} ${host} sshd[${pid}]: Failed password for root from ${ip} port 22 ssh2`;

async function decisions(
  inputs: { path: string; lines: string[] }[],
  policy: Partial<PolicyConfig> = {},
): Promise<{ list: string[]; suppressed: number; alerts: string[] }> {
  const list: string[] = [];
  const alerts: string[] = [];
  const summary = await replay({
    inputs: inputs.map((i): ReplayInput => ({ ...i, time })),
    engine: new DetectionEngine(builtinRules()),
    policy: new Policy({ firstSequence: 0, ...policy }),
    hooks: {
      onDecision: (d: Decision) =>
        list.push(`${d.target} ${new Date(d["@timestamp"]).toISOString()}${d.simulated ? " simulated" : ""}`),
      onAlert: (a, r) => alerts.push(`${a.rule.id} ${a.group["source.ip"]} ${r.outcome}`),
    },
  });
  return { list, suppressed: summary.suppressed, alerts };
}

test("replay: two overlapping logs are judged as one stream in event time", async () => {
  // Two hosts attacked by the same few addresses over the same hours: each log in time order, interleaved.
  const rand = seededInts(7);
  const base = Date.UTC(2026, 0, 10, 8);
  const a: [number, string][] = [];
  const b: [number, string][] = [];
  for (let i = 0; i < 3000; i++) {
    const t = base + rand(8 * 3600) * 1000;
    const ip = `198.51.100.${1 + rand(6)}`;
    (rand(2) === 0 ? a : b).push([t, ip]);
  }
  a.sort((x, y) => x[0] - y[0]);
  b.sort((x, y) => x[0] - y[0]);
  const linesA = a.map(([t, ip], i) => fail(t, "hostA", ip, 1000 + i));
  const linesB = b.map(([t, ip], i) => fail(t, "hostB", ip, 5000 + i));
  // The reference: the same lines as one log, in time order (hostA first on equal times, as the inputs).
  const all = [
    ...a.map(([t], i) => [t, 0, linesA[i]!] as const),
    ...b.map(([t], i) => [t, 1, linesB[i]!] as const),
  ]
    .sort((x, y) => x[0] - y[0] || x[1] - y[1])
    .map((x) => x[2]);
  const one = await decisions([{ path: "all.log", lines: all }]);
  const two = await decisions([
    { path: "a.log", lines: linesA },
    { path: "b.log", lines: linesB },
  ]);
  assert.ok(one.list.length > 20, `a real test needs bans (${one.list.length})`);
  assert.deepEqual(two.list, one.list);
  assert.equal(two.suppressed, one.suppressed);
  // Given in the other order, the result is the same.
  const swapped = await decisions([
    { path: "b.log", lines: linesB },
    { path: "a.log", lines: linesA },
  ]);
  assert.deepEqual(new Set(swapped.list), new Set(one.list));
});

test("replay: a decision carries its triggering event's time, even after a line written out of order", async () => {
  const t0 = Date.UTC(2026, 0, 10, 10);
  const lines = [
    fail(t0, "h", "192.0.2.50", 1),
    // A line of another connection stamped five minutes later, written early (a slow syslog relay).
    fail(t0 + 300_000, "h", "192.0.2.99", 2),
    ...[1, 2, 3, 4].map((s) => fail(t0 + s * 1000, "h", "192.0.2.50", 1)),
    // 14:30 after the first failure: the ban (10 minutes from 10:00:04) has ended; this failure counts.
    ...[870, 871, 872, 873, 874].map((s) => fail(t0 + s * 1000, "h", "192.0.2.50", 3)),
  ];
  const r = await decisions([{ path: "late.log", lines }]);
  assert.deepEqual(r.list, ["192.0.2.50 2026-01-10T10:00:04.000Z", "192.0.2.50 2026-01-10T10:14:34.000Z"]);
  assert.equal(r.suppressed, 0);
});

test("replay: a shadow rule's simulated ban neither suppresses events nor resets counts", async () => {
  const t0 = Date.UTC(2026, 0, 10, 10);
  // Eight user names from one address, three minutes apart (never 5 failures in 10 minutes): password
  // spraying at the 8th, a shadow ban. Then root failures: with the four latest names, the 1st makes 5.
  const lines = [
    ...Array.from(
      { length: 8 },
      (_, i) =>
        `${stamp(t0 + i * 180_000)} h sshd[${i}]: Failed password for invalid user u${i} from 192.0.2.60 port 22 ssh2`,
    ),
    ...[0, 1, 2].map((s) => fail(t0 + 21 * 60_000 + 30_000 + s * 1000, "h", "192.0.2.60", 99)),
  ];
  const r = await decisions([{ path: "shadow.log", lines }], {
    rules: { "ssh-password-spraying": { response: "ban", shadow: true } },
  });
  assert.deepEqual(r.list, [
    "192.0.2.60 2026-01-10T10:21:00.000Z simulated",
    "192.0.2.60 2026-01-10T10:21:30.000Z",
  ]);
  assert.equal(r.suppressed, 2, "the failures after the real ban are ignored");
});

test("replay: a line dated far in the future neither lifts bans nor empties windows", async () => {
  const base = Date.UTC(2026, 0, 10, 8);
  const forged = "2099-01-01T00:00:00Z hostA sshd[1]: Failed password for root from 203.0.113.1 port 22 ssh2";
  const lines = [
    ...[0, 1, 2, 3, 4].map((i) => fail(base + i * 1000, "hostA", "198.51.100.9", 10 + i)),
    ...[0, 1, 2].map((i) => fail(base + 10_000 + i * 1000, "hostA", "198.51.100.10", 20 + i)),
    forged,
    // During 198.51.100.9's ban: ignored. 198.51.100.10's fourth and fifth failures within 10 minutes: a ban.
    ...[0, 1, 2].map((i) => fail(base + 120_000 + i * 1000, "hostA", "198.51.100.9", 30 + i)),
    ...[0, 1].map((i) => fail(base + 130_000 + i * 1000, "hostA", "198.51.100.10", 40 + i)),
  ];
  const { list, suppressed } = await decisions([{ path: "a", lines }]);
  assert.deepEqual(list, ["198.51.100.9 2026-01-10T08:00:04.000Z", "198.51.100.10 2026-01-10T08:02:11.000Z"]);
  assert.equal(suppressed, 3);
});
