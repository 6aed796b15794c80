/** Every migration, in order, as an explicit list (no directory scanning: the build output is the same). */
import type { Migration, MigrationProvider } from "kysely";
import * as m0001 from "./0001-initial.ts";
import * as m0002 from "./0002-query-indexes.ts";

const MIGRATIONS: Record<string, Migration> = {
  "0001-initial": m0001,
  "0002-query-indexes": m0002,
};

export const migrationProvider: MigrationProvider = {
  getMigrations: () => Promise.resolve(MIGRATIONS),
};
