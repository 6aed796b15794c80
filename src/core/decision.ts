/**
 * Decision: what the policy decided to do about an address. Responders enforce decisions; the store keeps
 * them with their per-responder status and the audit trail.
 */
export type DecisionStatus = "pending" | "applied" | "failed" | "removed";

export interface Actor {
  /** `rule` (native detection), `siem` (webhook/CLI hook), `api` (token), `cli` (local user). */
  type: "rule" | "siem" | "api" | "cli";
  name: string;
}

export interface Decision {
  id: string;
  /** When it was decided: the event time of the triggering event in replay, wall time in the daemon. */
  "@timestamp": number;
  /** Canonical address, or CIDR (IPv6 sources are banned per prefix). */
  target: string;
  action: "ban";
  scope: "host" | "fleet";
  duration: number;
  expires: number;
  reason: string;
  rule?: { id: string; name: string };
  alert_id?: string;
  origin: string;
  actor: Actor;
  /** 0 for a first ban; n for the n-th repeat ban of the same target (duration multiplied). */
  escalation: number;
  /** Recorded but not enforced (dry-run or a rule in shadow mode). */
  simulated: boolean;
  status: Record<string, DecisionStatus>;
}
