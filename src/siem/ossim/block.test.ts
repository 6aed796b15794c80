import assert from "node:assert/strict";
import { test } from "node:test";
import type { ForwardReply, ForwardRequest } from "../forward.ts";
import { NOW } from "../testing.ts";
import { runOssimBlock } from "./block.ts";

async function block(argv: string[], reply: ForwardReply | Error = { outcome: "banned" }) {
  const out: string[] = [];
  const err: string[] = [];
  const forwarded: ForwardRequest[] = [];
  const code = await runOssimBlock(argv, {
    now: NOW,
    stdout: { write: (s: string) => out.push(s) },
    stderr: { write: (s: string) => err.push(s) },
    forward: (req) => {
      forwarded.push(req);
      return reply instanceof Error ? Promise.reject(reply) : Promise.resolve(reply);
    },
  });
  return { code, out: out.join(""), err: err.join(""), forwarded };
}

test("SRC_IP DST_IP DST_PORT: SRC_IP is banned, the asset is only recorded", async () => {
  const r = await block(["203.0.113.45", "192.0.2.254", "22"]);
  assert.equal(r.code, 0);
  assert.equal(r.out, "banned 203.0.113.45\n");
  const req = r.forwarded[0]!;
  assert.ok(req.action === "ban");
  assert.equal(req.alert.group["source.ip"], "203.0.113.45");
  assert.equal(req.alert.origin, "ossim");
  assert.deepEqual(req.alert.events[0]!.destination, { ip: "192.0.2.254", port: 22 });
});

test("optional and empty DST_IP / DST_PORT (OSSIM renders unknown values empty)", async () => {
  assert.equal((await block(["203.0.113.45"])).code, 0);
  assert.equal((await block(["203.0.113.45", "", ""])).code, 0);
  assert.equal((await block(["203.0.113.45", "192.0.2.254", "0"])).code, 0);
  assert.equal((await block(["::ffff:203.0.113.45"])).forwarded.length, 1);
});

test("arguments with shell metacharacters are data, and refused", async () => {
  const bad: string[][] = [
    ["1.2.3.4; rm -rf /"],
    ["1.2.3.4;", "rm", "-rf", "/"],
    ["$(reboot)"],
    ["`id`"],
    ["203.0.113.45|nc"],
    ["203.0.113.45 && curl x"],
    ["203.0.113.45\n192.0.2.1"],
    ["-h"],
    ["--src"],
    [""],
    [],
    ["0.0.0.0/0"],
    ["bastion"],
    ["203.0.113.45", "192.0.2.254; id"],
    ["203.0.113.45", "192.0.2.254", "22;ls"],
    ["203.0.113.45", "192.0.2.254", "65536"],
    ["203.0.113.45", "192.0.2.254", "22", "admin"],
    ["192.0.2.254", "192.0.2.254", "22"],
  ];
  for (const argv of bad) {
    const r = await block(argv);
    assert.equal(r.code, 1, JSON.stringify(argv));
    assert.deepEqual(r.forwarded, [], JSON.stringify(argv));
    assert.match(r.err, /usage: portcullis block SRC_IP \[DST_IP\] \[DST_PORT\]/);
  }
});

test("hostile text is quoted in messages, never echoed raw to the terminal", async () => {
  const r = await block(["\u001b]0;pwned\u0007\n1.2.3.4"]);
  assert.equal(r.code, 1);
  assert.ok(!r.err.includes("\u001b") && !r.err.includes("\u0007"));
  assert.equal(r.err.split("\n").length, 3); // two lines and the final newline
});

test("exit codes: 0 banned or already banned, 1 invalid, 2 enforcement failed, 3 refused by policy", async () => {
  const cases: [ForwardReply | Error, number][] = [
    [{ outcome: "banned" }, 0],
    [{ outcome: "extended" }, 0],
    [{ outcome: "already_banned" }, 0],
    [{ outcome: "refused_invalid", reason: "not an IP" }, 1],
    [{ outcome: "failed", reason: "pfSense unreachable" }, 2],
    [new Error("connect ENOENT /run/portcullis.sock"), 2],
    [{ outcome: "refused_allowlisted" }, 3],
    [{ outcome: "refused_own_address", reason: "the sender's own address" }, 3],
    [{ outcome: "refused_circuit_breaker" }, 3],
    [{ outcome: "alert_only" }, 3],
  ];
  for (const [reply, code] of cases) {
    const r = await block(["203.0.113.45"], reply);
    assert.equal(r.code, code, JSON.stringify(reply instanceof Error ? reply.message : reply));
  }
});

test("DST_IP 0.0.0.0 (OSSIM's value for an event without a destination) is absent, not a refusal", async () => {
  // The OSSIM server writes dst_ip="0.0.0.0" (and dst_port="0") when the event names no destination.
  const r = await block(["203.0.113.45", "0.0.0.0", "0"]);
  assert.equal(r.code, 0, r.err);
  assert.equal(r.forwarded.length, 1);
  const req = r.forwarded[0]!;
  assert.ok(req.action === "ban");
  assert.equal(req.alert.group["source.ip"], "203.0.113.45");
  assert.deepEqual(req.alert.events[0]!.destination, {});
  // SRC_IP 0.0.0.0 still names no attacker
  const none = await block(["0.0.0.0", "0.0.0.0", "0"]);
  assert.equal(none.code, 1);
  assert.deepEqual(none.forwarded, []);
  assert.match(none.err, /SRC_IP "0.0.0.0": the unspecified address/);
});
