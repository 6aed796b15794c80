/**
 * One daemon per state directory. The lock is SQLite's own: `<data_dir>/portcullis.lock` is a small database
 * opened in `locking_mode=EXCLUSIVE` and written once, so its connection keeps an exclusive lock on the file
 * until it is closed. The lock belongs to the process: the OS releases it when the process ends, however it
 * ends (a crash, `kill -9`), so there is never a stale lock to clean up. A second daemon, in another process or
 * in the same one, cannot take it and is refused before it opens the store.
 *
 * Node has no flock(2); a lock file created with O_EXCL would survive a `kill -9` and need a liveness check of
 * the pid written in it (which a recycled pid defeats).
 */
import { closeSync, constants, fstatSync, ftruncateSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { PortcullisError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";

/** The lock file in a state directory. */
export const LOCK_FILE = "portcullis.lock";
/** The running daemon's pid, written once it has started (read by the CLI: src/cli/pid.ts). */
export const PID_FILE = "portcullis.pid";

/** Another daemon holds the state directory: the second start is refused with this error. */
export class DaemonRunningError extends PortcullisError {
  constructor(
    readonly dataDir: string,
    readonly pid: number | undefined,
    cause?: unknown,
  ) {
    super(
      "INTERNAL",
      `another portcullis daemon is running with the state directory ${dataDir} ` +
        (pid !== undefined ? `(pid ${pid})` : "(still starting or stopping: its pid is not written yet)") +
        `; stop it first, or give this one another --data-dir`,
      { cause },
    );
    this.name = "DaemonRunningError";
  }
}

export interface DirectoryLock {
  /** Releases the lock (idempotent). */
  release(): void;
}

/**
 * Takes the state directory's lock, or throws {@link DaemonRunningError} naming the daemon that holds it (the
 * pid from its pid file). Never waits: a held lock is refused at once.
 *
 * A lock file that is not a database (garbage written into it, a torn write on a failing disk) would refuse
 * every start for good: it is emptied, with a warning, and taken again, once. That is safe: a held lock is
 * never found damaged (the holder's exclusive lock stops anyone from reading it: SQLITE_BUSY comes first), and
 * the file is emptied in place rather than removed, so a daemon that took it meanwhile keeps holding the file
 * every later start opens (a removed file would let the next start lock a new one beside it).
 */
export function lockStateDirectory(dataDir: string, log?: Logger): DirectoryLock {
  const path = join(dataDir, LOCK_FILE);
  let db: BetterSqlite3.Database;
  try {
    db = openLock(path);
  } catch (e) {
    if (!damaged(e)) throw lockError(dataDir, e);
    emptyDamaged(path, e);
    log?.warn(
      { path, err: (e as Error).message },
      "the state directory's lock file was damaged; emptied it to take the lock",
    );
    try {
      db = openLock(path);
    } catch (again) {
      if (!damaged(again)) throw lockError(dataDir, again);
      throw new PortcullisError(
        "INTERNAL",
        `the lock file ${path} is damaged (${(again as Error).message}) and emptying it did not help; ` +
          `remove it (no daemon holds it)`,
        { cause: again },
      );
    }
  }
  let open = true;
  return {
    release() {
      if (!open) return;
      open = false;
      db.close();
    },
  };
}

/** Opens the lock file and takes its exclusive lock; throws SQLite's error (with the connection closed). */
function openLock(path: string): BetterSqlite3.Database {
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(path, { timeout: 0 });
    // No journal file next to the lock: the database holds nothing worth a rollback.
    db.pragma("journal_mode = MEMORY");
    db.pragma("locking_mode = EXCLUSIVE");
    // The first write takes the exclusive lock; in this locking mode it is kept after the commit.
    db.exec(
      "BEGIN EXCLUSIVE; CREATE TABLE IF NOT EXISTS holder (pid INTEGER NOT NULL); DELETE FROM holder; " +
        `INSERT INTO holder (pid) VALUES (${process.pid}); COMMIT`,
    );
    return db;
  } catch (e) {
    db?.close();
    throw e;
  }
}

/** SQLite found the lock file's content unreadable: not a database, or a corrupt one. */
function damaged(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === "string" && (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"));
}

/**
 * Empties the damaged lock file in place (an empty file is an empty database). Only a regular file, never
 * followed through a symbolic link: a link planted there must not get another file emptied.
 */
function emptyDamaged(path: string, damage: unknown): void {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW);
    if (!fstatSync(fd).isFile()) throw new Error("not a regular file");
    ftruncateSync(fd, 0);
  } catch (e) {
    throw new PortcullisError(
      "INTERNAL",
      `the lock file ${path} is damaged (${(damage as Error).message}) and cannot be emptied ` +
        `(${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); remove it (no daemon holds it)`,
      { cause: damage },
    );
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/** Why the lock could not be taken: another daemon holds it, or the error as it is, naming the directory. */
function lockError(dataDir: string, e: unknown): PortcullisError {
  if ((e as { code?: unknown }).code === "SQLITE_BUSY") {
    return new DaemonRunningError(dataDir, pidOf(dataDir), e);
  }
  return new PortcullisError(
    "INTERNAL",
    `cannot lock the state directory ${dataDir}: ${(e as Error).message}`,
    {
      cause: e,
    },
  );
}

/** The pid in a state directory's pid file, if it names a live process. */
function pidOf(dataDir: string): number | undefined {
  let pid: number;
  try {
    pid = Number(readFileSync(join(dataDir, PID_FILE), "utf8").trim());
  } catch {
    return undefined;
  }
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  try {
    process.kill(pid, 0);
  } catch (e) {
    // EPERM: alive, but another user's (a daemon running as root seen by an unprivileged second start).
    if ((e as NodeJS.ErrnoException).code !== "EPERM") return undefined;
  }
  return pid;
}
