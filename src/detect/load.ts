/**
 * Loads rule files (YAML; several rules per file separated by `---`, or a top-level list), validates them
 * against the schema and compiles them. All problems of all files are collected and reported together, each
 * with its file:line and path (`rules/ssh.yaml:7 threshold: expected a number`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { isSeq } from "yaml";
import { formatPath, keyLineOf, lineOf, parseYamlDocs, plainValue } from "../core/yaml.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { compileRule, type CompiledRule } from "./rule.ts";
import { compileKql } from "../kql/index.ts";
import { ruleSchema, type RuleSpec } from "./schema.ts";

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
    const items: { value: unknown; base: (string | number)[] }[] = isSeq(doc.contents)
      ? (value as unknown[]).map((v, i) => ({ value: v, base: [i] }))
      : [{ value, base: [] }];
    for (const { value: item, base } of items) {
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
            message: iss.message,
          });
        }
        continue;
      }
      const line = lineOf(located, base);
      try {
        rules.push(compileRule(res.data, `${file}:${line}`));
      } catch (e) {
        if (e instanceof PortcullisError) {
          const key = failingQuery(res.data);
          issues.push({
            path: `${file}:${keyLineOf(located, [...base, ...key])} ${res.data.id} ${formatPath(key)}`,
            message: e.message,
          });
        } else throw e;
      }
    }
  }
  return { rules, issues };
}

/** The path of the first of a rule's KQL conditions that does not compile (the rule's main one if none). */
function failingQuery(spec: RuleSpec): (string | number)[] {
  const candidates: [(string | number)[], string][] =
    spec.type === "sequence"
      ? [
          [["first", "query"], spec.first.query],
          [["then", "query"], spec.then.query],
        ]
      : [[["query"], spec.query]];
  const tiers = "severity_by" in spec ? spec.severity_by : undefined;
  tiers?.forEach((s, i) => candidates.push([["severity_by", i, "query"], s.query]));
  for (const [path, text] of candidates) {
    try {
      compileKql(text);
    } catch {
      return path;
    }
  }
  return candidates[0]![0];
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
