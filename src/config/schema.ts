/**
 * The daemon's configuration file (YAML), as a strict schema: unknown keys are errors, every field described.
 * Sources and responders are validated in a second step by their own plugin schemas (see load.ts), so an
 * unknown plugin type and a misconfigured plugin give different, precise errors.
 *
 * The minimal config works as is (built-in rules and policy apply):
 *   sources:
 *     - type: file
 *       path: /var/log/auth.log
 *   responders:
 *     - type: nftables
 */
import { z } from "zod";
import { durationMs, MAX_DURATION_MS, MAX_TIMER_MS, parseDuration } from "../core/duration.ts";
import { apiConfigSchema } from "../api/config.ts";
import { parseCidr } from "../core/ip.ts";

/** A duration's text as {@link isDuration} reads it: `90s`, `1h30m`, `1.5h`, or a number of seconds. */
const DURATION_TEXT = /^(?:\d+|(?:\d+(?:\.\d+)?(?:ms|s|m|h|d|w))+)$/;
const DURATION_MESSAGE = "expected a duration such as 90s, 10m, 1h, 2d";

const duration = z
  .union(
    [
      z.string().regex(DURATION_TEXT, { error: DURATION_MESSAGE, abort: true }),
      z.number().nonnegative({ error: DURATION_MESSAGE, abort: true }),
    ],
    { error: DURATION_MESSAGE },
  )
  .refine((v) => durationMs(v) !== undefined, {
    message: DURATION_MESSAGE,
    // Refinements added to it (interval) then only see valid durations.
    abort: true,
  })
  .refine((v) => durationMs(v)! <= MAX_DURATION_MS, {
    message: "expected a duration of at most 3650d",
    abort: true,
  });
/** A period for a timer: at least `minMs` (a zero interval would spin), at most what a timer can wait. */
const interval = (minMs: number) =>
  duration
    .refine((v) => parseDuration(v) >= minMs, {
      message: `expected a duration of at least ${minMs / 1000}s`,
    })
    .refine((v) => parseDuration(v) <= MAX_TIMER_MS, {
      message: "expected a duration of at most 24d (the longest a timer can wait)",
    });
const cidr = z
  .string()
  .refine((v) => parseCidr(v) !== undefined, { message: "expected an IP address or CIDR" });
const plugin = z.looseObject({ type: z.string().describe("Plugin type") });

export const rulePolicySchema = z.strictObject({
  response: z.enum(["ban", "alert"]).optional().describe("Override the rule's own response"),
  duration: duration.optional().describe("Ban duration for this rule's alerts"),
  shadow: z.boolean().optional().describe("Decide and record, never enforce (try a rule on live traffic)"),
});

export const policySchema = z
  .strictObject({
    default_duration: duration.default("10m").describe("Ban duration when the rule gives none"),
    rules: z.record(z.string(), rulePolicySchema).default({}).describe("Per-rule overrides, by rule id"),
    escalation: z
      .strictObject({
        enabled: z.boolean().default(true).describe("Lengthen the bans of repeat offenders"),
        factor: z.number().min(1).default(2).describe("Each repeat ban multiplies the duration by this"),
        max: duration.default("1w").describe("Longest escalated ban"),
        lookback: duration.default("1w").describe("Earlier bans within this period count as repeats"),
      })
      .prefault({})
      .describe("Repeat offenders get longer bans; the history survives restarts (it is in the store)"),
    on_duplicate: z
      .enum(["extend", "noop"])
      .default("extend")
      .describe(
        "An alert about an address already banned: extend the ban, or leave it (recorded once either way)",
      ),
    dedup_window: duration
      .default("1m")
      .describe(
        "Reports of a banned address that would extend its ban by no more than this are duplicates: one ban, " +
          "one audit record (the reports are kept as alerts)",
      ),
    max_prefix: z
      .strictObject({
        v4: z.number().int().min(0).max(32).default(16).describe("Widest IPv4 range a ban may cover"),
        v6: z.number().int().min(0).max(128).default(48).describe("Widest IPv6 range a ban may cover"),
      })
      .prefault({})
      .describe("Refuse bans of ranges wider than these prefixes"),
    circuit_breaker: z
      .strictObject({
        max_bans_per_minute: z
          .number()
          .int()
          .min(0)
          .default(120)
          .describe("Beyond this many new bans in a minute, alert only (and warn loudly); 0 disables"),
      })
      .prefault({})
      .describe(
        "A limit on the rate of new bans (a flood of forged log lines must not ban half the Internet)",
      ),
    dry_run: z.boolean().default(false).describe("Decide and record everything, enforce nothing"),
    allowlist: z
      .array(cidr)
      .default([])
      .describe("Addresses and ranges that are never banned (loopback always is)"),
    allow_own_addresses: z.boolean().default(true).describe("Never ban the host's own interface addresses"),
    allow_admin_sessions: z
      .boolean()
      .default(true)
      .describe("Never ban addresses of currently logged-in users (from utmp, `who`)"),
    ipv6_prefix: z
      .number()
      .int()
      .min(1)
      .max(128)
      .default(64)
      .describe(
        "IPv6 attackers reported by SIEMs and webhooks are banned per prefix of this length; native detections " +
          "ban per their rule's own ipv6_prefix (64 unless the rule sets it)",
      ),
  })
  .prefault({})
  .describe("What alerts become: ban durations, allowlist, escalation, safety limits, dry run");

