/**
 * Replay's clock: the latest event time seen, which drives the sweeps (idle groups dropped, expired bans
 * forgotten). Events are judged at their own times; the clock only decides when memory is given back, so a clock
 * behind is harmless and a clock ahead is not: sweeping at a time past the log's end empties every window.
 *
 * So one line dated far ahead (a sender's wrong clock, a forged syslog message dated 2099) must not move it. A
 * step of more than `jump` ahead is taken only once `confirm` events in a row are that far ahead (a log that
 * resumes after a host was down a week), and then to the earliest of them; a single line, or a few, from the
 * future between ordinary ones leave the clock where it was.
 */
export class ReplayClock {
  #t = Number.NEGATIVE_INFINITY;
  #ahead = 0;
  #aheadMin = Number.POSITIVE_INFINITY;

  constructor(
    readonly jump = 3_600_000,
    readonly confirm = 8,
  ) {}

  /** The clock's time (-Infinity before the first event). */
  get now(): number {
    return this.#t;
  }

  /** Takes the time of the next event; returns the clock's time after it. */
  see(t: number): number {
    if (t <= this.#t + this.jump || this.#t === Number.NEGATIVE_INFINITY) {
      if (t > this.#t) this.#t = t;
      this.#ahead = 0;
      this.#aheadMin = Number.POSITIVE_INFINITY;
      return this.#t;
    }
    if (t < this.#aheadMin) this.#aheadMin = t;
    if (++this.#ahead >= this.confirm) {
      this.#t = this.#aheadMin;
      this.#ahead = 0;
      this.#aheadMin = Number.POSITIVE_INFINITY;
    }
    return this.#t;
  }
}
