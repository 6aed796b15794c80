import assert from "node:assert/strict";
import { test } from "node:test";
import { ips, NOW, reasons } from "../testing.ts";
import { levelSeverity, wazuh } from "./extractor.ts";

const alert = (data: Record<string, unknown>, more: Record<string, unknown> = {}) => ({
  timestamp: "2024-07-02T08:15:19.412+0000",
  rule: { level: 10, id: "5712", description: "sshd brute force", frequency: 8, mitre: { id: ["T1110"] } },
  agent: { id: "003", name: "bastion", ip: "192.0.2.254" },
  id: "1719908119.1",
  data,
  ...more,
});
const add = (a: unknown, command = "add") => ({
  version: 1,
  origin: { name: "node01", module: "wazuh-execd" },
  command,
  parameters: { extra_args: [], alert: a, program: "active-response/bin/portcullis" },
});
const run = (body: unknown, ipFields?: string[]) =>
  wazuh.extract(body, { now: NOW, ...(ipFields ? { ipFields } : {}) });

test("4.x add: data.srcip, rule, level, techniques, frequency", () => {
  const r = run(add(alert({ srcip: "198.51.100.7", srcuser: "admin" })));
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  const a = r.alerts[0]!;
  assert.equal(a.rule.id, "wazuh:5712");
  assert.equal(a.severity, "high");
  assert.deepEqual(a.attack, ["T1110"]);
  assert.equal(a.count, 8);
  assert.equal(a["@timestamp"], Date.UTC(2024, 6, 2, 8, 15, 19, 412));
  assert.equal(a.events[0]!.user?.name, "admin");
  assert.equal(r.alerts[0]!.id, "wazuh:1719908119.1:198.51.100.7");
});

test("an alert without data.srcip is ignored, never the agent's address", () => {
  const r = run(add(alert({ dstuser: "root" })));
  assert.deepEqual(r.alerts, []);
  assert.match(reasons(r), /parameters.alert: no attacker address: none of data.srcip/);
  const same = run(add(alert({ srcip: "192.0.2.254" })));
  assert.deepEqual(same.alerts, []);
  assert.match(reasons(same), /agent.ip/);
});

test("Suricata-style data.src_ip through ipFields; bare alerts from integrations", () => {
  assert.deepEqual(ips(run(add(alert({ src_ip: "198.51.100.7" })), ["data.src_ip"])), ["198.51.100.7"]);
  assert.deepEqual(ips(run(alert({ srcip: "198.51.100.8" }))), ["198.51.100.8"]);
  assert.deepEqual(ips(run([alert({ srcip: "198.51.100.8" }), alert({ srcip: "198.51.100.9" })])), [
    "198.51.100.8",
    "198.51.100.9",
  ]);
});

test("delete/disable are unbans, not alerts; malformed messages say why", () => {
  assert.match(reasons(run(add(alert({ srcip: "198.51.100.7" }), "delete"))), /revokes a ban/);
  assert.match(reasons(run({ ...add(alert({})), version: "1" })), /version must be a number/);
  assert.match(reasons(run({ ...add(alert({})), command: "rm -rf /" })), /unknown command/);
  assert.match(reasons(run({ ...add(null) })), /parameters.alert must be an object/);
  assert.match(
    reasons(run({ wazuh: { active_response: {} }, command: "add", source: { ip: "198.51.100.7" } })),
    /enable/,
  );
  assert.match(reasons(run({ hello: 1 })), /not a Wazuh/);
});

test("5.x enable: source.ip and the stateful timeout", () => {
  const r = run({
    wazuh: {
      active_response: { name: "block", type: "stateful", stateful_timeout: 600 },
      agent: { id: "003" },
    },
    source: { ip: "198.51.100.7" },
    user: { name: "admin" },
    command: "enable",
  });
  assert.deepEqual(ips(r), ["198.51.100.7"]);
  assert.equal(r.alerts[0]!.duration, 600_000);
});

test("rule levels", () => {
  assert.deepEqual([0, 4, 5, 7, 8, 11, 12, 15, 16, 17, "x"].map(levelSeverity), [
    "low",
    "low",
    "medium",
    "medium",
    "high",
    "high",
    "critical",
    "critical",
    "critical",
    undefined,
    undefined,
  ]);
});

test("Windows events through the Wazuh agent: data.win.eventdata.ipAddress; OSSEC-era top-level srcip", () => {
  // A 4625 logon failure (rule 60122) has no data.srcip: the client is the address Windows recorded.
  const win = (ipAddress: string) =>
    add(
      alert(
        { win: { system: { eventID: "4625" }, eventdata: { ipAddress, targetUserName: "administrator" } } },
        { rule: { level: 5, id: "60122", description: "Logon failure" } },
      ),
    );
  assert.deepEqual(ips(run(win("203.0.113.80"))), ["203.0.113.80"]);
  // Windows writes "-" when it has no address: nothing to ban, and said so.
  const none = run(win("-"));
  assert.deepEqual(none.alerts, []);
  assert.match(reasons(none), /data\.win\.eventdata\.ipAddress/);
  // data.srcip wins when both are there.
  const both = run(add(alert({ srcip: "198.51.100.7", win: { eventdata: { ipAddress: "203.0.113.80" } } })));
  assert.deepEqual(ips(both), ["198.51.100.7"]);
  assert.deepEqual(ips(run(add({ ...alert({}), srcip: "198.51.100.9" }))), ["198.51.100.9"]);
});
