import assert from "node:assert/strict";
import { test } from "node:test";
import { getField } from "../core/event.ts";
import { fieldAccessor, forEachLeaf, resolvePath } from "./accessor.ts";

const doc = {
  "@timestamp": 1,
  "event.dataset": "system.auth",
  event: { module: "system" },
  system: { "auth.ssh": { event: "Failed" }, auth: { pid: 7 } },
  a: { b: { c: { d: { e: 5 } } } },
  "a.b": { x: 1 },
  threat: [{ technique: { id: "T1" } }, { technique: [{ id: "T2" }, { id: "T3" }] }, "scalar"],
  empty: null,
  zero: 0,
};

test("nested objects, flattened dotted keys at any level, same answers as getField", () => {
  const paths = [
    "@timestamp",
    "event.dataset",
    "event.module",
    "system.auth.ssh.event",
    "system.auth.pid",
    "a.b.c.d.e",
    "a.b.x",
    "empty",
    "zero",
    "missing",
    "event.missing",
    "a.b.c.missing.deeper",
  ];
  for (const p of paths) {
    assert.deepEqual(fieldAccessor(p)(doc), getField(doc, p), p);
    assert.deepEqual(resolvePath(doc, p), getField(doc, p), p);
  }
});

test("arrays of objects are flattened like Elasticsearch does", () => {
  assert.deepEqual(fieldAccessor("threat.technique.id")(doc), ["T1", "T2", "T3"]);
  assert.equal(fieldAccessor("threat.nothing")(doc), undefined);
});

test("only own properties, and no crash on odd inputs", () => {
  for (const p of ["constructor", "toString", "__proto__", "a.constructor", "event.hasOwnProperty"]) {
    assert.equal(fieldAccessor(p)(doc), undefined, p);
  }
  assert.equal(fieldAccessor("length")(["x"]), undefined);
  for (const o of [null, undefined, 1, "str", [], Object.create(null)]) {
    assert.equal(fieldAccessor("a.b")(o), undefined);
  }
});

test("forEachLeaf walks nested and flattened keys, with pruning", () => {
  const seen: string[] = [];
  forEachLeaf(doc, (p) => (seen.push(p), false));
  assert.ok(
    seen.includes("system.auth.ssh.event") && seen.includes("threat.technique.id") && seen.includes("a.b.x"),
  );
  const pruned: string[] = [];
  forEachLeaf(
    doc,
    (p) => (pruned.push(p), false),
    (p) => !("system.".startsWith(p) || p.startsWith("system.")),
  );
  assert.deepEqual(pruned, ["system.auth.ssh.event", "system.auth.pid"]);
});
