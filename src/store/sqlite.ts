/**
 * The embedded store: SQLite through better-sqlite3, WAL journal. `synchronous=NORMAL` in WAL mode keeps
 * every committed transaction across a process crash (kill -9); only an OS crash or power loss can lose the
 * last ones. Set `durability: "full"` for `synchronous=FULL` where that matters more than write latency.
 *
 * Several processes may open the same file (the daemon, CLI commands run meanwhile): SQLite serialises their
 * writes, a writer waiting up to {@link BUSY_TIMEOUT_MS} for another's transaction to end.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import BetterSqlite3 from "better-sqlite3";
import { Kysely } from "kysely";
import type { Database } from "./schema.ts";
import { rollbackIfOpen, StoreSqliteDialect } from "./sqlite-dialect.ts";
import { openError } from "./sqlite-errors.ts";
import { Store } from "./store.ts";

export interface SqliteOptions {
  durability?: "normal" | "full";
  clock: () => number;
}

/** How long a write waits for another process's transaction (or migration) to end before failing. */
export const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) and migrates the store at `path`. Any failure is a `PortcullisError` naming the
 * file and the cause in words (not a database, permission denied, read-only, disk full, ...), with SQLite's
 * error as its `cause`.
 */
export async function openSqliteStore(path: string, opts: SqliteOptions): Promise<Store> {
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
    sqlite = new BetterSqlite3(path, { timeout: BUSY_TIMEOUT_MS });
    await enableWal(sqlite);
    sqlite.pragma(`synchronous = ${opts.durability === "full" ? "FULL" : "NORMAL"}`);
    sqlite.pragma("foreign_keys = ON");
    const db = new Kysely<Database>({ dialect: new StoreSqliteDialect(sqlite) });
    const store = new Store(db, "sqlite", opts.clock);
    await migrateLocked(sqlite, store);
    return store;
  } catch (e) {
    try {
      sqlite?.close();
    } catch {
      // the open error is the one to report
    }
    throw openError(path, e);
  }
}

/**
 * Switches the database to WAL (a no-op once it is). On a new file this needs an exclusive lock, and when two
 * processes switch it at the same moment SQLite answers SQLITE_BUSY at once instead of waiting (its busy timeout
 * does not apply where waiting could deadlock): retried within the busy timeout.
 */
async function enableWal(sqlite: BetterSqlite3.Database): Promise<void> {
  const deadline = performance.now() + BUSY_TIMEOUT_MS;
  for (;;) {
    try {
      sqlite.pragma("journal_mode = WAL");
      return;
    } catch (e) {
      const code = (e as { code?: unknown }).code;
      if (typeof code !== "string" || !code.startsWith("SQLITE_BUSY") || performance.now() > deadline)
        throw e;
      await sleep(5 + Math.random() * 20);
    }
  }
}

/**
 * Runs the pending migrations holding SQLite's write lock (`BEGIN IMMEDIATE`), in one transaction; the
 * migrator reads the applied ones inside it. Two processes opening a new database at once (the daemon and a
 * CLI command on first start) thus migrate one after the other: the second waits (busy timeout), then finds
 * nothing left to do. A database already up to date is opened without taking the lock.
 */
async function migrateLocked(sqlite: BetterSqlite3.Database, store: Store): Promise<void> {
  if (await store.isMigrated()) return;
  sqlite.exec("BEGIN IMMEDIATE");
  try {
    await store.migrate();
    sqlite.exec("COMMIT");
  } catch (e) {
    rollbackIfOpen(sqlite);
    throw e;
  }
}
