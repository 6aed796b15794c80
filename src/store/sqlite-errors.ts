/**
 * Store open errors in words. SQLite's own messages name neither the file nor the reason a person can act on
 * ("unable to open database file", "attempt to write a readonly database"); {@link openError} says which file
 * and why, and keeps SQLite's error as the `cause`.
 */
import { accessSync, constants, statSync } from "node:fs";
import { dirname } from "node:path";
import { PortcullisError } from "../core/errors.ts";

/** The first error code (`SQLITE_*` or an errno name) along the `cause` chain. */
function codeOf(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === "string") return code;
  }
  return undefined;
}

function writable(p: string): boolean {
  try {
    accessSync(p, constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why SQLite could not open `path` (it says only "unable to open database file"). */
function cannotOpen(path: string): string {
  const stat = (p: string) => {
    try {
      return statSync(p);
    } catch {
      return undefined;
    }
  };
  const file = stat(path);
  const dir = dirname(path);
  if (file?.isDirectory()) return "it is a directory";
  if (!stat(dir)) return `the directory ${dir} does not exist`;
  if (!file && !writable(dir)) return `permission denied: cannot create a file in ${dir}`;
  if (file && !writable(path)) return "permission denied: the file is not writable by this user";
  if (!writable(dir))
    return `permission denied: ${dir} is not writable by this user (SQLite keeps its journal there)`;
  return "the file cannot be opened";
}

/** The cause of an open failure in words, from the error's code, and what to do about it if that is not plain. */
function why(path: string, e: unknown): { words: string; hint?: string } {
  const code = codeOf(e) ?? "";
  const dir = dirname(path);
  if (code === "SQLITE_NOTADB")
    return { words: "not a SQLite database", hint: "move it away to start with an empty store" };
  if (code.startsWith("SQLITE_CORRUPT")) return { words: "the database file is corrupt" };
  if (code.startsWith("SQLITE_READONLY")) {
    if (!writable(path)) return { words: "read-only: the file is not writable by this user" };
    if (code === "SQLITE_READONLY_DIRECTORY" || !writable(dir))
      return { words: `read-only: ${dir} is not writable by this user (SQLite keeps its journal there)` };
    return { words: "read-only" };
  }
  if (code.startsWith("SQLITE_CANTOPEN")) return { words: cannotOpen(path) };
  if (code === "SQLITE_FULL" || code === "ENOSPC") return { words: "disk full" };
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED"))
    return { words: "locked: another process holds the database" };
  if (code.startsWith("SQLITE_IOERR") || code === "EIO") return { words: "I/O error" };
  if (
    code.startsWith("SQLITE_PERM") ||
    code.startsWith("SQLITE_AUTH") ||
    code === "EACCES" ||
    code === "EPERM"
  )
    return { words: "permission denied" };
  if (code === "EROFS") return { words: "read-only file system" };
  // mkdir says EEXIST (recursive) or ENOTDIR when a directory on the way is a file.
  if (code === "ENOTDIR" || code === "EEXIST") return { words: "a component of the path is not a directory" };
  return { words: "" };
}

/** A `PortcullisError` saying that the store at `path` cannot be opened, and why; `e` is its cause. */
export function openError(path: string, e: unknown): PortcullisError {
  const detail = e instanceof Error ? e.message : String(e);
  const { words, hint } = why(path, e);
  const reason = (words ? `${words} (${detail})` : detail) + (hint ? `; ${hint}` : "");
  return new PortcullisError("INPUT_UNREADABLE", `cannot open the store ${path}: ${reason}`, { cause: e });
}
