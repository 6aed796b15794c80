/**
 * The source stage: where log lines and alerts come from (files, journald, syslog, SIEM webhooks, searches).
 *
 * Contract for implementations:
 * - `run` reads until `signal` aborts, then returns after persisting its position; it never closes or ends
 *   anything it did not open;
 * - back-pressure: `sink.push` returns a promise; a source awaits it before reading more, and never drops lines
 *   silently (if a source must drop, e.g. a UDP receiver whose buffer overflows, it counts the drops);
 * - positions (file offsets, journal cursors) are never written by the source itself while it runs: a batch
 *   carries the `position` reached after its lines, and the sink commits it to the source's checkpoint store in
 *   the same transaction as the batch's decisions and alerts, so a crash (kill -9) neither re-reads nor misses a
 *   line: either the batch and its position are committed, or neither is;
 * - a source does not retry on its own forever: transient errors are logged and retried with backoff, and
 *   surface in `healthcheck`.
 */
import type { Health, PluginContext, PluginDefinition } from "../core/plugin.ts";

export interface SourceBatch {
  /**
   * Raw lines (no trailing newline), framed by the pipeline's LineFramer. May be empty: a batch that only
   * carries a checkpoint (the start position of a newly tracked file, a file that was retired).
   */
  lines: string[];
  /** Identifies the stream the lines belong to (one framer/parser state per stream): e.g. the file path. */
  stream: string;
  /** `log.file.path` for file sources. */
  path?: string;
  /** Line number (1-based) of the first line, when known. */
  firstLine?: number;
  /** Address of the host that sent the lines (syslog receiver). */
  peer?: string;
  /** The position after these lines, committed by the sink together with what the lines produced. */
  position?: SourcePosition;
}

/** A source's saved position: a key of its {@link CheckpointStore} and the value to store under it. */
export interface SourcePosition {
  key: string;
  value: string;
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

/** What a source receives in `create`: the plugin context plus the store its positions are committed to. */
export interface SourceContext extends PluginContext {
  checkpoints: CheckpointStore;
}

/**
 * Counters every source keeps (monotonic since `create`, except gauges a source documents as such), read by the
 * metrics exporter as `portcullis_source_<counter>` with the source's name and type as labels.
 */
export interface SourceStats {
  /** Lines (messages, journal entries) handed to the sink. */
  lines: number;
  /** Bytes read from the input (files, pipes, sockets), delimiters included. */
  bytes: number;
  /** Lines lost by policy (e.g. a full UDP queue, an unusable oversized journal entry); never silent. */
  drops: number;
  /** Files rotated or truncated away from under the source (file), child restarts (journald). */
  rotations: number;
  /** Read, spawn, protocol and checkpoint errors. */
  errors: number;
  /** Source-specific counters, documented in the source's README. */
  [counter: string]: number;
}

/** A source with counters. */
export interface InstrumentedSource extends Source {
  stats(): SourceStats;
}

/** A source plugin: `create` receives the {@link SourceContext}. */
export interface SourceDefinition<Config>
  extends Omit<PluginDefinition<Config, InstrumentedSource>, "create"> {
  create(config: Config, ctx: SourceContext): InstrumentedSource;
}
