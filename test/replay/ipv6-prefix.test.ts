/**
 * A rule's `ipv6_prefix` other than the policy's (64): its bans are keyed by its own prefix, and while one is
 * active the banned source's events are ignored, in replay as in the daemon (test/daemon/ipv6-prefix.test.ts).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { builtinRules } from "../../src/detect/builtin.ts";
import { DetectionEngine } from "../../src/detect/engine.ts";
import type { CompiledRule } from "../../src/detect/rule.ts";
import { Zone } from "../../src/framing/zone.ts";
import { replay } from "../../src/pipeline/replay.ts";
import { Policy } from "../../src/policy/policy.ts";

/** The built-in rules with ssh-brute-force grouping IPv6 sources by `prefix`. */
function sshRulesWithPrefix(prefix: number): CompiledRule[] {
  return builtinRules().map((r) =>
    r.id === "ssh-brute-force" ? { ...r, spec: { ...r.spec, ipv6_prefix: prefix } } : r,
  );
}

/** Ten failures of one IPv6 address, a second apart: the 5th makes a ban. */
const LINES = Array.from(
  { length: 10 },
  (_, i) => `Jan 10 10:00:0${i} srv sshd[${i}]: Failed password for root from 2001:db8::1 port 1 ssh2`,
);

for (const [prefix, target] of [
  [128, "2001:db8::1"],
  [48, "2001:db8::/48"],
  [64, "2001:db8::/64"],
] as const) {
  test(`replay: a /${prefix} rule's ban suppresses the source's later events`, async () => {
    const targets: string[] = [];
    const summary = await replay({
      inputs: [
        { path: "v6", lines: LINES, time: { zone: new Zone("UTC"), reference: () => Date.UTC(2026, 0, 11) } },
      ],
      engine: new DetectionEngine(sshRulesWithPrefix(prefix)),
      policy: new Policy(),
      hooks: { onDecision: (d) => targets.push(d.target) },
    });
    assert.deepEqual(targets, [target]);
    assert.equal(summary.alerts, 1, "no second alert (already_banned) from events counted while banned");
    assert.equal(summary.suppressed, 5, "events 6 to 10 ignored while banned");
  });
}
