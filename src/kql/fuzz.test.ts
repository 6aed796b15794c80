import assert from "node:assert/strict";
import { test } from "node:test";
import {
  compileAst,
  KqlSyntaxError,
  parseKql,
  requiredEquals,
  toElasticsearchQuery,
  toKql,
} from "./index.ts";
import { mulberry32 } from "../core/random.ts";

const PIECES = [
  " ",
  " ",
  "  ",
  "\t",
  "\n",
  "\u00a0",
  "(",
  ")",
  "{",
  "}",
  ":",
  ": ",
  "<",
  ">",
  "<=",
  ">=",
  '"',
  "\\",
  "*",
  "and",
  " and ",
  " or ",
  "not ",
  "AND",
  "Or",
  "NoT",
  "a",
  "b",
  "user.name",
  "source.ip",
  "10.0.0.0/8",
  "::1",
  "fe80::",
  "2024-01-01T00:00:00Z",
  "401",
  "-1.5e3",
  "true",
  "null",
  "message",
  "x y",
  "é",
  "\u0000",
  "\\u00",
  "\\u0041",
  "\\t",
  "\\:",
  "\\ ",
  "\\and",
  "é*",
  "constructor",
  "__proto__",
  "@timestamp",
  "💥",
];

const EVENTS: object[] = [
  {},
  { a: "a", b: ["b", 1, null], user: { name: "a" }, source: { ip: "10.1.2.3" }, message: "a b x y" },
  { "user.name": "x y", "@timestamp": 0, a: { b: [{ c: 1 }] }, message: null },
  { "source.ip": "::1", "a b": true, constructor: "x" },
];

function randomQuery(next: () => number): string {
  const n = 1 + Math.floor(next() * 12);
  let q = "";
  for (let i = 0; i < n; i++) q += PIECES[Math.floor(next() * PIECES.length)]!;
  return q;
}

function randomBytes(next: () => number): string {
  const n = Math.floor(next() * 30);
  let q = "";
  for (let i = 0; i < n; i++) q += String.fromCharCode(Math.floor(next() * 128));
  return q;
}

test("random queries: a tree or a KQL_SYNTAX error, never anything else; trees survive print/compile/ES", () => {
  const next = mulberry32(20240115);
  let parsed = 0;
  for (let i = 0; i < 8_000; i++) {
    const q = i % 4 === 3 ? randomBytes(next) : randomQuery(next);
    let ast;
    try {
      ast = parseKql(q);
    } catch (e) {
      assert.ok(e instanceof KqlSyntaxError, `${JSON.stringify(q)} threw ${String(e)}`);
      assert.equal(e.code, "KQL_SYNTAX");
      assert.match(e.message, /at (line \d+, )?column \d+/);
      assert.ok(e.column >= 1 && e.offset <= q.length, JSON.stringify(q));
      continue;
    }
    parsed++;
    const printed = toKql(ast);
    assert.deepEqual(parseKql(printed), ast, `${JSON.stringify(q)} printed as ${JSON.stringify(printed)}`);
    const pred = compileAst(ast, {}, q);
    for (const e of EVENTS) assert.equal(typeof pred(e), "boolean");
    assert.equal(typeof JSON.stringify(toElasticsearchQuery(ast)), "string");
    requiredEquals(ast);
  }
  assert.ok(parsed > 400, `only ${parsed} random queries parsed`);
});

test("non-string input is a KQL_SYNTAX error too", () => {
  for (const bad of [undefined, null, 42, {}, ["a: b"]]) {
    assert.throws(() => parseKql(bad as string), KqlSyntaxError);
  }
});

test("pathological queries lex and parse in linear time", () => {
  for (const q of [
    "a:".repeat(49_000),
    "1:".repeat(49_000),
    `${"a ".repeat(49_000)}b`,
    `x: ${"b*".repeat(49_000)}`,
  ]) {
    const t0 = process.hrtime.bigint();
    try {
      parseKql(q);
    } catch (e) {
      assert.ok(e instanceof KqlSyntaxError);
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 2000, `${q.slice(0, 20)}... took ${ms} ms`);
  }
});

test("pathological values stay fast (no regex backtracking)", () => {
  const hostile = "a".repeat(100_000);
  const queries = [
    `x: ${"*a".repeat(50)}*b`,
    `message: ${"*a".repeat(50)}*b`,
    `message: "${"a ".repeat(200)}b"`,
    `message: ${"a ".repeat(200)}b`,
  ];
  for (const q of queries) {
    const p = compileAst(parseKql(q));
    const t0 = process.hrtime.bigint();
    assert.equal(p({ x: hostile, message: hostile }), false);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    assert.ok(ms < 500, `${q.slice(0, 30)}... took ${ms} ms`);
  }
});
