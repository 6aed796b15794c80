/** `portcullis config schema|check`: the configuration's JSON Schema, and a check of a file without starting. */
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { loadConfigFile, type LoadedConfig } from "../../config/load.ts";
import { configJsonSchema } from "../../config/jsonschema.ts";
import { configWarnings } from "../../config/warnings.ts";
import { isPortcullisError, PortcullisError, type Issue } from "../../core/errors.ts";
import { keyLineOf, parseYamlDocs, type Path } from "../../core/yaml.ts";
import { builtinRules } from "../../detect/builtin.ts";
import { loadRules } from "../../detect/load.ts";
import { REGISTRIES } from "../../daemon/plugins.ts";
import { configuredRules, policyConfig } from "../../daemon/settings.ts";
import type { CliIO } from "../main.ts";
import { DEFAULT_CONFIG } from "../local.ts";
import { printableLines } from "../table.ts";

export function registerConfig(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const cmd = program.command("config").description("the configuration file: JSON Schema, checks");
  cmd
    .command("schema")
    .description("print the configuration's JSON Schema (for editors and CI checks)")
    .action(() => {
      io.stdout.write(`${JSON.stringify(configJsonSchema(REGISTRIES), null, 2)}\n`);
      setExit(0);
    });
  cmd
    .command("check")
    .description(
      "validate a configuration file as `run` does (schema, plugins, rule files and their KQL, " +
        "rules.disable); every problem with its file:line",
    )
    .argument("[file]", "configuration file", DEFAULT_CONFIG)
    // `--config FILE`, as `run`, `replay` and `enforcer` take it (the positional argument is the usual form).
    .option("-c, --config <file>", "configuration file (instead of the argument)")
    .action((positional: string, opts: { config?: string }) => {
      const file = opts.config ?? positional;
      const c = loadConfigFile(file, REGISTRIES);
      const issues = ruleIssues(c);
      if (issues.length) {
        throw new PortcullisError(
          "CONFIG_INVALID",
          `invalid configuration ${file}: rules (${issues.length} problem${issues.length > 1 ? "s" : ""}):`,
          { issues },
        );
      }
      // The daemon's own code, last: whatever `run` would refuse, `check` refuses too.
      const rules = configuredRules(c.raw);
      policyConfig(c.raw, c.raw.policy.dry_run);
      io.stdout.write(
        `${file}: OK (${c.sources.length} sources, ${c.responders.length} responders, ${rules.length} rules)\n`,
      );
      if (!rules.length) io.stderr.write(`portcullis: warning: ${file} enables no detection rule\n`);
      for (const w of loadedConfigWarnings(c)) {
        io.stderr.write(`portcullis: warning: ${printableLines(`${w.path}: ${w.message}`)}\n`);
      }
      setExit(0);
    });
}

/**
 * The problems `run` would find in the rules a configuration names, each where it is: a rule file's problems
 * at the rule file's line, an unreadable `rules.paths` entry and an unknown `rules.disable` id at their line
 * in the configuration. Paths are read as `run` reads them (relative ones from the working directory).
 */
function ruleIssues(c: LoadedConfig): Issue[] {
  const located = parseYamlDocs(readFileSync(c.file, "utf8")).docs[0];
  const at = (path: Path, label: string) =>
    `${located ? `${c.file}:${keyLineOf(located, path)}` : c.file} ${label}`;
  const { paths, disable } = c.raw.rules;
  const issues: Issue[] = [];
  const ids = new Set(c.raw.rules.builtin ? builtinRules().map((r) => r.id) : []);
  paths.forEach((p, i) => {
    try {
      for (const r of loadRules([p])) ids.add(r.id);
    } catch (e) {
      if (!isPortcullisError(e)) throw e;
      if (e.issues.length) issues.push(...e.issues);
      else issues.push({ path: at(["rules", "paths", i], `rules.paths[${i}]`), message: e.message });
    }
  });
  if (issues.length) return issues;
  // Each entry loads; together (a rule id defined in two files, a file named twice) they may not.
  try {
    loadRules(paths);
  } catch (e) {
    if (!isPortcullisError(e)) throw e;
    return e.issues.length
      ? [...e.issues]
      : [{ path: at(["rules", "paths"], "rules.paths"), message: e.message }];
  }
  disable.forEach((id, i) => {
    if (!ids.has(id))
      issues.push({
        path: at(["rules", "disable", i], `rules.disable[${i}]`),
        message: `no rule has the id "${id}" (the rules in use: portcullis rules list${paths.length ? " --rules ..." : ""})`,
      });
  });
  return issues;
}

/**
 * The warnings of a loaded configuration (config/warnings.ts): printed by `config check`, logged by `run` at start
 * and on each reload. The file is read again for the lines of the keys (a file changed since is only a wrong line).
 */
export function loadedConfigWarnings(c: LoadedConfig): Issue[] {
  let located;
  try {
    located = parseYamlDocs(readFileSync(c.file, "utf8")).docs[0];
  } catch {
    located = undefined;
  }
  return configWarnings(c, located, new Set(configuredRules(c.raw).map((r) => r.id)));
}
