/**
 * Prints a syntax tree back as KQL: `parseKql(toKql(ast))` gives the same tree. Used for messages, `explain`,
 * and to store a canonical form of a query. Parentheses are written around every nested `and`/`or`; range
 * values are always quoted; unquoted values escape whatever would be read differently.
 */
import type { KqlField, KqlNode, KqlValue } from "./ast.ts";

const RANGE_TEXT = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

export function toKql(node: KqlNode): string {
  switch (node.type) {
    case "all":
      return "*";
    case "and":
    case "or":
      return node.nodes.map(group).join(` ${node.type} `);
    case "not":
      return `not ${group(node.node)}`;
    case "match":
      return node.field ? `${printField(node.field)}: ${printValue(node.value)}` : printValue(node.value);
    case "exists":
      return `${printField(node.field)}: *`;
    case "range":
      return `${printField(node.field)} ${RANGE_TEXT[node.op]} ${quote(node.value)}`;
    case "nested":
      return `${printField({ name: node.path })}: { ${toKql(node.node)} }`;
  }
}

function group(n: KqlNode): string {
  return n.type === "and" || n.type === "or" ? `(${toKql(n)})` : toKql(n);
}

function printField(f: KqlField): string {
  if (f.wildcard) return f.wildcard.map(escapeUnquoted).join("*");
  const plain = escapeUnquoted(f.name);
  return plain === f.name && plain !== "" && !/\s/.test(plain) ? guardStart(plain) : quote(f.name);
}

function printValue(v: KqlValue): string {
  switch (v.kind) {
    case "boolean":
      return String(v.value);
    case "null":
      return "null";
    case "wildcard":
      return guardStart(v.parts.map(escapeUnquoted).join("*"));
    case "text":
      if (v.quoted || v.text === "") return quote(v.text);
      return guardStart(escapeUnquoted(v.text));
  }
}

/** `"..."` with `\` and `"` escaped, and control characters that the lexer unescapes. */
export function quote(s: string): string {
  return `"${s.replace(/[\\"\t\r\n]/g, (c) => QUOTED_ESCAPES[c] ?? c)}"`;
}

const QUOTED_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  '"': '\\"',
  "\t": "\\t",
  "\r": "\\r",
  "\n": "\\n",
};

const CONTROL_ESCAPES: Record<string, string> = { "\t": "\\t", "\r": "\\r", "\n": "\\n" };
const SPECIAL = /[\\():<>"*{}]/;
const KEYWORD_AHEAD = /^(?:and|or|not)(?:[\s()"]|$)/i;

/**
 * Escapes an unquoted literal: special characters with `\`, tab/CR/LF as `\t` `\r` `\n`; inner spaces stay
 * as they are unless a keyword follows (its first letter is then written as a `\u` escape); whitespace at the
 * edges, which the lexer would drop, is escaped.
 */
function escapeUnquoted(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (SPECIAL.test(c)) out += `\\${c}`;
    else if (CONTROL_ESCAPES[c]) out += CONTROL_ESCAPES[c];
    else if (c === " " || c === "\u00a0") {
      if (i === 0 || i === s.length - 1) out += c === " " ? "\\ " : "\\u00a0";
      else {
        out += c;
        if (KEYWORD_AHEAD.test(s.slice(i + 1, i + 5))) out += unicodeEscape(s[++i]!);
      }
    } else if ((i === 0 || i === s.length - 1) && c.trim() === "") {
      out += unicodeEscape(c); // other Unicode whitespace, which the lexer trims at the edges as Kibana does
    } else out += c;
  }
  return out;
}

function unicodeEscape(c: string): string {
  return `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
}

/** A value that would read as a keyword or as true/false/null starts with a \u escape instead. */
function guardStart(s: string): string {
  if (/^(?:and|or|not)(?![^\s()"])/i.test(s) || /^(?:true|false|null)$/.test(s)) {
    return unicodeEscape(s[0]!) + s.slice(1);
  }
  return s;
}
