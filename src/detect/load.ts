/**
 * Loads rule files (YAML; several rules per file separated by `---`, or a top-level list), validates them
 * against the schema and compiles them. All problems of all files are collected and reported together, each
 * with its file:line and path (`rules/ssh.yaml:7 threshold: expected a number`).
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { isMap, isSeq, LineCounter, parseAllDocuments, type Document } from "yaml";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { compileRule, type CompiledRule } from "./rule.ts";
import { ruleSchema } from "./schema.ts";

function lineOf(doc: Document, counter: LineCounter, path: (string | number)[]): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    const range = node && typeof node === "object" && "range" in node ? node.range : undefined;
    if (range) return counter.linePos(range[0]).line;
  }
  return 1;
}

function keyLine(doc: Document, counter: LineCounter, path: (string | number)[]): number {
  // Prefer the line of the key itself (for missing/unknown keys the value does not exist).
  const parent = doc.getIn(path.slice(0, -1), true);
  if (isMap(parent)) {
    const last = path[path.length - 1];
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return counter.linePos(range[0]).line;
  }
  return lineOf(doc, counter, path);
}

function formatPath(path: (string | number | symbol)[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

/** Parses rule text; returns compiled rules and the issues found (file:line in each issue's path). */
export function parseRules(text: string, file: string): { rules: CompiledRule[]; issues: Issue[] } {
  const counter = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false });
  const rules: CompiledRule[] = [];
  const issues: Issue[] = [];
  if (!Array.isArray(docs)) {
    issues.push({ path: `${file}:1`, message: "not a YAML document stream" });
    return { rules, issues };
  }
  for (const doc of docs) {
    for (const err of doc.errors) {
      issues.push({
        path: `${file}:${counter.linePos(err.pos[0]).line}`,
        message: `YAML: ${err.message.split("\n")[0]}`,
      });
    }
    if (doc.errors.length) continue;
    const value: unknown = doc.toJS();
    if (value === null || value === undefined) continue;
    const items: { value: unknown; base: (string | number)[] }[] = isSeq(doc.contents)
      ? (value as unknown[]).map((v, i) => ({ value: v, base: [i] }))
      : [{ value, base: [] }];
    for (const { value: item, base } of items) {
      const res = ruleSchema.safeParse(item);
      if (!res.success) {
        for (const iss of res.error.issues) {
          const p = [...base, ...(iss.path as (string | number)[])];
          const line = iss.code === "unrecognized_keys" ? lineOf(doc, counter, p) : keyLine(doc, counter, p);
          const where = formatPath(iss.path);
          const keys = iss.code === "unrecognized_keys" ? `: ${iss.keys.join(", ")}` : "";
          issues.push({
            path: `${file}:${line}${where ? ` ${where}` : ""}`,
            message: `${iss.message}${keys}`,
          });
        }
        continue;
      }
      const line = lineOf(doc, counter, base);
      try {
        rules.push(compileRule(res.data, `${file}:${line}`));
      } catch (e) {
        if (e instanceof PortcullisError) {
          const key = res.data.type === "sequence" ? ["first", "query"] : ["query"];
          issues.push({
            path: `${file}:${keyLine(doc, counter, [...base, ...key])} ${res.data.id}`,
            message: e.message,
          });
        } else throw e;
      }
    }
  }
  return { rules, issues };
}

function ruleFiles(path: string): string[] {
  const st = statSync(path);
  if (!st.isDirectory()) return [path];
  return readdirSync(path)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(path, f));
}

/** Loads rules from files and/or directories; throws one RULE_INVALID error listing every problem. */
export function loadRules(paths: readonly string[]): CompiledRule[] {
  const rules: CompiledRule[] = [];
  const issues: Issue[] = [];
  for (const p of paths) {
    let files: string[];
    try {
      files = ruleFiles(p);
    } catch (e) {
      throw new PortcullisError("INPUT_UNREADABLE", `cannot read rules from ${p}: ${(e as Error).message}`, {
        cause: e,
      });
    }
    for (const f of files) {
      const r = parseRules(readFileSync(f, "utf8"), f);
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
