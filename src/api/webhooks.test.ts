import assert from "node:assert/strict";
import { test } from "node:test";
import { EXTRACTORS } from "../siem/registry.ts";
import {
  cleanText,
  generic,
  hook,
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

test("hook: the forwarded duration (a Wazuh stateful_timeout) is read and bounded like generic's", () => {
  const hctx = webhookContext(hook, Date.UTC(2026, 10, 23), "wazuh-ar");
  const base = { origin: "wazuh", ip: "8.8.4.4", rule: { id: "5712", name: "sshd brute force" } };
  const one = (body: unknown) => hook.handle(body, hctx);
  const error = (body: unknown) => {
    const r = one(body);
    return isWebhookError(r) ? `${r.error.path ?? ""}: ${r.error.message}` : "ok";
  };
  for (const [duration, ms] of [
    [7200, 7_200_000],
    ["2h", 7_200_000],
    [undefined, undefined],
  ] as const) {
    const r = one({ ...base, ...(duration !== undefined ? { duration } : {}), request_id: "x" });
    assert.ok(!isWebhookError(r), JSON.stringify(r));
    assert.equal(r[0]!.duration, ms, String(duration));
    assert.equal(r[0]!.origin, "wazuh");
  }
  for (const bad of [0, -5, "366d", "soon", 365 * 86_400 + 1, "9".repeat(40), {}, null, [60]])
    assert.match(error({ ...base, duration: bad }), /^duration: /, JSON.stringify(bad));
});
