import assert from "node:assert/strict";
import { test } from "node:test";
import { isPortcullisError } from "../core/errors.ts";
import { KqlSyntaxError, MAX_DEPTH, MAX_QUERY_LENGTH, parseKql, toKql } from "./index.ts";
import type { KqlNode } from "./index.ts";

const is = (name: string, text: string, quoted = false): KqlNode => ({
  type: "match",
  field: { name },
  value: { kind: "text", text, quoted },
});

test("field: value, quoted and unquoted, typed literals", () => {
  assert.deepEqual(parseKql("user.name: root"), is("user.name", "root"));
  assert.deepEqual(parseKql('user.name:"root"'), is("user.name", "root", true));
  assert.deepEqual(parseKql("message: failed  login "), is("message", "failed  login"));
  assert.deepEqual(parseKql("a: true"), {
    type: "match",
    field: { name: "a" },
    value: { kind: "boolean", value: true },
  });
  assert.deepEqual(parseKql("a: false").type, "match");
  assert.deepEqual(parseKql("a: null"), { type: "match", field: { name: "a" }, value: { kind: "null" } });
  assert.deepEqual(parseKql("a: TRUE"), is("a", "TRUE"));
  assert.deepEqual(parseKql('a: "true"'), is("a", "true", true));
  assert.deepEqual(parseKql("a: adm*"), {
    type: "match",
    field: { name: "a" },
    value: { kind: "wildcard", parts: ["adm", ""] },
  });
  assert.deepEqual(parseKql('a: "adm*"'), is("a", "adm*", true));
  assert.deepEqual(parseKql("a: adm\\*"), is("a", "adm*"));
});

test("precedence: not > and > or; keywords in any case", () => {
  const a = is("a", "1");
  const b = is("b", "2");
  const c = is("c", "3");
  assert.deepEqual(parseKql("a:1 or b:2 and c:3"), {
    type: "or",
    nodes: [a, { type: "and", nodes: [b, c] }],
  });
  assert.deepEqual(parseKql("a:1 AND b:2 Or c:3"), {
    type: "or",
    nodes: [{ type: "and", nodes: [a, b] }, c],
  });
  assert.deepEqual(parseKql("not a:1 and b:2"), { type: "and", nodes: [{ type: "not", node: a }, b] });
  assert.deepEqual(parseKql("NOT (a:1 or b:2)"), { type: "not", node: { type: "or", nodes: [a, b] } });
  assert.deepEqual(parseKql("(a:1 or b:2) and c:3"), {
    type: "and",
    nodes: [{ type: "or", nodes: [a, b] }, c],
  });
  assert.deepEqual(parseKql("a:1 or b:2 or c:3"), { type: "or", nodes: [a, b, c] });
});

test("value lists distribute the field", () => {
  assert.deepEqual(parseKql("a: (x or y and not z)"), {
    type: "or",
    nodes: [is("a", "x"), { type: "and", nodes: [is("a", "y"), { type: "not", node: is("a", "z") }] }],
  });
  assert.deepEqual(parseKql("a: ((x))"), is("a", "x"));
});

test("exists, match-all, wildcard fields, ranges, nested, free text", () => {
  assert.deepEqual(parseKql("a: *"), { type: "exists", field: { name: "a" } });
  for (const q of ["", "   ", "*", "*:*", "**"]) assert.deepEqual(parseKql(q), { type: "all" }, q);
  assert.deepEqual(parseKql("user.*: x").type, "match");
  assert.deepEqual(parseKql("user.*: *"), {
    type: "exists",
    field: { name: "user.*", wildcard: ["user.", ""] },
  });
  assert.deepEqual(parseKql("n >= 5"), { type: "range", field: { name: "n" }, op: "gte", value: "5" });
  assert.deepEqual(parseKql('n<"a b"'), { type: "range", field: { name: "n" }, op: "lt", value: "a b" });
  assert.deepEqual(parseKql("@timestamp > 2024-01-01T10:00:00.5+02:00"), {
    type: "range",
    field: { name: "@timestamp" },
    op: "gt",
    value: "2024-01-01T10:00:00.5+02:00",
  });
  assert.deepEqual(parseKql("items:{ name: x }"), { type: "nested", path: "items", node: is("name", "x") });
  assert.deepEqual(parseKql("failed"), {
    type: "match",
    field: null,
    value: { kind: "text", text: "failed", quoted: false },
  });
  assert.deepEqual(parseKql("source.ip: 2001:db8::/32"), is("source.ip", "2001:db8::/32"));
  assert.deepEqual(parseKql("source.ip: (::1 or fe80::1)").type, "or");
});

