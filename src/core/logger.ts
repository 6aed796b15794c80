/**
 * Structured logging: key/value records (pino). Components receive a Logger, never create one; tests pass
 * {@link silentLogger} or a collecting logger.
 */
import pino from "pino";

export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
  child(bindings: Record<string, unknown>): Logger;
}

export function createLogger(opts: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    { level: opts.level ?? "info", base: { app: "portcullis" }, timestamp: pino.stdTimeFunctions.isoTime },
    (opts.destination ?? process.stderr) as pino.DestinationStream,
  );
}

const noop = () => {};
export const silentLogger: Logger = {
  debug: noop,
  info: noop,
  warn: noop,
  error: noop,
  child: () => silentLogger,
};

/** A logger that keeps records in memory (tests assert on them). */
export function memoryLogger(): Logger & {
  records: { level: string; msg?: string; [k: string]: unknown }[];
} {
  const records: { level: string; msg?: string; [k: string]: unknown }[] = [];
  const make = (bindings: Record<string, unknown>): Logger => {
    const log = (level: string) => (obj: object, msg?: string) =>
      records.push({ level, ...bindings, ...obj, msg });
    return {
      debug: log("debug"),
      info: log("info"),
      warn: log("warn"),
      error: log("error"),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return Object.assign(make({}), { records });
}
