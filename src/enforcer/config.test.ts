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

test("every field is described", () => {
  const json = z.toJSONSchema(enforcerConfig, { io: "input" }) as {
    properties: Record<string, { description?: string }>;
  };
  for (const [key, prop] of Object.entries(json.properties))
    assert.ok(prop.description, `${key} has no description`);
});
