/**
 * Rule files as fixtures: test/fixtures/rules/invalid/<case>.yaml each state the expected error in a header
 * comment (`# expect: :<line> <path>: <message part>`); valid/ files must load. One test walks them all.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { PortcullisError } from "../core/errors.ts";
import { repoRoot } from "../../test/support/shared.ts";
import { builtinRules } from "./builtin.ts";
import { loadRules } from "./load.ts";

const fixtures = join(repoRoot, "test", "fixtures", "rules");

for (const f of readdirSync(join(fixtures, "invalid")).sort()) {
  test(`invalid rule fixture ${f} reports its error with file:line`, () => {
    const path = join(fixtures, "invalid", f);
    const expect = /^# expect: (.*)$/m.exec(readFileSync(path, "utf8"))?.[1];
    assert.ok(expect, `${f} lacks an "# expect:" header`);
    const m = /^:(\d+) ([^:]*): (.*)$/.exec(expect)!;
    const [, line, where, message] = m;
    try {
      loadRules([path]);
      assert.fail("loaded without error");
    } catch (e) {
      assert.ok(e instanceof PortcullisError && e.code === "RULE_INVALID", String(e));
      const hit = e.issues.find(
        (i) =>
          i.path.startsWith(`${path}:${line}`) &&
          i.path.includes(where!.trim()) &&
          i.message.includes(message!),
      );
      assert.ok(hit, `expected ${expect}, got:\n${e.describe()}`);
    }
  });
}

test("valid rule fixtures load", () => {
  const rules = loadRules([join(fixtures, "valid")]);
  assert.deepEqual(
    rules.map((r) => r.id),
    ["t", "d", "s", "m"],
  );
  assert.match(rules[0]!.origin, /list-form\.yaml:2$/);
});

test("the built-in pack loads, every rule has ATT&CK ids and a description", () => {
  const rules = builtinRules();
  assert.ok(rules.length >= 15, `only ${rules.length} built-in rules`);
  for (const r of rules) {
    assert.ok(r.spec.attack.length > 0, `${r.id} has no ATT&CK technique`);
    assert.ok(r.spec.description, `${r.id} has no description`);
  }
});

test("every problem in a directory is reported at once", () => {
  try {
    loadRules([join(fixtures, "invalid")]);
    assert.fail("loaded");
  } catch (e) {
    assert.ok(e instanceof PortcullisError);
    const files = new Set(e.issues.map((i) => i.path.split(":")[0]));
    assert.equal(files.size, readdirSync(join(fixtures, "invalid")).length);
  }
});
