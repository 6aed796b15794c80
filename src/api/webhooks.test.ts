import assert from "node:assert/strict";
import { test } from "node:test";
import { EXTRACTORS } from "../siem/registry.ts";
import {
  cleanText,
  generic,
  isWebhookError,
  NOT_WEBHOOKS,
  readDuration,
  webhookContext,
  WEBHOOKS,
} from "./webhooks.ts";

test("webhook registry: keys are the kinds, sorted; every SIEM extractor is a webhook or listed as not one", () => {
  const keys = Object.keys(WEBHOOKS);
  assert.deepEqual(keys, [...keys].sort());
  for (const [k, d] of Object.entries(WEBHOOKS)) {
    assert.equal(d.kind, k);
    assert.match(k, /^[a-z][a-z0-9-]*$/);
    assert.ok(d.description && d.origin);
  }
  assert.ok(WEBHOOKS.generic);
  for (const kind of Object.keys(EXTRACTORS)) {
    assert.ok(
      keys.includes(kind) !== Object.hasOwn(NOT_WEBHOOKS, kind),
      `SIEM kind ${kind}: add it to WEBHOOKS or to NOT_WEBHOOKS (src/api/webhooks.ts)`,
    );
  }
});

const ctx = webhookContext(generic, Date.UTC(2026, 10, 23), "kibana");

test("generic: one object or an array; reason, duration (seconds or text) carried into the alert", () => {
  const one = generic.handle(
    { ip: "203.0.113.7", reason: "ssh brute force", duration: "1h", extra: { ignored: true } },
    ctx,
  );
  assert.ok(!isWebhookError(one));
  assert.equal(one.length, 1);
  const a = one[0]!;
  assert.equal(a.group["source.ip"], "203.0.113.7");
  assert.equal(a.duration, 3_600_000);
  assert.equal(a.rule.id, "webhook-generic");
  assert.equal(a.rule.name, "ssh brute force");
  assert.equal(a.origin, "webhook");
  assert.equal(a.response, "ban");
  assert.equal(a["@timestamp"], ctx.now);
  assert.match(a.id, /^generic-[0-9a-f-]{36}$/);
  const many = generic.handle([{ ip: "203.0.113.8", duration: 60 }, { ip: "2001:db8::1" }], ctx);
  assert.ok(!isWebhookError(many));
  assert.deepEqual(
    many.map((x) => [x.group["source.ip"], x.duration]),
    [
      ["203.0.113.8", 60_000],
      ["2001:db8::1", undefined],
    ],
  );
  assert.notEqual(many[0]!.id, many[1]!.id);
});

test("generic: structural problems are errors with a path; addresses are not judged here", () => {
  const err = (body: unknown) => {
    const r = generic.handle(body, ctx);
    return isWebhookError(r) ? `${r.error.path ?? ""}: ${r.error.message}` : "ok";
  };
  assert.equal(err({}), "ip: required");
  assert.equal(err({ ip: 1 }), "ip: expected a string, got number");
  assert.equal(err([{ ip: "203.0.113.7" }, null]), "[1]: expected a JSON object");
  assert.equal(err([{ ip: "203.0.113.7" }, { ip: [] }]), "[1].ip: expected a string, got an array");
  assert.match(err({ ip: "203.0.113.7", reason: 5 }), /^reason:/);
  assert.match(err({ ip: "203.0.113.7", duration: "1y" }), /^duration:/);
  assert.match(err([]), /non-empty array/);
  assert.equal(err({ ip: "not an address" }), "ok", "the API validates addresses, with per-address results");
});

test("untrusted text is cleaned; durations are bounded", () => {
  assert.equal(cleanText("a\r\nb\u0000c\u2028d"), "a b c d");
  assert.equal(cleanText("x".repeat(300)).length, 200);
  assert.equal(readDuration(600), 600_000);
  assert.equal(readDuration("10m"), 600_000);
  assert.equal(readDuration("365d"), 365 * 86_400_000);
  for (const bad of [0, -1, "366d", "soon", null, {}, Number.NaN, Infinity])
    assert.equal(readDuration(bad), undefined, JSON.stringify(bad));
});
