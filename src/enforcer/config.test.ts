import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { z } from "zod";
import { MAX_CONFIG_BYTES } from "../config/file.ts";
import { PortcullisError } from "../core/errors.ts";
import {
  enforcerConfig,
  enforcerConfigProblem,
  loadEnforcerConfig,
  validateEnforcerConfig,
} from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "pcl-enf-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string | Buffer): ReturnType<typeof loadEnforcerConfig> {
  const file = join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadEnforcerConfig(file);
}

/** The CONFIG_INVALID error loading `yaml` fails with (the test fails if it loads). */
function loadError(yaml: string | Buffer): PortcullisError {
  try {
    load(yaml);
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "CONFIG_INVALID", String(e));
    return e;
  }
  assert.fail("expected an invalid config");
}

function issues(yaml: string | Buffer): string[] {
  return loadError(yaml).issues.map((i) => `${i.path.replace(/^.*\.yaml/, "")} ${i.message}`);
}

test("defaults: the socket, group and limits of the shipped unit; responders keep their own defaults", () => {
  const c = load("responders:\n  - type: nftables\n");
  assert.equal(c.raw.socket, "/run/portcullis/enforcer.sock");
  assert.equal(c.raw.group, "portcullis");
  assert.equal(c.raw.allow_teardown, false);
  assert.equal(c.raw.max_connections, 16);
  assert.deepEqual(c.raw.protect, []);
  assert.equal(c.raw.max_duration, 3650 * 86_400_000, "the daemon's longest ban");
  assert.deepEqual(
    c.responders.map((r) => [r.name, r.type, (r.config as { table: string }).table]),
    [["nftables", "nftables", "portcullis"]],
  );
});

