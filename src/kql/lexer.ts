/**
 * The KQL lexer: query text -> tokens, escapes resolved.
 *
 * Follows Kibana's grammar (kuery.peg) for what a literal is:
 * - an unquoted literal runs until a special character `\ ( ) : < > " * { }` (`*` is a wildcard, `\` starts an
 *   escape), or until whitespace followed by a keyword; it may contain inner spaces (`message: failed login`
 *   is one value), and leading/trailing unescaped whitespace is not part of it;
 * - escapes in unquoted literals: `\t` `\r` `\n` `\uXXXX`, `\` before a special character, `\and` `\or`
 *   (`\not` is `\n` + `ot`, as in Kibana); we also accept `\` before a space (a literal space);
 * - quoted strings take `\"` `\\` `\t` `\r` `\n` `\uXXXX`; any other backslash is literal;
 * - `and`, `or`, `not` (any case) are keywords where they stand as a separate word: delimited by whitespace,
 *   parentheses, a quote or the end of the query (Kibana demands whitespace on both sides, so we accept a
 *   little more, e.g. `not(a: 1)`); as in Kibana, `and`/`or` are only operators after an operand, so
 *   `user.name: or`, `(and or b)` and the query `and` read them as words;
 * - an unquoted IPv6 address or CIDR (`source.ip: 2001:db8::/32`, `::ffff:10.0.0.1`) or ISO date-time
 *   (`@timestamp >= 2024-01-01T10:00:00Z`) is one literal, colons included, where Kibana needs quotes or `\:`.
 *   Kibana rejects every such text, so no query valid there changes meaning here.
 */
import type { RangeOp } from "./ast.ts";
import { parseCidr } from "../core/ip.ts";
import { KqlSyntaxError, quoteForMessage } from "./errors.ts";

export type TokenType =
  | "lparen"
  | "rparen"
  | "lbrace"
  | "rbrace"
  | "colon"
  | "range"
  | "and"
  | "or"
  | "not"
  | "quoted"
  | "literal"
  | "eof";

export interface Token {
  type: TokenType;
  /** Offsets into the query: [start, end). */
  start: number;
  end: number;
  /**
   * `quoted`: one piece, the unescaped string. `literal`: the unescaped pieces around each unescaped `*`
   * (one piece when there is none). Empty for the other types.
   */
  parts: string[];
  /** `range` only. */
  op?: RangeOp;
}

/** Queries longer than this are refused before lexing. */
export const MAX_QUERY_LENGTH = 100_000;

const SPECIAL = new Set(["\\", "(", ")", ":", "<", ">", '"', "*", "{", "}"]);

export function isSpace(c: string | undefined): boolean {
  return c === " " || c === "\t" || c === "\n" || c === "\r" || c === "\u00a0";
}

/**
 * Whitespace that is not a separator in KQL (Kibana's grammar knows only space, tab, CR, LF and NBSP) but that
 * Kibana still trims from the edges of an unquoted literal, since it calls `String.prototype.trim`: vertical
 * tab, form feed, the Unicode spaces (U+2000..U+200A, U+3000 ideographic space, ...) and the BOM U+FEFF.
 * A query pasted from a word processor or a CJK input method carries them.
 */
function isTrimmedSpace(c: string): boolean {
  const code = c.charCodeAt(0);
  return (code === 0x0b || code === 0x0c || code >= 0x1680) && c.trim() === "";
}

/** A character after which a keyword ends: whitespace, a parenthesis, a quote or the end. */
function isKeywordBoundary(c: string | undefined): boolean {
  return c === undefined || isSpace(c) || c === "(" || c === ")" || c === '"';
}

/** The keyword starting at `i`, if a whole one does. */
function keywordAt(q: string, i: number): "and" | "or" | "not" | undefined {
  const c = q.charCodeAt(i) | 0x20;
  if (c === 0x61 /* a */ || c === 0x6e /* n */) {
    const w = q.slice(i, i + 3).toLowerCase();
    if ((w === "and" || w === "not") && isKeywordBoundary(q[i + 3])) return w;
  } else if (c === 0x6f /* o */) {
    if (q.slice(i, i + 2).toLowerCase() === "or" && isKeywordBoundary(q[i + 2])) return "or";
  }
  return undefined;
}

