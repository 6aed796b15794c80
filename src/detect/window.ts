/**
 * Exact sliding windows in event time. A window holds (time, weight) entries in time order; the count at time t
 * is the sum of weights of entries with time >= t - window (inclusive: first and last counted events may be
 * exactly `window` apart). Memory per window is bounded by `cap`: once the sum reaches `cap`, the oldest entries
 * are dropped while the rest still sums to at least `cap`, so counts stay exact up to `cap` (the highest tier a
 * rule needs).
 *
 * Events usually arrive in time order (an O(1) append). A late one (older than the newest entry: several hosts,
 * or files, merged) is inserted in its place, and what it is counted with is the busiest window of length
 * `window` that holds it (see {@link add}): it is never counted with entries more than `window` after it.
 * Entries a newer event has already expired (older than the newest minus `window`) are gone, so a late event
 * may be under-counted, never over-counted.
 */
export class SlidingCount {
  // A ring buffer of (time, weight) pairs in time order: the oldest entry at #head, #len entries. It grows by
  // doubling and never shrinks (`cap` bounds it: at most `cap` + 1 entries of weight >= 1 are kept after an
  // in-order append, LATE_SLACK more while late entries come in between). No allocation per entry, no copying
  // as entries expire.
  #times: number[] = [0, 0, 0, 0];
  #weights: number[] = [0, 0, 0, 0];
  #head = 0;
  #len = 0;
  #sum = 0;
  /** Time of the newest entry (meaningful while #len > 0). */
  #last = 0;
  /** The window the last {@link add} counted: its oldest and newest entry times. */
  #from = 0;
  #to = 0;

  get sum(): number {
    return this.#sum;
  }

  get first(): number | undefined {
    return this.#len > 0 ? this.#times[this.#head] : undefined;
  }

  /** Time of the newest entry; -Infinity when empty (an event at `t < last` is late). */
  get last(): number {
    return this.#len > 0 ? this.#last : -Infinity;
  }

  /** Oldest entry time of the window the last {@link add} counted (an alert's first_seen). */
  get from(): number {
    return this.#from;
  }

  /** Newest entry time of the window the last {@link add} counted (an alert's last_seen). */
  get to(): number {
    return this.#to;
  }

