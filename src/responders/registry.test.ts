import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { ManualClock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { silentLogger } from "../core/logger.ts";
import type { PluginContext } from "../core/plugin.ts";
import { RESPONDERS, createResponder, responderByType } from "./registry.ts";

const here = dirname(fileURLToPath(import.meta.url));
const ctx: PluginContext = {
  clock: new ManualClock(0),
  logger: silentLogger,
  dataDir: "/nonexistent",
  exec: { run: () => Promise.reject(new Error("no commands in this test")) },
};

test("every responder folder is in the registry, which is sorted and keyed by type", () => {
  const folders = readdirSync(here)
    .filter((f) => statSync(join(here, f)).isDirectory())
    .sort();
  const keys = Object.keys(RESPONDERS);
  assert.deepEqual(keys, folders);
  assert.deepEqual(keys, [...keys].sort());
  for (const [type, def] of Object.entries(RESPONDERS)) {
    assert.equal(def.type, type);
    assert.ok(def.description.length > 20, `${type}: description`);
  }
});

test("every schema is strict and every field is described (the JSON Schema docs come from it)", () => {
  for (const [type, def] of Object.entries(RESPONDERS)) {
    const json = z.toJSONSchema(def.schema, { io: "input" }) as {
      additionalProperties?: boolean;
      properties: Record<string, { description?: string }>;
    };
    assert.equal(json.additionalProperties, false, `${type}: unknown keys must be rejected`);
    for (const [key, prop] of Object.entries(json.properties)) {
      if (key === "type") continue;
      assert.ok(prop.description, `${type}.${key} has no description`);
    }
  }
});

test("createResponder: unknown type, invalid config with paths, and a valid config", () => {
  assert.throws(() => responderByType("iptabels"), /unknown responder type "iptabels"/);
  assert.throws(
    () => createResponder({ type: "pf" }, ctx),
    (e: unknown) => e instanceof PortcullisError && e.code === "UNKNOWN_PLUGIN",
  );
  try {
    createResponder({ type: "nftables", hooks: ["input", "output"], tabel: "x" }, ctx, "responders[1]");
    assert.fail("expected an error");
  } catch (e) {
    assert.ok(e instanceof PortcullisError && e.code === "CONFIG_INVALID");
    assert.deepEqual(e.issues.map((i) => i.path).sort(), ["responders[1]", "responders[1].hooks[1]"]);
  }
  const r = createResponder({ type: "ufw", name: "edge-ufw" }, ctx);
  assert.equal(r.name, "edge-ufw");
  assert.equal(r.type, "ufw");
  assert.equal(r.nativeExpiry, false);
});
