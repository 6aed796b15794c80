/**
 * A recursive-descent parser for the Kibana Query Language.
 *
 * ```
 * query      := orQuery? EOF                       (empty -> all)
 * orQuery    := andQuery ("or" andQuery)*          precedence: not > and > or
 * andQuery   := notQuery ("and" notQuery)*
 * notQuery   := "not" notQuery | subQuery
 * subQuery   := "(" orQuery ")" | expression
 * expression := literal ":" "{" orQuery "}"        nested: inner fields relative to the path
 *             | literal ":" valueList              field: value, field: (a or b and not c), field: *
 *             | literal rangeOp literal           field >= value
 *             | literal                           free text (matched against `message`)
 * valueList  := "(" orList ")" | value            orList/andList/notList: as above, over values
 * literal    := quoted | unquoted
 * ```
 * Every failure is a {@link KqlSyntaxError} saying what was expected and at which column. Nesting (parentheses,
 * braces, `not`) is capped at {@link MAX_DEPTH} levels and the query length at {@link MAX_QUERY_LENGTH}.
 */
import { isMatchAnything, makeField } from "./ast.ts";
import type { KqlField, KqlNode, KqlValue } from "./ast.ts";
import { KqlSyntaxError, quoteForMessage } from "./errors.ts";
import { MAX_QUERY_LENGTH, tokenize } from "./lexer.ts";
import type { Token, TokenType } from "./lexer.ts";

/** The deepest nesting of parentheses, braces and `not` accepted. */
export const MAX_DEPTH = 100;

const RANGE_TEXT = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

/** Parses a KQL query into its syntax tree. Throws {@link KqlSyntaxError} (code `KQL_SYNTAX`) and nothing else. */
export function parseKql(query: string): KqlNode {
  if (typeof query !== "string") {
    throw new KqlSyntaxError("", 0, "Expected the query to be a string", `, got ${typeof query}`);
  }
  if (query.length > MAX_QUERY_LENGTH) {
    throw new KqlSyntaxError(
      query.slice(0, MAX_QUERY_LENGTH + 1),
      MAX_QUERY_LENGTH,
      `Expected a query of at most ${MAX_QUERY_LENGTH} characters`,
      `, got ${query.length}`,
    );
  }
  return new Parser(query).parse();
}

/** A value list waiting for its field (`field: (a or b)` -> or(field: a, field: b)). */
type ValuePartial = (field: KqlField) => KqlNode;

class Parser {
  private readonly tokens: Token[];
  private pos = 0;
  private depth = 0;
  constructor(private readonly q: string) {
    this.tokens = tokenize(q);
  }

  parse(): KqlNode {
    if (this.peek().type === "eof") return { type: "all" };
    const node = this.orQuery("");
    const t = this.peek();
    if (t.type !== "eof") {
      const hint =
        t.type === "not"
          ? ' (combine with "and not" or "or not")'
          : t.type === "rparen"
            ? ' (no "(" is open)'
            : t.type === "rbrace"
              ? ' (no "{" is open)'
              : "";
      this.fail(t, `Expected "and", "or" or the end of the query`, "", hint);
    }
    return node;
  }

  // --- queries -------------------------------------------------------------------------------------------

  private orQuery(after: string): KqlNode {
    const nodes = [this.andQuery(after)];
    while (this.peek().type === "or") nodes.push(this.andQuery(`"${this.text(this.next())}"`));
    return nodes.length === 1 ? nodes[0]! : { type: "or", nodes };
  }

  private andQuery(after: string): KqlNode {
    const nodes = [this.notQuery(after)];
    while (this.peek().type === "and") nodes.push(this.notQuery(`"${this.text(this.next())}"`));
    return nodes.length === 1 ? nodes[0]! : { type: "and", nodes };
  }

  private notQuery(after: string): KqlNode {
    const t = this.peek();
    if (t.type !== "not") return this.subQuery(after);
    this.next();
    this.enter(t);
    const node = this.notQuery(`"${this.text(t)}"`);
    this.depth--;
    return { type: "not", node };
  }

  private subQuery(after: string): KqlNode {
    const t = this.peek();
    if (t.type === "lparen") {
      this.next();
      this.enter(t);
      const node = this.orQuery('"("');
      this.close(t, "rparen", ")");
      this.depth--;
      return node;
    }
    if (t.type === "quoted" || t.type === "literal") return this.expression();
    return this.fail(t, after ? `Expected a query after ${after}` : "Expected a query");
  }

  private expression(): KqlNode {
    const first = this.next();
    const t = this.peek();
    if (t.type === "colon") {
      this.next();
      const field = this.field(first);
      const v = this.peek();
      if (v.type === "lbrace") return this.nested(first, field, v);
      return this.valueList(`"${this.text(first)}:"`)(field);
    }
    if (t.type === "range") {
      this.next();
      const field = this.field(first);
      const v = this.next();
      const after = `"${this.text(first)} ${RANGE_TEXT[t.op!]}"`;
      if (v.type === "quoted") return { type: "range", field, op: t.op!, value: v.parts[0]! };
      if (v.type !== "literal") return this.fail(v, `Expected a value after ${after}`);
      if (v.parts.length > 1) this.fail(v, `Expected a value without wildcards after ${after}`);
      return { type: "range", field, op: t.op!, value: v.parts[0]! };
    }
    // free text
    const value = this.value(first);
    if (value.kind === "wildcard" && isMatchAnything(value.parts)) return { type: "all" };
    return { type: "match", field: null, value };
  }