  /** Drops entries older than `t - window`. */
  expire(t: number, window: number): void {
    const min = t - window;
    const times = this.#times;
    while (this.#len > 0 && times[this.#head]! < min) this.#dropOldest();
  }

  /**
   * Adds an entry (after {@link expire} at `t`) and returns the count it is part of. In time order that is the
   * sum: every entry held is within `window` before `t`. A late entry is counted with the busiest window of
   * length `window` that holds it: any such window can be shifted, keeping what it holds, until it ends at an
   * entry, so the answer is the largest count of the windows [e - window, e] ending at entries e in
   * [t, t + window]. {@link from} and {@link to} are that window's first and last entry times.
   */
  add(t: number, weight: number, cap: number, window = Infinity): number {
    if (this.#len > 0 && t < this.#last) return this.#addLate(t, weight, cap, window);
    if (this.#len === this.#times.length) this.#grow();
    let at = this.#head + this.#len;
    if (at >= this.#times.length) at -= this.#times.length;
    this.#times[at] = t;
    this.#weights[at] = weight;
    this.#len++;
    this.#sum += weight;
    this.#last = t;
    while (this.#len > 1 && this.#sum - this.#weights[this.#head]! >= cap) this.#dropOldest();
    this.#from = this.#times[this.#head]!;
    this.#to = t;
    return this.#sum;
  }

  /**
   * Sum of the entries at or before `t` (the events a `then` at `t` follows; {@link expire} at `t` first). In
   * time order that is every entry; after a late `t`, newer entries are not counted.
   */
  sumUntil(t: number): number {
    if (this.#last <= t) return this.#sum;
    let n = 0;
    for (let i = 0; i < this.#len; i++) {
      const at = this.#at(i);
      if (this.#times[at]! > t) break;
      n += this.#weights[at]!;
    }
    return n;
  }

  /** Sum of the entries in [from, to] (a `then` seen before a late first: what preceded it within its window). */
  sumBetween(from: number, to: number): number {
    let n = 0;
    for (let i = 0; i < this.#len; i++) {
      const at = this.#at(i);
      const e = this.#times[at]!;
      if (e > to) break;
      if (e >= from) n += this.#weights[at]!;
    }
    return n;
  }

  /** Time of the oldest entry at or after `from`. */
  firstFrom(from: number): number | undefined {
    for (let i = 0; i < this.#len; i++) {
      const e = this.#times[this.#at(i)]!;
      if (e >= from) return e;
    }
    return undefined;
  }

  #addLate(t: number, weight: number, cap: number, window: number): number {
    if (this.#len === this.#times.length) this.#grow();
    // Insert after the entries at or before `t` (late entries are usually near the end: search from there).
    let i = this.#len;
    while (i > 0 && this.#times[this.#at(i - 1)]! > t) {
      const from = this.#at(i - 1);
      const to = this.#at(i);
      this.#times[to] = this.#times[from]!;
      this.#weights[to] = this.#weights[from]!;
      i--;
    }
    const at = this.#at(i);
    this.#times[at] = t;
    this.#weights[at] = weight;
    this.#len++;
    this.#sum += weight;
    // The busiest window [e - window, e] over entries e in [t, t + window] (two pointers: `lo` is the first entry
    // in the window ending at entry j, `inside` the sum of lo..j).
    let best = -1;
    let lo = 0;
    let inside = 0;
    for (let j = 0; j < this.#len; j++) {
      const e = this.#times[this.#at(j)]!;
      if (e > t + window) break;
      inside += this.#weights[this.#at(j)]!;
      while (this.#times[this.#at(lo)]! < e - window) inside -= this.#weights[this.#at(lo++)]!;
      if (j >= i && inside > best) {
        best = inside;
        this.#from = this.#times[this.#at(lo)]!;
        this.#to = e;
      }
    }
    // Trimmed only past a slack (dropping the oldest never over-counts, but may leave a later late event with
    // less to be counted with than `cap`); the next in-order append trims to `cap` again.
    if (this.#len > cap + LATE_SLACK) {
      while (this.#len > 1 && this.#sum - this.#weights[this.#head]! >= cap) this.#dropOldest();
    }
    return best;
  }

  /** Physical index of the `i`-th oldest entry. */
  #at(i: number): number {
    const at = this.#head + i;
    return at >= this.#times.length ? at - this.#times.length : at;
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
/** How many of the least recently seen groups are weighed against each other when one must be evicted. */
const EVICTION_SAMPLE = 8;

/** Late entries kept beyond `cap` until the next in-order append trims the window (see {@link SlidingCount}). */
const LATE_SLACK = 64;

export class KeyedState<S> {
  readonly #map = new Map<string, { s: S; hot: boolean }>();
  readonly #cap: number;
  evictions = 0;
  /**
   * Whether a group holds nothing any more at a time, and the time of the event being observed (both set by
   * the detector): when the cap is reached, groups whose windows have emptied go before any live group is
   * evicted (at most one such pass per second of event time, so a flood of new keys stays linear).
   */
  ended: ((s: S, t: number) => boolean) | undefined;
  /** How far a group is towards firing (its count): when one must be evicted, the lightest of the oldest goes. */
  weight: ((s: S) => number) | undefined;
  now = -Infinity;
  #fullSweptAt = -Infinity;

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
    if (m.size >= this.#cap) this.#makeRoom();
    const s = make();
    m.set(key, { s, hot: false });
    return s;
  }

  #makeRoom(): void {
    const ended = this.ended;
    const now = this.now;
    if (ended !== undefined && now - this.#fullSweptAt >= 1000) {
      this.#fullSweptAt = now;
      if (this.sweep((s) => ended(s, now)) > 0) return;
    }
    this.#evictOne();
  }

  #evictOne(): void {
    const m = this.#map;
    const weight = this.weight;
    const sample = weight === undefined ? 1 : EVICTION_SAMPLE;
    let victim: string | undefined;
    let lightest = Infinity;
    let sampled = 0;
    // From the head (least recently inserted): recently used entries get a second chance (moved to the back,
    // each cleared once per pass); among the first `sample` that are not, the one counted least goes, the
    // oldest on a tie. A flood of one-event groups then pushes out other one-event groups, not an attacker a
    // failure away from the threshold.
    const it = m.entries();
    for (let i = 0, n = m.size; i < n && sampled < sample; i++) {
      const [k, v] = it.next().value as [string, { s: S; hot: boolean }];
      if (v.hot) {
        v.hot = false;
        m.delete(k);
        m.set(k, v);
        continue;
      }
      sampled++;
      const w = weight === undefined ? 0 : weight(v.s);
      if (w < lightest) {
        lightest = w;
        victim = k;
      }
    }
    m.delete(victim ?? (m.keys().next().value as string));
    this.evictions++;
  }

  get(key: string): S | undefined {
    return this.#map.get(key)?.s;
  }

  /** Drops every group for which `idle(state)` is true (groups with nothing left in their window). */
  sweep(idle: (s: S) => boolean): number {
    const map = this.#map;
    if (map.size === 0) return 0;
    let n = 0;
    // forEach, not for-of with [k, v]: every group is visited at each sweep (thousands of sweeps in a long
    // replay), and the iterator allocated an entry array per group. Deleting the entry being visited is safe.
    map.forEach((v, k) => {
      if (idle(v.s)) {
        map.delete(k);
        n++;
      }
    });
    return n;
  }

  delete(key: string): boolean {
    return this.#map.delete(key);
  }

  /** Drops every group whose key `covered` returns true for. */
  deleteWhere(covered: (key: string) => boolean): void {
    for (const k of this.#map.keys()) if (covered(k)) this.#map.delete(k);
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
