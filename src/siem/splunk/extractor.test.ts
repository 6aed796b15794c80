import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { splunk } from "./extractor.ts";

const run = (result: unknown, more: Record<string, unknown> = {}, ipFields?: string[]) =>
  splunk.extract(
    {
      sid: "s1",
      search_name: "brute force",
      app: "search",
      owner: "admin",
      results_link: "x",
      result,
      ...more,
    },
    { now: NOW, ...(ipFields ? { ipFields } : {}) },
  );

test("default fields in order: a host name in src falls through to src_ip", () => {
  assert.deepEqual(ips(run({ src: "198.51.100.7", src_ip: "198.51.100.8" })), ["198.51.100.7"]);
  const r = run({ src: "workstation-12", src_ip: "198.51.100.8" });
  assert.deepEqual(ips(r), ["198.51.100.8"]);
  assert.deepEqual(ips(run({ "source.ip": "198.51.100.9" })), ["198.51.100.9"]);
  assert.deepEqual(ips(run({ clientip: "2001:db8::5" })), ["2001:db8::5"]);
});

test("everything is a string: count, times and severity are read from text", () => {
  const r = run({
    src: "198.51.100.7",
    count: "42",
    earliest: "1719907800",
    latest: "1719908100",
    severity: "critical",
  });
  const a = r.alerts[0]!;
  assert.equal(a.count, 42);
  assert.equal(a.first_seen, 1719907800_000);
  assert.equal(a.last_seen, 1719908100_000);
  assert.equal(a.severity, "critical");
  assert.equal(a.rule.id, "splunk:brute force");
});

test("a multivalue src is several attackers; dest is never taken", () => {
  assert.deepEqual(ips(run({ src: ["198.51.100.7", "198.51.100.8", "nope"] })), [
    "198.51.100.7",
    "198.51.100.8",
  ]);
  const r = run({ dest: "192.0.2.254", dest_ip: "192.0.2.254" });
  assert.deepEqual(r.alerts, []);
  const same = run({ src: "192.0.2.254", dest: "192.0.2.254" });
  assert.deepEqual(same.alerts, []);
  assert.match(reasons(same), /attacked host/);
});

test("the attacker field is configurable; collector fields are refused", () => {
  assert.deepEqual(ips(run({ attacker: "198.51.100.7" }, {}, ["attacker"])), ["198.51.100.7"]);
  const r = run({ dest_ip: "192.0.2.254" }, {}, ["dest_ip"]);
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /dest_ip .*never the attacker/);
});

test("no rows, a null search name, odd shapes", () => {
  assert.match(reasons(run(null)), /no result row/);
  assert.match(reasons(run("198.51.100.7")), /no result row/);
  const r = run({ src: "198.51.100.7" }, { search_name: null });
  assert.equal(r.alerts[0]!.rule.name, "Splunk alert");
  assert.equal(r.alerts[0]!.rule.id, "splunk");
  assert.deepEqual(
    ips(splunk.extract({ results: [{ src: "198.51.100.7" }, { src_ip: "198.51.100.8" }] }, { now: NOW })),
    ["198.51.100.7", "198.51.100.8"],
  );
});