const HEX4 = /^[0-9a-fA-F]{4}$/;

/** Splits a query into tokens; the last one is always `eof`. Throws {@link KqlSyntaxError} only. */
export function tokenize(q: string): Token[] {
  const tokens: Token[] = [];
  const n = q.length;
  let i = 0;
  const push = (type: TokenType, start: number, end: number, parts: string[] = [], op?: RangeOp) => {
    tokens.push(op ? { type, start, end, parts, op } : { type, start, end, parts });
  };
  while (true) {
    while (i < n && isSpace(q[i])) i++;
    if (i >= n) break;
    const c = q[i]!;
    const withColons = colonLiteralAt(q, i);
    if (withColons) {
      push("literal", i, (i += withColons.length), [withColons]);
      continue;
    }
    switch (c) {
      case "(":
        push("lparen", i, ++i);
        continue;
      case ")":
        push("rparen", i, ++i);
        continue;
      case "{":
        push("lbrace", i, ++i);
        continue;
      case "}":
        push("rbrace", i, ++i);
        continue;
      case ":":
        push("colon", i, ++i);
        continue;
      case "<":
      case ">": {
        const eq = q[i + 1] === "=";
        const op: RangeOp = c === "<" ? (eq ? "lte" : "lt") : eq ? "gte" : "gt";
        push("range", i, (i += eq ? 2 : 1), [], op);
        continue;
      }
      case '"': {
        const start = i;
        const { text, end } = scanQuoted(q, i);
        push("quoted", start, (i = end), [text]);
        continue;
      }
    }
    const kw = keywordAt(q, i);
    const prev = tokens[tokens.length - 1]?.type;
    const afterOperand = prev === "literal" || prev === "quoted" || prev === "rparen" || prev === "rbrace";
    if (kw === "not" || (kw && afterOperand)) {
      push(kw, i, (i += kw.length));
      continue;
    }
    const start = i;
    const { parts, end } = scanLiteral(q, i);
    i = end;
    // Nothing left once trimmed (a BOM, an ideographic space): whitespace between tokens, not an empty value.
    if (parts.length === 1 && parts[0] === "") continue;
    push("literal", start, end, parts);
  }
  push("eof", n, n);
  return tokens;
}

const IPV6_LIKE = /^[0-9A-Fa-f]*:[0-9A-Fa-f.]*:[0-9A-Fa-f:.]*(?:\/\d{1,3})?/;
const ISO_DATE_TIME =
  /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}(?::\d{2}(?:[.,]\d{1,9})?)?(?:[Zz]|[+-]\d{2}(?::?\d{2})?)?/;
/** Longer than any IPv6 CIDR (45 + `/128`) or ISO date-time we accept: the window the patterns look at. */
const COLON_LITERAL_WINDOW = 50;

/**
 * An IPv6 address or CIDR, or an ISO date-time, starting at `i` and ending at a keyword boundary: texts that
 * contain `:` but are plainly one value. Only a short window is examined, so this stays linear overall.
 */
function colonLiteralAt(q: string, i: number): string | undefined {
  const c = q.charCodeAt(i) | 0x20;
  if (c !== 0x3a /* : */ && !(c >= 0x30 && c <= 0x39) && !(c >= 0x61 && c <= 0x66)) return undefined;
  const window = q.slice(i, i + COLON_LITERAL_WINDOW);
  const d = ISO_DATE_TIME.exec(window);
  if (d && isKeywordBoundary(q[i + d[0].length])) return d[0];
  const m = IPV6_LIKE.exec(window);
  if (!m || !isKeywordBoundary(q[i + m[0].length])) return undefined;
  return parseCidr(m[0]) ? m[0] : undefined;
}

