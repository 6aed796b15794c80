/**
 * The live pipeline with a rule whose `ipv6_prefix` is not the policy's (64): while the rule's ban is active,
 * the banned source's events are ignored (as in replay: test/replay/ipv6-prefix.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Alert } from "../../src/core/alert.ts";
import { silentLogger } from "../../src/core/logger.ts";
import { Pipeline } from "../../src/daemon/pipeline.ts";
import { builtinRules } from "../../src/detect/builtin.ts";
import { DetectionEngine } from "../../src/detect/engine.ts";
import { Zone } from "../../src/framing/zone.ts";
import { Policy } from "../../src/policy/policy.ts";

const NOW = Date.UTC(2026, 0, 10, 10, 0, 10);

for (const [prefix, target] of [
  [128, "2001:db8::1"],
  [48, "2001:db8::/48"],
] as const) {
  test(`pipeline: a /${prefix} rule's ban suppresses the source's later events`, async () => {
    const engine = new DetectionEngine(
      builtinRules().map((r) =>
        r.id === "ssh-brute-force" ? { ...r, spec: { ...r.spec, ipv6_prefix: prefix } } : r,
      ),
    );
    const policy = new Policy();
    const alerts: Alert[] = [];
    const targets: string[] = [];
    const pipeline = new Pipeline({
      time: { zone: new Zone("UTC"), reference: () => NOW },
      modes: {},
      engine: () => engine,
      policy: () => policy,
      ipv6Prefix: 64,
      onAlerts: (list) => {
        // What the daemon does: decide at once, forget the banned source's counts.
        for (const a of list) {
          alerts.push(a);
          const d = policy.onAlert(a, NOW).decision;
          if (d) {
            targets.push(d.target);
            engine.forgetSource(d.target);
          }
        }
      },
      flush: async () => {},
      now: () => NOW,
      logger: silentLogger,
    });
    await pipeline.push({
      stream: "auth.log",
      lines: Array.from(
        { length: 10 },
        (_, i) => `Jan 10 10:00:0${i} srv sshd[${i}]: Failed password for root from 2001:db8::1 port 1 ssh2`,
      ),
    });
    assert.deepEqual(targets, [target]);
    assert.equal(alerts.length, 1, "no second alert (already_banned) from events counted while banned");
    assert.equal(pipeline.counters.suppressed, 5, "events 6 to 10 ignored while banned");
  });
}
