/**
 * `portcullis run --config FILE [--data-dir DIR] [--dry-run]`: the daemon. Every config problem is reported
 * (with file:line) before anything starts. SIGHUP reloads config and rules (windows and bans are kept; a bad new
 * config is refused and the old one stays); SIGTERM and SIGINT shut down cleanly. Signals are handled from
 * before the daemon starts: one arriving while it starts is acted on once it has started.
 *
 * One daemon per state directory: a second `run` on a directory a daemon holds exits with 75 (EX_TEMPFAIL),
 * naming the directory and the running daemon's pid, and touches nothing of it.
 */
import type { Command } from "commander";
import { loadConfigFile, type LoadedConfig } from "../../config/load.ts";
import { SystemClock } from "../../core/clock.ts";
import { isPortcullisError } from "../../core/errors.ts";
import { createLogger } from "../../core/logger.ts";
import { Daemon } from "../../daemon/daemon.ts";
import { DaemonRunningError } from "../../daemon/lock.ts";
import { FACTORIES, REGISTRIES } from "../../daemon/plugins.ts";
import type { CliIO } from "../main.ts";
import { DEFAULT_CONFIG } from "../local.ts";
import { runWithSignals } from "../signals.ts";
import { loadedConfigWarnings } from "./config.ts";

/** Exit status of a `run` refused because another daemon holds the state directory (sysexits EX_TEMPFAIL). */
export const EXIT_ALREADY_RUNNING = 75;

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
      // What `config check` warns about (an empty allowlist while enforcing, ...) is in the daemon's log too.
      const warn = (c: LoadedConfig) => {
        for (const w of loadedConfigWarnings(c)) logger.warn({ at: w.path }, `configuration: ${w.message}`);
      };
      warn(config);
      const daemon = new Daemon({
        config,
        clock: SystemClock,
        logger,
        plugins: FACTORIES,
        ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
        ...(opts.dryRun ? { dryRun: true } : {}),
      });
      const reload = () => {
        try {
          const next = loadConfigFile(opts.config, REGISTRIES);
          warn(next);
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
      };
      try {
        await runWithSignals(logger, {
          start: () => daemon.start(),
          stop: () => daemon.stop(),
          onHangup: reload,
        });
      } catch (e) {
        if (!(e instanceof DaemonRunningError)) throw e;
        io.stderr.write(`portcullis: ${e.message}\n`);
        setExit(EXIT_ALREADY_RUNNING);
        return;
      }
      setExit(0);
    });
}

function describe(e: unknown): string {
  return isPortcullisError(e) ? e.describe() : (e as Error).message;
}
