/**
 * `replay` against ground truth: the generator in ../shared/bench/gen_authlog.py writes a realistic auth.log and
 * the exact list of bans a correct sliding "5 failures within 10 minutes, 10-minute ban, counting afresh after
 * it" rule makes. Replay with the built-in rules and policy must make exactly those bans, at exactly those lines.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { groupKey } from "../../src/core/ip.ts";
import { builtinRules } from "../../src/detect/builtin.ts";
import { DetectionEngine } from "../../src/detect/engine.ts";
import { Zone } from "../../src/framing/zone.ts";
import { replay } from "../../src/pipeline/replay.ts";
import { Policy } from "../../src/policy/policy.ts";
import { SHARED_MISSING, sharedDir } from "../support/shared.ts";

const shared = sharedDir();
if (!shared && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);
const dir = mkdtempSync(join(tmpdir(), "portcullis-truth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

interface Truth {
  first_time: string;
  ban_events_total: number;
  ips: Record<string, { bans: number[]; class: string }>;
}

for (const [lines, seed] of [
  [60_000, 1],
  [150_000, 7],
] as const) {
  test(
    `replay bans exactly the ground truth (${lines} lines, seed ${seed})`,
    { skip: shared ? false : SHARED_MISSING },
    async () => {
      const log = join(dir, `auth-${seed}.log`);
      execFileSync("python3", [
        join(shared!, "bench", "gen_authlog.py"),
        "--lines",
        String(lines),
        "--seed",
        String(seed),
        "--out",
        log,
      ]);
      const truth = JSON.parse(readFileSync(`${log}.truth.json`, "utf8")) as Truth;
      const start = Date.parse(`${truth.first_time}Z`);
      const want = new Map<string, number[]>();
      for (const [ip, info] of Object.entries(truth.ips))
        if (info.bans.length) want.set(groupKey(ip), info.bans);

      const got = new Map<string, number[]>();
      const engine = new DetectionEngine(builtinRules());
      const summary = await replay({
        inputs: [{ path: log, time: { zone: new Zone("UTC"), reference: () => start + 30 * 86_400_000 } }],
        engine,
        policy: new Policy(),
        hooks: {
          onDecision(d, alert) {
            assert.equal(d.rule?.id, "ssh-brute-force", `unexpected ban by ${d.rule?.id} of ${d.target}`);
            const line = alert.events.at(-1)?.log?.file?.line as number;
            got.set(d.target, [...(got.get(d.target) ?? []), line]);
          },
        },
      });
      assert.equal(summary.lines, lines);
      const missing = [...want].filter(([ip, b]) => JSON.stringify(got.get(ip)) !== JSON.stringify(b));
      const extra = [...got].filter(([ip]) => !want.has(ip));
      assert.deepEqual(
        { missingOrDifferent: missing.map(([ip, b]) => ({ ip, want: b, got: got.get(ip) ?? [] })), extra },
        { missingOrDifferent: [], extra: [] },
      );
      assert.equal(summary.decisions, truth.ban_events_total);
    },
  );
}
