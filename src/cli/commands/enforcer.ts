/**
 * `portcullis enforcer --config FILE [--socket PATH]`: the privileged helper. Runs as root (with only
 * CAP_NET_ADMIN under the shipped systemd unit), hosts the firewall responders of its own config and serves
 * them on a unix socket (mode 0660, the config's group) to the unprivileged daemon. SIGTERM and SIGINT stop
 * it cleanly (running requests finish, the socket file is removed). See src/enforcer/README.md.
 */
import type { Command } from "commander";
import { SystemClock } from "../../core/clock.ts";
import { ProcessExec } from "../../core/exec.ts";
import { createLogger } from "../../core/logger.ts";
import { DEFAULT_ENFORCER_CONFIG, loadEnforcerConfig } from "../../enforcer/config.ts";
import { socketPath } from "../../enforcer/protocol.ts";
import { enforcerFromConfig } from "../../enforcer/server.ts";
import { PortcullisError } from "../../core/errors.ts";
import type { CliIO } from "../main.ts";
import { runWithSignals } from "../signals.ts";

interface EnforcerOptions {
  config: string;
  socket?: string;
  logLevel?: string;
}

export function registerEnforcer(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("enforcer")
    .description("run the privileged firewall helper the unprivileged daemon talks to (unix socket)")
    .option("-c, --config <file>", "enforcer configuration file (YAML)", DEFAULT_ENFORCER_CONFIG)
    .option("-s, --socket <path>", "unix socket to listen on (overrides the config's socket)")
    .option("--log-level <level>", "debug, info, warn or error (overrides log_level)")
    .action(async (opts: EnforcerOptions) => {
      const loaded = loadEnforcerConfig(opts.config);
      if (opts.socket !== undefined && !socketPath.safeParse(opts.socket).success)
        throw new PortcullisError("USAGE", `--socket: an absolute path of at most 107 bytes`);
      const logger = createLogger({ level: opts.logLevel ?? loaded.raw.log_level, destination: io.stderr });
      const server = await enforcerFromConfig(
        loaded,
        { clock: SystemClock, logger, dataDir: "/nonexistent", exec: new ProcessExec() },
        { socket: opts.socket },
      );
      // The responders are fixed at start: a new config needs a restart (logged, never half-applied). The
      // signal handlers are in place while it starts (a SIGHUP then must not kill it).
      await runWithSignals(logger, {
        start: () => server.start(),
        stop: () => server.stop(),
        onHangup: () => logger.warn({}, "SIGHUP ignored: restart the enforcer to change its config"),
      });
      setExit(0);
    });
}