export const rulesSchema = z
  .strictObject({
    builtin: z.boolean().default(true).describe("Load the built-in rule pack"),
    paths: z
      .array(z.string())
      .default([])
      .describe("Extra rule files or directories (relative ones: relative to this configuration file)"),
    disable: z.array(z.string()).default([]).describe("Rule ids to turn off"),
    windows_snapshot: interval(1000)
      .default("10s")
      .describe(
        "Save the detection windows this often, with the source positions (one transaction): after a crash they " +
          "are restored as of the last snapshot (a clean stop always saves them)",
      ),
  })
  .prefault({})
  .describe("Detection rules: the built-in pack, your own rule files, rules turned off");

export const storeSchema = z
  .strictObject({
    type: z.literal("sqlite").default("sqlite").describe("Store backend (SQLite only)"),
    path: z.string().optional().describe("Database file (default: <data_dir>/portcullis.db)"),
    durability: z.enum(["normal", "full"]).default("normal").describe("SQLite synchronous mode in WAL"),
    max_held_outcomes: z
      .number()
      .int()
      .min(1)
      .default(10_000)
      .describe(
        "While the store refuses commits (disk full, I/O error, locked), the outcomes (alerts and decisions) of " +
          "lines already read are held in memory and written with the next commit. At this many, sources are " +
          "no longer read until a retry commits them: file and journald sources wait where they are (their " +
          "positions stay put, nothing is lost), the syslog source's UDP queue fills and drops, counted. " +
          "Status and the portcullis_ingestion_paused metric show the pause",
      ),
    retention: z
      .strictObject({
        decisions: duration.default("90d").describe("Keep ended decisions this long"),
        alerts: duration.default("30d").describe("Keep alerts this long"),
        audit: duration.default("365d").describe("Keep audit records this long"),
      })
      .prefault({})
      .describe("How long records are kept before they are deleted"),
  })
  .prefault({})
  .describe("The state: decisions, alerts, audit trail, source positions, detection windows");

export const configSchema = z.strictObject({
  data_dir: z.string().default("/var/lib/portcullis").describe("State: database, offsets, certificates"),
  log_level: z
    .enum(["debug", "info", "warn", "error"])
    .default("info")
    .describe("Least severe messages logged (JSON lines on stdout)"),
  timezone: z.string().default("local").describe("Zone of log timestamps without an offset"),
  sources: z.array(plugin).default([]).describe("Where logs come from (file, journald, syslog, ...)"),
  parsers: z
    .strictObject({
      modes: z
        .record(z.string(), z.string())
        .default({})
        .describe("Parser mode per parser id (fail2ban's mode names), e.g. { sshd: aggressive }"),
    })
    .prefault({})
    .describe("Log parsers' settings"),
  rules: rulesSchema,
  policy: policySchema,
  responders: z.array(plugin).default([]).describe("Where bans are enforced (nftables, ipset, ufw, ...)"),
  reconcile_interval: interval(1000)
    .default("5m")
    .describe("How often responders are compared with the store and repaired"),
  store: storeSchema,
  api: apiConfigSchema.describe(
    "The HTTPS API: SIEM webhooks, decisions, alerts, stream, metrics (on by default)",
  ),
  max_tracked_keys: z
    .number()
    .int()
    .min(1000)
    .optional()
    .describe("Override every rule's cap on tracked groups (memory bound under attack)"),
});

export type RawConfig = z.infer<typeof configSchema>;
