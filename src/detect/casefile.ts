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
import { z } from "zod";
import type { Alert } from "../core/alert.ts";
import type { Decision } from "../core/decision.ts";
import { formatDuration, isDuration, parseDuration } from "../core/duration.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { parseCidr } from "../core/ip.ts";
import { keyLineOf, parseYamlDocs, plainValue, zodIssues, type LocatedDoc } from "../core/yaml.ts";
import { Zone } from "../framing/zone.ts";
import { replay } from "../pipeline/replay.ts";
import { Allowlist } from "../policy/allowlist.ts";
import { Policy } from "../policy/policy.ts";
import { builtinRules } from "./builtin.ts";
import { DetectionEngine } from "./engine.ts";
import { checkRules, loadRules } from "./load.ts";
import type { CompiledRule } from "./rule.ts";

// Times and durations are checked here, not when comparing: a typo would otherwise match nothing, and the
// case would fail with a "missing alert" that hides the real mistake.
const time = z.string().refine((v) => !Number.isNaN(Date.parse(v)), {
  message: "expected an ISO 8601 time such as 2026-03-02T10:00:00Z",
});
const expectAlert = z.strictObject({
  rule: z.string(),
  group: z.record(z.string(), z.string()).optional(),
  severity: z.enum(["low", "medium", "high", "critical"]).optional(),
  count: z.number().int().optional(),
  at: time.optional(),
});
const expectDecision = z.strictObject({
  rule: z.string().optional(),
  "source.ip": z.string(),
  at: time.optional(),
  duration: z
    .string()
    .refine(isDuration, { message: "expected a duration such as 90s, 10m, 1h, 2d" })
    .optional(),
});
const zone = z.string().refine(
  (v) => {
    try {
      new Zone(v);
      return true;
    } catch {
      return false;
    }
  },
  { message: "unknown time zone (use local, UTC or an IANA name like Europe/Paris)" },
);

