/**
 * Config files as fixtures: test/fixtures/config/valid/*.yaml load; each invalid/<case>.yaml states its expected
 * error in a header comment (`# expect: :<line> <path>: <message part>`), and every problem is reported with its
 * file:line and path before anything starts.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { PortcullisError } from "../core/errors.ts";
import { REGISTRIES } from "../daemon/plugins.ts";
import { repoRoot } from "../../test/support/shared.ts";
import { loadConfigFile, MAX_CONFIG_BYTES } from "./load.ts";

const fixtures = join(repoRoot, "test", "fixtures", "config");

/** The configuration error loading `path` fails with (the test fails if it loads). */
function loadError(path: string): PortcullisError {
  try {
    loadConfigFile(path, REGISTRIES);
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "CONFIG_INVALID", String(e));
    return e;
  }
  assert.fail(`${path} loaded without error`);
}

for (const f of readdirSync(join(fixtures, "valid")).sort()) {
  test(`valid config ${f} loads`, () => {
    const c = loadConfigFile(join(fixtures, "valid", f), REGISTRIES);
    assert.ok(c.sources.length >= 1);
  });
}

test("the minimal config gets the built-in defaults", () => {
  const c = loadConfigFile(join(fixtures, "valid", "minimal.yaml"), REGISTRIES);
  assert.deepEqual((c.sources[0]!.config as { paths: string[] }).paths, ["/var/log/auth.log"]);
  assert.equal(c.raw.rules.builtin, true);
  assert.equal(c.raw.policy.default_duration, "10m");
  assert.equal(c.raw.policy.allow_own_addresses, true);
  assert.equal(c.raw.policy.max_prefix.v4, 16);
  assert.equal(c.raw.policy.max_prefix.v6, 48);
});

for (const f of readdirSync(join(fixtures, "invalid")).sort()) {
  test(`invalid config ${f} reports its error with file:line`, () => {
    const path = join(fixtures, "invalid", f);
    const expect = /^# expect: (.*)$/m.exec(readFileSync(path, "utf8"))?.[1];
    assert.ok(expect, `${f} lacks an "# expect:" header`);
    const [, line, where, message] = /^:(\d+) ([^:]*): (.*)$/.exec(expect)!;
    const e = loadError(path);
    const hit = e.issues.find(
      (i) =>
        i.path.startsWith(`${path}:${line}`) &&
        i.path.includes(where!.trim()) &&
        i.message.includes(message!),
    );
    assert.ok(hit, `expected ${expect}, got:\n${e.describe()}`);
  });
}

const tmp = mkdtempSync(join(tmpdir(), "portcullis-config-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

test("every problem of a file is reported at once", () => {
  const p = join(tmp, "many.yaml");
  writeFileSync(
    p,
    [
      "timezone: Nowhere/Never",
      "policy:",
      "  dry_run: maybe",
      "sources:",
      "  - type: nope",
      "responders:",
      "  - type: ufw",
      "    wat: 1",
      "",
    ].join("\n"),
  );
  const e = loadError(p);
  assert.equal(e.issues.length, 4, e.describe());
});

test("timer periods must be at least a second (a zero interval would spin)", () => {
  const p = join(tmp, "zero.yaml");
  writeFileSync(
    p,
    [
      "rules: { windows_snapshot: 0s }",
      "reconcile_interval: 0",
      "sources:",
      "  - { type: file, path: /var/log/auth.log, poll_interval: 0 }",
      "  - { type: journald, restart_backoff: 0s }",
      "",
    ].join("\n"),
  );
  const text = loadError(p).describe();
  assert.match(text, /zero\.yaml:1 rules\.windows_snapshot: expected a duration of at least 1s/);
  assert.match(text, /zero\.yaml:2 reconcile_interval: expected a duration of at least 1s/);
  assert.match(text, /sources\[0\]\.poll_interval: expected a duration of at least 10ms/);
  assert.match(text, /sources\[1\]\.restart_backoff: expected a duration of at least 1ms/);
  // Not a duration at all: the format error, with its line (the minimum is not checked on it).
  writeFileSync(p, "reconcile_interval: soon\n");
  const e = loadError(p);
  assert.equal(e.issues.length, 1, e.describe());
  assert.match(e.describe(), /zero\.yaml:1 reconcile_interval: expected a duration such as 90s/);
});

test("durations are bounded: a timer at most 24d (Node fires a longer one after 1 ms), anything at most 3650d", () => {
  const p = join(tmp, "long.yaml");
  writeFileSync(
    p,
    [
      "rules: { windows_snapshot: 30d }",
      "reconcile_interval: 25d",
      "policy: { default_duration: 20000000w }",
      "sources:",
      "  - { type: file, path: /var/log/auth.log, poll_interval: 30d }",
      "  - { type: journald, restart_backoff_max: 1000d }",
      "",
    ].join("\n"),
  );
  const text = loadError(p).describe();
  assert.match(text, /long\.yaml:1 rules\.windows_snapshot: expected a duration of at most 24d/);
  assert.match(text, /long\.yaml:2 reconcile_interval: expected a duration of at most 24d/);
  assert.match(text, /long\.yaml:3 policy\.default_duration: expected a duration of at most 3650d/);
  assert.match(text, /sources\[0\]\.poll_interval: expected a duration of at most 24d/);
  assert.match(text, /sources\[1\]\.restart_backoff_max: expected a duration of at most 24d/);
});

test("a YAML alias bomb is a configuration error naming the file, not a crash", () => {
  const p = join(tmp, "bomb.yaml");
  const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 8; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
  }
  writeFileSync(p, `${levels.join("\n")}\n`);
  assert.match(loadError(p).message, /invalid YAML in .*bomb\.yaml: .*alias/i);
});

test("a missing file is a clear error", () => {
  assert.throws(
    () => loadConfigFile(join(tmp, "absent.yaml"), REGISTRIES),
    /cannot read configuration .*absent\.yaml: no such file/,
  );
});

test("relative rules.paths are relative to the configuration file, absolute ones kept", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-cfg-rel-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, "portcullis.yaml");
  writeFileSync(
    file,
    [
      "sources:",
      "  - type: file",
      "    path: /var/log/auth.log",
      "rules:",
      "  paths: [rules.d, ../shared-rules/web.yaml, /etc/portcullis/extra]",
    ].join("\n"),
  );
  assert.deepEqual(loadConfigFile(file, REGISTRIES).raw.rules.paths, [
    join(dir, "rules.d"),
    join(dir, "..", "shared-rules", "web.yaml"),
    "/etc/portcullis/extra",
  ]);
});

