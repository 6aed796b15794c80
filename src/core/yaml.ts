/**
 * YAML with positions: parse a document keeping a line counter, and turn a value path (`sources[1].path`) into
 * the line it came from, so every config and rule error can say file:line.
 */
import { isMap, LineCounter, parseAllDocuments, type Document } from "yaml";
import type { z } from "zod";
import { PortcullisError, type Issue } from "./errors.ts";

export type Path = readonly (string | number)[];

export interface LocatedDoc {
  doc: Document;
  counter: LineCounter;
}

export function parseYamlDocs(text: string): {
  docs: LocatedDoc[];
  errors: { line: number; message: string }[];
} {
  const counter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter: counter, prettyErrors: false });
  const list = Array.isArray(parsed) ? parsed : [];
  const errors = list.flatMap((d) =>
    d.errors.map((e) => ({ line: counter.linePos(e.pos[0]).line, message: e.message.split("\n")[0]! })),
  );
  return { docs: list.map((doc) => ({ doc, counter })), errors };
}

/**
 * The plain value of a parsed document. The YAML library refuses documents whose aliases expand to an
 * excessive size (an "alias bomb": a few lines of nested anchors that would take gigabytes): that is a
 * configuration error of `file`, reported like the others, not a crash.
 */
export function plainValue({ doc }: LocatedDoc, file: string): unknown {
  try {
    return doc.toJS();
  } catch (e) {
    throw new PortcullisError("CONFIG_INVALID", `invalid YAML in ${file}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

/** Line of the value at `path`, or of its nearest existing ancestor. */
export function lineOf({ doc, counter }: LocatedDoc, path: Path): number {
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    const range = node && typeof node === "object" && "range" in node ? node.range : undefined;
    if (range) return counter.linePos(range[0]).line;
  }
  return 1;
}

/** Line of the key at the end of `path` (for errors about a key itself), else {@link lineOf}. */
export function keyLineOf(located: LocatedDoc, path: Path): number {
  const parent = located.doc.getIn(path.slice(0, -1), true);
  if (isMap(parent)) {
    const last = path[path.length - 1];
    const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === last);
    const range = (pair?.key as { range?: [number, number, number] } | undefined)?.range;
    if (range) return located.counter.linePos(range[0]).line;
  }
  return lineOf(located, path);
}

/**
 * Where an issue about the key at `path` is reported: `file:line key.path` (the key's line; the file alone when
 * its document is not at hand, the path left out when empty).
 */
export function keyAt(file: string, located: LocatedDoc | undefined, path: Path): string {
  const where = located ? `${file}:${keyLineOf(located, path)}` : file;
  return path.length ? `${where} ${formatPath(path)}` : where;
}

export function formatPath(path: readonly PropertyKey[]): string {
  return path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? String(p) : `.${String(p)}`))
    .join("");
}

/**
 * Schema issues as file:line and key path (`file.yaml:7 responders[0].table`), each unknown key on its own
 * line; `base` prefixes the paths (a plugin entry's schema sees the entry alone), `mapPath` may point a path
 * at another key (the one the user wrote).
 */
export function zodIssues(
  issues: readonly z.core.$ZodIssue[],
  base: (string | number)[],
  file: string,
  located: LocatedDoc | undefined,
  mapPath: (p: (string | number)[]) => (string | number)[] = (p) => p,
  unknownKey = "unknown key",
): Issue[] {
  const out: Issue[] = [];
  for (const iss of issues) {
    const p = mapPath([...base, ...(iss.path as (string | number)[])]);
    if (iss.code === "unrecognized_keys") {
      for (const k of iss.keys) out.push({ path: keyAt(file, located, [...p, k]), message: unknownKey });
    } else {
      out.push({ path: keyAt(file, located, p), message: iss.message });
    }
  }
  return out;
}
