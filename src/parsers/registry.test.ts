import assert from "node:assert/strict";
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { PARSERS, parserById } from "./registry.ts";
import { defaultMode } from "./types.ts";

const here = dirname(fileURLToPath(import.meta.url));

test("every parser folder is in the registry, and the registry is sorted", () => {
  const folders = readdirSync(here)
    .filter((f) => statSync(join(here, f)).isDirectory())
    .sort();
  assert.deepEqual(
    PARSERS.map((p) => p.id),
    folders,
  );
  assert.deepEqual(
    PARSERS.map((p) => p.id),
    [...PARSERS.map((p) => p.id)].sort(),
  );
});

test("every parser declares a default mode whose actions it can produce", () => {
  for (const p of PARSERS) {
    const mode = defaultMode(p);
    for (const [name, actions] of Object.entries(p.modes)) {
      for (const a of actions)
        assert.ok(p.actions.includes(a), `${p.id} mode ${name}: undeclared action ${a}`);
    }
    assert.ok(mode.length > 0);
  }
});

test("an unknown parser is a clear error", () => {
  assert.throws(() => parserById("nope"), /unknown parser "nope"/);
});
