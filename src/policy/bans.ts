/**
 * Active bans and ban history, in memory (replay, tests, and the daemon's hot cache in front of the store).
 * Expiry is lazy and reads the time it is given: no timers, no wall clock.
 */
export interface ActiveBan {
  target: string;
  decisionId: string;
  expires: number;
  escalation: number;
  /** Recorded, not enforced (dry-run or a rule in shadow mode); see Policy.inForce. */
  simulated?: boolean;
}

export class BanTable {
  readonly #active = new Map<string, ActiveBan>();
  /** target -> times of earlier bans (for escalation), newest last. */
  readonly #history = new Map<string, number[]>();

  active(target: string, now: number): ActiveBan | undefined {
    const b = this.#active.get(target);
    if (b && b.expires <= now) {
      this.#active.delete(target);
      return undefined;
    }
    return b;
  }

  /** Makes `ban` the target's active ban; `history: false` keeps it out of the escalation history. */
  set(ban: ActiveBan, at: number, history = true): void {
    this.#active.set(ban.target, ban);
    if (history) this.#record(ban.target, at);
  }

  remove(target: string): ActiveBan | undefined {
    const b = this.#active.get(target);
    this.#active.delete(target);
    return b;
  }

  /** Earlier bans of `target` since `since`. */
  previousBans(target: string, since: number): number {
    const h = this.#history.get(target);
    if (!h) return 0;
    let n = 0;
    for (let i = h.length - 1; i >= 0 && h[i]! >= since; i--) n++;
    return n;
  }

  /** Records a ban from elsewhere (restored history) without making it active. */
  remember(target: string, at: number): void {
    this.#record(target, at);
  }

  /** Forgets one ban of `target` at `at` from the history (a ban taken back, see Policy.undo). */
  unrecord(target: string, at: number): void {
    const h = this.#history.get(target);
    const i = h ? h.lastIndexOf(at) : -1;
    if (i < 0) return;
    h!.splice(i, 1);
    if (!h!.length) this.#history.delete(target);
  }

  /** Keeps each target's history in time order whatever order it is learnt in (restored after a restart). */
  #record(target: string, at: number): void {
    const h = this.#history.get(target);
    if (!h) {
      this.#history.set(target, [at]);
      return;
    }
    let i = h.length;
    while (i > 0 && h[i - 1]! > at) i--;
    h.splice(i, 0, at);
  }

  /** Drops expired bans; returns them (the caller removes them from responders). */
  expire(now: number): ActiveBan[] {
    const out: ActiveBan[] = [];
    for (const [k, b] of this.#active) {
      if (b.expires <= now) {
        this.#active.delete(k);
        out.push(b);
      }
    }
    return out;
  }

  get size(): number {
    return this.#active.size;
  }

  list(): ActiveBan[] {
    return [...this.#active.values()];
  }
}
