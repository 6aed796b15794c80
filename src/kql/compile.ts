/**
 * Compiles a KQL syntax tree once into a predicate evaluated per event (the hot path).
 *
 * Each leaf becomes a closure over a compiled field accessor (accessor.ts) and a value test prepared in
 * advance: exact strings compare with `===` first, numbers are parsed once, wildcards become
 * `startsWith`/`endsWith`/`includes` checks, CIDRs become integer ranges, value lists on one field become a
 * `Set`. `and`/`or` children are ordered cheapest first (evaluation has no side effects, so order is free).
 * Semantics, and where they differ from Elasticsearch: README.md in this folder.
 */
import { fieldAccessor, forEachLeaf } from "./accessor.ts";
import type { Accessor } from "./accessor.ts";
import { FREE_TEXT_FIELD, referencedFields } from "./ast.ts";
import type { KqlField, KqlNode, KqlValue } from "./ast.ts";
import { parseKql } from "./parser.ts";
import { toKql } from "./print.ts";
import { fieldKinds } from "./kinds.ts";
import type { FieldKinds, KqlCompileOptions } from "./kinds.ts";
import { requiredEquals } from "./required.ts";
import type { RequiredEquals } from "./required.ts";
import { anyValue, existsValue, keywordTests, NEVER, rangeTests, textTests } from "./leaves.ts";
import type { Tests } from "./leaves.ts";
import { compileWildcard, parseIsoDate, parseNumber, readLiteral } from "./values.ts";
import { KqlSyntaxError, quoteForMessage } from "./errors.ts";

/** A compiled query: call it with an event. */
export interface KqlPredicate {
  (event: object): boolean;
  /** The fields the query reads (nested fields with their full path; free text reads `message`). */
  readonly fields: readonly string[];
  /** The query text it was compiled from. */
  readonly source: string;
  readonly ast: KqlNode;
  /** Equality conditions every matching event meets (for indexing rules): see {@link requiredEquals}. */
  readonly required: RequiredEquals;
}

/** Parses and compiles a query. Throws a `KQL_SYNTAX` {@link PortcullisError} on a bad query, nothing else. */
export function compileKql(query: string, options: KqlCompileOptions = {}): KqlPredicate {
  return compileAst(parseKql(query), options, query);
}

/**
 * Compiles a syntax tree from {@link parseKql} (or built by hand: it is trusted to be well formed). Throws a
 * {@link KqlSyntaxError} when a date field is given a value that is not a date (`@timestamp > now-15m`).
 */
export function compileAst(ast: KqlNode, options: KqlCompileOptions = {}, source = toKql(ast)): KqlPredicate {
  const kinds = fieldKinds(options);
  checkDateValues(ast, kinds, "", source);
  const m = compileNode(ast, kinds, "");
  const pred = (e: object): boolean => m(e);
  const required = requiredEquals(ast, options);
  return Object.assign(pred, { fields: referencedFields(ast), source, ast, required });
}

/**
 * Values on date fields must read as dates. Elasticsearch rejects anything else there; here Kibana's date math
 * would silently compare as text instead: `@timestamp < now-15m` would hold for every ISO timestamp ("2..." <
 * "n...") and never for epoch ms. So the query is refused when compiled (rules are compiled when loaded),
 * pointing at the value. Wildcard field names are left alone: their fields are only known per event.
 */
function checkDateValues(node: KqlNode, kinds: FieldKinds, prefix: string, source: string): void {
  let field: KqlField | null = null;
  let value: string | undefined;
  switch (node.type) {
    case "and":
    case "or":
      for (const n of node.nodes) checkDateValues(n, kinds, prefix, source);
      return;
    case "not":
      return checkDateValues(node.node, kinds, prefix, source);
    case "nested":
      return checkDateValues(node.node, kinds, `${prefix}${node.path}.`, source);
    case "range":
      ({ field, value } = node);
      break;
    case "match":
      field = node.field;
      if (node.value.kind === "text") value = node.value.text;
      break;
    default:
      return;
  }
  if (!field || field.wildcard || value === undefined) return;
  const name = prefix + field.name;
  if (!kinds.isDate(name) || kinds.isText(name) || readLiteral(value, true).date !== undefined) return;
  const hint = /^now\b/i.test(value.trim()) ? " (date math is not supported: a rule's window does that)" : "";
  throw new KqlSyntaxError(
    source,
    Math.max(0, source.indexOf(value)),
    `Expected a date (ISO 8601 or epoch milliseconds) for "${name}"`,
    `, found ${quoteForMessage(value)}${hint}`,
  );
}

