/**
 * SIEM webhook intake: `POST /v1/webhooks/:kind` finds the kind's handler in {@link WEBHOOKS}, which turns the
 * body into alerts; the API then validates each alert's address, refuses the caller's own address, and hands
 * each alert to `control.ingestAlert` (same policy as native alerts: allowlist, verification, de-duplication,
 * audit).
 *
 * Contract for a handler (src/siem/<kind>/):
 * - it is pure: no I/O, no clock (use `ctx.now`), no throwing on hostile input (return `{ error }`);
 * - the body is untrusted JSON (`unknown`): unknown fields are tolerated and ignored, never trusted;
 * - it builds alerts with `ctx.alert({ ip, ... })` and does not validate addresses itself: the API does (an
 *   invalid one is reported as `refused_invalid`, 422, and never reaches the daemon);
 * - `{ error }` means the payload as a whole is not what this kind expects (422 PAYLOAD_INVALID; nothing is
 *   processed); an empty list is a valid answer (nothing to do).
 *
 * Add a kind with one line in {@link WEBHOOKS}, in sorted order: `kind: siemWebhook("kind")` for an extractor
 * of src/siem/ (webhooks.test.ts checks that every extractor is either here or in {@link NOT_WEBHOOKS}).
 */
import { randomUUID } from "node:crypto";
import type { Alert, Severity } from "../core/alert.ts";
import { SEVERITIES } from "../core/alert.ts";
import { parseDuration } from "../core/duration.ts";
import { siemWebhook } from "../siem/webhook.ts";

export interface WebhookItem {
  /** The attacker's address as the payload gives it (validated by the API, not by the handler). */
  ip: string;
  /** Why, in the SIEM's words (rule name, message). */
  reason?: string;
  /** Suggested ban duration (ms). */
  duration?: number;
  /** The SIEM rule that fired; default `{ id: "webhook-<kind>", name: <reason> }`. */
  rule?: { id: string; name: string };
  severity?: Severity;
  /** MITRE ATT&CK technique ids. */
  attack?: string[];
  /** Events the SIEM counted. */
  count?: number;
  first_seen?: number;
  last_seen?: number;
}

export interface WebhookContext {
  kind: string;
  /** When the request arrived (epoch ms, from the injected clock). */
  now: number;
  /** The authenticated token's name (the actor). */
  tokenName: string;
  /** An alert about one address, with this kind's origin and sane defaults. */
  alert(item: WebhookItem): Alert;
}

export interface WebhookError {
  error: { message: string; path?: string };
}

export type WebhookHandler = (body: unknown, ctx: WebhookContext) => Alert[] | WebhookError;

export interface WebhookDefinition {
  /** The `:kind` in the URL. */
  kind: string;
  /** Alert origin recorded with the decision (`kibana`, `splunk`, ...). */
  origin: string;
  /** One line for the OpenAPI document. */
  description: string;
  handle: WebhookHandler;
}

export function isWebhookError(r: Alert[] | WebhookError): r is WebhookError {
  return !Array.isArray(r);
}

/** Most alerts accepted in one request. */
export const MAX_ALERTS_PER_REQUEST = 1000;

const CONTROL_CHARS = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/** Untrusted text made safe for logs and audit: control characters become spaces, length is capped. */
export function cleanText(s: string, max = 200): string {
  const t = s.replace(CONTROL_CHARS, " ").trim();
  return t.length > max ? `${t.slice(0, max - 1)}…` : t;
}

/** Builds the context for one request. */
export function webhookContext(
  def: Pick<WebhookDefinition, "kind" | "origin">,
  now: number,
  tokenName: string,
): WebhookContext {
  return {
    kind: def.kind,
    now,
    tokenName,
    alert(item: WebhookItem): Alert {
      const reason = item.reason !== undefined ? cleanText(item.reason) : "";
      const alert: Alert = {
        id: `${def.kind}-${randomUUID()}`,
        "@timestamp": now,
        rule: item.rule
          ? { id: cleanText(item.rule.id, 100), name: cleanText(item.rule.name), type: "webhook" }
          : { id: `webhook-${def.kind}`, name: reason || `${def.kind} webhook alert`, type: "webhook" },
        severity: item.severity && SEVERITIES.includes(item.severity) ? item.severity : "high",
        group: { "source.ip": item.ip },
        count:
          item.count !== undefined && Number.isFinite(item.count) && item.count > 0
            ? Math.floor(item.count)
            : 1,
        first_seen: item.first_seen ?? now,
        last_seen: item.last_seen ?? now,
        events: [],
        attack: (item.attack ?? []).filter((t) => /^T\d{4}(?:\.\d{3})?$/.test(t)),
        origin: def.origin,
        response: "ban",
      };
      if (reason && item.rule) alert.rule.description = reason;
      if (item.duration !== undefined) alert.duration = item.duration;
      return alert;
    },
  };
}

/** Longest ban a webhook may ask for (the policy may shorten it; escalation is the policy's business). */
export const MAX_WEBHOOK_DURATION = 365 * 86_400_000;