test("every problem at once, with file:line and path", () => {
  const got = issues(
    [
      "socket: relative/enforcer.sock", // 1
      "sokcet: /run/x.sock", // 2
      "responders:", // 3
      "  - type: enforcer", // 4
      "    socket: /run/other.sock", // 5
      "    responder: nft", // 6
      "  - type: pf", // 7
    ].join("\n"),
  );
  // the responder entries are checked too, though a top-level key is wrong
  assert.equal(got.length, 4, got.join("\n"));
  assert.deepEqual(got.slice(0, 2), [":1 socket an absolute path", ":2 sokcet unknown key"]);
  assert.match(got[2]!, /^:4 responders\[0\]\.type an enforcer cannot host/);
  assert.match(got[3]!, /^:7 responders\[1\]\.type unknown responder type "pf"/);
  const second = issues(
    [
      "responders:", // 1
      "  - type: enforcer", // 2
      "    responder: nft", // 3
      "  - type: pf", // 4
      "  - type: nftables", // 5
      "    verdict: accept", // 6
      "  - type: nftables", // 7
      "  - type: nftables", // 8
    ].join("\n"),
  );
  assert.equal(second.length, 4, second.join("\n"));
  assert.match(second[0]!, /^:2 responders\[0\]\.type an enforcer cannot host an `enforcer` responder/);
  assert.match(second[1]!, /^:4 responders\[1\]\.type unknown responder type "pf" \(known: command, ipset/);
  assert.doesNotMatch(second[1]!, /known:.*enforcer/);
  assert.match(second[2]!, /^:6 responders\[2\]\.verdict /);
  assert.match(second[3]!, /^:8 responders\[4\] two responders are named "nftables"/);
});

test("no responders, a group that is not a name, an unreadable file", () => {
  assert.match(issues("responders: []\n")[0]!, /responders/);
  assert.match(issues("group: 'wheel; id'\nresponders: [{type: nftables}]\n")[0]!, /group/);
  assert.throws(() => loadEnforcerConfig(join(dir, "missing.yaml")), /no such file/);
  assert.throws(
    () => validateEnforcerConfig({ responders: [{ type: "ufw" }], extra: 1 }, "(test)"),
    /invalid/,
  );
});

test("protect and max_duration: addresses and CIDRs, a duration (or seconds)", () => {
  const c = load(
    [
      "protect:",
      "  - 192.0.2.7",
      "  - 198.51.100.0/24",
      "  - 2001:DB8:77::/48",
      "  - ::ffff:203.0.113.9",
      "max_duration: 30d",
      "responders: [{type: nftables}]",
    ].join("\n"),
  );
  assert.deepEqual(c.raw.protect, ["192.0.2.7", "198.51.100.0/24", "2001:DB8:77::/48", "::ffff:203.0.113.9"]);
  assert.equal(c.raw.max_duration, 30 * 86_400_000);
  assert.equal(load("max_duration: 3600\nresponders: [{type: nftables}]\n").raw.max_duration, 3_600_000);
  assert.equal(load("max_duration: 1h30m\nresponders: [{type: nftables}]\n").raw.max_duration, 5_400_000);
});

test("protect and max_duration: every bad entry reported with file:line and path", () => {
  const got = issues(
    [
      "protect:", // 1
      "  - 192.0.2.7", // 2
      "  - 10.0.0.0/8; nft flush ruleset", // 3
      "  - fe80::1%eth0", // 4
      "  - 192.0.2.0/33", // 5
      "  - gateway.example.com", // 6
      "  - 42", // 7
      "max_duration: forever", // 8
      "responders: [{type: nftables}]", // 9
    ].join("\n"),
  );
  const ip = "expected an IP address or CIDR, e.g. 192.0.2.7 or 203.0.113.0/24";
  assert.deepEqual(got, [
    `:3 protect[1] ${ip}`,
    `:4 protect[2] ${ip}`,
    `:5 protect[3] ${ip}`,
    `:6 protect[4] ${ip}`,
    ":7 protect[5] Invalid input: expected string, received number",
    ":8 max_duration expected a duration such as 12h, 7d, 365d (or a number of seconds)",
  ]);
  assert.deepEqual(issues("max_duration: 30s\nresponders: [{type: nftables}]\n"), [
    ":1 max_duration expected a duration of at least 1m",
  ]);
  assert.deepEqual(issues("max_duration: 3651d\nresponders: [{type: nftables}]\n"), [
    ":1 max_duration expected a duration of at most 3650d (the daemon's longest ban)",
  ]);
  assert.deepEqual(
    issues("max_duration: null\nprotect: 192.0.2.7\nresponders: [{type: nftables}]\n").sort(),
    [
      ":1 max_duration expected a duration such as 12h, 7d, 365d (or a number of seconds)",
      ":2 protect Invalid input: expected array, received string",
    ],
  );
});

test("every field is described", () => {
  const json = z.toJSONSchema(enforcerConfig, { io: "input" }) as {
    properties: Record<string, { description?: string }>;
  };
  for (const [key, prop] of Object.entries(json.properties))
    assert.ok(prop.description, `${key} has no description`);
});

test("max_duration: a negative number of seconds is no duration (not a bare `>=0`)", () => {
  assert.deepEqual(issues("max_duration: -5\nresponders: [{type: nftables}]\n"), [
    ":1 max_duration expected a duration such as 12h, 7d, 365d (or a number of seconds)",
  ]);
  assert.deepEqual(issues("max_duration: -1d\nresponders: [{type: nftables}]\n"), [
    ":1 max_duration expected a duration such as 12h, 7d, 365d (or a number of seconds)",
  ]);
  assert.deepEqual(issues("group: [wheel]\nresponders: [{type: nftables}]\n"), [
    ":1 group expected a group name or a numeric gid",
  ]);
});

// The file is read as the daemon's is (config/file.ts): the same hostile inputs, the same precise errors.

test("a duplicate key is reported with its path; an unknown tag is an error, not silently dropped", () => {
  assert.deepEqual(
    issues(
      [
        "protect: [192.0.2.1]", // 1
        "protect: [198.51.100.0/24]", // 2
        "responders:", // 3
        "  - type: nftables", // 4
        "    name: a", // 5
        "    name: b", // 6
      ].join("\n"),
    ),
    [
      ":2 protect duplicate key (a key may appear once in a mapping)",
      ":6 responders[0].name duplicate key (a key may appear once in a mapping)",
    ],
  );
  // `!secret x` was read as the plain string "x" (a relative socket path here, or a valid value elsewhere)
  assert.deepEqual(issues("responders: [{type: nftables}]\nsocket: !secret x\n"), [
    ":2 Unresolved tag: !secret",
  ]);
});

test("YAML syntax errors and several documents are refused with their line", () => {
  const e = loadError("responders: [{type: nftables\n");
  assert.match(e.message, /^invalid enforcer configuration .*: YAML syntax$/);
  assert.match(issues("responders: [{type: nftables\n")[0]!, /^:2 /);
  assert.match(
    loadError("responders: [{type: nftables}]\n---\nresponders: [{type: ufw}]\n").message,
    /one YAML document expected, found 2/,
  );
});

test("a YAML alias bomb is a configuration error naming the file, not a crash", () => {
  const levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
  for (let i = 1; i < 8; i++) {
    const prev = String.fromCharCode(96 + i);
    const name = String.fromCharCode(97 + i);
    levels.push(`${name}: &${name} [${Array(10).fill(`*${prev}`).join(", ")}]`);
  }
  assert.match(loadError(`${levels.join("\n")}\n`).message, /invalid YAML in .*\.yaml: .*alias/i);
});

test("a file that is not UTF-8 is refused at the line of the first bad byte (it named another file)", () => {
  const latin1 = Buffer.from(
    "responders:\n  - type: command\n    apply: [/usr/local/bin/caf\xe9-ban, '{action}', '{target}']\n",
    "latin1",
  );
  const e = loadError(latin1);
  assert.match(e.message, /^invalid enforcer configuration .*: not UTF-8$/);
  assert.deepEqual(issues(latin1), [":3 bytes that are not UTF-8 (save the file as UTF-8)"]);
  // A UTF-8 byte order mark is fine.
  const bom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from("responders: [{type: ufw}]\n")]);
  assert.deepEqual(
    load(bom).responders.map((r) => r.name),
    ["ufw"],
  );
});

