/**
 * Configuration of the `splunk` alert source (a `sources:` entry with `type: splunk`). Secrets are never
 * written in the config: the token or password is read from an environment variable or a file, at every run
 * (so a rotated token file is picked up without a restart).
 */
import { isAbsolute } from "node:path";
import { z } from "zod";
import { isDuration, parseDuration } from "../../core/duration.ts";
import { forbiddenField } from "../address.ts";
import { splunk } from "../splunk/extractor.ts";
import { MAX_MAX_ALERTS } from "../types.ts";
import { relativeOffset } from "./window.ts";

export const DEFAULT_PORT = 8089;

function duration(defaultValue: string, min: number, what: string) {
  return z
    .union([z.string(), z.number().nonnegative()])
    .refine((v) => typeof v === "number" || isDuration(v), {
      message: "expected a duration such as 250ms, 30s, 5m",
    })
    .default(defaultValue)
    .transform((v) => parseDuration(v))
    .refine((ms) => ms >= min, { message: `${what}: at least ${min} ms` });
}

const absolutePath = z
  .string()
  .min(1)
  .refine((p) => isAbsolute(p), { message: "expected an absolute path" });

const secret = z
  .union([
    z.strictObject({
      env: z
        .string()
        .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name")
        .describe("Read the secret from this environment variable"),
    }),
    z.strictObject({
      file: absolutePath.describe("Read the secret from this file (trailing newline ignored; keep it 0600)"),
    }),
  ])
  .describe("Where the secret is: `{env: NAME}` or `{file: /path}`; never the secret itself");

export type SecretRef = z.output<typeof secret>;

const auth = z.discriminatedUnion("type", [
  z
    .strictObject({
      type: z.literal("token"),
      token: secret.describe("A Splunk authentication token (JWT), sent as `Authorization: Bearer`"),
    })
    .describe("Splunk authentication token (Settings > Tokens; token auth must be enabled)"),
  z
    .strictObject({
      type: z.literal("basic"),
      username: z
        .string()
        .min(1)
        .max(256)
        .regex(/^[^:\r\n\0]+$/, "no ':' or control characters")
        .describe("Splunk user (a dedicated role with the `search` capability)"),
      password: secret.describe("That user's password"),
    })
    .describe("HTTP basic authentication on every request"),
]);

export type SplunkAuth = z.output<typeof auth>;

const field = z
  .string()
  .min(1)
  .max(128)
  .regex(/^[^.]+(?:\.[^.]+){0,7}$/, "expected a field name or dotted path");

const relative = (defaultValue: string) =>
  z
    .string()
    .default(defaultValue)
    .superRefine((v, ctx) => {
      const r = relativeOffset(v);
      if (!r.ok) ctx.addIssue({ code: "custom", message: r.reason });
    });

const url = z
  .url()
  .transform((s, ctx) => {
    const u = new URL(s);
    if (u.protocol !== "https:") {
      ctx.addIssue({
        code: "custom",
        message: "the management API is HTTPS: use https://<search-head>:8089",
      });
    }
    if (u.username || u.password) {
      ctx.addIssue({ code: "custom", message: "no credentials in the URL: use `auth`" });
    }
    if (u.search || u.hash) ctx.addIssue({ code: "custom", message: "no query or fragment in the URL" });
    if (!u.port) u.port = String(DEFAULT_PORT);
    return `${u.origin}${u.pathname.replace(/\/+$/, "")}`;
  })
  .describe("Splunk management API base URL, e.g. https://splunk.example.com:8089 (port 8089 when omitted)");

