/**
 * Reading a YAML configuration file, shared by the daemon's loader (config/load.ts) and the enforcer's
 * (enforcer/config.ts): the file's text (bounded, UTF-8 only, not a directory), its YAML errors and warnings
 * (duplicate keys with their path, unknown tags) and one document; schema issues: zodIssues in core/yaml.ts.
 * `what` names the file in messages: "configuration", "enforcer configuration".
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { isMap, isSeq } from "yaml";
import { PortcullisError, type Issue } from "../core/errors.ts";
import { formatPath, parseYamlDocs, type LocatedDoc } from "../core/yaml.ts";

/**
 * Largest configuration file read (4 MiB: some 150,000 allowlist entries). Parsing YAML takes about 60 bytes of
 * memory per byte of text: a 50 MB file took 90 s and 3 GB before anything was said.
 */
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024;

/**
 * A configuration that cannot be opened or read (missing, a directory, permission denied) is an unreadable input
 * (exit 66, as the README lists); one that is read but cannot be used (too large, not UTF-8) is invalid (65).
 */
function unreadable(
  file: string,
  what: string,
  why: string,
  cause?: unknown,
  kind: "INPUT_UNREADABLE" | "CONFIG_INVALID" = "INPUT_UNREADABLE",
): PortcullisError {
  return new PortcullisError(kind, `cannot read ${what} ${file}: ${why}`, {
    ...(cause === undefined ? {} : { cause }),
  });
}

/**
 * The file's text: at most {@link MAX_CONFIG_BYTES} (read so, not by its size: a pipe or /dev/zero has none),
 * and UTF-8, or the line of the first byte that is not (decoded leniently, a Latin-1 `é` in a path became U+FFFD
 * and named another file).
 */
export function readConfigText(file: string, what = "configuration"): string {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw unreadable(file, what, code === "ENOENT" ? "no such file" : (e as Error).message, e);
  }
  let buf: Buffer;
  try {
    if (fstatSync(fd).isDirectory()) throw unreadable(file, what, "it is a directory");
    buf = Buffer.alloc(MAX_CONFIG_BYTES + 1);
    let n = 0;
    for (let got = -1; got !== 0 && n < buf.length; n += got)
      got = readSync(fd, buf, n, buf.length - n, null);
    if (n > MAX_CONFIG_BYTES) {
      throw unreadable(
        file,
        what,
        `larger than ${MAX_CONFIG_BYTES / 1024 / 1024} MiB, the most a configuration may be`,
        undefined,
        "CONFIG_INVALID",
      );
    }
    buf = buf.subarray(0, n);
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    throw unreadable(file, what, (e as Error).message, e);
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
        throw new PortcullisError("CONFIG_INVALID", `invalid ${what} ${file}: not UTF-8`, {
          issues: [{ path: `${file}:${line}`, message: "bytes that are not UTF-8 (save the file as UTF-8)" }],
        });
      }
      if (end < 0) return buf.toString("utf8"); // not reached: some line failed above
      start = end + 1;
    }
  }
}

/** The key path of the pair whose key starts at `pos` (a duplicate key), searched depth first. */
export function keyPathAt(
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
export function yamlIssues(file: string, docs: LocatedDoc[]): Issue[] {
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

/**
 * The one YAML document of a configuration file (undefined when the file holds none: empty, or comments
 * only), read with {@link readConfigText}; YAML errors and warnings, or several documents, are a
 * CONFIG_INVALID error listing each with its file:line.
 */
export function readConfigYaml(file: string, what = "configuration"): LocatedDoc | undefined {
  const { docs } = parseYamlDocs(readConfigText(file, what));
  const errors = yamlIssues(file, docs);
  if (errors.length) {
    throw new PortcullisError("CONFIG_INVALID", `invalid ${what} ${file}: YAML syntax`, { issues: errors });
  }
  if (docs.length > 1) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `invalid ${what} ${file}: one YAML document expected, found ${docs.length}`,
    );
  }
  return docs[0];
}
