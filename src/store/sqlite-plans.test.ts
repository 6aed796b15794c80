/**
 * The queries the daemon runs every few seconds use the indexes of migration 0002 (EXPLAIN QUERY PLAN; no
 * timings). Without statistics SQLite's plans do not depend on the data, so a small database shows the plans a
 * large one gets: with 100,000 active and 100,000 ended decisions, the plans these tests exclude read every
 * active decision (pendingWork's apply query, once per decision into decision_status), every decision
 * (pendingWork's remove query, changedSince) or sorted 100,000 rows (activeDecisions).
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, type CompiledQuery } from "kysely";
import { decision } from "./conformance.ts";
import type { Database } from "./schema.ts";
import { StoreSqliteDialect } from "./sqlite-dialect.ts";
import { Store } from "./store.ts";

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);

/** A migrated in-memory store that records the SELECTs it runs, and their plans. */
async function planned(): Promise<{
  store: Store;
  plans: (run: () => Promise<unknown>) => Promise<string[][]>;
}> {
  const sqlite = new BetterSqlite3(":memory:");
  let queries: CompiledQuery[] = [];
  const db = new Kysely<Database>({
    dialect: new StoreSqliteDialect(sqlite),
    log: (e) => {
      if (e.level === "query") queries.push(e.query);
    },
  });
  const store = new Store(db, "sqlite", () => T0);
  await store.migrate();
  await store.insertDecision(decision("a", "192.0.2.1"), ["nft"], []);
  return {
    store,
    plans: async (run) => {
      queries = [];
      await run();
      return (
        queries
          .filter((q) => sqlite.prepare(q.sql).reader)
          // #hydrate's status lookup by primary key
          .filter((q) => !/^select .* from "decision_status" where "decision_id" in \(/.test(q.sql))
          .map((q) =>
            sqlite
              .prepare<unknown[], { detail: string }>(`EXPLAIN QUERY PLAN ${q.sql}`)
              .all(...q.parameters)
              .map((p) => p.detail),
          )
      );
    },
  };
}

/** No plan line reads a whole table, or a whole index in created_at order. */
function assertNoFullScan(plan: string[]): void {
  for (const line of plan) {
    assert.doesNotMatch(line, /^SCAN (decisions|decision_status)$/, plan.join("\n"));
    assert.doesNotMatch(line, /^SCAN decisions USING INDEX decisions_created$/, plan.join("\n"));
  }
}

test("sqlite plans: pendingWork merges the enforced and the applied indexes, once per responder", async () => {
  const { store, plans } = await planned();
  try {
    const [apply, remove, ...rest] = await plans(() => store.pendingWork(["nft", "ufw"], T0 + 1));
    assert.deepEqual(rest, []);
    assert.ok(apply && remove);
    for (const plan of [apply, remove]) assertNoFullScan(plan);
    assert.equal(apply.filter((l) => l === "MERGE (EXCEPT)").length, 2, apply.join("\n"));
    assert.equal(
      apply.filter((l) => l === "SCAN decisions USING COVERING INDEX decisions_enforced").length,
      2,
      apply.join("\n"),
    );
    assert.ok(
      apply.includes("SCAN decision_status USING COVERING INDEX decision_status_applied"),
      apply.join("\n"),
    );
    assert.ok(!apply.some((l) => l.startsWith("CORRELATED")), apply.join("\n"));
    assert.ok(remove.includes("MERGE (INTERSECT)"), remove.join("\n"));
    assert.ok(remove.includes("SCAN decisions USING INDEX decisions_ended"), remove.join("\n"));
    assert.ok(
      remove.includes("SCAN decision_status USING COVERING INDEX decision_status_applied"),
      remove.join("\n"),
    );
  } finally {
    await store.close();
  }
});

test("sqlite plans: changedSince reads only the decisions created or ended since, through two indexes", async () => {
  const { store, plans } = await planned();
  try {
    const [plan, ...rest] = await plans(() => store.changedSince(T0));
    assert.deepEqual(rest, []);
    assert.ok(plan);
    assertNoFullScan(plan);
    assert.ok(plan.includes("MULTI-INDEX OR"), plan.join("\n"));
    assert.ok(
      plan.includes("SEARCH decisions USING INDEX decisions_created (created_at>?)"),
      plan.join("\n"),
    );
    assert.ok(plan.includes("SEARCH decisions USING INDEX decisions_ended_at (ended_at>?)"), plan.join("\n"));
  } finally {
    await store.close();
  }
});

test("sqlite plans: active decisions, expiry, enforced targets and ranges use the partial and target indexes", async () => {
  const { store, plans } = await planned();
  try {
    const expect = async (run: () => Promise<unknown>, line: string) => {
      const all = await plans(run);
      assert.ok(all.length > 0);
      for (const plan of all) {
        assertNoFullScan(plan);
        assert.ok(plan.includes(line), `expected "${line}" in:\n${plan.join("\n")}`);
        assert.ok(!plan.some((l) => l.startsWith("USE TEMP B-TREE")), plan.join("\n"));
      }
    };
    await expect(
      () => store.activeDecisions(T0),
      "SEARCH decisions USING INDEX decisions_active (expires_at>?)",
    );
    await expect(() => store.expireDue(T0), "SEARCH decisions USING INDEX decisions_active (expires_at<?)");
    await expect(() => store.activeRanges(), "SCAN decisions USING INDEX decisions_active");
    // Not every active decision (the old (state, expires_at) index), the targets asked about.
    await expect(
      () => store.enforcedTargets(["192.0.2.1", "192.0.2.2"], T0),
      "SEARCH decisions USING INDEX decisions_target (target=?)",
    );
    // After every batch of applies: the decisions asked about, by primary key.
    await expect(
      () => store.endedAmong(["a", "b"]),
      "SEARCH decisions USING INDEX sqlite_autoindex_decisions_1 (id=?)",
    );
    await expect(
      () => store.revoke("192.0.2.9", { type: "cli", name: "t" }, "r", T0),
      "SEARCH decisions USING INDEX decisions_target (target=?)",
    );
  } finally {
    await store.close();
  }
});
