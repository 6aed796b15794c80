/**
 * Loads and validates the daemon config: every problem, with its file:line and path, before anything starts.
 * Plugin entries (sources, responders) are checked by their own schemas; an unknown type lists the known ones.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import type { z } from "zod";
import { parseDuration } from "../core/duration.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { keyAt, keyLineOf, plainValue, zodIssues as locatedIssues, type LocatedDoc } from "../core/yaml.ts";
import { Zone } from "../framing/zone.ts";
import { PARSERS } from "../parsers/registry.ts";
import { hasMode, modeNames } from "../parsers/types.ts";
import { readConfigYaml } from "./file.ts";
import { configSchema, type RawConfig } from "./schema.ts";

export { MAX_CONFIG_BYTES } from "./file.ts";

export interface PluginRegistry {
  [type: string]: { schema: z.ZodType };
}

export interface Registries {
  sources: PluginRegistry;
  responders: PluginRegistry;
}

export interface LoadedConfig {
  raw: RawConfig;
  /** Validated plugin configs (each parsed by its plugin's schema, defaults applied). */
  sources: { type: string; config: unknown }[];
  responders: { type: string; config: unknown }[];
  file: string;
}

/** `path: X` is read as `paths: [X]`: point errors about `paths[0]` at the `path` line the user wrote. */
function aliasPath(located: LocatedDoc | undefined, p: (string | number)[]): (string | number)[] {
  const i = p.indexOf("paths");
  if (
    !located ||
    i < 0 ||
    located.doc.hasIn(p.slice(0, i + 1)) ||
    !located.doc.hasIn([...p.slice(0, i), "path"])
  )
    return p;
  return [...p.slice(0, i), "path"];
}

function zodIssues(
  issues: readonly z.core.$ZodIssue[],
  base: (string | number)[],
  file: string,
  located: LocatedDoc | undefined,
): Issue[] {
  return locatedIssues(issues, base, file, located, (p) => aliasPath(located, p));
}

/** Validates a config object (already parsed from YAML/JSON); `located` maps paths to lines. */
export function validateConfig(
  value: unknown,
  file: string,
  registries: Registries,
  located?: LocatedDoc,
): LoadedConfig {
  const issues: Issue[] = [];
  const res = configSchema.safeParse(value ?? {});
  if (!res.success) issues.push(...zodIssues(res.error.issues, [], file, located));
  // Plugin entries and the time zone are checked even when the top level has problems: every error at once.
  const input = (value ?? {}) as Record<string, unknown>;
  const plugins = (kind: "sources" | "responders") => {
    const list = Array.isArray(input[kind]) ? (input[kind] as unknown[]) : [];
    return list.flatMap((entry, i) => {
      const type = (entry as { type?: unknown } | null)?.type;
      if (typeof type !== "string") return []; // reported by the top-level schema
      const def = Object.hasOwn(registries[kind], type) ? registries[kind][type] : undefined;
      if (!def) {
        const line = located ? `${file}:${keyLineOf(located, [kind, i, "type"])}` : file;
        issues.push({
          path: `${line} ${kind}[${i}].type`,
          message: `unknown ${kind === "sources" ? "source" : "responder"} type "${type}" (known: ${Object.keys(registries[kind]).sort().join(", ")})`,
        });
        return [];
      }
      const r = def.schema.safeParse(entry);
      if (!r.success) {
        issues.push(...zodIssues(r.error.issues, [kind, i], file, located));
        return [];
      }
      return [{ type, config: r.data }];
    });
  };
  const sources = plugins("sources");
  const responders = plugins("responders");
  issues.push(...parserModeIssues(input.parsers, file, located));
  const tz = typeof input.timezone === "string" ? input.timezone : "local";
  try {
    new Zone(tz);
  } catch (e) {
    issues.push({
      path: `${located ? `${file}:${keyLineOf(located, ["timezone"])}` : file} timezone`,
      message: (e as Error).message,
    });
  }
  const names = new Map<string, number>();
  for (const [kind, list] of [
    ["sources", sources],
    ["responders", responders],
  ] as const) {
    list.forEach((p, i) => {
      const name = (p.config as { name?: string }).name ?? p.type;
      const key = `${kind}:${name}`;
      if (names.has(key)) {
        issues.push({
          path: `${located ? `${file}:${keyLineOf(located, [kind, i])}` : file} ${kind}[${i}]`,
          message: `two ${kind} are named "${name}": give each a distinct \`name\``,
        });
      }
      names.set(key, i);
    });
  }
  if (issues.length || !res.success) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `invalid configuration ${file} (${issues.length} problem${issues.length > 1 ? "s" : ""}):`,
      {
        issues,
      },
    );
  }
  return { raw: res.data, sources, responders, file };
}

/**
 * `parsers.modes`: each key a parser id, each value one of its modes (or `all`), as `--mode parser=M` checks
 * them. Unchecked, a mistyped mode stopped every source at its first line, over and over, in a daemon that had
 * started; a mistyped parser id was silently ignored.
 */
function parserModeIssues(parsers: unknown, file: string, located: LocatedDoc | undefined): Issue[] {
  const modes = (parsers as { modes?: unknown } | null | undefined)?.modes;
  if (modes === null || typeof modes !== "object" || Array.isArray(modes)) return []; // the schema says
  const issues: Issue[] = [];
  for (const [id, mode] of Object.entries(modes as Record<string, unknown>)) {
    const path = ["parsers", "modes", id];
    const at = keyAt(file, located, path);
    const def = PARSERS.find((p) => p.id === id);
    if (!def) {
      issues.push({
        path: at,
        message: `unknown parser "${id}" (known: ${PARSERS.map((p) => p.id).join(", ")})`,
      });
    } else if (typeof mode === "string" && !hasMode(def, mode)) {
      issues.push({
        path: at,
        message: `parser ${id} has no mode "${mode}" (modes: ${modeNames(def).join(", ")})`,
      });
    }
  }
  return issues;
}

export function loadConfigFile(file: string, registries: Registries): LoadedConfig {
  const located = readConfigYaml(file);
  const loaded = validateConfig(located ? (plainValue(located, file) ?? {}) : {}, file, registries, located);
  // Relative rule paths are relative to the configuration file, not to wherever the daemon was started from
  // (systemd starts it in /).
  const rules = loaded.raw.rules;
  rules.paths = rules.paths.map((p) => (isAbsolute(p) ? p : resolve(dirname(file), p)));
  return loaded;
}

export function ms(d: string | number): number {
  return parseDuration(d);
}