type Matcher = (e: unknown) => boolean;
const TRUE: Matcher = () => true;

function compileNode(node: KqlNode, kinds: FieldKinds, prefix: string): Matcher {
  switch (node.type) {
    case "all":
      return TRUE;
    case "not": {
      const inner = compileNode(node.node, kinds, prefix);
      return (e) => !inner(e);
    }
    case "and":
      return allOf(byCost(node.nodes, kinds, prefix).map((n) => compileNode(n, kinds, prefix)));
    case "or":
      return compileOr(node.nodes, kinds, prefix);
    case "match":
      return compileMatch(node.field, node.value, kinds, prefix);
    case "exists":
      if (node.field.wildcard) return leafMatcher(node.field.wildcard, () => existsValue, prefix);
      return existsMatcher(fieldAccessor(node.field.name));
    case "range": {
      const { field, op, value } = node;
      const tests = (name: string) => rangeTests(op, value, kinds.isDate(name), kinds.isIp(name));
      if (field.wildcard) return leafMatcher(field.wildcard, (p) => anyValue(tests(p)), prefix);
      return fieldMatcher(fieldAccessor(field.name), tests(prefix + field.name));
    }
    case "nested": {
      const get = fieldAccessor(node.path);
      const inner = compileNode(node.node, kinds, `${prefix}${node.path}.`);
      return (e) => {
        const v = get(e);
        if (!Array.isArray(v)) return isRecord(v) && inner(v);
        for (const x of v) if (isRecord(x) && inner(x)) return true;
        return false;
      };
    }
  }
}

// --- boolean structure -------------------------------------------------------------------------------------

function allOf(ms: Matcher[]): Matcher {
  if (ms.length === 1) return ms[0]!;
  if (ms.length === 2) {
    const [a, b] = ms as [Matcher, Matcher];
    return (e) => a(e) && b(e);
  }
  if (ms.length === 3) {
    const [a, b, c] = ms as [Matcher, Matcher, Matcher];
    return (e) => a(e) && b(e) && c(e);
  }
  if (ms.length === 4) {
    const [a, b, c, d] = ms as [Matcher, Matcher, Matcher, Matcher];
    return (e) => a(e) && b(e) && c(e) && d(e);
  }
  return (e) => {
    for (const m of ms) if (!m(e)) return false;
    return true;
  };
}

function anyOf(ms: Matcher[]): Matcher {
  if (ms.length === 1) return ms[0]!;
  if (ms.length === 2) {
    const [a, b] = ms as [Matcher, Matcher];
    return (e) => a(e) || b(e);
  }
  if (ms.length === 3) {
    const [a, b, c] = ms as [Matcher, Matcher, Matcher];
    return (e) => a(e) || b(e) || c(e);
  }
  return (e) => {
    for (const m of ms) if (m(e)) return true;
    return false;
  };
}

/** `or`: plain exact values on the same keyword field (`event.action: (a or b or c)`) become one Set lookup. */
function compileOr(nodes: KqlNode[], kinds: FieldKinds, prefix: string): Matcher {
  const groups = new Map<string, { nodes: KqlNode[]; texts: string[] }>();
  const rest: KqlNode[] = [];
  for (const n of nodes) {
    const key = plainExact(n, kinds, prefix);
    if (!key) {
      rest.push(n);
      continue;
    }
    const g = groups.get(key.field) ?? { nodes: [], texts: [] };
    g.nodes.push(n);
    g.texts.push(key.text);
    groups.set(key.field, g);
  }
  const ms: Matcher[] = [];
  for (const [field, g] of groups) {
    if (g.nodes.length === 1) {
      rest.push(...g.nodes);
      continue;
    }
    const set = new Set(g.texts);
    const str = (s: string) => set.has(s);
    ms.push(fieldMatcher(fieldAccessor(field), { str, num: NEVER, bool: NEVER, nul: false }));
  }
  for (const n of byCost(rest, kinds, prefix)) ms.push(compileNode(n, kinds, prefix));
  return anyOf(ms);
}