/** `duration` as seconds (number) or a duration string (`10m`, `1h`); undefined when invalid. */
export function readDuration(v: unknown): number | undefined {
  let ms: number;
  try {
    if (typeof v === "number") ms = parseDuration(v);
    else if (typeof v === "string" && v.length <= 32) ms = parseDuration(v);
    else return undefined;
  } catch {
    return undefined;
  }
  return ms > 0 && ms <= MAX_WEBHOOK_DURATION ? ms : undefined;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * `generic`: `{ "ip": "203.0.113.7", "reason"?: "...", "duration"?: 600 | "10m" }`, or an array of such objects.
 * It is also what `POST /blockip` takes (the Kibana connector body `{ "ip": "{{context.source.ip}}" }`).
 */
export const generic: WebhookDefinition = {
  kind: "generic",
  origin: "webhook",
  description: 'A JSON object { "ip", "reason"?, "duration"? } (seconds or 10m/1h/2d), or an array of them',
  handle(body, ctx) {
    const items: unknown[] = Array.isArray(body) ? (body as unknown[]) : [body];
    if (!items.length)
      return { error: { message: "expected an object with an ip, or a non-empty array of them" } };
    const alerts: Alert[] = [];
    for (let i = 0; i < items.length; i++) {
      const at = Array.isArray(body) ? `[${i}].` : "";
      const it = items[i];
      if (!isRecord(it))
        return { error: { path: at.slice(0, -1) || "(body)", message: "expected a JSON object" } };
      if (it.ip === undefined) return { error: { path: `${at}ip`, message: "required" } };
      if (typeof it.ip !== "string") {
        return {
          error: {
            path: `${at}ip`,
            message: `expected a string, got ${Array.isArray(it.ip) ? "an array" : typeof it.ip}`,
          },
        };
      }
      if (it.reason !== undefined && (typeof it.reason !== "string" || it.reason.length > 1000)) {
        return { error: { path: `${at}reason`, message: "expected a string of at most 1000 characters" } };
      }
      let duration: number | undefined;
      if (it.duration !== undefined) {
        duration = readDuration(it.duration);
        if (duration === undefined) {
          return {
            error: {
              path: `${at}duration`,
              message: "expected seconds (number) or 10m/1h/2d, more than 0 and at most 365d",
            },
          };
        }
      }
      alerts.push(
        ctx.alert({
          ip: it.ip,
          ...(it.reason !== undefined ? { reason: it.reason } : {}),
          ...(duration !== undefined ? { duration } : {}),
        }),
      );
    }
    return alerts;
  },
};

/** Origins the CLI hooks forward for (their SIEM's name is kept as the alert's origin). */
export const HOOK_ORIGINS: ReadonlySet<string> = new Set(["ossim", "wazuh"]);

/**
 * `hook`: an alert already extracted by one of Portcullis' own CLI hooks (`portcullis wazuh-ar`, `portcullis
 * block`), forwarded to the daemon: `{ "origin": "wazuh" | "ossim", "ip", "reason"?, "rule"?: {id, name},
 * "severity"?, "count"?, "duration"? }`. The origin is kept (the audit says the ban came from Wazuh or OSSIM).
 * `duration` is the SIEM's suggested ban length (a Wazuh 5.x `stateful_timeout`), read like the `generic`
 * kind's: seconds (number) or 10m/1h/2d, more than 0 and at most 365d; anything else is refused (422).
 * Other fields (a request id that keeps signed requests unique) are ignored.
 */
export const hook: WebhookDefinition = {
  kind: "hook",
  origin: "hook",
  description: "An alert forwarded by `portcullis wazuh-ar` or `portcullis block` (origin wazuh or ossim)",
  handle(body, ctx) {
    if (!isRecord(body)) return { error: { message: "expected a JSON object" } };
    if (typeof body.origin !== "string" || !HOOK_ORIGINS.has(body.origin)) {
      return { error: { path: "origin", message: `expected one of ${[...HOOK_ORIGINS].join(", ")}` } };
    }
    if (typeof body.ip !== "string") return { error: { path: "ip", message: "expected a string" } };
    const item: WebhookItem = { ip: body.ip };
    if (typeof body.reason === "string") item.reason = body.reason.slice(0, 1000);
    const rule = body.rule;
    if (isRecord(rule) && typeof rule.id === "string" && typeof rule.name === "string") {
      item.rule = { id: rule.id, name: rule.name };
    }
    if (typeof body.severity === "string" && (SEVERITIES as readonly string[]).includes(body.severity)) {
      item.severity = body.severity as Severity;
    }
    if (typeof body.count === "number" && Number.isInteger(body.count) && body.count > 0)
      item.count = body.count;
    if (body.duration !== undefined) {
      const duration = readDuration(body.duration);
      if (duration === undefined) {
        return {
          error: {
            path: "duration",
            message: "expected seconds (number) or 10m/1h/2d, more than 0 and at most 365d",
          },
        };
      }
      item.duration = duration;
    }
    const alert = ctx.alert(item);
    alert.origin = body.origin;
    return [alert];
  },
};

/**
 * Every webhook kind, sorted by kind. OSSIM is not here: it calls a program with arguments
 * (`portcullis block`), not a webhook.
 */
export const WEBHOOKS: Readonly<Record<string, WebhookDefinition>> = {
  elastalert: siemWebhook("elastalert"),
  "elastic-security": siemWebhook("elastic-security"),
  generic,
  graylog: siemWebhook("graylog"),
  hook,
  kibana: siemWebhook("kibana"),
  splunk: siemWebhook("splunk"),
  wazuh: siemWebhook("wazuh"),
};

/** SIEM extractors that are deliberately not webhooks (checked in webhooks.test.ts). */
export const NOT_WEBHOOKS: Readonly<Record<string, string>> = {
  ossim: "argv only: `portcullis block SRC_IP ...`",
};
