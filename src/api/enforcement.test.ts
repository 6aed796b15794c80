import assert from "node:assert/strict";
import { test } from "node:test";
import type { FastifyReply, FastifyRequest } from "fastify";
import { awaitEnforcement, preferredWait } from "./enforcement.ts";
import type { TargetResult } from "./present.ts";
import { FakeControl } from "./testing.ts";
import { ManualClock } from "../core/clock.ts";

const req = (prefer?: string | string[]) => ({ headers: { prefer } }) as unknown as FastifyRequest;

test("Prefer: wait=N is read in seconds, bounded to 30 s; anything else is no wait", () => {
  assert.equal(preferredWait(req("wait=5")), 5000);
  assert.equal(preferredWait(req("respond-async, wait=10")), 10_000);
  assert.equal(preferredWait(req('wait="3"')), 3000);
  assert.equal(preferredWait(req("wait=999999")), 30_000);
  assert.equal(preferredWait(req(["return=minimal", "wait=2"])), 2000);
  assert.equal(preferredWait(req()), undefined);
  assert.equal(preferredWait(req("wait=-1")), undefined);
  assert.equal(preferredWait(req("nowait=5")), undefined);
});

test("awaitEnforcement: a failed responder turns an accepted result into failed; refusals are not asked", async () => {
  const control = new FakeControl(new ManualClock(0));
  const headers: Record<string, string> = {};
  const reply = { header: (k: string, v: string) => ((headers[k] = v), reply) } as unknown as FastifyReply;
  control.enforcementResult = {
    state: "failed",
    failed: [{ responder: "nftables", error: "nft: Operation not permitted" }],
    pending: [],
  };
  const results: TargetResult[] = [
    { target: "203.0.113.7", outcome: "banned", reason: "r", decision_id: "d1" },
    { target: "127.0.0.1", outcome: "refused_allowlisted", reason: "loopback" },
  ];
  await awaitEnforcement(control, results, 5000, reply);
  assert.equal(results[0]!.outcome, "failed");
  assert.equal(results[0]!.enforcement, "failed");
  assert.match(results[0]!.reason, /nftables: nft: Operation not permitted/);
  assert.equal(results[1]!.enforcement, undefined);
  assert.equal(control.calls.filter((c) => c.op === "enforcement").length, 1);
  assert.equal(headers["preference-applied"], "wait=5");

  control.enforcementResult = { state: "pending", failed: [], pending: ["ufw"] };
  const slow: TargetResult[] = [{ target: "203.0.113.8", outcome: "banned", reason: "r", decision_id: "d2" }];
  await awaitEnforcement(control, slow, 1000, reply);
  assert.deepEqual([slow[0]!.outcome, slow[0]!.enforcement], ["banned", "pending"]);
  assert.match(slow[0]!.reason, /not yet enforced on ufw/);
});

test("awaitEnforcement waits on one result at a time: a 1000-address request never polls 1000 times at once", async () => {
  const control = new FakeControl(new ManualClock(0));
  const reply = { header: () => reply } as unknown as FastifyReply;
  let running = 0;
  let most = 0;
  const inner = control.enforcement.bind(control);
  control.enforcement = async (id, wait) => {
    most = Math.max(most, ++running);
    await new Promise((r) => setImmediate(r));
    running--;
    return inner(id, wait);
  };
  const results: TargetResult[] = Array.from({ length: 1000 }, (_, i) => ({
    target: `198.18.${i >> 8}.${i & 255}`,
    outcome: "banned",
    reason: "r",
    decision_id: `d${i}`,
  }));
  await awaitEnforcement(control, results, 5000, reply);
  assert.equal(most, 1);
  assert.ok(results.every((r) => r.enforcement === "applied"));
});
