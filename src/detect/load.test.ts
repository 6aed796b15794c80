/**
 * Rule files as fixtures: test/fixtures/rules/invalid/<case>.yaml each state the expected error in a header
 * comment (`# expect: :<line> <path>: <message part>`); valid/ files must load. One test walks them all.
 */
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
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

const tmp = mkdtempSync(join(tmpdir(), "portcullis-load-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const validFile = join(fixtures, "valid", readdirSync(join(fixtures, "valid")).sort()[0]!);

/** The INPUT_UNREADABLE error (exit 66) loading `paths` throws. */
function unreadable(paths: string[]): PortcullisError {
  try {
    loadRules(paths);
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "INPUT_UNREADABLE", String(e));
    return e;
  }
  assert.fail("loaded without error");
}

test("an unreadable rule path is INPUT_UNREADABLE naming the path and the cause, never a raw errno", () => {
  const missing = join(tmp, "nope.yaml");
  assert.equal(unreadable([missing]).message, `cannot read rules from ${missing}: no such file or directory`);
  // A directory named like a rule file, inside a rules directory.
  const dir = join(tmp, "with-dir");
  mkdirSync(join(dir, "x.yaml"), { recursive: true });
  copyFileSync(validFile, join(dir, "a.yaml"));
  assert.equal(
    unreadable([dir]).message,
    `cannot read rule file ${join(dir, "x.yaml")}: is a directory, not a rule file`,
  );
});

test("a rule file named twice (directly, or through its directory) is read once: no duplicate id", () => {
  const dir = join(tmp, "twice");
  mkdirSync(dir);
  copyFileSync(validFile, join(dir, "r.yaml"));
  const once = loadRules([join(dir, "r.yaml")]);
  for (const paths of [
    [join(dir, "r.yaml"), join(dir, "r.yaml")],
    [dir, join(dir, "r.yaml")],
    [dir, `${dir}/./`],
  ]) {
    assert.deepEqual(
      loadRules(paths).map((r) => r.id),
      once.map((r) => r.id),
      paths.join(" "),
    );
  }
});
