/**
 * The rule file format (YAML), as a strict schema: unknown keys are errors, every field is described (the
 * descriptions feed the generated JSON Schema in schema/rule.schema.json).
 */
import { z } from "zod";
import { durationMs, MAX_DURATION_MS } from "../core/duration.ts";

const severity = z.enum(["low", "medium", "high", "critical"], {
  error: "expected low, medium, high or critical",
});
const duration = z
  .union([z.string(), z.number().nonnegative()])
  // durationMs, not parseDuration: this runs after the union refused a negative number too, and must not throw.
  .refine((v) => durationMs(v) !== undefined, {
    message: "expected a duration such as 90s, 10m, 1h, 2d",
    // The refinements below then only see valid durations.
    abort: true,
  })
  .refine((v) => durationMs(v)! <= MAX_DURATION_MS, { message: "expected a duration of at most 3650d" });
/**
 * A window or a ban length: zero is refused (a 0s window counts only events of the same millisecond, a 0s ban
 * bans nothing; both are typos of a real value, not a way to disable anything: `enabled: false` is).
 */
const positiveDuration = duration.refine((v) => durationMs(v)! > 0, {
  message: "expected a duration greater than zero",
});
const kql = z
  .string()
  // An empty KQL query matches every event (as in Kibana): in a rule that is always a mistake.
  .refine((v) => v.trim().length > 0, { message: "expected a KQL query, not an empty string" })
  .describe("Kibana Query Language condition, e.g. 'event.dataset: sshd and event.outcome: failure'");
const field = z.string().regex(/^[@A-Za-z_][\w.@-]*$/, "expected an ECS field name such as source.ip");

const common = {
  id: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]*$/, "lower-case letters, digits and dashes")
    .describe("Stable identifier, used in alerts, decisions and `--rules` selections"),
  name: z.string().optional().describe("Human-readable name (default: the id)"),
  description: z.string().optional().describe("What the rule detects and why"),
  enabled: z.boolean().default(true).describe("Disabled rules are loaded and validated but never run"),
  severity: z
    .union([severity, z.record(z.string().regex(/^\d+$/, "tier keys are counts"), severity)], {
      error:
        "expected a severity (low, medium, high, critical) or tiers by count such as { 5: medium, 10: high }",
    })
    .default("medium")
    .describe("A severity, or tiers by count: { 5: medium, 10: high, 20: critical }"),
  attack: z
    .array(z.string().regex(/^T\d{4}(\.\d{3})?$/, "MITRE ATT&CK technique id such as T1110.001"))
    .default([])
    .describe("MITRE ATT&CK technique ids"),
  response: z
    .enum(["ban", "alert"])
    .default("alert")
    .describe("What the rule suggests to the policy: ban the group's address, or only alert"),
  duration: positiveDuration.optional().describe("Suggested ban duration (the policy's default when absent)"),
  group_by: z
    .array(field)
    .min(1)
    .default(["source.ip"])
    .describe("Fields whose values form the counting key"),
  ipv6_prefix: z
    .number()
    .int()
    .min(1)
    .max(128)
    .default(64)
    .describe("IPv6 addresses in source.ip are grouped (and banned) per prefix of this length"),
  max_keys: z
    .number()
    .int()
    .min(1)
    .default(100_000)
    .describe(
      "Cap on tracked groups; beyond it the group counted least among the least recently seen is evicted (counted in metrics)",
    ),
  tags: z.array(z.string()).default([]),
};

export const thresholdRule = z
  .strictObject({
    ...common,
    type: z.literal("threshold"),
    query: kql,
    threshold: z.number().int().min(1).describe("Fire when at least this many events fall within the window"),
    window: positiveDuration.describe(
      "Sliding window, inclusive: the first and last counted events are at most this far apart",
    ),
  })
  .describe("Count matching events per group within a sliding window");

export const distinctRule = z
  .strictObject({
    ...common,
    type: z.literal("distinct"),
    query: kql,
    field: field.describe(
      "Field whose distinct values are counted per group (e.g. user.name for password spraying)",
    ),
    threshold: z.number().int().min(1),
    window: positiveDuration,
  })
  .describe("Count distinct values of a field per group within a sliding window");

export const sequenceRule = z
  .strictObject({
    ...common,
    type: z.literal("sequence"),
    first: z.strictObject({
      query: kql,
      count: z.number().int().min(1).default(1).describe("How many such events must come first"),
    }),
    then: z.strictObject({ query: kql }),
    window: positiveDuration.describe("The first counted event and the final one are at most this far apart"),
  })
  .describe(
    "At least N events matching `first`, then one matching `then`, from the same group within a window",
  );

export const matchRule = z
  .strictObject({
    ...common,
    type: z.literal("match"),
    query: kql,
    severity_by: z
      .array(z.strictObject({ query: kql, severity }))
      .optional()
      .describe("First matching entry sets the severity (e.g. per dangerous command)"),
    suppress: duration
      .optional()
      .describe(
        "After an alert, further matches of the same group are not alerted for this long (default 5m)",
      ),
  })
  .describe("A single event is enough");

export const ruleSchema = z.discriminatedUnion("type", [
  thresholdRule,
  distinctRule,
  sequenceRule,
  matchRule,
]);
export type RuleSpec = z.infer<typeof ruleSchema>;
