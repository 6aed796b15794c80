/**
 * Rule test cases as data: one YAML file per case with the rules, the input log lines and the expected alerts
 * and decisions. The project's own tests (rules/tests/) and `portcullis rules test DIR` run the same files.
 *
 *   description: five failures within ten minutes ban the address
 *   rules: builtin                   # or a rule file/dir relative to the case, or an inline list of rules
 *   only: [ssh-brute-force]          # optional: run only these rules
 *   timezone: UTC                    # zone of timestamps without offset (default UTC in cases)
 *   reference_time: 2026-03-02T12:00:00Z   # year inference for year-less syslog dates
 *   input: |
 *     Mar  2 10:00:00 srv sshd[1]: Failed password for root from 203.0.113.7 port 22 ssh2
 *   expect:
 *     exact: true                    # default: no alert/decision beyond the listed ones
 *     alerts:   [{ rule: ssh-brute-force, group: { source.ip: 203.0.113.7 }, severity: medium, count: 5, at: ... }]
 *     decisions: [{ rule: ssh-brute-force, source.ip: 203.0.113.7, at: ..., duration: 10m }]
 */
import { readFileSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import type { Alert } from "../core/alert.ts";
import type { Decision } from "../core/decision.ts";
import { formatDuration, parseDuration } from "../core/duration.ts";
import { PortcullisError } from "../core/errors.ts";
import { Zone } from "../framing/zone.ts";
import { replay } from "../pipeline/replay.ts";
import { Allowlist } from "../policy/allowlist.ts";
import { Policy } from "../policy/policy.ts";
import { builtinRules } from "./builtin.ts";
import { DetectionEngine } from "./engine.ts";
import { loadRules, parseRules } from "./load.ts";
import type { CompiledRule } from "./rule.ts";

const expectAlert = z.strictObject({
  rule: z.string(),
  group: z.record(z.string(), z.string()).optional(),
  severity: z.enum(["low", "medium", "high", "critical"]).optional(),
  count: z.number().int().optional(),
  at: z.string().optional(),
});
const expectDecision = z.strictObject({
  rule: z.string().optional(),
  "source.ip": z.string(),
  at: z.string().optional(),
  duration: z.string().optional(),
});

export const caseSchema = z.strictObject({
  description: z.string(),
  rules: z.union([z.literal("builtin"), z.string(), z.array(z.unknown())]).default("builtin"),
  only: z.array(z.string()).optional(),
  timezone: z.string().default("UTC"),
  reference_time: z.string().optional(),
  allow: z.array(z.string()).default([]),
  input: z.string(),
  expect: z.strictObject({
    exact: z.boolean().default(true),
    alerts: z.array(expectAlert).default([]),
    decisions: z.array(expectDecision).default([]),
  }),
});
export type RuleCase = z.infer<typeof caseSchema>;

export interface CaseResult {
  file: string;
  description: string;
  ok: boolean;
  problems: string[];
  alerts: Alert[];
  decisions: Decision[];
}

function rulesFor(c: RuleCase, file: string): CompiledRule[] {
  let rules: CompiledRule[];
  if (c.rules === "builtin") rules = builtinRules();
  else if (typeof c.rules === "string")
    rules = loadRules([isAbsolute(c.rules) ? c.rules : join(dirname(file), c.rules)]);
  else {
    const r = parseRules(JSON.stringify(c.rules), `${file} (inline rules)`);
    if (r.issues.length)
      throw new PortcullisError("RULE_INVALID", `invalid inline rules in ${file}`, { issues: r.issues });
    rules = r.rules;
  }
  if (c.only) {
    const unknown = c.only.filter((id) => !rules.some((r) => r.id === id));
    if (unknown.length)
      throw new PortcullisError("RULE_INVALID", `${file}: only: unknown rule ${unknown.join(", ")}`);
    rules = rules.filter((r) => c.only!.includes(r.id));
  }
  return rules;
}

export function readCase(file: string): RuleCase {
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, "utf8"));
  } catch (e) {
    throw new PortcullisError("RULE_INVALID", `${file}: ${(e as Error).message.split("\n")[0]}`, {
      cause: e,
    });
  }
  // A file with neither `input` nor `expect` is something else (rules kept next to their cases); one with
  // them that does not fit the schema is a broken case.
  const isCase =
    raw !== null && typeof raw === "object" && !Array.isArray(raw) && ("input" in raw || "expect" in raw);
  const res = caseSchema.safeParse(raw);
  if (!res.success) {
    throw new PortcullisError(
      "RULE_INVALID",
      `${file}: ${isCase ? "invalid rule test case" : "not a rule test case"}`,
      {
        issues: res.error.issues.map((i) => ({ path: `${file} ${i.path.join(".")}`, message: i.message })),
      },
    );
  }
  return res.data;
}

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");
const sameTime = (want: string, got: number) => Date.parse(want) === got;

export async function runCase(file: string): Promise<CaseResult> {
  const c = readCase(file);
  const rules = rulesFor(c, file);
  const engine = new DetectionEngine(rules);
  const policy = new Policy({ firstSequence: 0 }, new Allowlist([{ cidrs: c.allow, why: "case allowlist" }]));
  const zone = new Zone(c.timezone);
  const ref = c.reference_time ? Date.parse(c.reference_time) : Date.UTC(2026, 11, 31);
  const alerts: Alert[] = [];
  const decisions: Decision[] = [];
  const lines = c.input.split("\n");
  if (lines.at(-1) === "") lines.pop();
  await replay({
    inputs: [{ path: file, time: { zone, reference: () => ref }, lines }],
    engine,
    policy,
    hooks: { onAlert: (a) => alerts.push(a), onDecision: (d) => decisions.push(d) },
  });
  const problems: string[] = [];
  const usedA = new Set<number>();
  for (const want of c.expect.alerts) {
    const i = alerts.findIndex(
      (a, idx) =>
        !usedA.has(idx) &&
        a.rule.id === want.rule &&
        (!want.group || Object.entries(want.group).every(([k, v]) => a.group[k] === v)) &&
        (!want.severity || a.severity === want.severity) &&
        (want.count === undefined || a.count === want.count) &&
        (!want.at || sameTime(want.at, a["@timestamp"])),
    );
    if (i < 0) problems.push(`missing alert ${JSON.stringify(want)}`);
    else usedA.add(i);
  }
  const usedD = new Set<number>();
  for (const want of c.expect.decisions) {
    const i = decisions.findIndex(
      (d, idx) =>
        !usedD.has(idx) &&
        d.target === want["source.ip"] &&
        (!want.rule || d.rule?.id === want.rule) &&
        (!want.at || sameTime(want.at, d["@timestamp"])) &&
        (!want.duration || d.duration === parseDuration(want.duration)),
    );
    if (i < 0) problems.push(`missing decision ${JSON.stringify(want)}`);
    else usedD.add(i);
  }
  if (c.expect.exact) {
    alerts.forEach((a, i) => {
      if (!usedA.has(i)) {
        problems.push(
          `unexpected alert ${a.rule.id} ${JSON.stringify(a.group)} ${a.severity} count=${a.count} at ${iso(a["@timestamp"])}`,
        );
      }
    });
    decisions.forEach((d, i) => {
      if (!usedD.has(i)) {
        problems.push(
          `unexpected decision ${d.rule?.id} ${d.target} at ${iso(d["@timestamp"])} for ${formatDuration(d.duration)}`,
        );
      }
    });
  }
  return { file, description: c.description, ok: problems.length === 0, problems, alerts, decisions };
}
