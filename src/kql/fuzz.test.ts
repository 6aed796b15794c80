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
import { assertLinearWork } from "../../test/support/parser-harness.ts";

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
    let pred;
    try {
      pred = compileAst(ast, {}, q);
    } catch (e) {
      // a date field given something other than a date (`@timestamp: a`)
      assert.ok(
        e instanceof KqlSyntaxError && /Expected a date/.test(e.message),
        `${JSON.stringify(q)}: ${String(e)}`,
      );
      continue;
    }
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
  // Each query is built from n, its length (98,000 characters at full size). Counted is what the lexer does with
  // searches, character codes and regexes: each character that may start an address or a date (`:`, digits,
  // a-f) is tried by two regexes on a window of 50 characters (about 100 characters examined per character of
  // `a:a:...`, linear all the same). The scaling check on n/2 and n guards against a scan repeated over the rest of the query.
  // Not counted: the lexer reads characters as `q[i]`, so the parts of a long literal (`b*b*...`) are checked by
  // the parse itself (49,000 wildcard parts), not by the count.
  const parse = (q: string) => {
    try {
      return parseKql(q);
    } catch (e) {
      assert.ok(e instanceof KqlSyntaxError);
      return { error: e.column };
    }
  };
  const N = 98_000;
  const cases: [(n: number) => string, (r: ReturnType<typeof parse>) => void][] = [
    [(n) => "a:".repeat(n / 2), (r) => assert.deepEqual(r, { error: 4 })],
    [(n) => "1:".repeat(n / 2), (r) => assert.deepEqual(r, { error: 4 })],
    [
      (n) => `${"a ".repeat(n / 2)}b`,
      (r) =>
        assert.deepEqual(r, {
          type: "match",
          field: null,
          value: { kind: "text", text: `${"a ".repeat(N / 2)}b`, quoted: false },
        }),
    ],
    [
      (n) => `x: ${"b*".repeat(n / 2)}`,
      (r) =>
        assert.deepEqual(r, {
          type: "match",
          field: { name: "x" },
          value: { kind: "wildcard", parts: [...Array<string>(N / 2).fill("b"), ""] },
        }),
    ],
  ];
  for (const [make, check] of cases) check(assertLinearWork(make, parse, { n: N, perChar: 150 }));
});

test("pathological values stay linear (no regex backtracking)", () => {
  // The value is n letters (100,000 at full size). Wildcards are matched with startsWith/endsWith/indexOf, never
  // a regex (values.ts): a matcher that backtracked over the value with searches would fail the scaling check on
  // n/2 and n. Words and phrases of text fields are regexes made of literal words joined by one character class
  // (text.ts), linear by construction; each call is counted once over the value, but what the engine does inside
  // a call is not counted, so for them what is checked is the answer on the 100 KB value.
  const queries = [
    `x: ${"*a".repeat(50)}*b`,
    `message: ${"*a".repeat(50)}*b`,
    `message: "${"a ".repeat(200)}b"`,
    `message: ${"a ".repeat(200)}b`,
  ];
  for (const q of queries) {
    const p = compileAst(parseKql(q));
    const matches = assertLinearWork(
      (n) => "a".repeat(n),
      (value) => p({ x: value, message: value }),
      { n: 100_000, perChar: 10, label: q.slice(0, 30) },
    );
    assert.equal(matches, false, q.slice(0, 30));
  }
});
