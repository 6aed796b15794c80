import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { elasticSecurity } from "./extractor.ts";

const run = (body: unknown, extra: { ipFields?: string[]; maxAlerts?: number } = {}) =>
  elasticSecurity.extract(body, { now: NOW, ...extra });

const thresholdAlert = (terms: unknown, more: Record<string, unknown> = {}) => ({
  "@timestamp": "2024-07-02T08:20:00Z",
  "kibana.alert.uuid": "u1",
  "kibana.alert.rule.name": "brute force",
  "kibana.alert.rule.rule_id": "rid",
  "kibana.alert.rule.type": "threshold",
  "kibana.alert.threshold_result": { terms, count: 40, from: "2024-07-02T08:15:00Z" },
  ...more,
});

test("threshold alerts: the source.ip group-by term, never another term", () => {
  const r = run({
    alerts: [
      thresholdAlert([
        { field: "destination.ip", value: "192.0.2.254" },
        { field: "source.ip", value: "198.51.100.7" },
      ]),
    ],
  });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.equal(r.alerts[0]!.count, 40);
  assert.equal(r.alerts[0]!.first_seen, Date.parse("2024-07-02T08:15:00Z"));
  assert.equal(r.alerts[0]!.rule.type, "threshold");
});

test("a threshold rule grouped by user only names no address", () => {
  const r = run({ alerts: [thresholdAlert([{ field: "user.name", value: "root" }])] });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /no attacker address: none of source.ip/);
});

test("7.x signals and nested kibana.alert objects are read too", () => {
  const v7 = {
    signal: {
      rule: { name: "old", severity: "critical" },
      threshold_result: { terms: [{ field: "source.ip", value: "198.51.100.8" }], count: 9 },
    },
  };
  const nested = {
    kibana: { alert: { rule: { name: "nested" }, risk_score: 90 } },
    source: { ip: "198.51.100.9" },
  };
  const r = run({ alerts: [v7, nested] });
  assert.deepEqual(ips(r), ["198.51.100.8", "198.51.100.9"]);
  assert.equal(r.alerts[0]!.severity, "critical");
  assert.equal(r.alerts[0]!.count, 9);
  assert.equal(r.alerts[1]!.severity, "critical");
  assert.equal(r.alerts[1]!.rule.name, "nested");
});

test("severity from the risk score when no severity; techniques from the rule's threat", () => {
  const r = run({
    alerts: [
      {
        "kibana.alert.risk_score": 30,
        "kibana.alert.rule.threat": [
          {
            framework: "MITRE ATT&CK",
            tactic: { id: "TA0006" },
            technique: [{ id: "T1110", subtechnique: [{ id: "T1110.001" }] }],
          },
        ],
        source: { ip: "198.51.100.7" },
      },
    ],
  });
  assert.equal(r.alerts[0]!.severity, "medium");
  assert.deepEqual(r.alerts[0]!.attack, ["T1110", "T1110.001"]);
});

test("an alert whose source is its own host or observer is refused", () => {
  const r = run({
    alerts: [
      { source: { ip: "192.0.2.254" }, host: { ip: "192.0.2.254" }, "kibana.alert.rule.name": "x" },
      { "source.ip": "192.0.2.10", "observer.ip": "192.0.2.10" },
    ],
  });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /host\.ip/);
  assert.match(reasons(r), /observer\.ip/);
});

test("alerts as a string, an object or missing", () => {
  assert.match(reasons(run({ alerts: "[...]" })), /triple braces/);
  assert.match(reasons(run({ alerts: {} })), /expected alerts to be an array/);
  assert.match(reasons(run({ rule: "x" })), /no alerts/);
  assert.deepEqual(ips(run([{ "kibana.alert.rule.name": "bare", source: { ip: "198.51.100.7" } }])), [
    "198.51.100.7",
  ]);
});

test("5000 alerts: the first 1000 are examined, the rest rejected in one entry", () => {
  const alerts = Array.from({ length: 5000 }, (_, i) => ({ source: { ip: `198.51.${i >> 8}.${i & 255}` } }));
  const r = run({ alerts });
  assert.equal(r.alerts.length, 1000);
  assert.equal(r.rejected.length, 1);
  assert.equal(r.rejected[0]!.path, "alerts[1000..4999]");
});

test("indicator match on destination.ip: the alert's source.ip is our client, never banned", () => {
  // An indicator match rule mapping destination.ip to threat.indicator.ip: a host of ours (source.ip)
  // contacted a listed address. Banning source.ip would cut off the victim.
  const enrichment = (field: string, atomic: string) => ({
    indicator: { ip: atomic, type: "ipv4-addr" },
    matched: { atomic, field, id: "ioc1", index: "logs-ti_abusech.malware", type: "indicator_match_rule" },
  });
  const r = run({
    alerts: [
      {
        "kibana.alert.uuid": "im1",
        "kibana.alert.rule.type": "threat_match",
        source: { ip: "198.51.100.23" },
        destination: { ip: "203.0.113.66" },
        threat: { enrichments: [enrichment("destination.ip", "203.0.113.66")] },
      },
      {
        "kibana.alert.uuid": "im2",
        "kibana.alert.rule.type": "threat_match",
        source: { ip: "203.0.113.45" },
        "threat.enrichments": [enrichment("source.ip", "203.0.113.45")],
      },
      {
        // enrichment of another rule's alert (not what the rule matched): source.ip as usual
        "kibana.alert.uuid": "q1",
        source: { ip: "203.0.113.47" },
        threat: {
          enrichments: [
            {
              ...enrichment("destination.ip", "192.0.2.9"),
              matched: { type: "enrichment", field: "destination.ip", atomic: "192.0.2.9" },
            },
          ],
        },
      },
    ],
  });
  assert.deepEqual(ips(r), ["203.0.113.45", "203.0.113.47"]);
  assert.match(reasons(r), /alerts\[0\].*indicator match on destination\.ip/);
});