/** Scans `"..."` starting at the opening quote; returns the unescaped text and the offset after the closing one. */
function scanQuoted(q: string, open: number): { text: string; end: number } {
  let out = "";
  let i = open + 1;
  let chunk = i;
  while (i < q.length) {
    const c = q[i];
    if (c === '"') return { text: out + q.slice(chunk, i), end: i + 1 };
    if (c !== "\\") {
      i++;
      continue;
    }
    const next = q[i + 1];
    let rep: string | undefined;
    let len = 2;
    if (next === '"' || next === "\\") rep = next;
    else if (next === "t") rep = "\t";
    else if (next === "r") rep = "\r";
    else if (next === "n") rep = "\n";
    else if (next === "u" && HEX4.test(q.slice(i + 2, i + 6))) {
      rep = String.fromCharCode(parseInt(q.slice(i + 2, i + 6), 16));
      len = 6;
    }
    if (rep === undefined) {
      i++; // a lone backslash is literal inside quotes
      continue;
    }
    out += q.slice(chunk, i) + rep;
    i += len;
    chunk = i;
  }
  throw new KqlSyntaxError(q, open, `Expected a closing '"' for the quoted string starting`);
}

/**
 * Scans an unquoted literal starting at `i` (not at whitespace, a special character or a keyword). Returns
 * its pieces around unescaped `*` and the offset where it ends (trailing whitespace excluded). Unescaped
 * whitespace at the edges of the literal is dropped as Kibana's `trim()` drops it (see {@link isTrimmedSpace});
 * escaped whitespace (`\t`, `\ `) is kept.
 */
function scanLiteral(q: string, start: number): { parts: string[]; end: number } {
  const parts: string[] = [];
  let cur = "";
  /** Nothing but unescaped whitespace read so far: more of it is dropped. */
  let leading = true;
  /** How many characters at the end of `cur` are unescaped whitespace: dropped if the literal ends here. */
  let trailing = 0;
  let i = start;
  const n = q.length;
  while (i < n) {
    const c = q[i]!;
    if (isSpace(c)) {
      let j = i + 1;
      while (j < n && isSpace(q[j])) j++;
      const next = q[j];
      if (next === undefined || (SPECIAL.has(next) && next !== "\\" && next !== "*")) break;
      if (keywordAt(q, j)) break;
      if (!leading) {
        cur += q.slice(i, j);
        trailing += j - i;
      }
      i = j;
      continue;
    }
    if (c === "\\") {
      const { text, len } = unescapeUnquoted(q, i);
      cur += text;
      leading = false;
      trailing = 0;
      i += len;
      continue;
    }
    if (c === "*") {
      parts.push(cur);
      cur = "";
      leading = false;
      trailing = 0;
      i++;
      continue;
    }
    if (SPECIAL.has(c)) break;
    i++;
    if (isTrimmedSpace(c)) {
      if (leading) continue;
      trailing++;
    } else {
      leading = false;
      trailing = 0;
    }
    cur += c;
  }
  parts.push(cur.slice(0, cur.length - trailing));
  return { parts, end: i };
}

/** Resolves the escape at `i` (a backslash) in an unquoted literal. */
function unescapeUnquoted(q: string, i: number): { text: string; len: number } {
  const next = q[i + 1];
  if (next === "t") return { text: "\t", len: 2 };
  if (next === "r") return { text: "\r", len: 2 };
  if (next === "n") return { text: "\n", len: 2 };
  if (next === "u") {
    const hex = q.slice(i + 2, i + 6);
    if (HEX4.test(hex)) return { text: String.fromCharCode(parseInt(hex, 16)), len: 6 };
    throw new KqlSyntaxError(q, i, `Expected four hex digits after "\\u"`);
  }
  if (next !== undefined && (SPECIAL.has(next) || isSpace(next))) return { text: next, len: 2 };
  const word = q.slice(i + 1, i + 4).toLowerCase();
  if (word === "and" || word === "not") return { text: q.slice(i + 1, i + 4), len: 4 };
  if (word.startsWith("or")) return { text: q.slice(i + 1, i + 3), len: 3 };
  const found = next === undefined ? "the end of the query" : quoteForMessage(next);
  throw new KqlSyntaxError(
    q,
    i,
    `Expected a special character (\\ ( ) : < > " * { }), a space, t, r, n, uXXXX, "and" or "or" after "\\"`,
    `, found ${found}`,
  );
}
