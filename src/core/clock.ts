/**
 * Time source for every window, ban and expiry. Logic never reads the wall clock directly:
 * the daemon injects {@link SystemClock}; `replay` and tests inject a {@link ManualClock} that they
 * advance with event time.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const SystemClock: Clock = {
  now: () => Date.now(), // eslint-disable-line no-restricted-properties -- the one sanctioned wall-clock read
};

/** A clock that only moves when told to. Never goes backwards. */
export class ManualClock implements Clock {
  #t: number;
  constructor(start = 0) {
    this.#t = start;
  }
  now(): number {
    return this.#t;
  }
  /** Moves to `t` if it is later than the current time; returns the current time. */
  advanceTo(t: number): number {
    if (t > this.#t) this.#t = t;
    return this.#t;
  }
  advanceBy(ms: number): number {
    this.#t += Math.max(0, ms);
    return this.#t;
  }
}
