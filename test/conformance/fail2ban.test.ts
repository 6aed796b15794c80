/**
 * Conformance: fail2ban's annotated sample logs judge the parsers (see fail2ban-corpus.ts and
 * ../shared/conformance/README.md). One test per sample file; prints per-file counts at the end. A file fails on
 * any check that is neither passing nor a listed exception, on a listed exception that passes, and on any
 * skipped evaluation. Run one file with `node scripts/run-tests.mjs conformance --test-name-pattern=sshd`.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { SHARED_MISSING, sharedDir } from "../support/shared.ts";
import { CORPUS_FILES } from "./corpus-map.ts";
import { runCorpusFile, type FileReport } from "./fail2ban-corpus.ts";

const shared = sharedDir();
const dir = shared ? join(shared, "conformance", "fail2ban-logs") : undefined;
if (!dir && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);
const skip = dir ? false : SHARED_MISSING;
const reports: FileReport[] = [];

test("every fail2ban sample file is mapped to a parser", { skip }, () => {
  const files = readdirSync(dir!).filter((f) => f !== "COPYING" && f !== "sshd-journal"); // via sshd's addFILE
  const unmapped = files.filter((f) => !CORPUS_FILES[f]);
  assert.deepEqual(unmapped, [], "test/conformance/corpus-map.ts lacks these files");
});

for (const file of Object.keys(CORPUS_FILES).sort()) {
  test(`fail2ban sample ${file}`, { skip }, () => {
    assert.ok(existsSync(join(dir!, file)), `${file} is mapped but not in the corpus`);
    const r = runCorpusFile(dir!, file);
    reports.push(r);
    const problems = r.results
      .filter((e) => e.skipped || (!e.ok && !e.exception) || (e.ok && e.exception))
      .map((e) =>
        e.skipped
          ? `${e.file}:${e.line} ${e.options} skipped: ${e.skipped}`
          : e.ok
            ? `${e.file}:${e.line} ${e.options} passes but is listed as an exception ("${e.exception}")`
            : `${e.file}:${e.line} ${e.options} ${e.detail}`,
      );
    assert.ok(r.evaluations > 0, `${file}: no evaluation ran`);
    assert.deepEqual(
      problems,
      [],
      `${problems.length} conformance problems in ${file}:\n${problems.join("\n")}`,
    );
  });
}

after(() => {
  if (!reports.length) return;
  const rows = reports.map(
    (r) =>
      `  ${r.file.padEnd(20)} ${String(r.passed).padStart(4)}/${String(r.evaluations).padEnd(4)} passed, ${r.failed} failed, ${r.excepted} exceptions, ${r.skipped} skipped`,
  );
  const t = reports.reduce((a, r) => ({ p: a.p + r.passed, e: a.e + r.evaluations, x: a.x + r.excepted }), {
    p: 0,
    e: 0,
    x: 0,
  });
  console.log(
    [
      "fail2ban corpus conformance:",
      ...rows,
      `  ${"total".padEnd(20)} ${t.p}/${t.e} passed, ${t.x} exceptions`,
    ].join("\n"),
  );
});