export const caseSchema = z.strictObject({
  description: z.string(),
  rules: z.union([z.literal("builtin"), z.string(), z.array(z.unknown())]).default("builtin"),
  only: z.array(z.string()).optional(),
  timezone: zone.default("UTC"),
  reference_time: time.optional(),
  allow: z
    .array(
      z.string().refine((v) => parseCidr(v) !== undefined, { message: "expected an IP address or CIDR" }),
    )
    .default([]),
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

function rulesFor(c: RuleCase, file: string, located: LocatedDoc): CompiledRule[] {
  let rules: CompiledRule[];
  if (c.rules === "builtin") rules = builtinRules();
  else if (typeof c.rules === "string")
    rules = loadRules([isAbsolute(c.rules) ? c.rules : join(dirname(file), c.rules)]);
  else {
    // Checked where they are, so each problem has its line in the case file.
    const r = checkRules(located, c.rules, ["rules"], file);
    if (r.issues.length)
      throw new PortcullisError("RULE_INVALID", `invalid inline rules in ${file}`, { issues: r.issues });
    rules = r.rules;
  }
  if (c.only) {
    const unknown = c.only.filter((id) => !rules.some((r) => r.id === id));
    if (unknown.length)
      throw new PortcullisError("RULE_INVALID", `${file}: only: unknown rule ${unknown.join(", ")}`, {
        issues: [
          { path: `${file}:${keyLineOf(located, ["only"])} only`, message: `no rule ${unknown.join(", ")}` },
        ],
      });
    rules = rules.filter((r) => c.only!.includes(r.id));
  }
  return rules;
}

/** A case file read and validated, with its parsed document (for the lines of later problems). */
function readCaseDoc(file: string): { c: RuleCase; located: LocatedDoc } {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (e) {
    throw new PortcullisError(
      "INPUT_UNREADABLE",
      `cannot read rule test case ${file}: ${(e as Error).message}`,
      {
        cause: e,
      },
    );
  }
  const { docs, errors } = parseYamlDocs(text);
  const syntax: Issue[] = errors.map((e) => ({ path: `${file}:${e.line}`, message: `YAML: ${e.message}` }));
  if (docs.length > 1 && !syntax.length)
    syntax.push({ path: `${file}:1`, message: "one test case per file (found several YAML documents)" });
  if (syntax.length || !docs[0])
    throw new PortcullisError("RULE_INVALID", `${file}: invalid rule test case`, {
      issues: syntax.length ? syntax : [{ path: `${file}:1`, message: "empty file" }],
    });
  const located = docs[0];
  let raw: unknown;
  try {
    raw = plainValue(located, file);
  } catch (e) {
    throw new PortcullisError("RULE_INVALID", `${file}: invalid rule test case`, {
      issues: [{ path: `${file}:1`, message: (e as Error).message }],
    });
  }
  // A file with neither `input` nor `expect` is something else (rules kept next to their cases); one with
  // them that does not fit the schema is a broken case.
  const isCase =
    raw !== null && typeof raw === "object" && !Array.isArray(raw) && ("input" in raw || "expect" in raw);
  const res = caseSchema.safeParse(raw);
  if (!res.success) {
    const issues = zodIssues(
      res.error.issues,
      [],
      file,
      located,
      undefined,
      "unknown key (not in the rule test case format)",
    );
    // Inline rules are checked too, so that every problem of the file is told at once.
    const rules = (raw as { rules?: unknown } | null)?.rules;
    if (isCase && Array.isArray(rules)) issues.push(...checkRules(located, rules, ["rules"], file).issues);
    throw new PortcullisError(
      "RULE_INVALID",
      `${file}: ${isCase ? "invalid rule test case" : "not a rule test case"}`,
      {
        issues,
      },
    );
  }
  return { c: res.data, located };
}

export function readCase(file: string): RuleCase {
  return readCaseDoc(file).c;
}

/** Expected and produced items in one shape, so a `-` line and its `+` line read side by side. */
function wantedAlert(w: z.infer<typeof expectAlert>): string {
  return [
    w.rule,
    w.group && JSON.stringify(w.group),
    w.severity,
    w.count !== undefined && `count=${w.count}`,
    w.at && `at ${iso(Date.parse(w.at))}`,
  ]
    .filter(Boolean)
    .join(" ");
}
function producedAlert(a: Alert): string {
  return `${a.rule.id} ${JSON.stringify(a.group)} ${a.severity} count=${a.count} at ${iso(a["@timestamp"])}`;
}
function wantedDecision(w: z.infer<typeof expectDecision>): string {
  return [
    w.rule,
    w["source.ip"],
    w.at && `at ${iso(Date.parse(w.at))}`,
    w.duration && `for ${formatDuration(parseDuration(w.duration))}`,
  ]
    .filter(Boolean)
    .join(" ");
}
function producedDecision(d: Decision): string {
  return `${d.rule?.id ?? "(no rule)"} ${d.target} at ${iso(d["@timestamp"])} for ${formatDuration(d.duration)}`;
}

const iso = (t: number) => new Date(t).toISOString().replace(".000Z", "Z");
const sameTime = (want: string, got: number) => Date.parse(want) === got;

export async function runCase(file: string): Promise<CaseResult> {
  const { c, located } = readCaseDoc(file);
  const rules = rulesFor(c, file, located);
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
  // A diff: `-` what was expected and not produced, `+` what was produced and not expected (with `exact: false`,
  // what was produced is still shown when something is missing, so the mismatch can be seen).
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
    if (i < 0) problems.push(`- alert ${wantedAlert(want)}`);
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
    if (i < 0) problems.push(`- decision ${wantedDecision(want)}`);
    else usedD.add(i);
  }
  const missing = problems.length > 0;
  const extra = c.expect.exact ? "" : " (not an error: exact: false)";
  if (c.expect.exact || missing) {
    alerts.forEach((a, i) => {
      if (!usedA.has(i)) problems.push(`+ alert ${producedAlert(a)}${extra}`);
    });
    decisions.forEach((d, i) => {
      if (!usedD.has(i)) problems.push(`+ decision ${producedDecision(d)}${extra}`);
    });
  }
  // With exact: false, the produced extras alone are not a failure.
  const ok = c.expect.exact ? problems.length === 0 : !missing;
  return { file, description: c.description, ok, problems, alerts, decisions };
}
