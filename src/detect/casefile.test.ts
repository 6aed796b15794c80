/**
 * Rule test case files: a malformed case names each problem with its file:line; a failing case is a diff
 * (`-` expected and not produced, `+` produced and not expected).
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PortcullisError } from "../core/errors.ts";
import { runCase } from "./casefile.ts";

const tmp = mkdtempSync(join(tmpdir(), "portcullis-case-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function write(name: string, lines: string[]): string {
  const f = join(tmp, name);
  writeFileSync(f, `${lines.join("\n")}\n`);
  return f;
}

async function issuesOf(file: string): Promise<string[]> {
  try {
    await runCase(file);
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "RULE_INVALID", String(e));
    return e.issues.map((i) => `${i.path}: ${i.message}`);
  }
  assert.fail("ran without error");
}

const FAIL = "Mar  2 10:00:0X srv sshd[1]: Failed password for root from 203.0.113.7 port 1 ssh2";

test("a malformed case reports every problem with its file:line, before running anything", async () => {
  const f = write("malformed.yaml", [
    "description: malformed", // 1
    "timezone: Mars/Olympus", // 2
    "reference_time: yesterday", // 3
    "input: |", // 4
    "  x", // 5
    "expect:", // 6
    "  alerts:", // 7
    "    - { rule: ssh-brute-force, cnt: 6, at: noon }", // 8
    "  decisions:", // 9
    "    - { source.ip: 1.2.3.4, duration: ten minutes }", // 10
  ]);
  const issues = await issuesOf(f);
  for (const want of [
    `${f}:2 timezone: unknown time zone`,
    `${f}:3 reference_time: expected an ISO 8601 time`,
    `${f}:8 expect.alerts[0].cnt: unknown key`,
    `${f}:8 expect.alerts[0].at: expected an ISO 8601 time`,
    `${f}:10 expect.decisions[0].duration: expected a duration`,
  ]) {
    assert.ok(
      issues.some((i) => i.startsWith(want)),
      `${want}\n in:\n${issues.join("\n")}`,
    );
  }
});

test("YAML syntax errors and invalid inline rules are at their line in the case file", async () => {
  const syntax = write("syntax.yaml", ["description: x", 'input: "abc', "expect: {}"]);
  assert.match((await issuesOf(syntax))[0]!, new RegExp(`^${syntax}:\\d+: YAML: `));
  const inline = write("inline.yaml", [
    "description: x",
    "rules:",
    "  - id: r",
    "    type: threshold",
    "    query: 'event.dataset: sshd and ('",
    "    threshold: 0",
    "    window: 10m",
    "input: |",
    "  x",
    "expect: {}",
  ]);
  const issues = await issuesOf(inline);
  assert.ok(
    issues.some((i) => i.startsWith(`${inline}:5 r query: Expected`)),
    issues.join("\n"),
  );
  assert.ok(
    issues.some((i) => i.startsWith(`${inline}:6 threshold: `)),
    issues.join("\n"),
  );
});

test("a case with format errors and invalid inline rules reports both at once", async () => {
  const f = write("both.yaml", [
    "description: x", // 1
    "rules:", // 2
    "  - id: r", // 3
    "    type: threshold", // 4
    "    query: 'event.dataset: sshd and ('", // 5
    "    threshold: 5", // 6
    "    window: 10m", // 7
    "timezone: Mars/Olympus", // 8
    "input: |", // 9
    "  x", // 10
    "expect: {}", // 11
  ]);
  const issues = await issuesOf(f);
  assert.ok(
    issues.some((i) => i.startsWith(`${f}:8 timezone: unknown time zone`)),
    issues.join("\n"),
  );
  assert.ok(
    issues.some((i) => i.startsWith(`${f}:5 r query: Expected`)),
    issues.join("\n"),
  );
});

test("a failing case is a diff of the expected and produced alerts and decisions", async () => {
  const f = write("fail.yaml", [
    "description: expects a count the rule does not give",
    "only: [ssh-brute-force]",
    "reference_time: 2026-03-02T12:00:00Z",
    "input: |",
    ...[0, 1, 2, 3, 4].map((i) => `  ${FAIL.replace("X", String(i))}`),
    "expect:",
    "  alerts:",
    "    - { rule: ssh-brute-force, count: 6 }",
  ]);
  const r = await runCase(f);
  assert.equal(r.ok, false);
  assert.deepEqual(r.problems, [
    "- alert ssh-brute-force count=6",
    '+ alert ssh-brute-force {"source.ip":"203.0.113.7"} medium count=5 at 2026-03-02T10:00:04Z',
    "+ decision ssh-brute-force 203.0.113.7 at 2026-03-02T10:00:04Z for 10m",
  ]);
  // exact: false: what was produced beyond the expected is no failure, but is shown when something is missing.
  const loose = write("loose.yaml", [
    "description: not exact",
    "only: [ssh-brute-force]",
    "reference_time: 2026-03-02T12:00:00Z",
    "input: |",
    ...[0, 1, 2, 3, 4].map((i) => `  ${FAIL.replace("X", String(i))}`),
    "expect:",
    "  exact: false",
    "  alerts:",
    "    - { rule: ssh-brute-force, count: 5 }",
  ]);
  const ok = await runCase(loose);
  assert.deepEqual([ok.ok, ok.problems], [true, []]);
});
