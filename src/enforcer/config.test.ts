import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { z } from "zod";
import { PortcullisError } from "../core/errors.ts";
import { enforcerConfig, loadEnforcerConfig, validateEnforcerConfig } from "./config.ts";

const dir = mkdtempSync(join(tmpdir(), "pcl-enf-config-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function load(yaml: string): ReturnType<typeof loadEnforcerConfig> {
  const file = join(dir, `c${Math.random().toString(16).slice(2)}.yaml`);
  writeFileSync(file, yaml);
  return loadEnforcerConfig(file);
}

function issues(yaml: string): string[] {
  try {
    load(yaml);
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "CONFIG_INVALID", String(e));
    return e.issues.map((i) => `${i.path.replace(/^.*\.yaml/, "")} ${i.message}`);
  }
  assert.fail("expected an invalid config");
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
  assert.deepEqual(got, [":1 socket an absolute path", ":2 sokcet unknown key"]);
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
