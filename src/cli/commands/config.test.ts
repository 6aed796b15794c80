/**
 * `portcullis config check` refuses what `run` refuses: the rules a configuration names are loaded and
 * compiled as the daemon does, and each problem is reported where it is (the rule file's line, or the
 * configuration's line for `rules.paths` and `rules.disable` entries).
 */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { runCli } from "../../../test/support/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-config-check-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function check(name: string, yaml: string) {
  const file = join(dir, name);
  writeFileSync(file, yaml);
  return { file, ...(await runCli(["config", "check", file])) };
}

const RULE = (id: string, query = "event.dataset: sshd and event.action: ssh_auth_failed") =>
  [
    `id: ${id}`,
    "type: threshold",
    `query: '${query}'`,
    "group_by: [source.ip]",
    "threshold: 3",
    "window: 5m",
    "severity: medium",
    "",
  ].join("\n");
const HEAD = "data_dir: /nonexistent\nsources: [{ type: file, path: /var/log/auth.log }]\n";

test("config check: a rules.paths entry that does not exist is refused at its config line", async () => {
  const r = await check("missing.yaml", `${HEAD}rules:\n  paths:\n    - ${join(dir, "nope")}\n`);
  assert.equal(r.code, 65, r.out);
  assert.match(
    r.err,
    new RegExp(`${r.file}:5 rules\\.paths\\[0\\]: cannot read rules from .*nope: no such file`),
  );
  assert.equal(r.out, "");
});

test("config check: a rule with bad KQL is refused with the rule file's line", async () => {
  const rules = join(dir, "rules-bad");
  mkdirSync(rules);
  writeFileSync(join(rules, "bad.yaml"), RULE("kql-rule", "event.dataset: sshd and (event.action: x"));
  const r = await check("badkql.yaml", `${HEAD}rules:\n  paths: [${rules}]\n`);
  assert.equal(r.code, 65, r.out);
  assert.match(r.err, /bad\.yaml:3 kql-rule query: Expected "\)"/);
});

test("config check: an unknown id in rules.disable is refused at its line; a known one is fine", async () => {
  const rules = join(dir, "rules-good");
  mkdirSync(rules);
  writeFileSync(join(rules, "mine.yaml"), RULE("my-rule"));
  const bad = await check(
    "disable.yaml",
    `${HEAD}rules:\n  paths: [${rules}]\n  disable:\n    - my-rule\n    - nope-rule\n`,
  );
  assert.equal(bad.code, 65, bad.out);
  assert.match(bad.err, new RegExp(`${bad.file}:7 rules\\.disable\\[1\\]: no rule has the id "nope-rule"`));
  assert.doesNotMatch(bad.err, /my-rule/);
  const good = await check(
    "good.yaml",
    `${HEAD}rules:\n  paths: [${rules}]\n  disable: [my-rule, ssh-brute-force]\n`,
  );
  assert.equal(good.code, 0, good.err);
  assert.match(good.out, /good\.yaml: OK \(1 sources, 0 responders, \d+ rules\)/);
});

test("config check: a configuration without any rule is OK with a warning", async () => {
  const r = await check("norules.yaml", `${HEAD}rules:\n  builtin: false\n`);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0 rules\)/);
  assert.match(r.err, /warning: .*enables no detection rule/);
});

test("config check: --config FILE works like the argument; warnings go to stderr with exit 0", async () => {
  const file = join(dir, "flag.yaml");
  writeFileSync(file, `${HEAD}responders: [{ type: nftables }]\npolicy: { allowlist: [] }\n`);
  const { code, out, err } = await runCli(["config", "check", "--config", file]);
  assert.equal(code, 0, err);
  assert.match(out, /flag\.yaml: OK \(1 sources, 1 responders/);
  assert.match(err, /warning: .*flag\.yaml:4 policy\.allowlist: empty while bans are enforced/);
});
