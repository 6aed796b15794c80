/**
 * What the HTTPS API, the CLI and the SIEM intake need from a running daemon: one interface, implemented by
 * the daemon (src/daemon/) and by test doubles. The API layer never touches the store or the policy directly.
 */
import type { Alert } from "../core/alert.ts";
import type { Actor } from "../core/decision.ts";
import type { PolicyOutcome } from "../policy/policy.ts";
import type { StoredAlert, StoredAudit, StoredDecision } from "../store/store.ts";

export interface BanRequest {
  /** Address or CIDR as given by the caller (validated by the daemon). */
  target: string;
  /** ms; default: the policy's default duration. */
  duration?: number;
  reason?: string;
  actor: Actor;
  /** Where the request came from: `api`, `cli`, `kibana`, `wazuh`, ... */
  origin: string;
}

/** What happened to a ban request or a SIEM alert, for the response body. */
export interface BanOutcome {
  outcome: PolicyOutcome;
  target?: string;
  reason: string;
  /** Expiry of the ban in force (banned, extended, already_banned). */
  expires?: number;
  decision?: StoredDecision;
  /** The decision in force (also for already_banned, where `decision` is not loaded). */
  decisionId?: string;
}

/**
 * Whether a decision is enforced: every responder applied it, one failed (it is retried), some are still
 * pending when the wait ran out, or it is not meant to be enforced (dry-run or shadow: simulated).
 */
export interface Enforcement {
  state: "applied" | "failed" | "pending" | "simulated";
  failed: { responder: string; error: string }[];
  pending: string[];
}

export interface UnbanOutcome {
  target: string;
  /** Decisions revoked (0: the target was not banned). */
  revoked: number;
}

export interface DecisionQuery {
  state?: "active" | "expired" | "revoked";
  target?: string;
  since?: number;
  limit?: number;
  offset?: number;
}

export interface AlertQuery {
  sourceIp?: string;
  ruleId?: string;
  since?: number;
  limit?: number;
  offset?: number;
}

export interface RuleInfo {
  id: string;
  name: string;
  type: string;
  enabled: boolean;
  response: string;
  description?: string;
  attack: string[];
}

export interface Explanation {
  target: string;
  /** Decisions about the target, newest first, with per-responder status. */
  decisions: StoredDecision[];
  /** Alerts about the target with their sample events. */
  alerts: StoredAlert[];
  /** Audit trail (who or what, why, when). */
  audit: StoredAudit[];
  /** Allowlist entry protecting the target, if any. */
  allowlisted?: { cidr: string; why: string };
}

export interface StatusReport {
  version: string;
  pid: number;
  started: number;
  now: number;
  dryRun: boolean;
  activeBans: number;
  sources: { name: string; type: string; ok: boolean; detail: string; stats: Record<string, number> }[];
  responders: { name: string; type: string; ok: boolean; detail: string }[];
  rules: number;
  counters: Record<string, number>;
  /** TLS certificate fingerprint of the API (SHA-256, colon-separated hex), when the API runs. */
  tlsFingerprint?: string;
  /** Base URL of the API, when it runs. */
  apiUrl?: string;
}

export type StreamEvent =
  | { kind: "alert"; data: StoredAlert | Record<string, unknown> }
  | { kind: "decision"; data: StoredDecision | Record<string, unknown> };

export interface Control {
  /** The prefix IPv6 sources are banned under (`policy.ipv6_prefix`): an IPv6 alert bans that range. */
  readonly ipv6Prefix: number;
  status(): Promise<StatusReport>;
  listDecisions(q: DecisionQuery): Promise<StoredDecision[]>;
  ban(req: BanRequest): Promise<BanOutcome>;
  /**
   * Lifts the bans of `target` (an address also lifts the banned ranges that contain it). With `opts.origin`
   * (a SIEM hook's unban: `wazuh`), only the decisions of that origin end, on the target itself or, for an IPv6
   * address, on the {@link ipv6Prefix} range it was banned under; every other ban stays.
   */
  unban(target: string, actor: Actor, reason?: string, opts?: { origin?: string }): Promise<UnbanOutcome>;
  listAlerts(q: AlertQuery): Promise<StoredAlert[]>;
  listRules(): RuleInfo[];
  explain(target: string): Promise<Explanation>;
  /**
   * An alert from a SIEM (origin set: `kibana`, `splunk`, ...): same policy as native alerts (allowlist,
   * verification, de-duplication across sources, audit). The alert's `group["source.ip"]` is the attacker.
   */
  ingestAlert(alert: Alert, actor: Actor): Promise<BanOutcome>;
  /**
   * Waits up to `waitMs` for the decision's responders to report (applied or failed) and says how it stands:
   * for callers that answer "banned" only once the firewall holds the ban (hooks, `Prefer: wait`).
   */
  enforcement(decisionId: string, waitMs: number): Promise<Enforcement>;
  /** Live alerts and decisions (Server-Sent Events); returns an unsubscribe function. */
  subscribe(listener: (e: StreamEvent) => void): () => void;
  /** Prometheus text exposition of the daemon's metrics. */
  metrics(): Promise<string>;
}