/** The field and text of a `match` that is a plain string equality (nothing else can match it). */
function plainExact(
  n: KqlNode,
  kinds: FieldKinds,
  prefix: string,
): { field: string; text: string } | undefined {
  if (n.type !== "match" || !n.field || n.field.wildcard || n.value.kind !== "text") return undefined;
  const full = prefix + n.field.name;
  const text = n.value.text;
  if (kinds.isText(full) || kinds.isIp(full) || kinds.isDate(full)) return undefined;
  if (text === "true" || text === "false" || parseNumber(text) !== undefined) return undefined;
  if (parseIsoDate(text) !== undefined) return undefined;
  return { field: n.field.name, text };
}

/** Orders siblings cheapest first (stable), by a rough estimate of evaluation cost. */
function byCost(nodes: KqlNode[], kinds: FieldKinds, prefix: string): KqlNode[] {
  const cost = (n: KqlNode): number => {
    switch (n.type) {
      case "all":
        return 0;
      case "not":
        return cost(n.node);
      case "and":
      case "or":
        return n.nodes.reduce((s, c) => s + cost(c), 0);
      case "exists":
        return n.field.wildcard ? 50 : 1;
      case "range":
        return n.field.wildcard ? 50 : 2;
      case "nested":
        return 5 + cost(n.node);
      case "match":
        if (!n.field) return 10;
        if (n.field.wildcard) return 50;
        if (kinds.isText(prefix + n.field.name)) return 10;
        return n.value.kind === "wildcard" ? 3 : 1;
    }
  };
  return nodes
    .map((n, i) => ({ n, i, c: cost(n) }))
    .sort((a, b) => a.c - b.c || a.i - b.i)
    .map((x) => x.n);
}

// --- leaves ------------------------------------------------------------------------------------------------

function fieldMatcher(get: Accessor, t: Tests): Matcher {
  const any = anyValue(t);
  const exact = t.exact;
  if (exact !== undefined) {
    return (e) => {
      const v = get(e);
      return v === exact || (typeof v !== "string" && v !== undefined && any(v));
    };
  }
  return (e) => any(get(e));
}

function compileMatch(field: KqlField | null, value: KqlValue, kinds: FieldKinds, prefix: string): Matcher {
  if (!field) return fieldMatcher(fieldAccessor(FREE_TEXT_FIELD), textTests(value));
  const testsFor = (name: string): Tests =>
    kinds.isText(name) ? textTests(value) : keywordTests(value, kinds.isIp(name), kinds.isDate(name));
  if (field.wildcard) {
    // The test depends on the kind of each leaf's field: compile the few variants once, not per leaf path.
    const cache = new Map<string, (v: unknown) => boolean>();
    const variant = (p: string) => {
      const key = `${kinds.isText(p) ? 1 : 0}${kinds.isIp(p) ? 1 : 0}${kinds.isDate(p) ? 1 : 0}`;
      let f = cache.get(key);
      if (!f) cache.set(key, (f = anyValue(testsFor(p))));
      return f;
    };
    return leafMatcher(field.wildcard, variant, prefix);
  }
  return fieldMatcher(fieldAccessor(field.name), testsFor(prefix + field.name));
}

function existsMatcher(get: Accessor): Matcher {
  return (e) => {
    const v = get(e);
    return v !== undefined && v !== null && (!Array.isArray(v) || existsValue(v));
  };
}

/**
 * A wildcard field name (`user.*: root`): walks the event's leaves (nested and flattened keys alike), skipping
 * subtrees that cannot match the pattern's literal prefix, and tests each leaf whose path matches.
 */
function leafMatcher(
  pattern: readonly string[],
  testFor: (fullPath: string) => (v: unknown) => boolean,
  prefix: string,
): Matcher {
  const name = compileWildcard(pattern);
  const head = pattern[0] ?? "";
  const prune = head === "" ? undefined : (p: string) => !(head.startsWith(p) || p.startsWith(head));
  return (e) =>
    forEachLeaf(e, (path, v) => name(path) && v !== undefined && testFor(prefix + path)(v), prune);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
