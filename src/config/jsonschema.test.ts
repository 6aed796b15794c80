import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { repoRoot } from "../../test/support/shared.ts";
import { REGISTRIES } from "../daemon/plugins.ts";
import { ruleJsonSchema } from "../detect/jsonschema.ts";
import { configJsonSchema } from "./jsonschema.ts";
import { loadConfigFile } from "./load.ts";

test("the committed JSON Schemas are up to date (npm run schema regenerates them)", () => {
  const config = JSON.parse(readFileSync(join(repoRoot, "schema", "config.schema.json"), "utf8")) as unknown;
  assert.deepEqual(config, JSON.parse(JSON.stringify(configJsonSchema(REGISTRIES))));
  const rule = JSON.parse(readFileSync(join(repoRoot, "schema", "rule.schema.json"), "utf8")) as unknown;
  assert.deepEqual(rule, JSON.parse(JSON.stringify(ruleJsonSchema())));
});

test("the config schema describes every source and responder type and rejects unknown keys", () => {
  const s = configJsonSchema(REGISTRIES) as {
    additionalProperties?: boolean;
    properties: Record<string, { items?: { oneOf?: { properties: { type: { const?: string } } }[] } }>;
  };
  assert.equal(s.additionalProperties, false);
  const types = (k: string) => s.properties[k]!.items!.oneOf!.map((o) => o.properties.type.const).sort();
  assert.deepEqual(types("sources"), Object.keys(REGISTRIES.sources).sort());
  assert.deepEqual(types("responders"), Object.keys(REGISTRIES.responders).sort());
});

test("the shipped example configuration is valid", () => {
  const c = loadConfigFile(join(repoRoot, "deploy", "portcullis.yaml"), REGISTRIES);
  assert.ok(c.sources.length > 0);
});