export const splunkPullConfig = z
  .strictObject({
    type: z.literal("splunk"),
    name: z
      .string()
      .regex(/^[A-Za-z0-9][\w.-]*$/, "letters, digits, '.', '_' and '-'")
      .optional()
      .describe(
        "Name of this source in logs, metrics, checkpoint keys and the audit actor (default: splunk)",
      ),
    url,
    namespace: z
      .strictObject({
        owner: z.string().min(1).max(128).describe("User context (`-` = any)"),
        app: z.string().min(1).max(128).describe("App context (`-` = any)"),
      })
      .optional()
      .describe("Run searches in /servicesNS/<owner>/<app>/ instead of the user's default app"),
    auth,
    search: z
      .string()
      .min(1)
      .max(100_000)
      .describe(
        "SPL whose result rows name attackers, e.g. `index=auth action=failure | stats count by src_ip | " +
          "where count>=20` (`search ` is prepended unless it starts with `search` or `|`)",
      ),
    earliest: relative("-15m").describe("Window start, relative to each run (e.g. -15m)"),
    latest: relative("now").describe("Window end, relative to each run (`now` or e.g. -1m for late events)"),
    interval: duration("5m", 1000, "interval").describe("Time between the starts of two runs"),
    exec_mode: z
      .enum(["oneshot", "normal"])
      .default("oneshot")
      .describe(
        "`oneshot`: one request returns the results; `normal`: a job that is polled, read and deleted (a " +
          "search that times out is cancelled, freeing its concurrency slot)",
      ),
    poll_interval: duration("1s", 10, "poll_interval").describe("How often a `normal` job's status is read"),
    ip_fields: z
      .array(
        field.refine((f) => forbiddenField(f) === undefined, {
          message: "the monitored host's, a relay's or the collector's address, never the attacker",
        }),
      )
      .min(1)
      .max(16)
      .default([...splunk.ipFields])
      .describe("Result fields holding the attacker's address, tried in order"),
    count_field: field.default("count").describe("Result field with the number of events (a string)"),
    reason_field: field.optional().describe("Result field with a reason, kept in the alert's sample event"),
    rule_field: field
      .optional()
      .describe("Result field naming the rule per row (policy overrides match `splunk:<value>`)"),
    rule: z
      .string()
      .min(1)
      .max(128)
      .optional()
      .describe("Rule name when no rule_field value (default: the source's name); rule id `splunk:<rule>`"),
    tls: z
      .strictObject({
        ca_file: absolutePath
          .optional()
          .describe("PEM CA (or the server's self-signed certificate) to verify the server with"),
        insecure_skip_verify: z
          .boolean()
          .default(false)
          .describe(
            "Do not verify the server's certificate (logged loudly at every start; never in production)",
          ),
      })
      .prefault({}),
    timeout: duration("2m", 10, "timeout").describe("Longest run (all requests of one search together)"),
    max_results: z
      .number()
      .int()
      .min(1)
      .max(MAX_MAX_ALERTS)
      .default(1000)
      .describe("Result rows examined per run; more are counted as drops and logged"),
    max_response_bytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024)
      .default(32 * 1024 * 1024)
      .describe("Largest response body read"),
    retry_backoff: duration("30s", 1, "retry_backoff").describe("Wait after a failed run; doubles"),
    retry_backoff_max: duration("15m", 1, "retry_backoff_max").describe("Longest wait after failures"),
    max_seen: z
      .number()
      .int()
      .min(100)
      .max(1_000_000)
      .default(10_000)
      .describe("Addresses remembered as already reported (oldest forgotten first)"),
  })
  .superRefine((c, ctx) => {
    const e = relativeOffset(c.earliest);
    const l = relativeOffset(c.latest);
    if (e.ok && l.ok && e.ms >= l.ms) {
      ctx.addIssue({ code: "custom", path: ["earliest"], message: "earliest must be before latest" });
    }
    if (c.retry_backoff_max < c.retry_backoff) {
      ctx.addIssue({
        code: "custom",
        path: ["retry_backoff_max"],
        message: "must be at least retry_backoff",
      });
    }
  })
  .describe("Runs a Splunk search on a schedule over the REST API and bans the addresses its results name");

export type SplunkPullConfig = z.output<typeof splunkPullConfig>;
