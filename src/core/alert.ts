/**
 * Alert: a rule's verdict on a group of events (native detection) or an alert received from a SIEM.
 * Field names follow ECS where one exists (`rule.*`, `threat.technique.id`).
 */
import type { SecurityEvent } from "./event.ts";

export type Severity = "low" | "medium" | "high" | "critical";
export const SEVERITIES: readonly Severity[] = ["low", "medium", "high", "critical"];

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export interface Alert {
  id: string;
  /** Event time of the event that fired the rule (epoch ms). */
  "@timestamp": number;
  rule: { id: string; name: string; type: string; description?: string };
  severity: Severity;
  /** The group-by values, e.g. `{ "source.ip": "203.0.113.7" }` (an IPv6 source is its /64 prefix). */
  group: Record<string, string>;
  /** Events counted (sum of weights) in the window when the rule fired. */
  count: number;
  /** Distinct values counted (distinct rules). */
  distinct?: number;
  first_seen: number;
  last_seen: number;
  /** The most recent contributing events (bounded sample). */
  events: SecurityEvent[];
  /** MITRE ATT&CK technique ids, e.g. `T1110.001`. */
  attack: string[];
  /** `native` for Portcullis' own rules; `kibana`, `splunk`, `wazuh`, ... for SIEM alerts. */
  origin: string;
  /** What the rule suggests: ban the group's address, or only alert. The policy decides. */
  response: "ban" | "alert";
  /** Suggested ban duration in ms (the rule's `duration`), if any. */
  duration?: number;
}
