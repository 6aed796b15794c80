import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { SOURCES, sourceByType } from "./registry.ts";
import { sourceContext } from "./testing.ts";

const here = dirname(fileURLToPath(import.meta.url));

test("every source folder is in the registry, under its type, and the registry is sorted", () => {
  const folders = readdirSync(here)
    .filter((f) => statSync(join(here, f)).isDirectory())
    .sort();
  const keys = Object.keys(SOURCES);
  assert.deepEqual(keys, folders);
  assert.deepEqual(keys, [...keys].sort());
  for (const [key, def] of Object.entries(SOURCES)) assert.equal(def.type, key);
});

test("each schema requires its own type, rejects unknown keys, and create builds without side effects", async () => {
  const minimal: Record<string, Record<string, unknown>> = {
    file: { paths: ["/nonexistent/portcullis/x.log"] },
    journald: {},
    syslog: { udp: ["127.0.0.1:0"], tcp: [] },
  };
  for (const [type, def] of Object.entries(SOURCES)) {
    assert.ok(def.description.length > 10, `${type}: description`);
    const cfg = def.schema.parse({ type, ...minimal[type] });
    assert.equal(
      def.schema.safeParse({ type, ...minimal[type], bogus: 1 }).success,
      false,
      `${type}: strict`,
    );
    assert.equal(def.schema.safeParse({ ...minimal[type], type: "other" }).success, false, `${type}: type`);
    const src = sourceByType(type).create(cfg, sourceContext());
    assert.equal(src.type, type);
    assert.equal(src.name, type, "name defaults to the type");
    assert.deepEqual(Object.keys(src.stats()).slice(0, 5).sort(), [
      "bytes",
      "drops",
      "errors",
      "lines",
      "rotations",
    ]);
    assert.equal(typeof (await src.healthcheck()).detail, "string");
  }
});

test("an unknown source type is a clear error", () => {
  assert.throws(() => sourceByType("kafka"), /unknown source type "kafka" \(known: file, journald, syslog\)/);
  assert.throws(() => sourceByType("toString"), /unknown source type/);
});
