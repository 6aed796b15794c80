/**
 * The SIEM intake stage: a webhook body (or a CLI hook's input) -> Alerts, one per attacker address.
 *
 * An extractor is a declarative definition, one per SIEM kind (`kibana`, `splunk`, ...), listed in
 * registry.ts. Options reach it only through `extract`. Contract for implementations:
 * - never throw, whatever the body (wrong types, deep nesting, huge arrays): anything unusable becomes a
 *   `rejected` entry with the path where it was found and why;
 * - read the attacker only from the fields documented for the kind (or configured in `ipFields`), never
 *   from the monitored host, a relay or the collector (`agent.ip`, `host.ip`, `observer.*`, `event.source`,
 *   `gl2_remote_ip`, `SENSOR`, `DST_IP`, `destination.ip`: see address.ts);
 * - validate every extracted value as one IP address (address.ts): no ranges, host names or lists;
 * - examine at most `maxAlerts` items per request and report the rest as rejected;
 * - one Alert per distinct address per request (origin = kind, `group["source.ip"]` = the address);
 * - keep a small sample of fields in `events`, never the payload whole.
 * The policy (allowlist, verification, de-duplication across requests, circuit breaker) happens after.
 */
import { z } from "zod";
import type { Alert } from "../core/alert.ts";

export interface ExtractOptions {
  /** Receive time (epoch ms, from the injected clock): the alert time when the payload has none. */
  now: number;
  /**
   * Where the attacker's address is, for kinds whose body is user-defined (Splunk result fields, Graylog
   * custom event fields, template keys). Dotted paths tried in order; default: the definition's `ipFields`.
   */
  ipFields?: readonly string[];
  /** Items (alerts, hits, addresses) examined per request; the rest are rejected. Default 1000. */
  maxAlerts?: number;
}

export interface Rejected {
  /** The offending value (strings truncated, objects and arrays summarised). */
  value: unknown;
  /** Where in the body, e.g. `alerts[3].source.ip`. */
  path: string;
  reason: string;
}

export interface ExtractResult {
  alerts: Alert[];
  rejected: Rejected[];
}

export interface ExtractorDefinition {
  /** The SIEM or protocol, lower case: also the alerts' `origin` and the webhook path segment. */
  kind: string;
  description: string;
  /** Default attacker fields (see {@link ExtractOptions.ipFields}); empty when the kind has no choice. */
  ipFields: readonly string[];
  extract(body: unknown, options: ExtractOptions): ExtractResult;
}

export const DEFAULT_MAX_ALERTS = 1000;
export const MAX_MAX_ALERTS = 10_000;

/**
 * The user-configurable part of an extractor's options, for a webhook's config entry (snake_case as the
 * rest of the config). Forbidden fields (collector and host addresses) are refused here already.
 */
export const extractConfigSchema = z.strictObject({
  ip_fields: z
    .array(
      z
        .string()
        .min(1)
        .max(128)
        .regex(/^[^.]+(?:\.[^.]+){0,7}$/, "expected a dotted field path"),
    )
    .min(1)
    .max(16)
    .optional()
    .describe("Fields holding the attacker's address, tried in order (default: the kind's own list)"),
  max_alerts: z
    .number()
    .int()
    .min(1)
    .max(MAX_MAX_ALERTS)
    .optional()
    .describe(`Items examined per request; the rest are rejected (default ${DEFAULT_MAX_ALERTS})`),
});
export type ExtractConfig = z.infer<typeof extractConfigSchema>;

/** Builds extract options from a validated config entry and the receive time. */
export function toExtractOptions(config: ExtractConfig, now: number): ExtractOptions {
  const o: ExtractOptions = { now };
  if (config.ip_fields) o.ipFields = config.ip_fields;
  if (config.max_alerts !== undefined) o.maxAlerts = config.max_alerts;
  return o;
}
