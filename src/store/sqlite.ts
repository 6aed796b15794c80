/**
 * The embedded store: SQLite through better-sqlite3, WAL journal. `synchronous=NORMAL` in WAL mode keeps
 * every committed transaction across a process crash (kill -9); only an OS crash or power loss can lose the
 * last ones. Set `durability: "full"` for `synchronous=FULL` where that matters more than write latency.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { Database } from "./schema.ts";
import { Store } from "./store.ts";

export interface SqliteOptions {
  durability?: "normal" | "full";
  clock: () => number;
}

export async function openSqliteStore(path: string, opts: SqliteOptions): Promise<Store> {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true, mode: 0o750 });
  const sqlite = new BetterSqlite3(path);
  sqlite.pragma("journal_mode = WAL");
  sqlite.pragma(`synchronous = ${opts.durability === "full" ? "FULL" : "NORMAL"}`);
  sqlite.pragma("foreign_keys = ON");
  sqlite.pragma("busy_timeout = 5000");
  const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
  const store = new Store(db, "sqlite", opts.clock);
  await store.migrate();
  return store;
}
