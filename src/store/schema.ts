/**
 * Table types for the query layer (kysely). The same schema and queries serve SQLite (embedded default) and
 * PostgreSQL (fleet). Times are integers (epoch ms); JSON is stored as text.
 */
import type { Generated } from "kysely";

export interface DecisionsTable {
  id: string;
  created_at: number;
  target: string;
  action: string;
  scope: string;
  duration: number;
  expires_at: number;
  reason: string;
  rule_id: string | null;
  rule_name: string | null;
  alert_id: string | null;
  origin: string;
  actor_type: string;
  actor_name: string;
  escalation: number;
  simulated: number;
  /** active | expired | revoked */
  state: string;
  ended_at: number | null;
  ended_by: string | null;
}

export interface DecisionStatusTable {
  decision_id: string;
  responder: string;
  /** pending | applied | failed | removed */
  status: string;
  error: string | null;
  updated_at: number;
}

export interface AlertsTable {
  id: string;
  created_at: number;
  rule_id: string;
  rule_name: string;
  rule_type: string;
  severity: string;
  group_key: string;
  source_ip: string | null;
  count: number;
  distinct_count: number | null;
  first_seen: number;
  last_seen: number;
  attack: string;
  origin: string;
  response: string;
  outcome: string | null;
  outcome_reason: string | null;
  decision_id: string | null;
  events: string;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  actor_type: string;
  actor_name: string;
  action: string;
  target: string | null;
  decision_id: string | null;
  alert_id: string | null;
  detail: string;
}

export interface CheckpointsTable {
  key: string;
  value: string;
  updated_at: number;
}

export interface TokensTable {
  id: string;
  name: string;
  hash: string;
  scopes: string;
  allow: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface Database {
  decisions: DecisionsTable;
  decision_status: DecisionStatusTable;
  alerts: AlertsTable;
  audit: AuditTable;
  checkpoints: CheckpointsTable;
  tokens: TokensTable;
}
