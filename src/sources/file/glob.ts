/**
 * Path patterns for the file source: `*`, `?` and `[...]` (`[!...]` negates) in any path segment, matched as
 * a shell does (a wildcard never crosses `/` and does not match a leading dot). No `**` and no braces: a log
 * source should name its directories. Compiled once, matched per directory entry.
 */
import { readdir } from "node:fs/promises";
import { join, normalize } from "node:path";

export function hasMagic(pattern: string): boolean {
  return /[*?[]/.test(pattern);
}

/** Compiles one path segment (no `/`) into an anchored regular expression. */
export function compileSegment(segment: string): RegExp {
  let re = "";
  for (let i = 0; i < segment.length; i++) {
    const c = segment[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const close = segment.indexOf("]", i + 2);
      if (close < 0) {
        re += "\\[";
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      re += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  const leadingDot = segment.startsWith(".") ? "" : "(?!\\.)";
  return new RegExp(`^${leadingDot}${re}$`);
}

/**
 * Names that rotation gives to old files (`x.1`, `x.2.gz`, `x-20251123`, `x.gz`): a glob never picks them up,
 * since the live file's rotation is followed by the source itself, and `.gz` files are for `replay`.
 */
export const ROTATED_NAME = /(?:\.\d+|\.(?:gz|bz2|xz|zst|lz4|zip|Z)|-\d{8}(?:\d{2})?)$/;

/** The files currently matching `pattern` (absolute), sorted; rotated names excluded. */
export async function expandGlob(pattern: string): Promise<string[]> {
  const segments = pattern.split("/");
  let dirs = [segments[0] === "" ? "/" : segments[0]!];
  for (let s = 1; s < segments.length; s++) {
    const seg = segments[s]!;
    if (seg === "") continue;
    const last = s === segments.length - 1;
    if (!hasMagic(seg)) {
      dirs = dirs.map((d) => join(d, seg));
      continue;
    }
    const re = compileSegment(seg);
    const next: string[] = [];
    for (const d of dirs) {
      let entries;
      try {
        entries = await readdir(d, { withFileTypes: true });
      } catch {
        continue; // a missing or unreadable directory matches nothing (yet)
      }
      for (const e of entries) {
        if (!re.test(e.name)) continue;
        if (last) {
          if ((e.isFile() || e.isSymbolicLink()) && !ROTATED_NAME.test(e.name)) next.push(join(d, e.name));
        } else if (e.isDirectory() || e.isSymbolicLink()) next.push(join(d, e.name));
      }
    }
    dirs = next;
  }
  return dirs.sort();
}

/** Whether `path` (absolute, normalised, as {@link expandGlob} returns it) is one `pattern` matches. */
export function matchesGlob(pattern: string, path: string): boolean {
  const want = normalize(pattern).split("/");
  const got = normalize(path).split("/");
  if (want.length !== got.length || ROTATED_NAME.test(got[got.length - 1]!)) return false;
  return want.every((seg, i) => (hasMagic(seg) ? compileSegment(seg).test(got[i]!) : seg === got[i]));
}
