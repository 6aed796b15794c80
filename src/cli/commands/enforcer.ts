/**
 * `portcullis enforcer --config FILE [--socket PATH]`: the privileged helper. Runs as root (with only
 * CAP_NET_ADMIN under the shipped systemd unit), hosts the firewall responders of its own config and serves
 * them on a unix socket (mode 0660, the config's group) to the unprivileged daemon. SIGTERM and SIGINT stop
 * it cleanly (running requests finish, the socket file is removed). See src/enforcer/README.md.
 *
 * `portcullis enforcer --check [--config FILE]`: what starting would refuse (the file, its schema, the group),
 * without starting: nothing is bound, no firewall tool runs. Exit 0 and `FILE: OK (...)` on stdout, else the
 * problems on stderr with their file:line and the start's exit status (65 for an invalid configuration).
 */
import type { Command } from "commander";
import { SystemClock } from "../../core/clock.ts";
import { ProcessExec } from "../../core/exec.ts";
import { createLogger } from "../../core/logger.ts";
import { formatDuration } from "../../core/duration.ts";
import { keyLineOf } from "../../core/yaml.ts";
import {
  DEFAULT_ENFORCER_CONFIG,
  loadEnforcerConfig,
  type LoadedEnforcerConfig,
} from "../../enforcer/config.ts";
import { socketPath } from "../../enforcer/protocol.ts";
import { enforcerFromConfig } from "../../enforcer/server.ts";
import { PortcullisError } from "../../core/errors.ts";
import type { CliIO } from "../main.ts";
import { runWithSignals } from "../signals.ts";
import { printableLines } from "../table.ts";

interface EnforcerOptions {
  config: string;
  socket?: string;
  logLevel?: string;
  check?: boolean;
}

/** The one line `--check` prints for a valid configuration. */
function summary(c: LoadedEnforcerConfig, socket: string): string {
  const names = c.responders.map((r) => (r.name === r.type ? r.name : `${r.name} (${r.type})`));
  return (
    `${c.file}: OK (socket ${socket}, group ${c.raw.group}, responders: ${names.join(", ")}; ` +
    `protect: ${c.raw.protect.length} entr${c.raw.protect.length === 1 ? "y" : "ies"}, ` +
    `max_duration: ${formatDuration(c.raw.max_duration)})`
  );
}

export function registerEnforcer(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("enforcer")
    .description("run the privileged firewall helper the unprivileged daemon talks to (unix socket)")
    .option("-c, --config <file>", "enforcer configuration file (YAML)", DEFAULT_ENFORCER_CONFIG)
    .option("-s, --socket <path>", "unix socket to listen on (overrides the config's socket)")
    .option("--log-level <level>", "debug, info, warn or error (overrides log_level)")
    .option(
      "--check",
      "check the configuration as starting does (schema, responders, group), every problem with its " +
        "file:line, without starting; exit 0 when it is valid",
    )
    .action(async (opts: EnforcerOptions) => {
      const loaded = loadEnforcerConfig(opts.config);
      if (opts.socket !== undefined && !socketPath.safeParse(opts.socket).success)
        throw new PortcullisError("USAGE", `--socket: an absolute path of at most 107 bytes`);
      const logger = createLogger({
        level: opts.check ? "warn" : (opts.logLevel ?? loaded.raw.log_level),
        destination: io.stderr,
      });
      // Resolves the group and creates the responders: no socket, no firewall command until start().
      const server = await enforcerFromConfig(
        loaded,
        { clock: SystemClock, logger, dataDir: "/nonexistent", exec: new ProcessExec() },
        { socket: opts.socket },
      );
      if (opts.check) {
        io.stdout.write(`${printableLines(summary(loaded, server.socket))}\n`);
        if (loaded.raw.allow_teardown) {
          const at = loaded.located ? `${loaded.file}:${keyLineOf(loaded.located, ["allow_teardown"])}` : "";
          io.stderr.write(
            `portcullis: warning: ${printableLines(`${at} allow_teardown`)}: any member of group ` +
              `${loaded.raw.group} may lift every ban (for tests and cleanup only)\n`,
          );
        }
        setExit(0);
        return;
      }
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