test("escapes", () => {
  assert.deepEqual(parseKql('a: \\(\\)\\:\\<\\>\\"\\*\\{\\}\\\\'), is("a", '():<>"*{}\\'));
  assert.deepEqual(parseKql("a: x\\ y\\t\\n\\r\\u00e9"), is("a", "x y\t\n\ré"));
  assert.deepEqual(parseKql("a: \\and \\OR"), is("a", "and OR"));
  assert.deepEqual(parseKql('a: "q\\"\\\\ \\d \\u0041"'), is("a", 'q"\\ \\d A', true));
  assert.deepEqual(parseKql("a: cannot stand"), is("a", "cannot stand"));
  assert.deepEqual(parseKql("android: 1"), is("android", "1"));
  assert.deepEqual(parseKql("and: 1"), is("and", "1"));
  // as in Kibana, and/or are operators only after an operand
  assert.deepEqual(parseKql("a: and"), is("a", "and"));
  assert.deepEqual(parseKql("a: or b"), is("a", "or b"));
  assert.deepEqual(parseKql("a: (and or b)"), { type: "or", nodes: [is("a", "and"), is("a", "b")] });
  assert.deepEqual(parseKql("OR"), {
    type: "match",
    field: null,
    value: { kind: "text", text: "OR", quoted: false },
  });
  assert.deepEqual(parseKql("not and: 1"), { type: "not", node: is("and", "1") });
});

test("Unicode whitespace at the edges of an unquoted literal is trimmed, as Kibana's trim() does", () => {
  // U+3000 (ideographic space), U+2003 (em space), U+FEFF (BOM), VT: not separators, but not part of the value
  assert.deepEqual(parseKql("user.name:\u3000root\u3000"), is("user.name", "root"));
  assert.deepEqual(parseKql("\ufeffuser.name: root"), is("user.name", "root"));
  assert.deepEqual(parseKql("user.name\u2003: root \u3000 and a: 1"), {
    type: "and",
    nodes: [is("user.name", "root"), is("a", "1")],
  });
  assert.deepEqual(parseKql("a: true\u3000"), {
    type: "match",
    field: { name: "a" },
    value: { kind: "boolean", value: true },
  });
  assert.deepEqual(parseKql("a: x\u3000y\v"), is("a", "x\u3000y"));
  assert.deepEqual(parseKql("a: x\u3000*"), {
    type: "match",
    field: { name: "a" },
    value: { kind: "wildcard", parts: ["x\u3000", ""] },
  });
  // only whitespace: nothing at all, as a query of spaces is
  assert.deepEqual(parseKql("\ufeff\u3000"), { type: "all" });
  // escaped, it is kept (and printed escaped, so that it survives a round trip)
  const escaped = parseKql("a: \\u3000x\\u3000");
  assert.deepEqual(escaped, is("a", "\u3000x\u3000"));
  assert.deepEqual(parseKql(toKql(escaped)), escaped);
});

/** The first line of the error message for a query (the excerpt follows). */
function errorOf(q: string): KqlSyntaxError {
  try {
    parseKql(q);
  } catch (e) {
    assert.ok(e instanceof KqlSyntaxError, `${q}: ${String(e)}`);
    assert.ok(isPortcullisError(e));
    assert.equal(e.code, "KQL_SYNTAX");
    return e;
  }
  assert.fail(`expected a syntax error for ${q}`);
}

