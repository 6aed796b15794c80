/**
 * Active bans and ban history, in memory (replay, tests, and the daemon's hot cache in front of the store).
 * Expiry is lazy and reads the time it is given: no timers, no wall clock.
 */
import { parseCidr } from "../core/ip.ts";

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
  /**
   * The prefix lengths of active range bans (`a.b.c.0/24`, `2001:db8::/48`) with how many use each, keyed
   * `family * 1000 + length`: {@link covering} looks an address up once per length in use (usually none).
   */
  readonly #lengths = new Map<number, number>();
  /** target -> times of earlier bans (for escalation), newest last. */
  readonly #history = new Map<string, number[]>();
  /**
   * How long a ban is remembered for escalation (the policy sets its lookback): {@link expire} forgets older
   * ones, so the history holds the bans of one lookback, not every ban ever made.
   */
  keepHistory = 7 * 86_400_000;
  #prunedAt = -Infinity;

  active(target: string, now: number): ActiveBan | undefined {
    const b = this.#active.get(target);
    if (b && b.expires <= now) {
      this.#delete(target);
      return undefined;
    }
    return b;
  }

  /**
   * The active ban of a range that contains `target` (an address, or a narrower range), other than `target`'s
   * own: a /24 banned by hand blocks its addresses, a /48 the /64s in it.
   */
  covering(target: string, now: number): ActiveBan | undefined {
    if (this.#lengths.size === 0) return undefined;
    const c = parseCidr(target);
    if (c === undefined) return undefined;
    for (const key of this.#lengths.keys()) {
      const len = key % 1000;
      if ((key - len) / 1000 !== c.family || len >= c.prefix) continue;
      const range = parseCidr(`${c.text.split("/")[0]}/${len}`);
      const b = range && this.active(range.text, now);
      if (b) return b;
    }
    return undefined;
  }

  /** Makes `ban` the target's active ban; `history: false` keeps it out of the escalation history. */
  set(ban: ActiveBan, at: number, history = true): void {
    if (!this.#active.has(ban.target)) this.#index(ban.target, 1);
    this.#active.set(ban.target, ban);
    if (history) this.#record(ban.target, at);
  }

  remove(target: string): ActiveBan | undefined {
    const b = this.#active.get(target);
    this.#delete(target);
    return b;
  }

  #delete(target: string): void {
    if (this.#active.delete(target)) this.#index(target, -1);
  }

  /** Counts a range ban's prefix length in or out of {@link #lengths}; single addresses are not indexed. */
  #index(target: string, by: 1 | -1): void {
    const slash = target.indexOf("/");
    if (slash < 0) return;
    const key = (target.indexOf(":") >= 0 ? 6000 : 4000) + Number(target.slice(slash + 1));
    const n = (this.#lengths.get(key) ?? 0) + by;
    if (n > 0) this.#lengths.set(key, n);
    else this.#lengths.delete(key);
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

  /**
   * Drops expired bans; returns them (the caller removes them from responders). At most once an hour (of the
   * time given), also forgets the history older than {@link keepHistory}.
   */
  expire(now: number): ActiveBan[] {
    const out: ActiveBan[] = [];
    for (const [k, b] of this.#active) {
      if (b.expires <= now) {
        this.#delete(k);
        out.push(b);
      }
    }
    if (now - this.#prunedAt >= 3_600_000) {
      this.#prunedAt = now;
      this.#pruneHistory(now - this.keepHistory);
    }
    return out;
  }

  /** Forgets the bans recorded before `before`. */
  #pruneHistory(before: number): void {
    for (const [target, h] of this.#history) {
      let i = 0;
      while (i < h.length && h[i]! < before) i++;
      if (i === h.length) this.#history.delete(target);
      else if (i > 0) h.splice(0, i);
    }
  }

  get size(): number {
    return this.#active.size;
  }

  list(): ActiveBan[] {
    return [...this.#active.values()];
  }
}