test("a negative duration is reported at its line with the other problems, not thrown alone", () => {
  const p = join(tmp, "negative.yaml");
  writeFileSync(
    p,
    ["policy:", "  escalation: { max: -1 }", "  default_duration: 10 minutes", "log_level: loud", ""].join(
      "\n",
    ),
  );
  const e = loadError(p);
  assert.equal(e.issues.length, 3, e.describe());
  assert.match(e.describe(), /negative\.yaml:2 policy\.escalation\.max: expected a duration such as 90s/);
  assert.match(e.describe(), /negative\.yaml:3 policy\.default_duration: expected a duration such as 90s/);
});

test("parsers.modes: an unknown parser or mode is refused at its line (the daemon's sources would fail on it)", () => {
  const p = join(tmp, "modes.yaml");
  writeFileSync(
    p,
    ["parsers:", "  modes:", "    sshd: agressive", "    sshdd: normal", "    postfix: all", ""].join("\n"),
  );
  const text = loadError(p).describe();
  assert.match(
    text,
    /modes\.yaml:3 parsers\.modes\.sshd: parser sshd has no mode "agressive" \(modes: .*aggressive/,
  );
  assert.match(text, /modes\.yaml:4 parsers\.modes\.sshdd: unknown parser "sshdd"/);
  assert.doesNotMatch(text, /parsers\.modes\.postfix/);
  writeFileSync(p, "parsers:\n  modes: { sshd: aggressive, postfix: all }\n");
  assert.deepEqual(loadConfigFile(p, REGISTRIES).raw.parsers.modes, { sshd: "aggressive", postfix: "all" });
});

test("a duplicate key is reported with its path; an unknown tag is an error, not silently dropped", () => {
  const p = join(tmp, "dup.yaml");
  writeFileSync(p, ["policy:", "  dry_run: false", "  dry_run: true", "data_dir: !secret x", ""].join("\n"));
  const e = loadError(p);
  assert.match(e.describe(), /dup\.yaml:3 policy\.dry_run: duplicate key/);
  assert.match(e.describe(), /dup\.yaml:4: Unresolved tag: !secret/);
});

test("a file that is not UTF-8 is refused at the line of the first bad byte", () => {
  const p = join(tmp, "latin1.yaml");
  writeFileSync(p, Buffer.from("sources:\n  - type: file\n    path: /var/log/caf\xe9.log\n", "latin1"));
  const e = loadError(p);
  assert.match(e.describe(), /not UTF-8\n {2}.*latin1\.yaml:3: bytes that are not UTF-8/);
  // A UTF-8 byte order mark is fine.
  writeFileSync(p, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("log_level: warn\n")]));
  assert.equal(loadConfigFile(p, REGISTRIES).raw.log_level, "warn");
});

test("a directory, and a file larger than MAX_CONFIG_BYTES, are clear errors (the file is not parsed)", () => {
  assert.throws(() => loadConfigFile(tmp, REGISTRIES), /cannot read configuration .*: it is a directory/);
  const p = join(tmp, "huge.yaml");
  writeFileSync(p, `policy:\n  allowlist:\n${"    - 10.0.0.1\n".repeat(MAX_CONFIG_BYTES / 15 + 1)}`);
  assert.throws(() => loadConfigFile(p, REGISTRIES), /huge\.yaml: larger than 4 MiB/);
});
