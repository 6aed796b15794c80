import assert from "node:assert/strict";
import { test } from "node:test";
import type { WebhookContext } from "../api/webhooks.ts";
import { NOW } from "./testing.ts";
import { siemWebhook } from "./webhook.ts";

const ctx: WebhookContext = {
  kind: "kibana",
  now: NOW,
  tokenName: "kibana",
  alert: () => {
    throw new Error("extractors build their own alerts");
  },
};

test("alerts found are the handler's answer", () => {
  const out = siemWebhook("kibana").handle({ ip: "198.51.100.7", rule_name: "r" }, ctx);
  assert.ok(Array.isArray(out));
  assert.equal(out[0]!.group["source.ip"], "198.51.100.7");
  assert.equal(out[0]!.origin, "kibana");
});

test("nothing found is a payload error naming the reasons", () => {
  const out = siemWebhook("kibana").handle({ ip: "all documents" }, ctx);
  assert.ok(!Array.isArray(out));
  assert.equal(out.error.path, "ip");
  assert.match(out.error.message, /not grouped/);
  const many = siemWebhook("splunk").handle(
    { results: Array.from({ length: 20 }, () => ({ src: "x" })) },
    ctx,
  );
  assert.ok(!Array.isArray(many));
  assert.match(many.error.message, /; 15 more$/);
});

test("kind, origin and description come from the extractor; unknown kinds fail at registration", () => {
  const w = siemWebhook("elastic-security");
  assert.equal(w.kind, "elastic-security");
  assert.equal(w.origin, "elastic-security");
  assert.throws(() => siemWebhook("nope"), /unknown SIEM kind/);
});
