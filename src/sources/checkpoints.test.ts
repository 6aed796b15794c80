import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { MemoryCheckpointStore } from "./checkpoints.ts";
import { JsonFileCheckpointStore } from "./checkpoints-file.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-ckpt-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("memory store: get/set, initial entries", async () => {
  const s = new MemoryCheckpointStore({ a: "1" });
  assert.equal(await s.get("a"), "1");
  assert.equal(await s.get("b"), undefined);
  await s.set("b", "2");
  assert.deepEqual(s.entries(), { a: "1", b: "2" });
  assert.equal(s.writes, 1);
});

test("JSON file store: survives a new instance; concurrent sets coalesce, the last value wins", async () => {
  const path = join(root, "checkpoints.json");
  const s = new JsonFileCheckpointStore(path);
  assert.equal(await s.get("x"), undefined);
  await Promise.all(Array.from({ length: 50 }, (_, i) => s.set(`k${i % 5}`, String(i))));
  await s.set("file:auth:/var/log/auth.log", '{"v":1,"files":[]}');
  const t = new JsonFileCheckpointStore(path);
  for (let k = 0; k < 5; k++) assert.equal(await t.get(`k${k}`), String(45 + k));
  assert.equal(await t.get("file:auth:/var/log/auth.log"), '{"v":1,"files":[]}');
  assert.deepEqual(Object.keys(JSON.parse(readFileSync(path, "utf8")) as object).length, 6);
});

test("JSON file store: a corrupt file is a clear error, not a silent reset", async () => {
  const path = join(root, "corrupt.json");
  writeFileSync(path, "{not json");
  await assert.rejects(new JsonFileCheckpointStore(path).get("a"), /is not a JSON object of strings/);
});
