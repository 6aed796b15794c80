/**
 * Equality conditions every matching event must meet, so that the rule engine can index rules by, say,
 * `event.dataset` and `event.action`, and evaluate only the few rules whose keys an event carries.
 *
 * `requiredEquals(parseKql('event.dataset: sshd and event.action: (a or b) and not user.name: root'))` gives
 * `event.dataset -> {sshd}`, `event.action -> {a, b}`. The answer is a necessary condition, never a sufficient
 * one: an event can only match if, for every entry, some value of the field (read with {@link fieldAccessor};
 * any element of an array) has its {@link equalityKey} in the set. The predicate must still be evaluated.
 *
 * Only conditions that `and` forces are kept: an `or` keeps a field when every branch constrains it (the
 * union of their sets); `not`, ranges, exists, wildcards, text fields (`message`), free text, nested queries
 * and date fields add nothing. An empty set means the query can never match (`a: 1 and a: 2`).
 */
import type { KqlNode } from "./ast.ts";
import { fieldKinds } from "./kinds.ts";
import type { FieldKinds, KqlCompileOptions } from "./kinds.ts";
import { canonicalAddress, parseIsoDate, parseNumber } from "./values.ts";

export type RequiredEquals = Map<string, Set<string>>;

export function requiredEquals(ast: KqlNode, options: KqlCompileOptions = {}): RequiredEquals {
  return required(ast, fieldKinds(options));
}

/**
 * The key an event value is looked up under: strings as themselves, numbers and booleans as `String(v)`,
 * null as `"null"`; undefined for objects and arrays (look up each element).
 */
export function equalityKey(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return v === null ? "null" : undefined;
}

function required(node: KqlNode, kinds: FieldKinds): RequiredEquals {
  switch (node.type) {
    case "and": {
      const out: RequiredEquals = new Map();
      for (const n of node.nodes) {
        for (const [field, set] of required(n, kinds)) {
          // Either conjunct's set is a necessary condition; their intersection is not, since an array field
          // (`tags: x and tags: y` on `tags: [x, y]`) satisfies each with a different element. Keep the smaller.
          const prev = out.get(field);
          if (!prev || set.size < prev.size) out.set(field, set);
        }
      }
      return out;
    }
    case "or": {
      const branches = node.nodes.map((n) => required(n, kinds));
      const out: RequiredEquals = new Map();
      const [first, ...others] = branches;
      if (!first) return out;
      for (const [field, set] of first) {
        if (!others.every((b) => b.has(field))) continue;
        const union = new Set(set);
        for (const b of others) for (const k of b.get(field)!) union.add(k);
        out.set(field, union);
      }
      return out;
    }
    case "match": {
      const out: RequiredEquals = new Map();
      const name = node.field && !node.field.wildcard ? node.field.name : undefined;
      const keys = name === undefined ? undefined : keysOf(node, name, kinds);
      if (name !== undefined && keys) out.set(name, keys);
      return out;
    }
    default:
      return new Map();
  }
}

/** Every event key that can satisfy `field: value` on a keyword field, or undefined if not a finite set. */
function keysOf(node: KqlNode & { type: "match" }, name: string, kinds: FieldKinds): Set<string> | undefined {
  if (kinds.isText(name) || kinds.isDate(name)) return undefined;
  const v = node.value;
  if (v.kind === "wildcard") return undefined;
  if (v.kind === "boolean") return new Set([String(v.value)]);
  if (v.kind === "null") return new Set(["null"]);
  const keys = new Set([v.text]);
  if (kinds.isIp(name)) {
    if (v.text.includes("/")) return undefined;
    const ip = canonicalAddress(v.text);
    if (ip) keys.add(ip);
    return keys;
  }
  const n = parseNumber(v.text);
  if (n !== undefined) keys.add(String(n));
  else {
    const ms = parseIsoDate(v.text);
    if (ms !== undefined) keys.add(String(ms));
  }
  return keys;
}
