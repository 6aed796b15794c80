/**
 * `portcullis rules list|validate|test`: inspect, check and test detection rules.
 */
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { formatDuration } from "../../core/duration.ts";
import { builtinRules, BUILTIN_RULES_DIR } from "../../detect/builtin.ts";
import { runCase, type CaseResult } from "../../detect/casefile.ts";
import { isPortcullisError, PortcullisError } from "../../core/errors.ts";
import { loadRules, readFailure } from "../../detect/load.ts";
import type { CompiledRule } from "../../detect/rule.ts";
import type { CliIO } from "../main.ts";
import { printable, printableLines, table } from "../table.ts";

function ruleJson(r: CompiledRule) {
  return {
    id: r.id,
    name: r.name,
    type: r.spec.type,
    enabled: r.spec.enabled,
    response: r.spec.response,
    ...(r.duration !== undefined ? { duration: formatDuration(r.duration) } : {}),
    ...(r.window ? { window: formatDuration(r.window) } : {}),
    ...("threshold" in r.spec ? { threshold: r.spec.threshold } : {}),
    group_by: r.spec.group_by,
    severity: r.spec.severity,
    attack: r.spec.attack,
    description: r.spec.description,
    origin: r.origin,
  };
}

/** Case files under `path` (recursively); a path that cannot be read is an INPUT_UNREADABLE error (exit 66). */
function caseFiles(path: string): string[] {
  let names: string[];
  try {
    if (!statSync(path).isDirectory()) return [path];
    names = readdirSync(path).sort();
  } catch (e) {
    throw new PortcullisError(
      "INPUT_UNREADABLE",
      `cannot read rule test cases from ${path}: ${readFailure(e)}`,
      {
        cause: e,
      },
    );
  }
  return names.flatMap((f) => {
    const p = join(path, f);
    let dir: boolean;
    try {
      dir = statSync(p).isDirectory();
    } catch (e) {
      throw new PortcullisError("INPUT_UNREADABLE", `cannot read ${p}: ${readFailure(e)}`, { cause: e });
    }
    if (dir) return caseFiles(p);
    return /\.ya?ml$/.test(f) ? [p] : [];
  });
}

/** "0 rules" is almost always a wrong path (an empty directory, files named .yml.txt): said on stderr. */
function warnIfNone(io: CliIO, count: number, paths: readonly string[]): void {
  if (count === 0)
    io.stderr.write(
      `portcullis: warning: no rule in ${paths.map(printable).join(" ")} (*.yaml, *.yml files)\n`,
    );
}

export function registerRules(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const rules = program.command("rules").description("list, validate and test detection rules");
  rules
    .command("list")
    .description("list the rules (built-in pack unless --rules is given)")
    .option("-r, --rules <path>", "rule file or directory; repeatable", (v: string, p: string[] = []) => [
      ...p,
      v,
    ])
    .option("--json", "JSON lines, one rule per line")
    .action((opts: { rules?: string[]; json?: boolean }) => {
      const list = opts.rules?.length ? loadRules(opts.rules) : builtinRules();
      if (opts.rules?.length) warnIfNone(io, list.length, opts.rules);
      if (opts.json) {
        for (const r of list) io.stdout.write(`${JSON.stringify(ruleJson(r))}\n`);
      } else {
        const rows = list.map((r) => [
          r.id,
          r.spec.type,
          "threshold" in r.spec
            ? `${r.spec.threshold} / ${formatDuration(r.window)}`
            : r.window
              ? formatDuration(r.window)
              : "-",
          r.spec.response + (r.duration !== undefined ? ` ${formatDuration(r.duration)}` : ""),
          r.spec.attack.join(","),
          r.spec.enabled ? "" : "disabled",
        ]);
        io.stdout.write(`${table(["rule", "type", "condition", "response", "att&ck", ""], rows)}\n`);
      }
      setExit(0);
    });
  rules
    .command("validate")
    .description("check rule files against the schema and compile their KQL; every problem with file:line")
    .argument("<path...>", "rule files or directories")
    .action((paths: string[]) => {
      const list = loadRules(paths);
      io.stdout.write(`${list.length} rules OK\n`);
      warnIfNone(io, list.length, paths);
      setExit(0);
    });
  rules
    .command("test")
    .description("run rule test cases (YAML: rules + input lines + expected alerts and bans)")
    .argument("[path...]", "case files or directories", [join(BUILTIN_RULES_DIR, "tests")])
    .option("--json", "one JSON line per case")
    .action(async (paths: string[], opts: { json?: boolean }) => {
      let failed = 0;
      let passed = 0;
      let skipped = 0;
      for (const f of paths.flatMap(caseFiles)) {
        let r: Pick<CaseResult, "file" | "description" | "ok" | "problems">;
        try {
          r = await runCase(f);
        } catch (e) {
          if (!isPortcullisError(e)) throw e;
          // Rule files kept next to their cases are not cases: skipped, said, and the other cases still run.
          if (e.message.endsWith("not a rule test case")) {
            skipped++;
            if (opts.json)
              io.stdout.write(`${JSON.stringify({ file: f, skipped: "not a rule test case" })}\n`);
            else io.stdout.write(`skip  ${printable(f)}  (not a rule test case)\n`);
            continue;
          }
          r = { file: f, description: "", ok: false, problems: [e.describe()] };
        }
        if (r.ok) passed++;
        else failed++;
        if (opts.json) {
          io.stdout.write(
            `${JSON.stringify({ file: r.file, description: r.description, ok: r.ok, problems: r.problems })}\n`,
          );
        } else {
          io.stdout.write(
            `${r.ok ? "ok  " : "FAIL"}  ${printable(r.file)}  ${printable(r.description.trim())}\n`,
          );
          // Every line of a problem indented under its case (an error's issues come on lines of their own,
          // indented by two: only those two go, so that a KQL error's caret stays under its column).
          for (const p of r.problems)
            for (const line of printableLines(p).split("\n"))
              io.stdout.write(`        ${line.startsWith("  ") ? line.slice(2) : line}\n`);
        }
      }
      if (!opts.json) {
        if (failed) io.stdout.write("(- expected, not produced; + produced, not expected)\n");
        io.stdout.write(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}\n`);
      }
      if (passed + failed === 0) io.stderr.write(`portcullis: no rule test case in ${paths.join(" ")}\n`);
      setExit(failed || passed + failed === 0 ? 1 : 0);
    });
}
