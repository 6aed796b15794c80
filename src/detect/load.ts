/**
 * Loads rule files (YAML; several rules per file separated by `---`, or a top-level list), validates them
 * against the schema and compiles them. All problems of all files are collected and reported together, each
 * with its file:line and path (`rules/ssh.yaml:7 threshold: expected a number`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { isSeq } from "yaml";
import { formatPath, keyLineOf, lineOf, parseYamlDocs, plainValue, type LocatedDoc } from "../core/yaml.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { compileRule, type CompiledRule } from "./rule.ts";
import { compileKql } from "../kql/index.ts";
import { ruleSchema } from "./schema.ts";

/** Parses rule text; returns compiled rules and the issues found (file:line in each issue's path). */
export function parseRules(text: string, file: string): { rules: CompiledRule[]; issues: Issue[] } {
  const { docs, errors } = parseYamlDocs(text);
  const rules: CompiledRule[] = [];
  const issues: Issue[] = errors.map((e) => ({ path: `${file}:${e.line}`, message: `YAML: ${e.message}` }));
  for (const located of docs) {
    const { doc } = located;
    if (doc.errors.length) continue;
    let value: unknown;
    try {
      value = plainValue(located, file);
    } catch (e) {
      issues.push({ path: `${file}:1`, message: (e as Error).message });
      continue;
    }
    if (value === null || value === undefined) continue;
    const r = checkRules(located, value, isSeq(doc.contents) ? [] : undefined, file);
    rules.push(...r.rules);
    issues.push(...r.issues);
  }
  return { rules, issues };
}

/**
 * Validates and compiles the rule(s) at `base` in a parsed document: `value` is the plain value there, a list
 * of rules when `base` is given (its items are at `[...base, i]`), else one rule at the document's root. Shared
 * with rule test cases, whose inline rules are reported at their own lines in the case file.
 */
export function checkRules(
  located: LocatedDoc,
  value: unknown,
  base: (string | number)[] | undefined,
  file: string,
): { rules: CompiledRule[]; issues: Issue[] } {
  const rules: CompiledRule[] = [];
  const issues: Issue[] = [];
  const items: { value: unknown; base: (string | number)[] }[] =
    base && Array.isArray(value)
      ? (value as unknown[]).map((v, i) => ({ value: v, base: [...base, i] }))
      : [{ value, base: base ?? [] }];
  for (const { value: item, base } of items) {
    if (item === null || typeof item !== "object" || Array.isArray(item)) {
      issues.push({
        path: `${file}:${lineOf(located, base)}${base.length ? ` ${formatPath(base)}` : ""}`,
        message: `a rule is a mapping (id: ..., type: ..., query: ...), not ${describe(item)}`,
      });
      continue;
    }
    const id = typeof (item as { id?: unknown }).id === "string" ? `${(item as { id: string }).id} ` : "";
    // KQL problems are reported even when other fields are wrong too: every problem at once.
    const kql = kqlIssues(item);
    for (const k of kql) {
      issues.push({
        path: `${file}:${keyLineOf(located, [...base, ...k.path])} ${id}${formatPath(k.path)}`,
        message: k.message,
      });
    }
    const res = ruleSchema.safeParse(item);
    if (!res.success) {
      for (const iss of res.error.issues) {
        const p = [...base, ...(iss.path as (string | number)[])];
        if (iss.code === "unrecognized_keys") {
          // One issue per unknown key, at the key's own line.
          for (const k of iss.keys) {
            issues.push({
              path: `${file}:${keyLineOf(located, [...p, k])} ${formatPath([...iss.path, k])}`,
              message: "unknown key (not in the rule schema)",
            });
          }
          continue;
        }
        const where = formatPath(iss.path);
        issues.push({
          path: `${file}:${keyLineOf(located, p)}${where ? ` ${where}` : ""}`,
          message: missing(item, iss) ?? iss.message,
        });
      }
      continue;
    }
    if (kql.length) continue;
    rules.push(compileRule(res.data, `${file}:${lineOf(located, base)}`));
  }
  return { rules, issues };
}