test("errors say what was expected, at which column, with a caret", () => {
  const e = errorOf("event.dataset:");
  assert.equal(
    e.message,
    'Expected a value after "event.dataset:" at column 15\n  event.dataset:\n                ^',
  );
  assert.equal(e.column, 15);
  const table: [string, string][] = [
    ["event.dataset: ", 'Expected a value after "event.dataset:" at column 16'],
    ["a: b and", 'Expected a query after "and" at column 9'],
    ["a: b or ", 'Expected a query after "or" at column 9'],
    ["not", 'Expected a query after "not" at column 4'],
    ["a: (b or c", 'Expected ")" at column 11 to close the "(" at column 4'],
    ["(a: b", 'Expected ")" at column 6 to close the "(" at column 1'],
    ["(a: b c: d)", 'Expected ")" at column 8 to close the "(" at column 1, found ":"'],
    ["a: b)", 'Expected "and", "or" or the end of the query at column 5, found ")" (no "(" is open)'],
    ["a: b c: d", 'Expected "and", "or" or the end of the query at column 7, found ":"'],
    [
      "a: b not c: d",
      'Expected "and", "or" or the end of the query at column 6, found "not" (combine with "and not" or "or not")',
    ],
    ['a: "open', "Expected a closing '\"' for the quoted string starting at column 4"],
    ["a: \\x", 'after "\\" at column 4, found "x"'],
    ["a: \\u12", 'Expected four hex digits after "\\u" at column 4'],
    ["a: x\\", "found the end of the query"],
    ["a >", 'Expected a value after "a >" at column 4'],
    ["a >= (1)", 'Expected a value after "a >=" at column 6, found "("'],
    ["a > 5*", 'Expected a value without wildcards after "a >" at column 5, found "5*"'],
    [
      "a: not",
      'Expected a value after "a:" at column 4, found "not" (quote it to search for the word: "not")',
    ],
    [": x", 'Expected a query at column 1, found ":"'],
    ["a: 1 and )", 'Expected a query after "and" at column 10, found ")"'],
    ["()", 'Expected a query after "(" at column 2, found ")"'],
    ["a: ()", 'Expected a value after "(" at column 5, found ")"'],
    ["a:{ b: c", 'Expected "}" at column 9 to close the "{" at column 3'],
    ["a*:{ b: c }", "Expected a field name without wildcards before a nested query at column 1"],
    ['"": x', "Expected a non-empty field name at column 1"],
    ["a: b }", 'found "}" (no "{" is open)'],
    ["a:1 and\n  b:", 'Expected a value after "b:" at line 2, column 5'],
  ];
  for (const [q, expected] of table) {
    const msg = errorOf(q).message;
    assert.ok(msg.split("\n")[0]!.includes(expected), `${JSON.stringify(q)} -> ${msg}`);
  }
});

test("the caret points at the column, also in long and multi-line queries", () => {
  const e = errorOf("a:1 and\n  b: (x or");
  assert.deepEqual([e.line, e.column], [2, 11]);
  assert.equal(e.message.split("\n").slice(1).join("\n"), "    b: (x or\n            ^");
  const long = `${"x: 1 and ".repeat(50)}y:`;
  const le = errorOf(long);
  const [, line, caret] = le.message.split("\n");
  assert.equal(le.column, long.length + 1);
  assert.ok(line!.length < 90 && line!.startsWith("  ..."));
  assert.equal(caret!.indexOf("^"), line!.length);
});

test("hostile queries: depth and length are capped with a clear error", () => {
  const ok = `${"(".repeat(MAX_DEPTH)}a: 1${")".repeat(MAX_DEPTH)}`;
  assert.deepEqual(parseKql(ok), is("a", "1"));
  const deep = `${"(".repeat(MAX_DEPTH + 1)}a: 1${")".repeat(MAX_DEPTH + 1)}`;
  assert.match(errorOf(deep).message, /^Query nested more than 100 levels deep .* at column 101/);
  assert.match(errorOf("(".repeat(100_000)).message, /nested more than 100 levels/);
  assert.match(errorOf("not ".repeat(200) + "a: 1").message, /nested more than 100 levels/);
  assert.match(errorOf(`a: ${"(".repeat(500)}`).message, /nested more than 100 levels/);
  assert.match(errorOf("a:{".repeat(500)).message, /nested more than 100 levels/);
  const huge = `a: ${"x".repeat(MAX_QUERY_LENGTH)}`;
  assert.match(
    errorOf(huge).message,
    /^Expected a query of at most 100000 characters at column 100001, got 100003/,
  );
  // long but legal: many clauses, no recursion
  const wide = Array.from({ length: 5000 }, (_, i) => `f${i}: v${i}`).join(" or ");
  assert.equal(parseKql(wide).type, "or");
});

test("toKql prints a query that parses back to the same tree", () => {
  const queries = [
    "a: (x or not y and z) and b > 3 and c: \\and and d: \\(x\\)\\ y*",
    '"f g": "x\\"y" and "k:1": v',
    "not (a: 1 or b: 2) and (c: 3 and d: 4)",
    "items:{ name: x and qty >= 2 } or user.*: *",
    "a: \\ lead and b: trail\\  and c: a \\or b and d: x \\not y and e: \\u006eot",
    'a: "" and b: "\\t\\n\\r" and c: x\\ty',
    "a: true and b: null and c: \\u0074rue and d: *x*y* and *",
    "source.ip: 2001:db8::/32 and @timestamp >= 2024-01-01T00:00:00Z",
  ];
  for (const q of queries) {
    const ast = parseKql(q);
    assert.deepEqual(parseKql(toKql(ast)), ast, `${q} -> ${toKql(ast)}`);
  }
  assert.equal(toKql(parseKql("a:1 or b:2 and not c:3")), "a: 1 or (b: 2 and not c: 3)");
});
