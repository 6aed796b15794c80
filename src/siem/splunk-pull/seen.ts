/**
 * What was already reported, so that overlapping windows (a 15-minute look-back run every 5 minutes) report
 * an address once per occurrence rather than at every run. An occurrence is the address in a window; the
 * address is reported again only from a window that starts at or after the end of the window it was last
 * reported from (disjoint evidence). Entries that can no longer suppress anything are pruned; beyond `max`,
 * the oldest are forgotten first (at worst an address is reported twice, never missed).
 *
 * Persisted in the CheckpointStore as JSON: `{v, fp, ran, latest, seen: [[address, until], ...]}`, where `fp`
 * fingerprints the search (another search or window starts afresh), `ran` is the last completed run's time and
 * `latest` the end of its window (both absent until a run completed: a run that failed half-way still saves
 * the addresses it handed over).
 */

export interface Checkpoint {
  v: 1;
  /** Fingerprint of the search and window definition. */
  fp: string;
  /** Clock time of the last completed run (epoch ms). */
  ran?: number;
  /** End of the last completed run's window (epoch ms). */
  latest?: number;
  /** Address and end of the window it was last reported from, oldest first. */
  seen: [string, number][];
}

export class SeenSet {
  readonly max: number;
  /** Address -> end of the window it was last reported from; insertion order = oldest first. */
  readonly #until = new Map<string, number>();

  constructor(max: number, entries: readonly (readonly [string, number])[] = []) {
    this.max = max;
    for (const [ip, until] of [...entries].sort((a, b) => a[1] - b[1])) this.#until.set(ip, until);
  }

  get size(): number {
    return this.#until.size;
  }

  /** True when `ip` was reported from a window that overlaps one starting at `earliest`. */
  suppresses(ip: string, earliest: number): boolean {
    const until = this.#until.get(ip);
    return until !== undefined && until > earliest;
  }

  add(ip: string, until: number): void {
    this.#until.delete(ip);
    this.#until.set(ip, until);
  }

  /**
   * Forgets entries that cannot suppress a window starting at `earliest` or later, then the oldest beyond
   * `max`. Returns how many were forgotten for the cap (while still able to suppress).
   */
  prune(earliest: number): number {
    for (const [ip, until] of this.#until) if (until <= earliest) this.#until.delete(ip);
    let evicted = 0;
    for (const ip of this.#until.keys()) {
      if (this.#until.size <= this.max) break;
      this.#until.delete(ip);
      evicted++;
    }
    return evicted;
  }

  entries(): [string, number][] {
    return [...this.#until];
  }
}

export function encodeCheckpoint(c: Checkpoint): string {
  return JSON.stringify(c);
}

/** The checkpoint, or why it is unusable (the caller starts afresh and says so). */
export function decodeCheckpoint(
  text: string,
): { ok: true; value: Checkpoint } | { ok: false; reason: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return { ok: false, reason: "not JSON" };
  }
  if (typeof v !== "object" || v === null) return { ok: false, reason: "not an object" };
  const c = v as Partial<Checkpoint>;
  if (c.v !== 1) return { ok: false, reason: `unknown version ${String(c.v)}` };
  if (typeof c.fp !== "string") return { ok: false, reason: "no fingerprint" };
  for (const k of ["ran", "latest"] as const) {
    if (c[k] !== undefined && !Number.isFinite(c[k])) return { ok: false, reason: `${k} is not a time` };
  }
  if (
    !Array.isArray(c.seen) ||
    !c.seen.every(
      (e): e is [string, number] =>
        Array.isArray(e) && e.length === 2 && typeof e[0] === "string" && Number.isFinite(e[1]),
    )
  ) {
    return { ok: false, reason: "seen is not a list of [address, time] pairs" };
  }
  return { ok: true, value: c as Checkpoint };
}
