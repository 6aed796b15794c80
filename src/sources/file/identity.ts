/**
 * Telling files apart across rotations: a file is its (device, inode) pair plus a fingerprint of its first
 * line, so that a reused inode, or a file truncated and rewritten in place, is not mistaken for the file a
 * checkpoint was taken from. And finding where a file went: after a rename rotation (`auth.log` ->
 * `auth.log.1`) or a copytruncate (`auth.log` copied to `auth.log.1`, then emptied) the position saved for
 * `auth.log` is continued in its sibling.
 */
import { createHash } from "node:crypto";
import type { FileHandle } from "node:fs/promises";
import { open, readdir, stat } from "node:fs/promises";
import { basename, dirname, extname, join } from "node:path";

/** The fingerprint covers the first line, or this many bytes when the first line is longer. */
export const FINGERPRINT_BYTES = 256;

export interface FileId {
  dev: string;
  ino: string;
}

export interface FileState extends FileId {
  size: number;
}

/** A saved position in one file (the checkpoint format, version 1). */
export interface FilePos extends FileId {
  /** Where the file was when the position was saved (informational). */
  path: string;
  /** Byte offset after the last line handed over. */
  offset: number;
  size: number;
  fingerprint?: string;
  /** Number of the next line (1-based), when known. */
  line?: number;
  /**
   * `offset` is inside a line (`start: end` on a file ending in a line longer than the cap, not yet finished):
   * reading resumes after the next newline, so the rest of that line is never taken for a line of its own.
   */
  mid?: boolean;
}

export function sameId(a: FileId, b: FileId): boolean {
  return a.dev === b.dev && a.ino === b.ino;
}

/** stat (following symlinks); undefined when the path does not exist. */
export async function statFile(path: string): Promise<FileState | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    if (!s.isFile()) return undefined;
    return { dev: String(s.dev), ino: String(s.ino), size: Number(s.size) };
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return undefined;
    throw e;
  }
}

export async function statHandle(fh: FileHandle): Promise<FileState & { nlink: number }> {
  const s = await fh.stat({ bigint: true });
  return { dev: String(s.dev), ino: String(s.ino), size: Number(s.size), nlink: Number(s.nlink) };
}

export interface Head {
  /** Undefined while the file holds less than a full first line (and under {@link FINGERPRINT_BYTES}). */
  fingerprint: string | undefined;
  gzip: boolean;
}

/** Reads the start of an open file: its fingerprint and whether it is gzip data. */
export async function readHead(fh: FileHandle): Promise<Head> {
  const buf = Buffer.alloc(FINGERPRINT_BYTES);
  const { bytesRead } = await fh.read(buf, 0, FINGERPRINT_BYTES, 0);
  const gzip = bytesRead >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  const nl = buf.subarray(0, bytesRead).indexOf(0x0a);
  const end = nl >= 0 ? nl + 1 : bytesRead === FINGERPRINT_BYTES ? bytesRead : -1;
  if (end < 0) return { fingerprint: undefined, gzip };
  const fingerprint = createHash("sha256").update(buf.subarray(0, end)).digest("hex").slice(0, 16);
  return { fingerprint, gzip };
}

export async function readHeadOf(path: string): Promise<Head | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch {
    return undefined;
  }
  try {
    return await readHead(fh);
  } finally {
    await fh.close();
  }
}

/** What follows the stem in a rotated name that keeps the extension: a separator, then a number or a date. */
const ROTATION_SUFFIX = /^[-._]\d[\d._-]*$/;

/**
 * Whether `name` is a name rotation gives to the file named `base` in the same directory: the whole name
 * followed by anything (`auth.log.1`, `auth.log-20251123`, `auth.log.2.gz`), or, when logrotate keeps the
 * extension at the end (`extension .log`), the stem, a separator, a number or date, and the extension
 * (`auth-20251123.log`, `auth-2025112301.log`, `auth.1.log`, `auth_2025-11-23.log`; not `auth-extra.log`).
 */
export function isRotatedName(base: string, name: string): boolean {
  if (name === base) return false;
  if (name.startsWith(base)) return true;
  const ext = extname(base);
  if (ext === "" || !name.endsWith(ext)) return false;
  const stem = base.slice(0, -ext.length);
  return name.startsWith(stem) && ROTATION_SUFFIX.test(name.slice(stem.length, -ext.length));
}

/**
 * The names `name` may have had before a rotation that kept the extension (the inverse of the second form
 * of {@link isRotatedName}): `auth-20251123.log` -> `auth.log`, `my-app.1.log` -> `my-app.log`. Empty for
 * other names.
 */
export function namesRotatedFrom(name: string): string[] {
  const ext = extname(name);
  if (ext === "") return [];
  const stemAndSuffix = name.slice(0, -ext.length);
  const out: string[] = [];
  for (let i = 1; i < stemAndSuffix.length; i++) {
    if ("-._".includes(stemAndSuffix[i]!) && ROTATION_SUFFIX.test(stemAndSuffix.slice(i))) {
      out.push(stemAndSuffix.slice(0, i) + ext);
    }
  }
  return out;
}

/**
 * Finds where the file a position was saved from went, among the siblings of `livePath` (other than
 * `livePath` itself): first the same (dev, inode) with the same fingerprint (renamed: `auth.log.1`,
 * `auth.log-20251123`, `auth-20251123.log`, whatever the name), then, among rotated names of the live name
 * ({@link isRotatedName}), a different file with the same fingerprint that is at least `offset` long (a
 * copytruncate copy). Compressed files are never candidates.
 */
export async function findRotated(
  livePath: string,
  pos: FilePos,
  exclude?: FileId,
): Promise<{ path: string; state: FileState } | undefined> {
  const dir = dirname(livePath);
  const base = basename(livePath);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const copies: { path: string; state: FileState }[] = [];
  for (const name of names.sort()) {
    if (name === base) continue;
    const path = join(dir, name);
    let st: FileState | undefined;
    try {
      st = await statFile(path);
    } catch {
      continue;
    }
    if (!st || (exclude && sameId(st, exclude))) continue;
    const renamed = sameId(st, pos);
    if (!renamed && !isRotatedName(base, name)) continue;
    if (st.size < pos.offset) continue;
    const head = await readHeadOf(path);
    if (!head || head.gzip) continue;
    if (pos.fingerprint !== undefined && head.fingerprint !== pos.fingerprint) continue;
    if (renamed) return { path, state: st };
    if (pos.fingerprint !== undefined) copies.push({ path, state: st });
  }
  return copies[0];
}
