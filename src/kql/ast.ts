/**
 * The typed syntax tree of a KQL query, as {@link parseKql} returns it.
 *
 * Plain data (JSON-serialisable, no positions) so that trees can be compared in tests, cached, stored and
 * printed back ({@link toKql}). Field names inside a `nested` node are relative to its `path`.
 */

/** A field name; `wildcard` holds the literal pieces around each unescaped `*` (`user.*` -> `["user.", ""]`). */
export interface KqlField {
  /** The name as written, escapes removed; wildcard positions shown as `*`. */
  name: string;
  /** Present only when the name has unescaped wildcards. */
  wildcard?: string[];
}

/** A value on the right of `:`. */
export type KqlValue =
  /** A quoted phrase (`"a b"`, exact, `*` literal) or an unquoted literal without wildcards. */
  | { kind: "text"; text: string; quoted: boolean }
  /** An unquoted literal with at least one unescaped `*`: the literal pieces around them (length >= 2). */
  | { kind: "wildcard"; parts: string[] }
  /** Unquoted `true` / `false`. */
  | { kind: "boolean"; value: boolean }
  /** Unquoted `null`. */
  | { kind: "null" };

export type RangeOp = "gt" | "gte" | "lt" | "lte";

export type KqlNode =
  /** Matches every event: the empty query, `*`, `*:*`. */
  | { type: "all" }
  | { type: "and"; nodes: KqlNode[] }
  | { type: "or"; nodes: KqlNode[] }
  | { type: "not"; node: KqlNode }
  /** `field: value`; `field` is null for free text (`"Failed password"`, `wget`). */
  | { type: "match"; field: KqlField | null; value: KqlValue }
  /** `field: *` */
  | { type: "exists"; field: KqlField }
  /** `field > value`; the value is text as written (numbers and dates are recognised when compiled). */
  | { type: "range"; field: KqlField; op: RangeOp; value: string }
  /** `path: { query }`: the inner query must hold for one element (object) of `path`. */
  | { type: "nested"; path: string; node: KqlNode };

export type KqlNodeType = KqlNode["type"];

/** The field that free text (a value without a field) is matched against. */
export const FREE_TEXT_FIELD = "message";

/** Builds a field from its pieces: one piece is a plain name, several are a wildcard pattern. */
export function makeField(parts: string[]): KqlField {
  if (parts.length <= 1) return { name: parts[0] ?? "" };
  return { name: parts.join("*"), wildcard: parts };
}

/** True when every piece of a wildcard pattern is empty (`*`, `**`): it matches anything. */
export function isMatchAnything(parts: readonly string[]): boolean {
  return parts.every((p) => p === "");
}

/** Every field name a query reads, in order of first appearance (nested fields with their full path). */
export function referencedFields(node: KqlNode, prefix = "", out: string[] = []): string[] {
  const add = (name: string) => {
    const full = prefix + name;
    if (!out.includes(full)) out.push(full);
  };
  switch (node.type) {
    case "all":
      break;
    case "and":
    case "or":
      for (const n of node.nodes) referencedFields(n, prefix, out);
      break;
    case "not":
      referencedFields(node.node, prefix, out);
      break;
    case "match":
      add(node.field ? node.field.name : FREE_TEXT_FIELD);
      break;
    case "exists":
    case "range":
      add(node.field.name);
      break;
    case "nested":
      add(node.path);
      referencedFields(node.node, `${prefix}${node.path}.`, out);
      break;
  }
  return out;
}
