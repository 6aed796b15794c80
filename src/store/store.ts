/**
 * The system of record: decisions with their per-responder status, alerts with sample events, the audit
 * trail, source checkpoints and API tokens. One implementation over kysely serves SQLite (WAL, the embedded
 * default) and PostgreSQL (fleet).
 *
 * Durability: every write that matters (a decision, its audit record) is one transaction, committed before the
 * decision is enforced, so a crash at any moment loses nothing that was applied: on restart, reconcile
 * re-applies what the store says is active.
 */
import type { Kysely } from "kysely";
import { Migrator, sql, type Transaction } from "kysely";
import type { Alert } from "../core/alert.ts";
import type { Actor, Decision, DecisionStatus } from "../core/decision.ts";
import { toJsonEvent, type SecurityEvent } from "../core/event.ts";
import type { PolicyResult } from "../policy/policy.ts";
import type { CheckpointStore, SourcePosition } from "../sources/types.ts";
import { migrationProvider } from "./migrations/index.ts";
import type { Database, DecisionsTable } from "./schema.ts";

export type DecisionState = "active" | "expired" | "revoked";

/**
 * The conditions of the partial indexes (migration 0002) as literals: a query uses a partial index only if its
 * WHERE contains the index's condition, which a bound parameter does not show the planner (PostgreSQL's
 * generic plans, SQLite before it sees the bindings).
 */
const ACTIVE = sql.lit("active");
const APPLIED = sql.lit("applied");

/**
 * Rows in creation order. Sorted here rather than by an ORDER BY: SQLite would read the whole table through
 * the created_at index to skip the sort, instead of the few rows the other indexes find. Stable, so rows created
 * at the same millisecond keep the order the query gave them.
 */
function byCreation<R extends { created_at: number }>(rows: R[]): R[] {
  return rows.sort((a, b) => Number(a.created_at) - Number(b.created_at));
}

export interface StoredDecision extends Decision {
  state: DecisionState;
  ended_at?: number;
  ended_by?: string;
}

export interface AuditRecord {
  at: number;
  actor: Actor;
  /** ban, extend, refuse, unban, expire, apply, remove, fail, reconcile, alert, config, token, ... */
  action: string;
  target?: string;
  decisionId?: string;
  alertId?: string;
  detail?: Record<string, unknown>;
}

/** Everything one policy outcome writes (see {@link Store.recordOutcomes}). */
export interface OutcomeRecord {
  /**
   * A new decision, pending on these responders; or, with `revoked`, one an unban ended before it could be
   * written (the daemon held it after a failed commit): written ended, and never enforced.
   */
  decision?: { d: Decision; responders: readonly string[]; revoked?: { at: number; by: string } };
  /** An existing decision extended to a later expiry. */
  extend?: { id: string; expires: number };
  /** The alert behind the outcome, with the policy's result. */
  alert?: { alert: Alert; result: PolicyResult | undefined };
  audit: AuditRecord[];
}

export interface StoredAudit extends AuditRecord {
  id: number;
}

export interface StoredAlert {
  id: string;
  "@timestamp": number;
  rule: { id: string; name: string; type: string };
  severity: string;
  group: Record<string, string>;
  source_ip?: string;
  count: number;
  distinct?: number;
  first_seen: number;
  last_seen: number;
  attack: string[];
  origin: string;
  response: string;
  outcome?: string;
  outcome_reason?: string;
  decision_id?: string;
  events: Record<string, unknown>[];
}

export interface ListOptions {
  limit?: number;
  offset?: number;
  since?: number;
  until?: number;
}

export interface RetentionPolicy {
  /** Keep ended decisions and alerts this long (ms). */
  decisions: number;
  alerts: number;
  audit: number;
}

function rowToDecision(r: DecisionsTable, status: Record<string, DecisionStatus>): StoredDecision {
  const d: StoredDecision = {
    id: r.id,
    "@timestamp": Number(r.created_at),
    target: r.target,
    action: "ban",
    scope: r.scope === "fleet" ? "fleet" : "host",
    duration: Number(r.duration),
    expires: Number(r.expires_at),
    reason: r.reason,
    origin: r.origin,
    actor: { type: r.actor_type as Actor["type"], name: r.actor_name },
    escalation: r.escalation,
    simulated: r.simulated === 1,
    status,
    state: r.state as DecisionState,
  };
  if (r.rule_id !== null) d.rule = { id: r.rule_id, name: r.rule_name ?? r.rule_id };
  if (r.alert_id !== null) d.alert_id = r.alert_id;
  if (r.ended_at !== null) d.ended_at = Number(r.ended_at);
  if (r.ended_by !== null) d.ended_by = r.ended_by;
  return d;
}

