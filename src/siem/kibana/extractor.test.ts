import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { kibana } from "./extractor.ts";

const run = (body: unknown, extra: { ipFields?: string[]; maxAlerts?: number } = {}) =>
  kibana.extract(body, { now: NOW, ...extra });

const threshold = (ip: unknown) => ({
  ip,
  rule_id: "r-1",
  rule_name: "ssh failures by source",
  value: 12,
  date: "2024-07-02T09:00:00.000Z",
});

test("index threshold grouped over source.ip: the group is the attacker", () => {
  const r = run(threshold("198.51.100.7"));
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  const a = r.alerts[0]!;
  assert.equal(a.rule.id, "kibana:r-1");
  assert.equal(a.rule.name, "ssh failures by source");
  assert.equal(a.count, 12);
  assert.equal(a.severity, "high");
  assert.equal(a["@timestamp"], Date.parse("2024-07-02T09:00:00.000Z"));
  assert.equal(a.origin, "kibana");
  assert.equal(a.response, "ban");
});

test("ungrouped rule ('all documents'), host names, ranges and injections are rejected with reasons", () => {
  const cases: [unknown, RegExp][] = [
    ["all documents", /not grouped.*group it over source.ip/],
    ["bastion.example.org", /host name/],
    ["0.0.0.0/0", /range/],
    ["1.2.3.4; rm -rf /", /not an IP/],
    ["198.51.100.7,198.51.100.8", /several values/],
    ["{{context.group}}", /not an IP/],
    [37, /got number/],
  ];
  for (const [value, why] of cases) {
    const r = run(threshold(value));
    assert.deepEqual(r.alerts, [], String(value));
    assert.match(reasons(r), why, String(value));
    assert.equal(r.rejected[0]!.path, "ip");
  }
});

test("address spellings are canonical; duplicates in one request are one alert", () => {
  const r = run({ ip: ["::ffff:198.51.100.7", "198.51.100.7", "[2001:DB8::1]", "fe80::1%eth0"] });
  assert.deepEqual(ips(r), ["198.51.100.7", "2001:db8::1", "fe80::1"]);
});

test("Elasticsearch query hits: every hit's source, nested or dotted, counted per address", () => {
  const r = run({
    rule_id: "q",
    rule_name: "es query",
    hits: [
      { _id: "1", _source: { "@timestamp": "2024-07-02T08:00:00Z", source: { ip: "198.51.100.7" } } },
      { _id: "2", _source: { "@timestamp": "2024-07-02T08:01:00Z", "source.ip": "198.51.100.7" } },
      { _id: "3", _source: { "source.ip": "2001:db8::9", user: { name: "oracle" } } },
      { _id: "4", _source: { host: { ip: "192.0.2.254" } } },
    ],
  });
  assert.deepEqual(ips(r), ["198.51.100.7", "2001:db8::9"]);
  const a = r.alerts[0]!;
  assert.equal(a.count, 2);
  assert.equal(a.first_seen, Date.parse("2024-07-02T08:00:00Z"));
  assert.equal(a.last_seen, Date.parse("2024-07-02T08:01:00Z"));
  assert.equal(a.events.length, 2);
  assert.equal(r.alerts[1]!.events[0]!.user?.name, "oracle");
  assert.match(reasons(r), /hits\[3\]\._source: no attacker address/);
});

test("a hit whose source repeats the monitored host's address is refused", () => {
  const r = run({
    hits: [
      { _source: { source: { ip: "192.0.2.254" }, host: { ip: ["192.0.2.254", "fe80::2"] } } },
      { _source: { source: { ip: "198.51.100.7" }, observer: { ip: "192.0.2.10" } } },
      { _source: { source: { ip: "192.0.2.10" } } },
    ],
  });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.match(reasons(r), /192\.0\.2\.254|host\.ip/);
  assert.match(reasons(r), /observer\.ip/);
});

test("context.hits rendered with double braces (a string) gets the fix in the reason", () => {
  const r = run({ hits: '{"_source":{}}' });
  assert.match(reasons(r), /triple braces/);
});

test("configured template keys; collector fields are refused even when configured", () => {
  assert.deepEqual(ips(run({ attacker: "198.51.100.7" }, { ipFields: ["attacker"] })), ["198.51.100.7"]);
  const r = run({ "host.ip": "192.0.2.254" }, { ipFields: ["host.ip"] });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /host.ip.*never the attacker/);
});

test("a body with none of the shapes says what it expected", () => {
  const r = run({ rule_name: "x", context: { group: "198.51.100.7" } });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /expected ip .*hits.*alerts/);
});

test("times after the receive time are clamped; bad times fall back to it", () => {
  assert.equal(run({ ip: "198.51.100.7", date: "2099-01-01T00:00:00Z" }).alerts[0]!["@timestamp"], NOW);
  assert.equal(run({ ip: "198.51.100.7", date: "not a date" }).alerts[0]!["@timestamp"], NOW);
});

test("the sample never holds the payload: long or control-character text is cut and cleaned", () => {
  const r = run({
    hits: [
      {
        _source: {
          source: { ip: "198.51.100.7" },
          message: `\u001b[31mx${"y".repeat(10_000)}`,
          extra: "z".repeat(10_000),
        },
      },
    ],
    rule_name: "\u001b]0;title\u0007rule",
  });
  const a = r.alerts[0]!;
  assert.ok(a.events[0]!.message!.length <= 300);
  assert.ok(!a.events[0]!.message!.includes("\u001b"));
  assert.ok(!a.rule.name.includes("\u001b"));
  assert.ok(!JSON.stringify(a).includes("zzzz"));
});
