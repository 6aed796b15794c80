import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { graylog } from "./extractor.ts";

interface Shape {
  fields?: Record<string, unknown>;
  key?: string;
  key_tuple?: unknown[];
  backlog?: unknown[];
  priority?: number;
  source?: string;
}

const body = (s: Shape) => ({
  event_definition_id: "def1",
  event_definition_title: "ssh brute force",
  event_definition_type: "aggregation-v1",
  event: {
    id: "ev1",
    timestamp: "2024-07-02T08:15:19.412Z",
    source: s.source ?? "graylog-node-1",
    key: s.key ?? "",
    key_tuple: s.key_tuple ?? [],
    priority: s.priority ?? 2,
    fields: s.fields ?? {},
    message: "ssh brute force: count()=12",
  },
  backlog: s.backlog ?? [],
});
const run = (s: Shape) => graylog.extract(body(s), { now: NOW });
const msg = (fields: Record<string, unknown>) => ({ message: "Failed password", source: "bastion", fields });

test("the custom event field first; priority and count", () => {
  const r = run({ fields: { attacker_ip: "198.51.100.7" }, key: "198.51.100.99", priority: 1 });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.equal(r.alerts[0]!.severity, "low");
  assert.equal(r.alerts[0]!.count, 12);
  assert.equal(r.alerts[0]!.rule.id, "graylog:def1");
});

test("the event key when it holds exactly one address; ambiguous keys are refused", () => {
  assert.deepEqual(ips(run({ key_tuple: ["198.51.100.7", "root"] })), ["198.51.100.7"]);
  const r = run({ key_tuple: ["198.51.100.7", "192.0.2.254"] });
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /several addresses/);
});

test("the backlog's extracted field, never gl2_remote_ip nor the sender's name", () => {
  const r = run({
    backlog: [
      msg({ source_ip: "198.51.100.7", gl2_remote_ip: "192.0.2.254" }),
      msg({ gl2_remote_ip: "192.0.2.254" }),
      msg({ source_ip: "198.51.100.8", gl2_remote_ip: "192.0.2.254" }),
    ],
  });
  assert.deepEqual(ips(r), ["198.51.100.7", "198.51.100.8"]);
  assert.equal(r.alerts[0]!.events[0]!.host?.name, "bastion");
});

test("a custom field that repeats the log sender's address (injected) is refused", () => {
  const r = run({
    fields: { attacker_ip: "192.0.2.254" },
    backlog: [msg({ source_ip: "198.51.100.7", gl2_remote_ip: "192.0.2.254" })],
  });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.match(reasons(r), /log sender's address \(gl2_remote_ip\)/);
});

test("nothing but the node and the sender: no address", () => {
  const r = run({
    source: "192.0.2.1",
    backlog: [msg({ gl2_remote_ip: "192.0.2.254", source: "192.0.2.254" })],
  });
  assert.deepEqual(r.alerts, []);
  assert.ok(r.rejected.length > 0);
  assert.match(reasons(graylog.extract({ event: "x" }, { now: NOW })), /no event object/);
});

test("an event key that the event's own fields name as the destination or another field is refused", () => {
  // a definition keyed by the attacked server (dst_ip): the key is that server, never the attacker
  const dst = run({ key: "192.0.2.254", key_tuple: ["192.0.2.254"], fields: { dst_ip: "192.0.2.254" } });
  assert.deepEqual(dst.alerts, []);
  assert.match(reasons(dst), /event\.key_tuple: .*event\.fields\.dst_ip/);
  const other = run({ key_tuple: ["192.0.2.254"], fields: { target_host: "192.0.2.254" } });
  assert.deepEqual(other.alerts, []);
  assert.match(reasons(other), /event\.fields\.target_host.*not an attacker field/);
  // keyed by a custom field that is not an attacker field, the backlog's extracted source still counts
  const backlog = run({
    key_tuple: ["192.0.2.254"],
    fields: { dst_ip: "192.0.2.254" },
    backlog: [msg({ source_ip: "198.51.100.7", dst_ip: "192.0.2.254" })],
  });
  assert.deepEqual(ips(backlog), ["198.51.100.7"]);
  // Graylog 5.1+ group_by_fields say the same
  const grouped = graylog.extract(
    {
      event: {
        id: "e",
        key_tuple: ["192.0.2.254"],
        key: "192.0.2.254",
        fields: {},
        group_by_fields: { dst_ip: "192.0.2.254" },
      },
      backlog: [],
    },
    { now: NOW },
  );
  assert.deepEqual(grouped.alerts, []);
  assert.match(reasons(grouped), /event\.group_by_fields\.dst_ip/);
  // a key that is the attacker's field (or that no field names) is still read
  assert.deepEqual(ips(run({ key_tuple: ["198.51.100.7"], fields: { source_ip: "198.51.100.7", n: "x" } })), [
    "198.51.100.7",
  ]);
  assert.deepEqual(ips(run({ key_tuple: ["198.51.100.7", "root"], fields: { user: "root" } })), [
    "198.51.100.7",
  ]);
});
