import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { sql } from "kysely";
import { decision, storeConformance } from "./conformance.ts";
import { openSqliteStore } from "./sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-store-"));
after(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;
const clock = () => Date.UTC(2026, 2, 2);

storeConformance("sqlite", () => openSqliteStore(join(dir, `s${n++}.db`), { clock }));

test("sqlite: a process killed with SIGKILL mid-stream loses no committed decision or audit record", async () => {
  const path = join(dir, "crash.db");
  // The child commits decisions as fast as it can and prints each id after its commit returns.
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `
      const { openSqliteStore } = await import(${JSON.stringify(new URL("./sqlite.ts", import.meta.url).href)});
      const { decision } = await import(${JSON.stringify(new URL("./conformance.ts", import.meta.url).href)});
      const s = await openSqliteStore(${JSON.stringify(path)}, { clock: () => 0 });
      for (let i = 0; ; i++) {
        const d = decision("c" + i, "10.0." + ((i >> 8) & 255) + "." + (i & 255));
        await s.insertDecision(d, ["nftables"], [{ at: 0, actor: d.actor, action: "ban", target: d.target, decisionId: d.id }]);
        process.stdout.write(d.id + "\\n");
      }
    `,
    ],
    { stdio: ["ignore", "pipe", "inherit"] },
  );
  const acked: string[] = [];
  let buf = "";
  await new Promise<void>((resolve) => {
    child.stdout.on("data", (b: Buffer) => {
      buf += b.toString();
      const lines = buf.split("\n");
      buf = lines.pop()!;
      acked.push(...lines);
      if (acked.length >= 300 && !child.killed) {
        child.kill("SIGKILL");
      }
    });
    child.on("exit", () => resolve());
  });
  assert.ok(acked.length >= 300, `child acknowledged only ${acked.length} commits`);
  const s = await openSqliteStore(path, { clock });
  try {
    const ids = new Set((await s.listDecisions({ limit: 1_000_000 })).map((d) => d.id));
    const lost = acked.filter((id) => !ids.has(id));
    assert.deepEqual(lost, [], "acknowledged decisions missing after SIGKILL");
    const audited = new Set((await s.listAudit({ limit: 1_000_000 })).map((a) => a.decisionId));
    assert.deepEqual(
      acked.filter((id) => !audited.has(id)),
      [],
      "acknowledged audit records missing after SIGKILL",
    );
  } finally {
    await s.close();
  }
});

test("sqlite: a full disk is reported as such, also when SQLite has already rolled the transaction back", async () => {
  const s = await openSqliteStore(join(dir, "full.db"), { clock });
  try {
    const pages = (await sql<{ page_count: number }>`PRAGMA page_count`.execute(s.db)).rows[0]!.page_count;
    await sql.raw(`PRAGMA max_page_count = ${pages + 4}`).execute(s.db);
    // One decision per batch: a single-row INSERT has no statement journal, so on SQLITE_FULL SQLite rolls the
    // whole transaction back itself (as on a real full disk); a ROLLBACK after that failed with "cannot
    // rollback - no transaction is active", which was reported instead.
    let failed: (Error & { code?: string }) | undefined;
    let batches = 0;
    for (; batches < 1000 && !failed; batches++) {
      const d = { ...decision(`full${batches}`, "192.0.2.60"), reason: "x".repeat(3000) };
      await s
        .recordOutcomes(
          [{ decision: { d, responders: ["nftables"] }, audit: [] }],
          [{ key: "pos", value: `${batches}` }],
        )
        .catch((e: Error) => (failed = e));
    }
    assert.ok(failed, "the database never filled up");
    assert.match(failed.message, /database or disk is full/);
    assert.equal(failed.code, "SQLITE_FULL");
    // The failed batch left nothing behind (its position included), and the connection is usable again.
    assert.equal(await s.checkpoints.get("pos"), `${batches - 2}`);
    assert.equal((await s.listDecisions({ limit: 10_000 })).length, batches - 1);
    await sql.raw("PRAGMA max_page_count = 1000000").execute(s.db);
    await s.recordOutcomes([], [{ key: "pos", value: "after" }]);
    assert.equal(await s.checkpoints.get("pos"), "after");
  } finally {
    await s.close();
  }
});
