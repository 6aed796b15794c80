/**
 * Loads and validates the daemon config: every problem, with its file:line and path, before anything starts.
 * Plugin entries (sources, responders) are checked by their own schemas; an unknown type lists the known ones.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { isMap, isSeq } from "yaml";
import type { z } from "zod";
import { parseDuration } from "../core/duration.ts";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { formatPath, keyLineOf, parseYamlDocs, plainValue, type LocatedDoc } from "../core/yaml.ts";
import { Zone } from "../framing/zone.ts";
import { PARSERS } from "../parsers/registry.ts";
import { configSchema, type RawConfig } from "./schema.ts";

/**
 * Largest configuration file read (4 MiB: some 150,000 allowlist entries). Parsing YAML takes about 60 bytes of
 * memory per byte of text: a 50 MB file took 90 s and 3 GB before anything was said.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

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
  const out: Issue[] = [];
  for (const iss of issues) {
    const p = aliasPath(located, [...base, ...(iss.path as (string | number)[])]);
    const line = (q: (string | number)[]) => (located ? `${file}:${keyLineOf(located, q)}` : file);
    if (iss.code === "unrecognized_keys") {
      for (const k of iss.keys)
        out.push({ path: `${line([...p, k])} ${formatPath([...p, k])}`, message: "unknown key" });
    } else {
      out.push({ path: `${line(p)}${p.length ? ` ${formatPath(p)}` : ""}`, message: iss.message });
    }
  }
  return out;
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
    const at = `${located ? `${file}:${keyLineOf(located, path)}` : file} ${formatPath(path)}`;
    const def = PARSERS.find((p) => p.id === id);
    if (!def) {
      issues.push({
        path: at,
        message: `unknown parser "${id}" (known: ${PARSERS.map((p) => p.id).join(", ")})`,
      });
    } else if (typeof mode === "string" && mode !== "all" && !Object.hasOwn(def.modes, mode)) {
      const known = [...Object.keys(def.modes).filter((m) => m !== "all"), "all"];
      issues.push({ path: at, message: `parser ${id} has no mode "${mode}" (modes: ${known.join(", ")})` });
    }
  }
  return issues;
}

function unreadable(file: string, why: string, cause?: unknown): PortcullisError {
  return new PortcullisError("CONFIG_INVALID", `cannot read configuration ${file}: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The file's text: at most {@link MAX_CONFIG_BYTES} (read so, not by its size: a pipe or /dev/zero has none),
 * and UTF-8, or the line of the first byte that is not (decoded leniently, a Latin-1 `é` in a path became U+FFFD
 * and named another file).
 */
function readConfigText(file: string): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw unreadable(file, code === "ENOENT" ? "no such file" : (e as Error).message, e);
  }
  let buf: Buffer;
  try {
    if (fstatSync(fd).isDirectory()) throw unreadable(file, "it is a directory");
    buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got)
      got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_CONFIG_BYTES) {
      throw unreadable(
        file,
        `larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, the most a configuration may be`,
      );
    }
    buf = buf.subarray(0, n);
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    throw unreadable(file, (e as Error).message, e);
  } finally {
    closeSync(fd);
  }
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(buf);
  } catch {
    let start = 0;
    for (let line = 1; ; line++) {
      const end = buf.indexOf(10, start);
      const bytes = buf.subarray(start, end < 0 ? buf.length : end);
      try {
        new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw new PortcullisError("CONFIG_INVALID", `invalid configuration ${file}: not UTF-8`, {
          issues: [{ path: `${file}:${line}`, message: "bytes that are not UTF-8 (save the file as UTF-8)" }],
        });
      }
      if (end < 0) return buf.toString("utf8"); // not reached: some line failed above
      start = end + 1;
    }
  }
}

/** The key path of the pair whose key starts at `pos` (a duplicate key), searched depth first. */
function keyPathAt(
  node: unknown,
  pos: number,
  path: (string | number)[] = [],
): (string | number)[] | undefined {
  if (isMap(node)) {
    for (const pair of node.items) {
      const key = pair.key as { range?: [number, number, number]; value?: unknown } | null;
      const p = [...path, String(key?.value)];
      if (key?.range?.[0] === pos) return p;
      const hit = keyPathAt(pair.value, pos, p);
      if (hit) return hit;
    }
  } else if (isSeq(node)) {
    for (const [i, item] of node.items.entries()) {
      const hit = keyPathAt(item, pos, [...path, i]);
      if (hit) return hit;
    }
  }
  return undefined;
}

/** The YAML errors of the file, and its warnings (an unknown tag such as `!foo` would be dropped silently). */
function yamlIssues(file: string, docs: LocatedDoc[]): Issue[] {
  return docs.flatMap(({ doc, counter }) =>
    [...doc.errors, ...doc.warnings].map((e) => {
      const at = `${file}:${counter.linePos(e.pos[0]).line}`;
      const message = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
      const key = e.code === "DUPLICATE_KEY" ? keyPathAt(doc.contents, e.pos[0]) : undefined;
      return key
        ? { path: `${at} ${formatPath(key)}`, message: "duplicate key (a key may appear once in a mapping)" }
        : { path: at, message };
    }),
  );
}

export function loadConfigFile(file: string, registries: Registries): LoadedConfig {
  const text = readConfigText(file);
  const { docs } = parseYamlDocs(text);
  const errors = yamlIssues(file, docs);
  if (errors.length) {
    throw new PortcullisError("CONFIG_INVALID", `invalid configuration ${file}: YAML syntax`, {
      issues: errors,
    });
  }
  if (docs.length > 1) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `invalid configuration ${file}: one YAML document expected, found ${docs.length}`,
    );
  }
  const located = docs[0];
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
