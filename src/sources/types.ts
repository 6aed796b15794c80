/**
 * The source stage: where log lines and alerts come from (files, journald, syslog, SIEM webhooks, searches).
 *
 * Contract for implementations:
 * - `run` reads until `signal` aborts, then returns after persisting its position; it never closes or ends
 *   anything it did not open;
 * - back-pressure: `sink.push` returns a promise; a source awaits it before reading more, and never drops lines
 *   silently (if a source must drop, e.g. a UDP receiver whose buffer overflows, it counts the drops);
 * - positions (file offsets, journal cursors) are committed only through the `checkpoint` callback of a batch,
 *   which the pipeline calls after the batch was processed, so a crash re-reads at most one batch;
 * - a source does not retry on its own forever: transient errors are logged and retried with backoff, and
 *   surface in `healthcheck`.
 */
import type { Health } from "../core/plugin.ts";

export interface SourceBatch {
  /** Raw lines (no trailing newline), framed by the pipeline's LineFramer. */
  lines: string[];
  /** Identifies the stream the lines belong to (one framer/parser state per stream): e.g. the file path. */
  stream: string;
  /** `log.file.path` for file sources. */
  path?: string;
  /** Line number (1-based) of the first line, when known. */
  firstLine?: number;
  /** Address of the host that sent the lines (syslog receiver). */
  peer?: string;
  /** Persists the position after these lines; called by the pipeline once they are processed. */
  checkpoint?: () => void | Promise<void>;
}

export interface LineSink {
  push(batch: SourceBatch): Promise<void>;
}

export interface Source {
  readonly name: string;
  readonly type: string;
  run(sink: LineSink, signal: AbortSignal): Promise<void>;
  healthcheck(): Promise<Health>;
}

/** Where sources keep their positions (the store implements it). */
export interface CheckpointStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
}
