/**
 * KQL syntax tree -> Elasticsearch Query DSL, for sending a rule's condition to a cluster.
 *
 * Shapes follow Kibana's own translation where it has one (`and` -> bool.filter, `or` -> bool.should with
 * minimum_should_match 1, `not` -> bool.must_not, quoted -> match_phrase, unquoted -> match, free text ->
 * multi_match / query_string, `field: *` -> exists, dates -> range with gte = lte), with these choices since we
 * have no index pattern to consult:
 * - wildcard values on keyword fields -> `wildcard`; on text fields and free text -> `query_string`;
 * - free text searches {@link EsQueryOptions.defaultFields} (default `message`, as compileKql does);
 * - unquoted values on text fields -> `match` with operator `and` (every word, as compileKql does);
 * - a CIDR on an IP field -> `term`;
 * - wildcard field names -> `query_string` over `fields: ["user.*"]`, `exists` for `user.*: *`.
 */
import type { KqlField, KqlNode, KqlValue, RangeOp } from "./ast.ts";
import { fieldKinds } from "./kinds.ts";
import type { FieldKinds, KqlCompileOptions } from "./kinds.ts";
import { canonicalAddress, parseNumber } from "./values.ts";

export type EsQuery = Record<string, unknown>;

export interface EsQueryOptions extends KqlCompileOptions {
  /** The bool clause for `and`: `filter` (Kibana's default: no scoring, cacheable) or `must`. */
  andClause?: "filter" | "must";
  /** Fields free text searches; default `["message"]`; `[]` leaves it to the index's default fields. */
  defaultFields?: readonly string[];
}

export function toElasticsearchQuery(ast: KqlNode, options: EsQueryOptions = {}): EsQuery {
  const ctx: Ctx = {
    kinds: fieldKinds(options),
    and: options.andClause ?? "filter",
    defaultFields: options.defaultFields ?? ["message"],
  };
  return convert(ast, ctx, "");
}

interface Ctx {
  kinds: FieldKinds;
  and: "filter" | "must";
  defaultFields: readonly string[];
}

function convert(node: KqlNode, ctx: Ctx, prefix: string): EsQuery {
  switch (node.type) {
    case "all":
      return { match_all: {} };
    case "and":
      return { bool: { [ctx.and]: node.nodes.map((n) => convert(n, ctx, prefix)) } };
    case "or":
      return { bool: { should: node.nodes.map((n) => convert(n, ctx, prefix)), minimum_should_match: 1 } };
    case "not":
      return { bool: { must_not: convert(node.node, ctx, prefix) } };
    case "exists":
      return { exists: { field: prefix + node.field.name } };
    case "range":
      return range(node.field, node.op, node.value, ctx, prefix);
    case "nested":
      return {
        nested: {
          path: prefix + node.path,
          query: convert(node.node, ctx, `${prefix}${node.path}.`),
          score_mode: "none",
        },
      };
    case "match":
      if (!node.field) return freeText(node.value, ctx);
      return match(node.field, node.value, ctx, prefix);
  }
}

function valueText(v: KqlValue): string {
  switch (v.kind) {
    case "text":
      return v.text;
    case "boolean":
      return String(v.value);
    case "null":
      return "null";
    case "wildcard":
      return v.parts.join("*");
  }
}

function withFields(fields: readonly string[]): { fields?: string[] } {
  return fields.length ? { fields: [...fields] } : {};
}

function freeText(v: KqlValue, ctx: Ctx): EsQuery {
  const fields = withFields(ctx.defaultFields);
  if (v.kind === "wildcard") return { query_string: { query: wildcardQueryString(v.parts), ...fields } };
  const phrase = v.kind === "text" && v.quoted;
  return {
    multi_match: {
      type: phrase ? "phrase" : "best_fields",
      query: valueText(v),
      lenient: true,
      ...(phrase ? {} : { operator: "and" }),
      ...fields,
    },
  };
}

function match(field: KqlField, v: KqlValue, ctx: Ctx, prefix: string): EsQuery {
  const name = prefix + field.name;
  if (field.wildcard) {
    const query =
      v.kind === "wildcard"
        ? wildcardQueryString(v.parts)
        : v.kind === "text" && v.quoted
          ? `"${v.text.replace(/[\\"]/g, "\\$&")}"`
          : escapeQueryString(valueText(v));
    return { query_string: { fields: [name], query, lenient: true } };
  }
  if (ctx.kinds.isText(name)) {
    if (v.kind === "wildcard")
      return { query_string: { fields: [name], query: wildcardQueryString(v.parts) } };
    if (v.kind === "text" && v.quoted) return { match_phrase: { [name]: v.text } };
    return { match: { [name]: { query: valueText(v), operator: "and" } } };
  }
  switch (v.kind) {
    case "wildcard":
      return { wildcard: { [name]: { value: v.parts.map(escapeWildcard).join("*") } } };
    case "boolean":
      return { match: { [name]: v.value } };
    case "null":
      return { match: { [name]: "null" } };
    case "text":
      break;
  }
  if (ctx.kinds.isIp(name) && v.text.includes("/")) return { term: { [name]: v.text.trim() } };
  if (ctx.kinds.isIp(name)) {
    const ip = canonicalAddress(v.text);
    if (ip) return { match: { [name]: ip } };
  }
  if (ctx.kinds.isDate(name)) {
    return { range: { [name]: { gte: v.text, lte: v.text, format: DATE_FORMAT } } };
  }
  return v.quoted ? { match_phrase: { [name]: v.text } } : { match: { [name]: v.text } };
}

const DATE_FORMAT = "strict_date_optional_time||epoch_millis";
const RANGE_TEXT = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

function range(field: KqlField, op: RangeOp, value: string, ctx: Ctx, prefix: string): EsQuery {
  const name = prefix + field.name;
  if (field.wildcard) {
    return {
      query_string: { fields: [name], query: `${RANGE_TEXT[op]}${escapeQueryString(value)}`, lenient: true },
    };
  }
  if (ctx.kinds.isDate(name)) return { range: { [name]: { [op]: value, format: DATE_FORMAT } } };
  const n = parseNumber(value);
  return { range: { [name]: { [op]: n ?? value } } };
}

/** Escapes the query_string syntax characters (and whitespace), as Kibana does. */
export function escapeQueryString(s: string): string {
  return s.replace(/[+\-=&|><!(){}[\]^"~*?:\\/]/g, "\\$&").replace(/\s/g, (c) => `\\${c}`);
}

/** A `*` pattern for query_string: literal pieces escaped, `*` between them. */
function wildcardQueryString(parts: readonly string[]): string {
  return parts.map(escapeQueryString).join("*");
}

/** Escapes a literal piece of a `wildcard` query value (`*`, `?` and `\` are special there). */
function escapeWildcard(s: string): string {
  return s.replace(/[\\*?]/g, "\\$&");
}