test("a directory, and a file larger than MAX_CONFIG_BYTES, are clear errors (the file is not parsed)", () => {
  const sub = join(dir, "enforcer.d");
  mkdirSync(sub);
  assert.throws(() => loadEnforcerConfig(sub), /cannot read enforcer configuration .*: it is a directory/);
  // 50 MB took a minute and 3 GB before `protect` was found too long
  const big = `protect:\n${"  - 10.0.0.1\n".repeat(MAX_CONFIG_BYTES / 13 + 1)}responders: [{type: nftables}]\n`;
  const started = performance.now();
  assert.throws(() => load(big), /cannot read enforcer configuration .*\.yaml: larger than 4 MiB/);
  assert.ok(performance.now() - started < 5_000);
});

test("an empty file (or comments only) says what is missing, at line 1", () => {
  const missing =
    ":1 responders missing: the firewall responders the socket reaches, at least one " +
    "(e.g. responders: [{type: nftables}]) (the file is empty)";
  assert.deepEqual(issues(""), [missing]);
  assert.deepEqual(issues("# nothing yet\n"), [missing]);
  assert.match(issues("socket: /run/x.sock\n")[0]!, /^:1 responders missing: the firewall responders/);
});

test("a problem found after validation (a group missing on this host) gets the key's file:line", () => {
  const c = load("socket: /run/x.sock\ngroup: nosuchgroup\nresponders: [{type: nftables}]\n");
  const e = enforcerConfigProblem(c, ["group"], 'group "nosuchgroup" does not exist');
  assert.equal(e.code, "CONFIG_INVALID");
  assert.match(
    e.describe(),
    /^invalid enforcer configuration .*\.yaml \(1 problem\):\n {2}.*\.yaml:2 group: group/,
  );
  const d = load("responders: [{type: nftables}]\n");
  assert.match(
    enforcerConfigProblem(d, ["group"], "x").describe(),
    /\.yaml:1 group: x \(not set: the default\)$/,
  );
});
