/**
 * kysely's SQLite dialect with one change: a transaction that fails is rolled back only if SQLite has not
 * already done so. After some errors (SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM, ...) SQLite rolls the whole
 * transaction back itself; kysely's unconditional ROLLBACK then failed with "cannot rollback - no transaction
 * is active", and that error replaced the real one ("database or disk is full").
 */
import type BetterSqlite3 from "better-sqlite3";
import { SqliteDialect, SqliteDriver, type DatabaseConnection, type Driver } from "kysely";

/** Ends the open transaction of `sqlite`, if there is one (SQLite may have ended it itself after an error). */
export function rollbackIfOpen(sqlite: BetterSqlite3.Database): void {
  if (!sqlite.inTransaction) return;
  try {
    sqlite.exec("ROLLBACK");
  } catch (e) {
    // Still open: the connection cannot be used until it is closed, and that is what must be reported.
    if (sqlite.inTransaction) throw e;
  }
}

class StoreSqliteDriver extends SqliteDriver {
  readonly #sqlite: BetterSqlite3.Database;

  constructor(sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
    this.#sqlite = sqlite;
  }

  // kysely rethrows the transaction's own error once this returns, so it must not throw when SQLite has
  // already ended the transaction.
  override rollbackTransaction(_connection: DatabaseConnection): Promise<void> {
    rollbackIfOpen(this.#sqlite);
    return Promise.resolve();
  }
}

export class StoreSqliteDialect extends SqliteDialect {
  readonly #sqlite: BetterSqlite3.Database;

  constructor(sqlite: BetterSqlite3.Database) {
    super({ database: sqlite });
    this.#sqlite = sqlite;
  }

  override createDriver(): Driver {
    return new StoreSqliteDriver(this.#sqlite);
  }
}