function decisionRow(d: Decision, revoked?: { at: number; by: string }): DecisionsTable {
  return {
    id: d.id,
    created_at: d["@timestamp"],
    target: d.target,
    action: d.action,
    scope: d.scope,
    duration: d.duration,
    expires_at: d.expires,
    reason: d.reason,
    rule_id: d.rule?.id ?? null,
    rule_name: d.rule?.name ?? null,
    alert_id: d.alert_id ?? null,
    origin: d.origin,
    actor_type: d.actor.type,
    actor_name: d.actor.name,
    escalation: d.escalation,
    simulated: d.simulated ? 1 : 0,
    state: revoked ? "revoked" : "active",
    ended_at: revoked?.at ?? null,
    ended_by: revoked?.by ?? null,
  };
}

function alertRow(a: Alert, result: PolicyResult | undefined) {
  return {
    id: a.id,
    created_at: a["@timestamp"],
    rule_id: a.rule.id,
    rule_name: a.rule.name,
    rule_type: a.rule.type,
    severity: a.severity,
    group_key: JSON.stringify(a.group),
    source_ip: a.group["source.ip"] ?? null,
    count: a.count,
    distinct_count: a.distinct ?? null,
    first_seen: a.first_seen,
    last_seen: a.last_seen,
    attack: JSON.stringify(a.attack),
    origin: a.origin,
    response: a.response,
    outcome: result?.outcome ?? null,
    outcome_reason: result?.reason ?? null,
    decision_id: result?.decision?.id ?? result?.decisionId ?? null,
    events: JSON.stringify(a.events.map((e: SecurityEvent) => toJsonEvent(e))),
  };
}

function auditRow(a: AuditRecord) {
  return {
    at: a.at,
    actor_type: a.actor.type,
    actor_name: a.actor.name,
    action: a.action,
    target: a.target ?? null,
    decision_id: a.decisionId ?? null,
    alert_id: a.alertId ?? null,
    detail: JSON.stringify(a.detail ?? {}),
  };
}

async function putCheckpoint(
  db: Kysely<Database>,
  { key, value }: SourcePosition,
  at: number,
): Promise<void> {
  await db
    .insertInto("checkpoints")
    .values({ key, value, updated_at: at })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value, updated_at: at }))
    .execute();
}

export class Store {
  readonly db: Kysely<Database>;
  readonly dialect: "sqlite" | "postgres";
  readonly checkpoints: CheckpointStore;
  readonly #clock: () => number;

  constructor(db: Kysely<Database>, dialect: "sqlite" | "postgres", clock: () => number) {
    this.db = db;
    this.dialect = dialect;
    this.#clock = clock;
    this.checkpoints = {
      get: async (key) =>
        (await db.selectFrom("checkpoints").select("value").where("key", "=", key).executeTakeFirst())?.value,
      set: (key, value) => putCheckpoint(db, { key, value }, clock()),
    };
  }

  /** Whether every migration is applied (reads only: takes no lock). */
  async isMigrated(): Promise<boolean> {
    const migrations = await new Migrator({ db: this.db, provider: migrationProvider }).getMigrations();
    return migrations.every((m) => m.executedAt !== undefined);
  }

