import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { storeConformance } from "./conformance.ts";
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
