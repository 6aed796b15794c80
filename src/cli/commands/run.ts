/**
 * `portcullis run --config FILE [--data-dir DIR] [--dry-run]`: the daemon. Every config problem is reported
 * (with file:line) before anything starts. SIGHUP reloads config and rules (windows and bans are kept; a bad new
 * config is refused and the old one stays); SIGTERM and SIGINT shut down cleanly.
 */
import type { Command } from "commander";
import { loadConfigFile } from "../../config/load.ts";
import { SystemClock } from "../../core/clock.ts";
import { isPortcullisError } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import { Daemon } from "../../daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../../daemon/plugins.ts";
import type { CliIO } from "../main.ts";
import { DEFAULT_CONFIG } from "../local.ts";
import { runUntilSignalled } from "../signals.ts";

interface RunOptions {
  config: string;
  dataDir?: string;
  dryRun?: boolean;
  logLevel?: string;
}

export function registerRun(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("run")
    .description("run the daemon: follow logs, detect, ban, expire, audit")
    .option("-c, --config <file>", "configuration file (YAML)", DEFAULT_CONFIG)
    .option("-d, --data-dir <dir>", "state directory (database, offsets); overrides data_dir")
    .option("--dry-run", "decide and record everything, enforce nothing")
    .option("--log-level <level>", "debug, info, warn or error (overrides log_level)")
    .action(async (opts: RunOptions) => {
      const config = loadConfigFile(opts.config, REGISTRIES);
      const logger = createLogger({ level: opts.logLevel ?? config.raw.log_level, destination: io.stderr });
      const daemon = new Daemon({
        config,
        clock: SystemClock,
        logger,
        plugins: FACTORIES,
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      });
      await daemon.start();
      await runUntilSignalled(
        logger,
        () => daemon.stop(),
        () => {
          try {
            const next = loadConfigFile(opts.config, REGISTRIES);
            daemon
              .reload(next)
              .catch((e: unknown) =>
                logger.error({ err: describe(e) }, "reload failed; keeping the running configuration"),
              );
          } catch (e) {
            logger.error(
              { err: describe(e) },
              "reload refused: the new configuration is invalid; keeping the running one",
            );
          }
        },
      );
      setExit(0);
    });
}

function describe(e: unknown): string {
  return isPortcullisError(e) ? e.describe() : (e as Error).message;
}
