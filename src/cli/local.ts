/**
 * How the CLI reaches Portcullis' state on this host: the config (for the data directory and the policy) and
 * the store. Reads work whether or not the daemon runs (SQLite WAL allows concurrent readers); a ban or unban
 * made here goes through the same policy and is picked up by a running daemon within seconds (it syncs
 * decisions made by other processes), or enforced at its next start.
 */
import { existsSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { loadConfigFile, validateConfig, type LoadedConfig } from "../config/load.ts";
import { SystemClock } from "../core/clock.ts";
import { parseDuration } from "../core/duration.ts";
import { REGISTRIES } from "../daemon/plugins.ts";
import { Allowlist } from "../policy/allowlist.ts";
import { BanTable } from "../policy/bans.ts";
import { ownAddresses, sessionAddresses } from "../policy/guards.ts";
import { PortcullisError } from "../core/errors.ts";
import { Policy } from "../policy/policy.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import type { Store } from "../store/store.ts";

export const DEFAULT_CONFIG = "/etc/portcullis/portcullis.yaml";

export interface LocalOptions {
  config?: string;
  dataDir?: string;
}

export function localConfig(opts: LocalOptions): LoadedConfig {
  if (opts.config) return loadConfigFile(opts.config, REGISTRIES);
  if (existsSync(DEFAULT_CONFIG)) return loadConfigFile(DEFAULT_CONFIG, REGISTRIES);
  return validateConfig({}, "(defaults)", REGISTRIES);
}

export function dataDirOf(opts: LocalOptions, config: LoadedConfig): string {
  return opts.dataDir ?? config.raw.data_dir;
}

/** The database file the daemon uses with this configuration and data directory. */
export function storePathOf(dataDir: string, config: LoadedConfig): string {
  return config.raw.store.path ?? join(dataDir, "portcullis.db");
}

/**
 * Opens the daemon's store. A command that only reads (or changes what exists) passes `create: false`: a
 * mistyped `--data-dir` is then an error (exit 66) rather than a new, empty state that answers "no bans".
 * A data directory that is not a directory is an error either way.
 */
export async function openLocalStore(
  dataDir: string,
  config: LoadedConfig,
  { create = true }: { create?: boolean } = {},
): Promise<Store> {
  const path = storePathOf(dataDir, config);
  const usesDataDir = config.raw.store.path === undefined;
  let dirStat;
  try {
    dirStat = statSync(usesDataDir ? dataDir : dirname(path));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw unreadable(dataDir, e);
  }
  if (dirStat && !dirStat.isDirectory())
    throw new PortcullisError(
      "INPUT_UNREADABLE",
      `${usesDataDir ? dataDir : dirname(path)} is not a directory (${usesDataDir ? "--data-dir / data_dir" : "store.path"})`,
    );
  if (!create && !existsSync(path)) {
    throw new PortcullisError(
      "INPUT_UNREADABLE",
      usesDataDir
        ? `no Portcullis state in ${dataDir} (no portcullis.db: check --data-dir / data_dir; the daemon creates it at its first start)`
        : `no Portcullis state: ${path} (store.path) does not exist; the daemon creates it at its first start`,
    );
  }
  try {
    return await openSqliteStore(path, { clock: () => SystemClock.now() });
  } catch (e) {
    // The directory cannot be made, or the file cannot be opened: the user's to fix, not a crash.
    const code = (e as NodeJS.ErrnoException).code ?? "";
    if (/^E[A-Z]+$/.test(code) || code === "SQLITE_CANTOPEN") throw unreadable(path, e);
    throw e;
  }
}

function unreadable(path: string, e: unknown): PortcullisError {
  return new PortcullisError("INPUT_UNREADABLE", `cannot open ${path}: ${(e as Error).message}`, {
    cause: e,
  });
}

export { runningPid } from "./pid.ts";

/** A policy equal to the daemon's (same config), with the store's active bans, for CLI bans. */
export async function localPolicy(config: LoadedConfig, store: Store): Promise<Policy> {
  // The daemon's own code (loaded only by the commands that decide without a daemon).
  const { loadBans } = await import("../daemon/daemon.ts");
  const { policyConfig } = await import("../daemon/settings.ts");
  const p = config.raw.policy;
  const allow = new Allowlist([
    { cidrs: p.allowlist, why: "configured allowlist" },
    ...(p.allow_own_addresses ? [{ cidrs: ownAddresses(), why: "own interface address" }] : []),
    // Same guard as the daemon's: never lock out an admin who is logged in now.
    ...(p.allow_admin_sessions ? [{ cidrs: await sessionAddresses(), why: "logged-in session" }] : []),
  ]);
  const bans = new BanTable();
  await loadBans(store, bans, SystemClock.now(), parseDuration(p.escalation.lookback));
  return new Policy(policyConfig(config.raw, p.dry_run), allow, bans);
}
