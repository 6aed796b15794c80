import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { elastalert } from "./extractor.ts";

const run = (body: unknown, ipFields?: string[]) =>
  elastalert.extract(body, { now: NOW, ...(ipFields ? { ipFields } : {}) });

test("post: the match's source.ip wins over a templated ip key", () => {
  const r = run({
    source: { ip: "198.51.100.7" },
    ip: "198.51.100.99",
    "@timestamp": "2024-07-02T08:15:19.412000+00:00",
  });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.equal(r.alerts[0]!["@timestamp"], Date.UTC(2024, 6, 2, 8, 15, 19, 412));
});

test("post2: the template's ip; its count and reason", () => {
  const r = run({ ip: "198.51.100.7", rule: "ssh", reason: "10 failures", count: 15 });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.equal(r.alerts[0]!.count, 15);
  assert.equal(r.alerts[0]!.rule.id, "elastalert:ssh");
  assert.equal(r.alerts[0]!.events[0]!.event.reason, "10 failures");
});

test("num_hits is not the attack count; related events are", () => {
  const r = run({
    source: { ip: "198.51.100.7" },
    num_hits: 5000,
    "@timestamp": "2024-07-02T08:10:00Z",
    related_events: [{ "@timestamp": "2024-07-02T08:00:00Z" }, { "@timestamp": "2024-07-02T08:05:00Z" }],
  });
  assert.equal(r.alerts[0]!.count, 3);
  assert.equal(r.alerts[0]!.first_seen, Date.parse("2024-07-02T08:00:00Z"));
});

test("a match without a source never falls back to the host, agent or destination", () => {
  const r = run({
    host: { ip: "192.0.2.254" },
    agent: { ip: "192.0.2.254" },
    destination: { ip: "192.0.2.254" },
  });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /no attacker address: none of source.ip, ip/);
});

test("a templated ip that is the monitored host is refused when the match says so", () => {
  const r = run({ ip: "192.0.2.254", host: { ip: "192.0.2.254" } });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /host\.ip/);
});

test("post2 values that are not one address", () => {
  for (const [ip, why] of [
    ["bastion", /host name/],
    ["0.0.0.0/0", /range/],
    ["1.2.3.4; rm -rf /", /not an IP/],
    ["", /none of source.ip, ip/],
  ] as const) {
    const r = run({ ip });
    assert.deepEqual(r.alerts, [], ip);
    assert.match(reasons(r), why, ip);
  }
});
