import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { test } from "node:test";
import { SHARED_MISSING, sharedDir } from "../../../test/support/shared.ts";
import type { ForwardReply, ForwardRequest } from "../forward.ts";
import { NOW } from "../testing.ts";
import { checkKeysLine, runWazuhAr } from "./ar.ts";

const shared = sharedDir();
const dir = shared ? join(shared, "conformance", "siem-payloads") : undefined;
if (!dir && process.env.PORTCULLIS_REQUIRE_SHARED) throw new Error(SHARED_MISSING);

const ADD = {
  version: 1,
  origin: { name: "node01", module: "wazuh-execd" },
  command: "add",
  parameters: {
    extra_args: [],
    alert: {
      timestamp: "2024-07-02T08:15:19.412+0000",
      rule: { level: 10, id: "5712", description: "sshd brute force" },
      agent: { id: "003", name: "bastion", ip: "192.0.2.254" },
      data: { srcip: "198.51.100.7" },
    },
    program: "active-response/bin/portcullis",
  },
};
const reply = (command: string) =>
  `${JSON.stringify({ version: 1, origin: { name: "node01", module: "wazuh-execd" }, command, parameters: {} })}\n`;

/** A fake execd: writes the message, answers check_keys with `answer` (if any), records everything. */
function harness(opts: { answer?: string; reply?: ForwardReply | Error; timeoutMs?: number } = {}) {
  const stdin = new PassThrough();
  const out: string[] = [];
  const err: string[] = [];
  const forwarded: ForwardRequest[] = [];
  const stdout = {
    write(s: string) {
      out.push(s);
      if (opts.answer !== undefined) setImmediate(() => stdin.write(opts.answer));
      return true;
    },
  };
  const run = (first?: string) => {
    if (first !== undefined) stdin.write(first);
    return runWazuhAr({
      stdin,
      stdout,
      stderr: { write: (s: string) => err.push(s) },
      now: NOW,
      timeoutMs: opts.timeoutMs ?? 2000,
      forward: (req) => {
        forwarded.push(req);
        const r = opts.reply ?? { outcome: "banned" };
        return r instanceof Error ? Promise.reject(r) : Promise.resolve(r);
      },
    });
  };
  return { stdin, out, err, forwarded, run };
}

test("add + continue: check_keys on stdout (one line), then the ban is forwarded", async () => {
  const h = harness({ answer: reply("continue") });
  const code = await h.run(`${JSON.stringify(ADD)}\n`);
  assert.equal(code, 0);
  assert.deepEqual(h.out, [
    '{"version":1,"origin":{"name":"portcullis","module":"active-response"},"command":"check_keys","parameters":{"keys":["198.51.100.7"]}}\n',
  ]);
  assert.equal(h.forwarded.length, 1);
  const req = h.forwarded[0]!;
  assert.equal(req.action, "ban");
  assert.ok(
    req.action === "ban" && req.alert.group["source.ip"] === "198.51.100.7" && req.alert.origin === "wazuh",
  );
});

test("add + abort: an identical response is active, nothing is forwarded, exit 0", async () => {
  const h = harness({ answer: reply("abort") });
  assert.equal(await h.run(`${JSON.stringify(ADD)}\n`), 0);
  assert.equal(h.out.length, 1);
  assert.deepEqual(h.forwarded, []);
  assert.match(h.err.join(""), /abort/);
});

test("delete: the unban is forwarded without a handshake", async () => {
  const h = harness({ reply: { outcome: "unbanned" } });
  assert.equal(await h.run(`${JSON.stringify({ ...ADD, command: "delete" })}\n`), 0);
  assert.deepEqual(h.out, []);
  assert.equal(h.forwarded.length, 1);
  assert.deepEqual(
    { ...h.forwarded[0]!, reason: undefined },
    { action: "unban", target: "198.51.100.7", origin: "wazuh", reason: undefined },
  );
});

test("5.x enable gets the handshake, disable the unban", async () => {
  const v5 = {
    wazuh: { active_response: { name: "portcullis" } },
    source: { ip: "2001:db8::7" },
    command: "enable",
  };
  const h = harness({ answer: reply("continue") });
  assert.equal(await h.run(`${JSON.stringify(v5)}\r\n`), 0);
  assert.match(h.out[0]!, /"keys":\["2001:db8::7"\]/);
  assert.equal(h.forwarded[0]!.action, "ban");
  const d = harness({ reply: { outcome: "not_banned" } });
  assert.equal(await d.run(`${JSON.stringify({ ...v5, command: "disable" })}\n`), 0);
  assert.equal(d.forwarded[0]!.action, "unban");
});

