/**
 * How the long-running commands (`run`, `enforcer`) live: until SIGTERM or SIGINT, which stop them once and
 * cleanly (a second signal during the shutdown is ignored; a failed shutdown is logged, not thrown). SIGHUP is
 * the command's own: `run` reloads its config, the enforcer says it needs a restart.
 *
 * The handlers are installed before the command starts (`start`): a signal that arrives while it is starting
 * must neither kill the process (Node's default for SIGHUP, SIGTERM and SIGINT) nor be lost. SIGHUP is then
 * handled once the start has finished (several count as one); SIGTERM or SIGINT stops the command as soon as
 * its start has finished. A start that fails rejects (after which no signal is handled here any more).
 */
import type { Logger } from "../core/logger.ts";

export interface SignalledCommand {
  /** Starts the command; the signals are handled from before it is called. */
  start?: () => Promise<void>;
  stop: () => Promise<void>;
  onHangup: () => void;
}

/** Runs `command` until SIGTERM or SIGINT has stopped it (see the module comment). */
export function runWithSignals(logger: Logger, command: SignalledCommand): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let started = command.start === undefined;
    /** The signal that asked to stop, once one did. */
    let stopSignal: string | undefined;
    /** A SIGHUP that arrived while starting. */
    let hangup = false;
    const handlers = {
      SIGTERM: () => onStop("SIGTERM"),
      SIGINT: () => onStop("SIGINT"),
      SIGHUP: () => onHangup(),
    } as const;
    const done = (error?: unknown) => {
      for (const [signal, handler] of Object.entries(handlers)) process.off(signal, handler);
      if (error === undefined) resolve();
      else reject(error instanceof Error ? error : new Error("start failed", { cause: error }));
    };
    const shutdown = (signal: string) => {
      logger.info({ signal }, "shutting down");
      command.stop().then(
        () => done(),
        (e: unknown) => {
          logger.error({ err: (e as Error).message }, "shutdown failed");
          done();
        },
      );
    };
    const onStop = (signal: string) => {
      if (stopSignal !== undefined) return;
      stopSignal = signal;
      if (started) shutdown(signal);
      else logger.info({ signal }, "stop requested while starting: stopping once started");
    };
    const onHangup = () => {
      if (stopSignal !== undefined) return;
      if (started) {
        command.onHangup();
        return;
      }
      if (!hangup)
        logger.info({ signal: "SIGHUP" }, "reload requested while starting: reloading once started");
      hangup = true;
    };
    for (const [signal, handler] of Object.entries(handlers)) process.on(signal, handler);
    if (started) return;
    command.start!().then(
      () => {
        started = true;
        if (stopSignal !== undefined) shutdown(stopSignal);
        else if (hangup) command.onHangup();
      },
      (e: unknown) => done(e ?? null),
    );
  });
}
