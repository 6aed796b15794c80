/**
 * Exact sliding windows in event time. A window holds (time, weight) entries; the count at time t is the sum of
 * weights of entries with time >= t - window (inclusive: first and last counted events may be exactly `window`
 * apart). Memory per window is bounded by `cap`: once the sum reaches `cap`, the oldest entries are dropped
 * while the rest still sums to at least `cap`, so counts stay exact up to `cap` (the highest tier a rule needs).
 */
export class SlidingCount {
  // A ring buffer of (time, weight) pairs: the oldest entry at #head, #len entries. It grows by doubling and
  // never shrinks (`cap` bounds it: at most `cap` + 1 entries of weight >= 1 are kept). No allocation per
  // entry, no copying as entries expire.
  #times: number[] = [0, 0, 0, 0];
  #weights: number[] = [0, 0, 0, 0];
  #head = 0;
  #len = 0;
  #sum = 0;

  get sum(): number {
    return this.#sum;
  }

  get first(): number | undefined {
    return this.#len > 0 ? this.#times[this.#head] : undefined;
  }

  /** Drops entries older than `t - window`. */
  expire(t: number, window: number): void {
    const min = t - window;
    const times = this.#times;
    while (this.#len > 0 && times[this.#head]! < min) this.#dropOldest();
  }

  add(t: number, weight: number, cap: number): void {
    if (this.#len === this.#times.length) this.#grow();
    let at = this.#head + this.#len;
    if (at >= this.#times.length) at -= this.#times.length;
    this.#times[at] = t;
    this.#weights[at] = weight;
    this.#len++;
    this.#sum += weight;
    while (this.#len > 1 && this.#sum - this.#weights[this.#head]! >= cap) this.#dropOldest();
  }

  clear(): void {
    this.#head = 0;
    this.#len = 0;
    this.#sum = 0;
  }

  get length(): number {
    return this.#len;
  }

  /** The entries, oldest first, as `[times, weights]` (for saving a window across a restart). */
  entries(): [number[], number[]] {
    const times: number[] = [];
    const weights: number[] = [];
    for (let i = 0; i < this.#len; i++) {
      const at = (this.#head + i) % this.#times.length;
      times.push(this.#times[at]!);
      weights.push(this.#weights[at]!);
    }
    return [times, weights];
  }

  /**
   * A window holding saved entries (oldest first), re-added one by one so the `cap` bound holds as if they had
   * just been seen; undefined when the saved data is not two equally long lists of finite numbers in time order.
   */
  static restore(saved: unknown, cap: number): SlidingCount | undefined {
    if (!Array.isArray(saved) || saved.length !== 2) return undefined;
    const [times, weights] = saved as unknown[];
    if (!Array.isArray(times) || !Array.isArray(weights) || times.length !== weights.length) return undefined;
    const w = new SlidingCount();
    let last = -Infinity;
    for (let i = 0; i < times.length; i++) {
      const t: unknown = times[i];
      const weight: unknown = weights[i];
      if (typeof t !== "number" || !Number.isFinite(t) || t < last) return undefined;
      if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0) return undefined;
      w.add(t, weight, cap);
      last = t;
    }
    return w;
  }

  #dropOldest(): void {
    this.#sum -= this.#weights[this.#head]!;
    this.#len--;
    if (++this.#head === this.#times.length) this.#head = 0;
  }

  /** Doubles the capacity, unrolling the ring so the oldest entry is at index 0. */
  #grow(): void {
    const n = this.#times.length;
    const times = new Array<number>(n * 2).fill(0);
    const weights = new Array<number>(n * 2).fill(0);
    for (let i = 0; i < this.#len; i++) {
      const from = (this.#head + i) % n;
      times[i] = this.#times[from]!;
      weights[i] = this.#weights[from]!;
    }
    this.#times = times;
    this.#weights = weights;
    this.#head = 0;
  }
}

/**
 * Per-group state with a cap on the number of groups. Beyond the cap, the least recently seen group is evicted
 * (approximately: the "second chance" clock algorithm over the Map's insertion order, so a touch costs one
 * lookup and a stamp instead of re-inserting the entry).
 */
export class KeyedState<S> {
  readonly #map = new Map<string, { s: S; hot: boolean }>();
  readonly #cap: number;
  evictions = 0;

  constructor(cap: number) {
    this.#cap = cap;
  }

  /** The state for `key`, created with `make` if absent; marks it recently used. */
  touch(key: string, make: () => S): S {
    const m = this.#map;
    const hit = m.get(key);
    if (hit !== undefined) {
      hit.hot = true;
      return hit.s;
    }
    if (m.size >= this.#cap) this.#evictOne();
    const s = make();
    m.set(key, { s, hot: false });
    return s;
  }

  #evictOne(): void {
    const m = this.#map;
    // Give recently used entries at the head a second chance (bounded: each is cleared once per pass).
    for (let i = 0; i < m.size; i++) {
      const [k, v] = m.entries().next().value as [string, { s: S; hot: boolean }];
      m.delete(k);
      if (!v.hot) {
        this.evictions++;
        return;
      }
      v.hot = false;
      m.set(k, v);
    }
    const first = m.keys().next().value as string;
    m.delete(first);
    this.evictions++;
  }

  get(key: string): S | undefined {
    return this.#map.get(key)?.s;
  }

  /** Drops every group for which `idle(state)` is true (groups with nothing left in their window). */
  sweep(idle: (s: S) => boolean): number {
    if (this.#map.size === 0) return 0;
    let n = 0;
    for (const [k, v] of this.#map) {
      if (idle(v.s)) {
        this.#map.delete(k);
        n++;
      }
    }
    return n;
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  get size(): number {
    return this.#map.size;
  }

  keys(): IterableIterator<string> {
    return this.#map.keys();
  }

  /** Every group with its state, least recently inserted first. */
  *entries(): IterableIterator<[string, S]> {
    for (const [k, v] of this.#map) yield [k, v.s];
  }

  /** Puts a restored group (counts towards the cap like any other). */
  set(key: string, s: S): void {
    if (!this.#map.has(key) && this.#map.size >= this.#cap) this.#evictOne();
    this.#map.set(key, { s, hot: false });
  }
}
