import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { EXTRACTORS, PULLS, extractorByKind } from "./registry.ts";
import { extractConfigSchema } from "./types.ts";

const here = dirname(fileURLToPath(import.meta.url));

test("every extractor folder is in the registry, under its own kind, and the registry is sorted", () => {
  const folders = readdirSync(here)
    .filter((f) => statSync(join(here, f)).isDirectory())
    .sort();
  const kinds = Object.keys(EXTRACTORS);
  const pulls = Object.keys(PULLS);
  assert.deepEqual([...kinds, ...pulls.map((t) => `${t}-pull`)].sort(), folders);
  assert.deepEqual(kinds, [...kinds].sort());
  assert.deepEqual(pulls, [...pulls].sort());
  for (const [t, d] of Object.entries(PULLS)) assert.equal(d.type, t);
  for (const [k, d] of Object.entries(EXTRACTORS)) {
    assert.equal(d.kind, k);
    assert.ok(d.description.length > 10, k);
  }
});

test("an unknown kind is a clear error", () => {
  assert.throws(() => extractorByKind("nope"), /unknown SIEM kind "nope" \(known: elastalert, /);
  assert.throws(() => extractorByKind("constructor"), /unknown SIEM kind/);
  assert.equal(extractorByKind("splunk").kind, "splunk");
});

test("the webhook config part is strict", () => {
  assert.ok(extractConfigSchema.safeParse({ ip_fields: ["src", "result.client"] }).success);
  assert.ok(!extractConfigSchema.safeParse({ ip_fields: [] }).success);
  assert.ok(!extractConfigSchema.safeParse({ ip_fields: ["a..b"] }).success);
  assert.ok(!extractConfigSchema.safeParse({ ipfields: ["src"] }).success);
  assert.ok(!extractConfigSchema.safeParse({ max_alerts: 0 }).success);
});
