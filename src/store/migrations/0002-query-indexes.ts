/**
 * Indexes for the queries the daemon runs every few seconds, so that they stay cheap with 100,000s of
 * decisions (see `Store.pendingWork`, `changedSince`, `activeDecisions`, `expireDue`).
 *
 * `decisions_state_expires (state, expires_at)` goes: without statistics (no ANALYZE) SQLite takes `state = ?`
 * for a selective term and preferred that index to every better one (`target IN (...)`, the covering indexes
 * below), reading all active decisions. Partial indexes put the state in their WHERE instead.
 *
 * A query uses a partial index only if its WHERE contains the index's condition: the store writes these
 * conditions as literals (`sql.lit`), the same as here.
 */
import { sql, type Kysely } from "kysely";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("decisions_state_expires").execute();
  // In force or due to expire: activeDecisions, expireDue.
  await db.schema
    .createIndex("decisions_active")
    .on("decisions")
    .column("expires_at")
    .where(sql.ref("state"), "=", sql.lit("active"))
    .execute();
  // Enforced decisions in id order, covering: pendingWork's apply query merges it with
  // decision_status_applied (EXCEPT) instead of probing decision_status once per active decision.
  await db.schema
    .createIndex("decisions_enforced")
    .on("decisions")
    .columns(["id", "expires_at"])
    .where((eb) =>
      eb.and([eb(sql.ref("state"), "=", sql.lit("active")), eb(sql.ref("simulated"), "=", sql.lit(0))]),
    )
    .execute();
  // Ended decisions in id order: pendingWork's remove query (INTERSECT with decision_status_applied).
  await db.schema
    .createIndex("decisions_ended")
    .on("decisions")
    .column("id")
    .where(sql.ref("state"), "<>", sql.lit("active"))
    .execute();
  // changedSince (created_at > ? OR ended_at > ?), listDecisions, banHistory, applyRetention.
  await db.schema.createIndex("decisions_created").on("decisions").column("created_at").execute();
  await db.schema
    .createIndex("decisions_ended_at")
    .on("decisions")
    .column("ended_at")
    .where(sql.ref("ended_at"), "is not", null)
    .execute();
  await db.schema
    .createIndex("decision_status_applied")
    .on("decision_status")
    .columns(["decision_id", "responder"])
    .where(sql.ref("status"), "=", sql.lit("applied"))
    .execute();
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const name of [
    "decision_status_applied",
    "decisions_ended_at",
    "decisions_created",
    "decisions_ended",
    "decisions_enforced",
    "decisions_active",
  ]) {
    await db.schema.dropIndex(name).execute();
  }
  await db.schema
    .createIndex("decisions_state_expires")
    .on("decisions")
    .columns(["state", "expires_at"])
    .execute();
}
