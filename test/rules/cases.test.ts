/**
 * Runs every rule test case in rules/tests/ (the same files `portcullis rules test` runs) and the engine's own
 * cases in test/rules/cases/.
 */
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BUILTIN_RULES_DIR } from "../../src/detect/builtin.ts";
import { runCase } from "../../src/detect/casefile.ts";
import { repoRoot } from "../support/shared.ts";

for (const dir of [join(BUILTIN_RULES_DIR, "tests"), join(repoRoot, "test", "rules", "cases")]) {
  let files: string[] = [];
  try {
    files = readdirSync(dir)
      .filter((f) => f.endsWith(".yaml"))
      .sort();
  } catch {
    continue;
  }
  for (const f of files) {
    test(`rule case ${f}`, async () => {
      const r = await runCase(join(dir, f));
      assert.deepEqual(r.problems, [], `${r.file}: ${r.description}`);
    });
  }
}
