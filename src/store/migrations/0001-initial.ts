/** Initial schema. Migrations are append-only: never edit one that has shipped; add the next. */
import { sql, type Kysely } from "kysely";

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("decisions")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("target", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("scope", "text", (c) => c.notNull())
    .addColumn("duration", "bigint", (c) => c.notNull())
    .addColumn("expires_at", "bigint", (c) => c.notNull())
    .addColumn("reason", "text", (c) => c.notNull())
    .addColumn("rule_id", "text")
    .addColumn("rule_name", "text")
    .addColumn("alert_id", "text")
    .addColumn("origin", "text", (c) => c.notNull())
    .addColumn("actor_type", "text", (c) => c.notNull())
    .addColumn("actor_name", "text", (c) => c.notNull())
    .addColumn("escalation", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("simulated", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("state", "text", (c) => c.notNull())
    .addColumn("ended_at", "bigint")
    .addColumn("ended_by", "text")
    .execute();
  await db.schema.createIndex("decisions_target").on("decisions").columns(["target", "created_at"]).execute();
  await db.schema
    .createIndex("decisions_state_expires")
    .on("decisions")
    .columns(["state", "expires_at"])
    .execute();

  await db.schema
    .createTable("decision_status")
    .addColumn("decision_id", "text", (c) => c.notNull())
    .addColumn("responder", "text", (c) => c.notNull())
    .addColumn("status", "text", (c) => c.notNull())
    .addColumn("error", "text")
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .addPrimaryKeyConstraint("decision_status_pk", ["decision_id", "responder"])
    .execute();

  await db.schema
    .createTable("alerts")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("rule_id", "text", (c) => c.notNull())
    .addColumn("rule_name", "text", (c) => c.notNull())
    .addColumn("rule_type", "text", (c) => c.notNull())
    .addColumn("severity", "text", (c) => c.notNull())
    .addColumn("group_key", "text", (c) => c.notNull())
    .addColumn("source_ip", "text")
    .addColumn("count", "integer", (c) => c.notNull())
    .addColumn("distinct_count", "integer")
    .addColumn("first_seen", "bigint", (c) => c.notNull())
    .addColumn("last_seen", "bigint", (c) => c.notNull())
    .addColumn("attack", "text", (c) => c.notNull())
    .addColumn("origin", "text", (c) => c.notNull())
    .addColumn("response", "text", (c) => c.notNull())
    .addColumn("outcome", "text")
    .addColumn("outcome_reason", "text")
    .addColumn("decision_id", "text")
    .addColumn("events", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("alerts_created").on("alerts").column("created_at").execute();
  await db.schema.createIndex("alerts_source").on("alerts").columns(["source_ip", "created_at"]).execute();

  await db.schema
    .createTable("audit")
    .addColumn("id", "integer", (c) => c.primaryKey().autoIncrement())
    .addColumn("at", "bigint", (c) => c.notNull())
    .addColumn("actor_type", "text", (c) => c.notNull())
    .addColumn("actor_name", "text", (c) => c.notNull())
    .addColumn("action", "text", (c) => c.notNull())
    .addColumn("target", "text")
    .addColumn("decision_id", "text")
    .addColumn("alert_id", "text")
    .addColumn("detail", "text", (c) => c.notNull())
    .execute();
  await db.schema.createIndex("audit_target").on("audit").columns(["target", "at"]).execute();
  await db.schema.createIndex("audit_at").on("audit").column("at").execute();

  await db.schema
    .createTable("checkpoints")
    .addColumn("key", "text", (c) => c.primaryKey())
    .addColumn("value", "text", (c) => c.notNull())
    .addColumn("updated_at", "bigint", (c) => c.notNull())
    .execute();

  await db.schema
    .createTable("tokens")
    .addColumn("id", "text", (c) => c.primaryKey())
    .addColumn("name", "text", (c) => c.notNull())
    .addColumn("hash", "text", (c) => c.notNull())
    .addColumn("scopes", "text", (c) => c.notNull())
    .addColumn("allow", "text", (c) => c.notNull())
    .addColumn("created_at", "bigint", (c) => c.notNull())
    .addColumn("revoked_at", "bigint")
    .addColumn("last_used_at", "bigint")
    .execute();
  await db.schema.createIndex("tokens_hash").on("tokens").column("hash").unique().execute();
  void sql;
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function down(db: Kysely<any>): Promise<void> {
  for (const t of ["tokens", "checkpoints", "audit", "alerts", "decision_status", "decisions"]) {
    await db.schema.dropTable(t).execute();
  }
}