  /**
   * Applies the pending migrations. Concurrent openers must be serialised by the caller (the SQLite store runs
   * this inside `BEGIN IMMEDIATE`, see sqlite.ts); a migration must not open a transaction of its own.
   */
  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.db, provider: migrationProvider });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === "Error");
      throw new Error(
        `database migration ${failed?.migrationName ?? ""} failed: ${(error as Error).message}`,
        {
          cause: error,
        },
      );
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }

  // ---- decisions ----------------------------------------------------------------------------------------

  /** Records a new decision (pending for each responder) and its audit records, atomically. */
  async insertDecision(d: Decision, responders: readonly string[], audit: AuditRecord[]): Promise<void> {
    await this.recordOutcomes([{ decision: { d, responders }, audit }]);
  }

  /**
   * Records the outcomes of a batch of alerts (decisions, extensions, alerts, audit) in ONE transaction: the
   * daemon commits a batch of log lines' decisions together, before any of them is enforced, and with them the
   * source positions after those lines (so a crash neither loses a decision nor re-reads a line).
   */
  async recordOutcomes(
    items: readonly OutcomeRecord[],
    positions: readonly SourcePosition[] = [],
  ): Promise<void> {
    if (!items.length && !positions.length) return;
    await this.db.transaction().execute(async (tx) => {
      const at = this.#clock();
      for (const p of positions) await putCheckpoint(tx, p, at);
      const decisions = items.flatMap((i) => (i.decision ? [i.decision] : []));
      for (let k = 0; k < decisions.length; k += 200) {
        const chunk = decisions.slice(k, k + 200);
        await tx
          .insertInto("decisions")
          .values(chunk.map(({ d, revoked }) => decisionRow(d, revoked)))
          .execute();
        const status = chunk.flatMap(({ d, responders }) =>
          responders.map((r) => ({
            decision_id: d.id,
            responder: r,
            status: "pending",
            error: null,
            updated_at: d["@timestamp"],
          })),
        );
        for (let j = 0; j < status.length; j += 300) {
          await tx
            .insertInto("decision_status")
            .values(status.slice(j, j + 300))
            .execute();
        }
      }
      for (const i of items) {
        if (!i.extend) continue;
        await tx
          .updateTable("decisions")
          .set({ expires_at: i.extend.expires, duration: sql<number>`${i.extend.expires} - created_at` })
          .where("id", "=", i.extend.id)
          // An ended decision keeps its end: extending it would not put the ban back (the caller checks).
          .where("state", "=", "active")
          .execute();
      }
      const alerts = items.flatMap((i) => (i.alert ? [i.alert] : []));
      for (let k = 0; k < alerts.length; k += 100) {
        await tx
          .insertInto("alerts")
          .values(alerts.slice(k, k + 100).map(({ alert, result }) => alertRow(alert, result)))
          .onConflict((oc) => oc.column("id").doNothing())
          .execute();
      }
      await this.#audit(
        tx,
        items.flatMap((i) => i.audit),
      );
    });
  }

  async setStatus(
    updates: readonly { decisionId: string; responder: string; status: DecisionStatus; error?: string }[],
    at: number,
    audit: AuditRecord[] = [],
  ): Promise<void> {
    if (!updates.length && !audit.length) return;
    await this.db.transaction().execute(async (tx) => {
      for (const u of updates) {
        await tx
          .insertInto("decision_status")
          .values({
            decision_id: u.decisionId,
            responder: u.responder,
            status: u.status,
            error: u.error ?? null,
            updated_at: at,
          })
          .onConflict((oc) =>
            oc
              .columns(["decision_id", "responder"])
              .doUpdateSet({ status: u.status, error: u.error ?? null, updated_at: at }),
          )
          .execute();
      }
      await this.#audit(tx, audit);
    });
  }

  async extendDecision(id: string, expires: number, audit: AuditRecord): Promise<void> {
    await this.recordOutcomes([{ extend: { id, expires }, audit: [audit] }]);
  }

  async #statusFor(ids: string[]): Promise<Map<string, Record<string, DecisionStatus>>> {
    const out = new Map<string, Record<string, DecisionStatus>>();
    for (let i = 0; i < ids.length; i += 500) {
      const chunk = ids.slice(i, i + 500);
      if (!chunk.length) break;
      const rows = await this.db
        .selectFrom("decision_status")
        .select(["decision_id", "responder", "status"])
        .where("decision_id", "in", chunk)
        .execute();
      for (const r of rows) {
        const m = out.get(r.decision_id) ?? {};
        m[r.responder] = r.status as DecisionStatus;
        out.set(r.decision_id, m);
      }
    }
    return out;
  }

  async #hydrate(rows: DecisionsTable[]): Promise<StoredDecision[]> {
    const status = await this.#statusFor(rows.map((r) => r.id));
    return rows.map((r) => rowToDecision(r, status.get(r.id) ?? {}));
  }

  /** Decisions in force at `now` (state active and not yet expired). */
  async activeDecisions(now: number): Promise<StoredDecision[]> {
    const rows = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where("state", "=", ACTIVE)
      .where("expires_at", ">", now)
      .execute();
    return this.#hydrate(byCreation(rows));
  }

  /**
   * Which of `targets` have an active, enforced decision (a newer ban that owns the firewall entry), not counting
   * the decisions in `except` (those being removed).
   */
  async enforcedTargets(
    targets: readonly string[],
    now: number,
    except: ReadonlySet<string> = new Set(),
  ): Promise<Set<string>> {
    const out = new Set<string>();
    const unique = [...new Set(targets)];
    for (let i = 0; i < unique.length; i += 500) {
      const rows = await this.db
        .selectFrom("decisions")
        .select(["id", "target"])
        .where("state", "=", ACTIVE)
        .where("expires_at", ">", now)
        .where("simulated", "=", 0)
        .where("target", "in", unique.slice(i, i + 500))
        .execute();
      for (const r of rows) if (!except.has(r.id)) out.add(r.target);
    }
    return out;
  }

  /** Those of the decisions `ids` that have ended (revoked or expired), with their status. */
  async endedAmong(ids: readonly string[]): Promise<StoredDecision[]> {
    const unique = [...new Set(ids)];
    const rows: DecisionsTable[] = [];
    for (let i = 0; i < unique.length; i += 500) {
      rows.push(
        ...(await this.db
          .selectFrom("decisions")
          .selectAll()
          .where("id", "in", unique.slice(i, i + 500))
          .where("state", "<>", ACTIVE)
          .execute()),
      );
    }
    return this.#hydrate(rows);
  }

  async getDecision(id: string): Promise<StoredDecision | undefined> {
    const r = await this.db.selectFrom("decisions").selectAll().where("id", "=", id).executeTakeFirst();
    return r ? (await this.#hydrate([r]))[0] : undefined;
  }

  /** Every decision about `target` (newest first). */
  async decisionsFor(target: string, limit = 100): Promise<StoredDecision[]> {
    const rows = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where("target", "=", target)
      .orderBy("created_at", "desc")
      .limit(limit)
      .execute();
    return this.#hydrate(rows);
  }

  /** Targets of active decisions that are ranges (CIDRs), to find the range bans blocking an address. */
  async activeRanges(): Promise<string[]> {
    // Deduplicated here: a DISTINCT made SQLite read every decision through the target index.
    const rows = await this.db
      .selectFrom("decisions")
      .select("target")
      .where("state", "=", ACTIVE)
      .where("target", "like", "%/%")
      .execute();
    return [...new Set(rows.map((r) => r.target))];
  }

  async listDecisions(
    opts: ListOptions & { state?: DecisionState; target?: string } = {},
  ): Promise<StoredDecision[]> {
    let q = this.db.selectFrom("decisions").selectAll();
    if (opts.state) q = q.where("state", "=", opts.state);
    if (opts.target) q = q.where("target", "=", opts.target);
    if (opts.since !== undefined) q = q.where("created_at", ">=", opts.since);
    if (opts.until !== undefined) q = q.where("created_at", "<", opts.until);
    const rows = await q
      .orderBy("created_at", "desc")
      .limit(opts.limit ?? 100)
      .offset(opts.offset ?? 0)
      .execute();
    return this.#hydrate(rows);
  }

  /**
   * Work for the responders: active, enforced decisions whose status for a responder is not `applied`
   * (pending, failed, or no status row yet: a decision made by another process), and ended decisions still
   * `applied` somewhere (to remove). Decisions to apply come in expiry order (a target's latest expiry last),
   * those to remove in the order they ended.
   *
   * Both are set operations over two indexes read in id order (migration 0002): the enforced decisions EXCEPT
   * those applied on the responder, the ended decisions INTERSECT those applied somewhere. One pass over each
   * index instead of one decision_status lookup per decision: the daemon runs this every few seconds.
   */
  async pendingWork(
    responders: readonly string[],
    now: number,
  ): Promise<{ apply: StoredDecision[]; remove: StoredDecision[] }> {
    if (!responders.length) return { apply: [], remove: [] };
    const enforced = this.db
      .selectFrom("decisions")
      .select("id")
      .where("state", "=", ACTIVE)
      .where("simulated", "=", sql.lit(0))
      .where("expires_at", ">", now);
    const applied = this.db
      .selectFrom("decision_status")
      .select("decision_id as id")
      .where("status", "=", APPLIED);
    const applyRows = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where((eb) =>
        eb.or(responders.map((r) => eb("id", "in", enforced.except(applied.where("responder", "=", r))))),
      )
      .orderBy("expires_at")
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    const removeRows = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where(
        "id",
        "in",
        this.db.selectFrom("decisions").select("id").where("state", "<>", ACTIVE).intersect(applied),
      )
      .orderBy("ended_at")
      .orderBy("created_at")
      .orderBy("id")
      .execute();
    return { apply: await this.#hydrate(applyRows), remove: await this.#hydrate(removeRows) };
  }

  /** Decisions created or ended after `since` (another process's bans and unbans, for the in-memory view). */
  async changedSince(since: number): Promise<StoredDecision[]> {
    const rows = await this.db
      .selectFrom("decisions")
      .selectAll()
      .where((eb) => eb.or([eb("created_at", ">", since), eb("ended_at", ">", since)]))
      .execute();
    return this.#hydrate(byCreation(rows));
  }

  /** Marks decisions whose expiry has passed as expired; returns them. */
  /**
   * Ends the active decisions due at `now`, except those `keep` holds on to (the daemon's: a ban it has
   * extended in memory whose later expiry is not written yet); returns the ended ones.
   */
  async expireDue(
    now: number,
    keep: (d: { id: string; target: string }) => boolean = () => false,
  ): Promise<StoredDecision[]> {
    return this.db.transaction().execute(async (tx) => {
      const rows = (
        await tx
          .selectFrom("decisions")
          .selectAll()
          .where("state", "=", ACTIVE)
          .where("expires_at", "<=", now)
          .execute()
      ).filter((r) => !keep(r));
      if (!rows.length) return [];
      const ids = rows.map((r) => r.id);
      for (let i = 0; i < ids.length; i += 500) {
        await tx
          .updateTable("decisions")
          .set({ state: "expired", ended_at: now, ended_by: "expiry" })
          .where("id", "in", ids.slice(i, i + 500))
          .execute();
      }
      await this.#audit(
        tx,
        rows.map((r) => ({
          at: now,
          actor: { type: "rule", name: "expiry" },
          action: "expire",
          target: r.target,
          decisionId: r.id,
        })),
      );
      return rows.map((r) =>
        rowToDecision({ ...r, state: "expired", ended_at: now, ended_by: "expiry" }, {}),
      );
    });
  }

  /**
   * Revokes the active decisions for `target`; returns them (empty if none was active). With `opts.origin`, only
   * the decisions of that origin (`wazuh`, ...): a SIEM's unban ends that SIEM's bans, never anyone else's.
   */
  async revoke(
    target: string,
    actor: Actor,
    reason: string,
    now: number,
    opts: { origin?: string } = {},
  ): Promise<StoredDecision[]> {
    return this.db.transaction().execute(async (tx) => {
      let q = tx
        .selectFrom("decisions")
        .selectAll()
        .where("target", "=", target)
        .where("state", "=", "active");
      if (opts.origin !== undefined) q = q.where("origin", "=", opts.origin);
      const rows = await q.execute();
      if (!rows.length) return [];
      await tx
        .updateTable("decisions")
        .set({ state: "revoked", ended_at: now, ended_by: `${actor.type}:${actor.name}` })
        .where(
          "id",
          "in",
          rows.map((r) => r.id),
        )
        .execute();
      await this.#audit(
        tx,
        rows.map((r) => ({ at: now, actor, action: "unban", target, decisionId: r.id, detail: { reason } })),
      );
      return rows.map((r) =>
        rowToDecision({ ...r, state: "revoked", ended_at: now, ended_by: `${actor.type}:${actor.name}` }, {}),
      );
    });
  }

  /** How many (enforced) bans `target` had since `since`: the escalation history, which survives restarts. */
  async banCount(target: string, since: number): Promise<number> {
    const r = await this.db
      .selectFrom("decisions")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("target", "=", target)
      .where("created_at", ">=", since)
      .where("simulated", "=", 0)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  /** Ban times per target since `since` (to warm the in-memory history at start). */
  async banHistory(since: number): Promise<{ target: string; at: number }[]> {
    const rows = await this.db
      .selectFrom("decisions")
      .select(["target", "created_at"])
      .where("created_at", ">=", since)
      .where("simulated", "=", 0)
      .orderBy("created_at")
      .execute();
    return rows.map((r) => ({ target: r.target, at: Number(r.created_at) }));
  }

  // ---- alerts ---------------------------------------------------------------------------------------------

  async insertAlert(a: Alert, result: PolicyResult | undefined, audit: AuditRecord[] = []): Promise<void> {
    await this.recordOutcomes([{ alert: { alert: a, result }, audit }]);
  }

  async listAlerts(opts: ListOptions & { sourceIp?: string; ruleId?: string } = {}): Promise<StoredAlert[]> {
    let q = this.db.selectFrom("alerts").selectAll();
    if (opts.sourceIp) q = q.where("source_ip", "=", opts.sourceIp);
    if (opts.ruleId) q = q.where("rule_id", "=", opts.ruleId);
    if (opts.since !== undefined) q = q.where("created_at", ">=", opts.since);
    if (opts.until !== undefined) q = q.where("created_at", "<", opts.until);
    const rows = await q
      .orderBy("created_at", "desc")
      .limit(opts.limit ?? 100)
      .offset(opts.offset ?? 0)
      .execute();
    return rows.map((r) => {
      const a: StoredAlert = {
        id: r.id,
        "@timestamp": Number(r.created_at),
        rule: { id: r.rule_id, name: r.rule_name, type: r.rule_type },
        severity: r.severity,
        group: JSON.parse(r.group_key) as Record<string, string>,
        count: r.count,
        first_seen: Number(r.first_seen),
        last_seen: Number(r.last_seen),
        attack: JSON.parse(r.attack) as string[],
        origin: r.origin,
        response: r.response,
        events: JSON.parse(r.events) as Record<string, unknown>[],
      };
      if (r.source_ip !== null) a.source_ip = r.source_ip;
      if (r.distinct_count !== null) a.distinct = r.distinct_count;
      if (r.outcome !== null) a.outcome = r.outcome;
      if (r.outcome_reason !== null) a.outcome_reason = r.outcome_reason;
      if (r.decision_id !== null) a.decision_id = r.decision_id;
      return a;
    });
  }

  // ---- audit ----------------------------------------------------------------------------------------------

  async audit(records: AuditRecord[]): Promise<void> {
    if (!records.length) return;
    await this.db.transaction().execute((tx) => this.#audit(tx, records));
  }

  async #audit(tx: Transaction<Database>, records: AuditRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += 200) {
      const chunk = records.slice(i, i + 200);
      if (chunk.length) await tx.insertInto("audit").values(chunk.map(auditRow)).execute();
    }
  }

  async auditFor(target: string, limit = 200): Promise<StoredAudit[]> {
    return this.listAudit({ target, limit });
  }

  async listAudit(
    opts: ListOptions & { target?: string; decisionId?: string; alertId?: string } = {},
  ): Promise<StoredAudit[]> {
    let q = this.db.selectFrom("audit").selectAll();
    if (opts.target) q = q.where("target", "=", opts.target);
    if (opts.decisionId) q = q.where("decision_id", "=", opts.decisionId);
    if (opts.alertId) q = q.where("alert_id", "=", opts.alertId);
    if (opts.since !== undefined) q = q.where("at", ">=", opts.since);
    const rows = await q
      .orderBy("id", "desc")
      .limit(opts.limit ?? 200)
      .offset(opts.offset ?? 0)
      .execute();
    return rows.map((r) => {
      const a: StoredAudit = {
        id: Number(r.id),
        at: Number(r.at),
        actor: { type: r.actor_type as Actor["type"], name: r.actor_name },
        action: r.action,
        detail: JSON.parse(r.detail) as Record<string, unknown>,
      };
      if (r.target !== null) a.target = r.target;
      if (r.decision_id !== null) a.decisionId = r.decision_id;
      if (r.alert_id !== null) a.alertId = r.alert_id;
      return a;
    });
  }

  // ---- maintenance ------------------------------------------------------------------------------------------

  /** Deletes ended decisions, alerts and audit records older than the retention periods. */
  async applyRetention(
    now: number,
    keep: RetentionPolicy,
  ): Promise<{ decisions: number; alerts: number; audit: number }> {
    return this.db.transaction().execute(async (tx) => {
      const old = await tx
        .selectFrom("decisions")
        .select("id")
        .where("state", "!=", "active")
        .where("ended_at", "<", now - keep.decisions)
        .execute();
      const ids = old.map((r) => r.id);
      for (let i = 0; i < ids.length; i += 500) {
        const chunk = ids.slice(i, i + 500);
        await tx.deleteFrom("decision_status").where("decision_id", "in", chunk).execute();
        await tx.deleteFrom("decisions").where("id", "in", chunk).execute();
      }
      const alerts = await tx
        .deleteFrom("alerts")
        .where("created_at", "<", now - keep.alerts)
        .executeTakeFirst();
      const audit = await tx
        .deleteFrom("audit")
        .where("at", "<", now - keep.audit)
        .executeTakeFirst();
      return {
        decisions: ids.length,
        alerts: Number(alerts.numDeletedRows),
        audit: Number(audit.numDeletedRows),
      };
    });
  }
}
