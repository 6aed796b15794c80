/**
 * An in-memory {@link CheckpointStore}: for tests, `replay`-like one-shot runs, and as the reference behaviour
 * of the persistent stores (the JSON file store in checkpoints-file.ts, the SQLite store).
 */
import type { CheckpointStore } from "./types.ts";

export class MemoryCheckpointStore implements CheckpointStore {
  readonly #map = new Map<string, string>();
  /** How many times `set` was called (tests assert that positions were committed). */
  writes = 0;

  constructor(initial?: Record<string, string>) {
    for (const [k, v] of Object.entries(initial ?? {})) this.#map.set(k, v);
  }

  get(key: string): Promise<string | undefined> {
    return Promise.resolve(this.#map.get(key));
  }

  set(key: string, value: string): Promise<void> {
    this.#map.set(key, value);
    this.writes++;
    return Promise.resolve();
  }

  /** A copy of every entry. */
  entries(): Record<string, string> {
    return Object.fromEntries(this.#map);
  }
}
