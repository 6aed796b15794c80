/**
 * How the long-running commands (`run`, `enforcer`) live: until SIGTERM or SIGINT, which stop them once and
 * cleanly (a second signal during the shutdown is ignored; a failed shutdown is logged, not thrown). SIGHUP is
 * the command's own: `run` reloads its config, the enforcer says it needs a restart.
 */
import type { Logger } from "../core/logger.ts";

export function runUntilSignalled(
  logger: Logger,
  stop: () => Promise<void>,
  onHangup: () => void,
): Promise<void> {
  return new Promise<void>((resolve) => {
    let stopping = false;
    const onStop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down");
      stop().then(resolve, (e: unknown) => {
        logger.error({ err: (e as Error).message }, "shutdown failed");
        resolve();
      });
    };
    process.on("SIGTERM", () => onStop("SIGTERM"));
    process.on("SIGINT", () => onStop("SIGINT"));
    process.on("SIGHUP", onHangup);
  });
}
