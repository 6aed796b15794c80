/**
 * Per-connection state: sshd logs one connection from one process, so lines are tied together by
 * host + program + pid (as fail2ban does). The table is bounded (at most `cap` connections, the least recently
 * used ones evicted first) and a connection is dropped as soon as a line says it ended. Lookups allocate
 * nothing.
 */

/** A failure announced by a line that did not name the peer (`User root not allowed because account is
 * locked`, `kex_exchange_identification: ...`): reported by the next line of the connection that does. */
export interface Pending {
  action: string;
  user: string | undefined;
  reason: string | undefined;
}

export interface Conn {
  program: string;
  addr: string | undefined;
  port: number | undefined;
  /** Distinct user names tried in this connection (at most MAX_USERS kept). */
  users: string[];
  pending: Pending | undefined;
  /** The connection logged `maximum authentication attempts exceeded` (already one failure). */
  maxed: boolean;
}

const MAX_USERS = 32;
/** Linux pids are below 2^22 (pid_max's ceiling). */
const PID_SPAN = 1 << 22;
/** Keys of the small-integer form are below 255 * 2^22 + 2^22 <= 2^30. */
const SMI_KEYS = 2 ** 30;

export function addUser(c: Conn, user: string): void {
  if (c.users.length < MAX_USERS && !c.users.includes(user)) c.users.push(user);
}

/**
 * Two generations of connections: new and touched ones go to the current generation; when it holds half the
 * capacity, it becomes the old one and the previous old generation (the least recently used half) is dropped.
 * O(1) per operation, at most `cap` connections, and the ones dropped are those not seen for the longest.
 */
export class ConnTable {
  readonly #hostIds = new Map<string, number>();
  #cur = new Map<number, Conn>();
  #old = new Map<number, Conn>();
  readonly #half: number;

  constructor(cap = 20_000) {
    this.#half = Math.max(1, Math.floor(cap / 2));
  }

  get size(): number {
    return this.#cur.size + this.#old.size;
  }

  /** The key of a connection (host + pid), or -1 for a host never seen when `assign` is false. */
  key(host: string, pid: number, assign: boolean): number {
    let id = this.#hostIds.get(host);
    if (id === undefined) {
      if (!assign) return -1;
      if (this.#hostIds.size >= 1 << 20) {
        this.#hostIds.clear();
        this.#cur.clear();
        this.#old.clear();
      }
      id = this.#hostIds.size;
      this.#hostIds.set(host, id);
    }
    // A small integer (a V8 "Smi": hashed and compared without a boxed number) for the usual case of few hosts
    // and Linux pids (< 2^22); otherwise a larger key, above that range so the two never collide.
    if (id < 255 && pid >= 0 && pid < PID_SPAN) return id * PID_SPAN + pid;
    return SMI_KEYS + id * 4294967296 + (pid >>> 0);
  }

  #put(k: number, c: Conn): void {
    if (this.#cur.size >= this.#half) {
      this.#old = this.#cur;
      this.#cur = new Map();
    }
    this.#cur.set(k, c);
  }

  get(k: number, program: string): Conn | undefined {
    if (k < 0) return undefined;
    let c = this.#cur.get(k);
    if (c === undefined) {
      c = this.#old.get(k);
      if (c === undefined) return undefined;
      this.#old.delete(k);
      this.#put(k, c);
    }
    return c.program === program ? c : undefined;
  }

  create(k: number, program: string): Conn {
    const c: Conn = {
      program,
      addr: undefined,
      port: undefined,
      users: [],
      pending: undefined,
      maxed: false,
    };
    this.#old.delete(k);
    if (this.#cur.has(k)) this.#cur.set(k, c);
    else this.#put(k, c);
    return c;
  }

  delete(k: number, program: string): void {
    if (k < 0) return;
    if (this.#cur.get(k)?.program === program) this.#cur.delete(k);
    else if (this.#old.get(k)?.program === program) this.#old.delete(k);
  }
}