/** "missing key" rather than zod's "expected string, received undefined" when the key is absent. */
function missing(
  item: object,
  iss: { code: string; path: PropertyKey[]; expected?: unknown },
): string | undefined {
  if (iss.code !== "invalid_type" || iss.path.length === 0) return undefined;
  let v: unknown = item;
  for (const k of iss.path)
    v = v !== null && typeof v === "object" ? (v as Record<PropertyKey, unknown>)[k] : undefined;
  const type = typeof iss.expected === "string" ? `: ${iss.expected}` : "";
  return v === undefined ? `missing (required${type})` : undefined;
}

function describe(v: unknown): string {
  if (Array.isArray(v)) return "a list";
  if (v === null) return "null";
  return `a ${typeof v} (${JSON.stringify(v)?.slice(0, 40)})`;
}

/** The KQL conditions of a (not yet validated) rule that do not compile, with their paths and messages. */
function kqlIssues(item: object): { path: (string | number)[]; message: string }[] {
  const r = item as Record<string, unknown>;
  const at = (o: unknown, k: string) =>
    o !== null && typeof o === "object" && !Array.isArray(o) ? (o as Record<string, unknown>)[k] : undefined;
  const candidates: [(string | number)[], unknown][] = [
    [["query"], r.query],
    [["first", "query"], at(r.first, "query")],
    [["then", "query"], at(r.then, "query")],
  ];
  if (Array.isArray(r.severity_by))
    r.severity_by.forEach((s, i) => candidates.push([["severity_by", i, "query"], at(s, "query")]));
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const [path, text] of candidates) {
    // Not a string, or empty: the schema says so.
    if (typeof text !== "string" || !text.trim()) continue;
    try {
      compileKql(text);
    } catch (e) {
      if (!(e instanceof PortcullisError)) throw e;
      out.push({ path, message: e.message });
    }
  }
  return out;
}

function ruleFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f));
}

/** Why a file cannot be read, in words (Node's messages repeat the path and lead with the errno name). */
export function readFailure(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  switch (code) {
    case "ENOENT":
      return "no such file or directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EISDIR":
      return "is a directory, not a rule file";
    case "ENOTDIR":
      return "a part of the path is not a directory";
    default:
      return (e as Error).message;
  }
}

/**
 * Loads rules from files and/or directories (a directory's `*.yaml` and `*.yml` files, not its
 * subdirectories); throws one RULE_INVALID error listing every problem, or INPUT_UNREADABLE naming the path
 * that cannot be read. A file named twice (directly, or also through its directory) is read once.
 */
export function loadRules(paths: readonly string[]): CompiledRule[] {
  const rules: CompiledRule[] = [];
  const issues: Issue[] = [];
  const read = new Set<string>();
  for (const p of paths) {
    let files: string[];
    try {
      files = ruleFiles(p);
    } catch (e) {
      throw new PortcullisError("INPUT_UNREADABLE", `cannot read rules from ${p}: ${readFailure(e)}`, {
        cause: e,
      });
    }
    for (const f of files) {
      const key = resolve(f);
      if (read.has(key)) continue;
      read.add(key);
      let text: string;
      try {
        text = readFileSync(f, "utf8");
      } catch (e) {
        throw new PortcullisError("INPUT_UNREADABLE", `cannot read rule file ${f}: ${readFailure(e)}`, {
          cause: e,
        });
      }
      const r = parseRules(text, f);
      rules.push(...r.rules);
      issues.push(...r.issues);
    }
  }
  const seen = new Map<string, string>();
  for (const r of rules) {
    const prev = seen.get(r.id);
    if (prev)
      issues.push({ path: r.origin, message: `duplicate rule id "${r.id}" (first defined at ${prev})` });
    else seen.set(r.id, r.origin);
  }
  if (issues.length) {
    throw new PortcullisError(
      "RULE_INVALID",
      `invalid rules (${issues.length} problem${issues.length > 1 ? "s" : ""}):`,
      {
        issues,
      },
    );
  }
  return rules;
}
