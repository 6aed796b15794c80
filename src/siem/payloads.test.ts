/**
 * Conformance: every payload in ../shared/conformance/siem-payloads/ goes through its extractor and yields
 * exactly the documented attacker address(es), and never a host, relay or collector address. A fixture
 * added there without an entry here fails the first test.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { SHARED_MISSING, sharedDir } from "../../test/support/shared.ts";
import { EXTRACTORS } from "./registry.ts";
import { ips, NOW, reasons } from "./testing.ts";
import type { ExtractResult } from "./types.ts";
import { extractArMessage } from "./wazuh/extractor.ts";
import { readArMessage } from "./wazuh/message.ts";

const shared = sharedDir();
const dir = shared ? join(shared, "conformance", "siem-payloads") : undefined;
if (!dir && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);
const skip = dir ? false : SHARED_MISSING;

/** Addresses that appear in the fixtures as the monitored host, relay, collector or asset. */
const NEVER = ["192.0.2.254", "192.0.2.10"];

interface Case {
  kind: string;
  ips: string[];
  /** Instead of the kind's extractor (Wazuh `delete` is an unban, read by the AR program). */
  run?: (body: unknown) => ExtractResult;
  check?: (r: ExtractResult) => void;
}

const CASES: Record<string, Case | { excluded: string }> = {
  "kibana-webhook-index-threshold.json": {
    kind: "kibana",
    ips: ["203.0.113.45"],
    check: (r) => {
      assert.equal(r.alerts[0]!.count, 37);
      assert.equal(r.alerts[0]!.rule.name, "sshd failures per source (index threshold)");
    },
  },
  "kibana-webhook-es-query.json": { kind: "kibana", ips: ["203.0.113.45", "2001:db8:a::46"] },
  "elastic-security-alerts-query-rule.json": {
    kind: "elastic-security",
    ips: ["203.0.113.45"],
    check: (r) => assert.equal(r.alerts[0]!.severity, "medium"),
  },
  "elastic-security-alerts-threshold-rule.json": {
    kind: "elastic-security",
    ips: ["203.0.113.45", "2001:db8:a::46"],
    check: (r) => {
      assert.deepEqual(
        r.alerts.map((a) => a.count),
        [57, 23],
      );
      assert.equal(r.alerts[0]!.first_seen, Date.parse("2024-07-02T08:15:00.000Z"));
    },
  },
  "elastalert2-post.json": { kind: "elastalert", ips: ["203.0.113.45"] },
  "elastalert2-post2.json": {
    kind: "elastalert",
    ips: ["203.0.113.45"],
    check: (r) => assert.equal(r.alerts[0]!.rule.name, "sshd-bruteforce"),
  },
  "splunk-webhook.json": {
    kind: "splunk",
    ips: ["203.0.113.45"],
    check: (r) => {
      assert.equal(r.alerts[0]!.count, 37);
      assert.equal(r.alerts[0]!.first_seen, 1719907800_000);
      assert.equal(r.alerts[0]!.rule.name, "sshd brute force by source");
    },
  },
  "graylog-http-notification.json": {
    kind: "graylog",
    ips: ["203.0.113.45"],
    check: (r) => assert.equal(r.alerts[0]!.severity, "high"),
  },
  "wazuh-ar-4x-add.json": {
    kind: "wazuh",
    ips: ["203.0.113.45"],
    check: (r) => {
      assert.equal(r.alerts[0]!.rule.id, "wazuh:5712");
      assert.deepEqual(r.alerts[0]!.attack, ["T1110"]);
    },
  },
  "wazuh-ar-4x-delete.json": {
    kind: "wazuh",
    ips: ["203.0.113.45"],
    run: (body) => {
      const msg = readArMessage(body);
      assert.ok(!("error" in msg) && msg.action === "unban");
      return extractArMessage(msg, { now: NOW });
    },
  },
  "wazuh-ar-5x-enable.json": { kind: "wazuh", ips: ["203.0.113.45"] },
  "ossim-exec-action.json": {
    kind: "ossim",
    ips: ["203.0.113.45"],
    run: (body) => {
      const k = (body as { keywords: Record<string, string> }).keywords;
      return EXTRACTORS.ossim!.extract([k.SRC_IP, k.DST_IP, k.DST_PORT], { now: NOW });
    },
    check: (r) => assert.deepEqual(r.alerts[0]!.events[0]!.destination, { ip: "192.0.2.254", port: 22 }),
  },
  "wazuh-ar-check-keys.json": { excluded: "handshake line, tested in wazuh/ar.test.ts" },
  "wazuh-ar-check-keys-continue.json": { excluded: "handshake line, tested in wazuh/ar.test.ts" },
  "wazuh-ar-check-keys-abort.json": { excluded: "handshake line, tested in wazuh/ar.test.ts" },
  "ecs-filebeat-system-auth.json": {
    excluded:
      "ECS documents (parser input for src/parsers/ecs), not an alert payload; hits wrap them in kibana",
  },
};

test("every SIEM payload fixture is mapped to an extractor", { skip }, () => {
  const files = readdirSync(dir!).filter((f) => f.endsWith(".json"));
  assert.deepEqual(
    files.filter((f) => !CASES[f]),
    [],
    "src/siem/payloads.test.ts lacks these fixtures",
  );
});

for (const [file, c] of Object.entries(CASES)) {
  if ("excluded" in c) continue;
  test(`SIEM payload ${file} -> ${c.kind}: ${c.ips.join(", ")}`, { skip }, () => {
    const body: unknown = JSON.parse(readFileSync(join(dir!, file), "utf8"));
    const r = c.run ? c.run(body) : EXTRACTORS[c.kind]!.extract(body, { now: NOW });
    assert.deepEqual(ips(r), c.ips, reasons(r));
    assert.deepEqual(r.rejected, []);
    for (const a of r.alerts) {
      assert.equal(a.origin, c.kind);
      assert.equal(a.response, "ban");
      assert.ok(!NEVER.includes(a.group["source.ip"]!));
      assert.ok(a.first_seen <= a.last_seen && a.last_seen <= NOW);
      assert.ok(a.events.length >= 1 && a.events.length <= 5);
      // a sample, never the payload: no field of the sample is bigger than a short message
      assert.ok(JSON.stringify(a.events).length < 2000);
    }
    c.check?.(r);
  });
}

test("the Kibana extractor also reads Elastic Security alert bodies", { skip }, () => {
  const body: unknown = JSON.parse(
    readFileSync(join(dir!, "elastic-security-alerts-threshold-rule.json"), "utf8"),
  );
  assert.deepEqual(ips(EXTRACTORS.kibana!.extract(body, { now: NOW })), ["203.0.113.45", "2001:db8:a::46"]);
});

test(
  "a Graylog notification whose custom field and key are gone falls back to the backlog, not gl2_remote_ip",
  { skip },
  () => {
    const body = JSON.parse(readFileSync(join(dir!, "graylog-http-notification.json"), "utf8")) as {
      event: Record<string, unknown>;
    };
    body.event.fields = {};
    body.event.key = "";
    body.event.key_tuple = [];
    const r = EXTRACTORS.graylog!.extract(body, { now: NOW });
    assert.deepEqual(ips(r), ["203.0.113.45"]);
  },
);
