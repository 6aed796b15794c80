/**
 * Helpers for source tests: a sink that records batches and commits their positions (as the pipeline does),
 * can be gated to simulate a slow stage, and a wait for a condition (a hang guard with a generous limit, not a
 * timed assertion: tests assert on what happened, never on how long it took).
 */
import type { Clock } from "../core/clock.ts";
import { SystemClock } from "../core/clock.ts";
import { ProcessExec } from "../core/exec.ts";
import { silentLogger, type Logger } from "../core/logger.ts";
import { MemoryCheckpointStore } from "./checkpoints.ts";
import type { CheckpointStore, LineSink, Source, SourceBatch, SourceContext } from "./types.ts";

export class RecordingSink implements LineSink {
  /** Where batch positions are committed (the store the source under test was given, to test restarts). */
  readonly #store: CheckpointStore | undefined;
  readonly batches: SourceBatch[] = [];
  readonly lines: string[] = [];
  /** Calls of push (including one still blocked at the gate). */
  calls = 0;
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;

  constructor(store?: CheckpointStore) {
    this.#store = store;
  }

  async push(batch: SourceBatch): Promise<void> {
    this.calls++;
    if (this.#gate) await this.#gate;
    this.batches.push(batch);
    this.lines.push(...batch.lines);
    if (batch.position) await this.#store?.set(batch.position.key, batch.position.value);
  }

  /** Makes every later push wait until {@link release}. */
  block(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#gate = undefined;
    this.#open?.();
  }

  /** Batches that carried lines. */
  get lineBatches(): SourceBatch[] {
    return this.batches.filter((b) => b.lines.length > 0);
  }
}

export function sourceContext(
  opts: { checkpoints?: CheckpointStore; clock?: Clock; logger?: Logger; dataDir?: string } = {},
): SourceContext {
  return {
    clock: opts.clock ?? SystemClock,
    logger: opts.logger ?? silentLogger,
    dataDir: opts.dataDir ?? "/nonexistent",
    exec: new ProcessExec(),
    checkpoints: opts.checkpoints ?? new MemoryCheckpointStore(),
  };
}

/** Waits until `cond()` holds; fails with `what` (and the state printed by `show`) after `limitMs`. */
export async function waitFor(
  cond: () => boolean | Promise<boolean>,
  what: string,
  show?: () => unknown,
  limitMs = 15_000,
): Promise<void> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > limitMs) {
      throw new Error(`gave up waiting for: ${what}${show ? `; state: ${JSON.stringify(show())}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Starts a source; `stop()` aborts it and waits for `run` to return (rethrowing its error). */
export function start(source: Source, sink: LineSink): { stop: () => Promise<void>; done: Promise<void> } {
  const ac = new AbortController();
  const done = source.run(sink, ac.signal);
  done.catch(() => {}); // observed by stop()
  return {
    done,
    stop: async () => {
      ac.abort();
      await done;
    },
  };
}
