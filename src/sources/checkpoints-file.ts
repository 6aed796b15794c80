/**
 * A {@link CheckpointStore} kept in one JSON file (`{"key": "value", ...}`), for the daemon until the SQLite
 * store lands. Writes are atomic (temporary file, fsync, rename), serialised, and coalesced: while one write
 * runs, every `set` made meanwhile is saved by the next single write, so a busy source costs at most one write
 * in flight plus one queued. `set` resolves once its value is on disk.
 */
import { open, readFile, rename } from "node:fs/promises";
import { PortcullisError } from "../core/errors.ts";
import type { CheckpointStore } from "./types.ts";

export class JsonFileCheckpointStore implements CheckpointStore {
  readonly path: string;
  #map: Map<string, string> | undefined;
  #loading: Promise<Map<string, string>> | undefined;
  /** The write in progress. */
  #writing: Promise<void> = Promise.resolve();
  /** The queued write that will include every change not yet being written. */
  #next: Promise<void> | undefined;

  constructor(path: string) {
    this.path = path;
  }

  async get(key: string): Promise<string | undefined> {
    return (await this.#load()).get(key);
  }

  async set(key: string, value: string): Promise<void> {
    (await this.#load()).set(key, value);
    if (!this.#next) {
      const next = this.#writing.then(() => {
        this.#next = undefined;
        return this.#write();
      });
      this.#next = next;
      this.#writing = next.catch(() => {});
    }
    return this.#next;
  }

  #load(): Promise<Map<string, string>> {
    if (this.#map) return Promise.resolve(this.#map);
    this.#loading ??= this.#read().then((m) => (this.#map = m));
    return this.#loading;
  }

  async #read(): Promise<Map<string, string>> {
    let text: string;
    try {
      text = await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return new Map();
      throw new PortcullisError(
        "INPUT_UNREADABLE",
        `cannot read checkpoints ${this.path}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw corrupt(this.path, e);
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) throw corrupt(this.path);
    const map = new Map<string, string>();
    for (const [k, v] of Object.entries(doc)) if (typeof v === "string") map.set(k, v);
    return map;
  }

  async #write(): Promise<void> {
    const map = this.#map!;
    const doc: Record<string, string> = {};
    for (const k of [...map.keys()].sort()) doc[k] = map.get(k)!;
    const tmp = `${this.path}.tmp`;
    const fh = await open(tmp, "w", 0o600);
    try {
      await fh.writeFile(JSON.stringify(doc, null, 1) + "\n");
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, this.path);
  }
}

function corrupt(path: string, cause?: unknown): PortcullisError {
  return new PortcullisError(
    "INPUT_UNREADABLE",
    `checkpoint file ${path} is not a JSON object of strings; move it away to start over (sources then start ` +
      `at their configured start position)`,
    { cause },
  );
}
