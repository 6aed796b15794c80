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

test("the config schema takes the file source's `path` shorthand (the README's form) as well as `paths`", () => {
  const s = configJsonSchema(REGISTRIES) as {
    properties: { sources: { items: { oneOf: Record<string, unknown>[] } } };
  };
  const file = s.properties.sources.items.oneOf.find(
    (o) => (o.properties as { type: { const: string } }).type.const === "file",
  ) as { properties: Record<string, unknown>; required: string[]; oneOf: { required: string[] }[] };
  assert.ok(file.properties.path && file.properties.paths);
  assert.deepEqual(file.required, ["type"]);
  assert.deepEqual(
    file.oneOf.map((o) => o.required),
    [["paths"], ["path"]],
  );
});

test("every key of the config schema's top level and sections has a description", () => {
  const missing: string[] = [];
  const walk = (node: Record<string, unknown>, path: string) => {
    for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, Record<string, unknown>>)) {
      const p = path ? `${path}.${k}` : k;
      if (typeof v.description !== "string") missing.push(p);
      if (p !== "api" && p !== "sources" && p !== "responders") walk(v, p);
    }
  };
  walk(configJsonSchema(REGISTRIES), "");
  assert.deepEqual(missing, []);
});

test("plugin types are described", () => {
  const s = configJsonSchema(REGISTRIES) as {
    properties: Record<string, { items: { oneOf: { properties: { type: { description?: string } } }[] } }>;
  };
  for (const k of ["sources", "responders"])
    for (const o of s.properties[k]!.items.oneOf)
      assert.equal(typeof o.properties.type.description, "string");
});