  private nested(fieldTok: Token, field: KqlField, brace: Token): KqlNode {
    if (field.wildcard) this.fail(fieldTok, "Expected a field name without wildcards before a nested query");
    this.next();
    this.enter(brace);
    const node = this.orQuery('"{"');
    this.close(brace, "rbrace", "}");
    this.depth--;
    return { type: "nested", path: field.name, node };
  }

  // --- values --------------------------------------------------------------------------------------------

  private valueList(after: string): ValuePartial {
    const t = this.peek();
    if (t.type === "lparen") {
      this.next();
      this.enter(t);
      const partial = this.orList('"("');
      this.close(t, "rparen", ")");
      this.depth--;
      return partial;
    }
    if (t.type === "quoted" || t.type === "literal") {
      this.next();
      return valuePartial(this.value(t));
    }
    const hint =
      t.type === "and" || t.type === "or" || t.type === "not"
        ? ` (quote it to search for the word: "${this.text(t)}")`
        : "";
    return this.fail(t, `Expected a value after ${after}`, "", hint);
  }

  private orList(after: string): ValuePartial {
    const list: ValuePartial[] = [this.andList(after)];
    while (this.peek().type === "or") list.push(this.andList(`"${this.text(this.next())}"`));
    if (list.length === 1) return list[0]!;
    return (f) => ({ type: "or", nodes: list.map((p) => p(f)) });
  }

  private andList(after: string): ValuePartial {
    const list: ValuePartial[] = [this.notList(after)];
    while (this.peek().type === "and") list.push(this.notList(`"${this.text(this.next())}"`));
    if (list.length === 1) return list[0]!;
    return (f) => ({ type: "and", nodes: list.map((p) => p(f)) });
  }

  private notList(after: string): ValuePartial {
    const t = this.peek();
    if (t.type !== "not") return this.valueList(after);
    this.next();
    this.enter(t);
    const inner = this.notList(`"${this.text(t)}"`);
    this.depth--;
    return (f) => ({ type: "not", node: inner(f) });
  }

  /** A token (quoted or unquoted literal) as a value. */
  private value(t: Token): KqlValue {
    if (t.type === "quoted") return { kind: "text", text: t.parts[0]!, quoted: true };
    if (t.parts.length > 1) return { kind: "wildcard", parts: t.parts };
    const raw = this.text(t).trim(); // as written, less the edge whitespace the lexer dropped (`true\u3000`)
    if (raw === "true" || raw === "false") return { kind: "boolean", value: raw === "true" };
    if (raw === "null") return { kind: "null" };
    return { kind: "text", text: t.parts[0]!, quoted: false };
  }

  private field(t: Token): KqlField {
    const field = t.type === "quoted" ? makeField([t.parts[0]!]) : makeField(t.parts);
    if (field.name === "" && !field.wildcard) this.fail(t, "Expected a non-empty field name");
    return field;
  }

  // --- helpers -------------------------------------------------------------------------------------------

  private peek(): Token {
    return this.tokens[this.pos]!;
  }

  private next(): Token {
    const t = this.tokens[this.pos]!;
    if (t.type !== "eof") this.pos++;
    return t;
  }

  private text(t: Token): string {
    return this.q.slice(t.start, t.end);
  }

  private enter(t: Token): void {
    if (++this.depth > MAX_DEPTH) {
      this.fail(t, `Query nested more than ${MAX_DEPTH} levels deep (parentheses, braces, "not")`);
    }
  }

  private close(open: Token, type: TokenType, char: string): void {
    const t = this.peek();
    if (t.type === type) {
      this.next();
      return;
    }
    const col = this.columnOf(open.start);
    this.fail(t, `Expected "${char}"`, ` to close the "${this.text(open)}" at ${col}`);
  }

  private columnOf(offset: number): string {
    const before = this.q.slice(0, offset);
    const nl = before.lastIndexOf("\n");
    return nl < 0 ? `column ${offset + 1}` : `line ${before.split("\n").length}, column ${offset - nl}`;
  }

  /** Throws `<what> at column N<detail>, found "<token>"<hint>`. */
  private fail(t: Token, what: string, detail = "", hint = ""): never {
    const found = t.type === "eof" ? "" : `, found ${quoteForMessage(this.text(t))}`;
    throw new KqlSyntaxError(this.q, t.start, what, `${detail}${found}${hint}`);
  }
}

/** `field: value` for one value: `*` means exists; `*` with field `*` means everything. */
function valuePartial(value: KqlValue): ValuePartial {
  return (field) => {
    if (value.kind === "wildcard" && isMatchAnything(value.parts)) {
      return field.wildcard && isMatchAnything(field.wildcard) ? { type: "all" } : { type: "exists", field };
    }
    return { type: "match", field, value };
  };
}