test("timeouts: a silent stdin, a silent execd", async () => {
  const silent = harness({ timeoutMs: 50 });
  assert.equal(await silent.run(), 1);
  assert.match(
    silent.err.join(""),
    /nothing on stdin within 50 ms \(waiting for the active-response message\)/,
  );
  const noAnswer = harness({ timeoutMs: 50 });
  assert.equal(await noAnswer.run(`${JSON.stringify(ADD)}\n`), 1);
  assert.equal(noAnswer.out.length, 1);
  assert.deepEqual(noAnswer.forwarded, []);
});

test("bad input: not JSON, a message without srcip, a garbage reply, a line without end, closed stdin", async () => {
  const cases: [string, string | undefined, RegExp][] = [
    ["not json\n", undefined, /not JSON/],
    [`${JSON.stringify({ ...ADD, version: "x" })}\n`, undefined, /version must be a number/],
    [
      `${JSON.stringify({ ...ADD, parameters: { ...ADD.parameters, alert: { ...ADD.parameters.alert, data: {} } } })}\n`,
      undefined,
      /ignored, no attacker address/,
    ],
    [
      `${JSON.stringify({ ...ADD, parameters: { ...ADD.parameters, alert: { ...ADD.parameters.alert, data: { srcip: "192.0.2.254" } } } })}\n`,
      undefined,
      /agent/,
    ],
    [`${JSON.stringify(ADD)}\n`, "rm -rf /\n", /not JSON/],
    [`${JSON.stringify(ADD)}\n`, reply("continue; rm -rf /"), /unexpected reply/],
  ];
  for (const [first, answer, why] of cases) {
    const h = harness(answer === undefined ? {} : { answer });
    assert.equal(await h.run(first), 1, first);
    assert.match(h.err.join(""), why, first);
    assert.deepEqual(h.forwarded, []);
  }
  const closed = harness();
  closed.stdin.end();
  assert.equal(await closed.run(), 1);
  assert.match(closed.err.join(""), /stdin closed/);
});

test("a line longer than the limit is refused without buffering it all", async () => {
  const stdin = new PassThrough();
  const err: string[] = [];
  const p = runWazuhAr({
    stdin,
    stdout: { write: () => true },
    stderr: { write: (s: string) => err.push(s) },
    now: NOW,
    maxLineLength: 1000,
    timeoutMs: 2000,
    forward: () => Promise.resolve({ outcome: "banned" }),
  });
  stdin.write("x".repeat(5000));
  assert.equal(await p, 1);
  assert.match(err.join(""), /too long/);
});

test("forward failures and policy refusals map to exit codes 2 and 3", async () => {
  const down = harness({ answer: reply("continue"), reply: new Error("ECONNREFUSED") });
  assert.equal(await down.run(`${JSON.stringify(ADD)}\n`), 2);
  assert.match(down.err.join(""), /cannot reach the daemon: ECONNREFUSED/);
  const failed = harness({ answer: reply("continue"), reply: { outcome: "failed", reason: "nft exited 1" } });
  assert.equal(await failed.run(`${JSON.stringify(ADD)}\n`), 2);
  const refused = harness({ answer: reply("continue"), reply: { outcome: "refused_allowlisted" } });
  assert.equal(await refused.run(`${JSON.stringify(ADD)}\n`), 3);
  const already = harness({ answer: reply("continue"), reply: { outcome: "already_banned" } });
  assert.equal(await already.run(`${JSON.stringify(ADD)}\n`), 0);
});

test(
  "with the shared fixtures: the 4.x add line, the check_keys line, continue and abort",
  { skip: dir ? false : SHARED_MISSING },
  async () => {
    const add = JSON.stringify(JSON.parse(readFileSync(join(dir!, "wazuh-ar-4x-add.json"), "utf8")));
    const keys = readFileSync(join(dir!, "wazuh-ar-check-keys.json"), "utf8");
    const expected = JSON.parse(keys) as { origin: { name: string } };
    expected.origin.name = "portcullis";
    assert.equal(checkKeysLine("portcullis", ["203.0.113.45"]), `${JSON.stringify(expected)}\n`);
    assert.equal(checkKeysLine("firewall-drop", ["203.0.113.45"]), keys);
    for (const [file, forwarded] of [
      ["wazuh-ar-check-keys-continue.json", 1],
      ["wazuh-ar-check-keys-abort.json", 0],
    ] as const) {
      const h = harness({ answer: readFileSync(join(dir!, file), "utf8") });
      assert.equal(await h.run(`${add}\n`), 0, file);
      assert.equal(h.out[0], `${JSON.stringify(expected)}\n`);
      assert.equal(h.forwarded.length, forwarded, file);
    }
  },
);
