/**
 * OpenSSH sshd (`sshd`, and `sshd-session` / `sshd-auth` since OpenSSH 9.8/10): authentication failures,
 * pre-authentication connection abuse, negotiation failures, successful logins, and the 9.8+ listener's
 * penalties and session-process crashes.
 *
 *   Failed password for invalid user admin from 192.0.2.7 port 50273 ssh2
 *   Invalid user admin from 192.0.2.7 port 50273
 *   error: maximum authentication attempts exceeded for root from 192.0.2.7 port 49940 ssh2 [preauth]
 *   User root from 192.0.2.7 not allowed because not listed in AllowUsers
 *   Connection closed by authenticating user root 192.0.2.7 port 46038 [preauth]
 *   Unable to negotiate with 192.0.2.7 port 55419: no matching cipher found. Their offer: ...
 *   Accepted publickey for alice from 192.0.2.8 port 52100 ssh2: ED25519 SHA256:...
 *   drop connection #0 from [192.0.2.7]:40022 on [192.0.2.1]:22 penalty: failed authentication
 *   error: session process 4244 for connection from 192.0.2.7 to 192.0.2.1 killed by signal 11
 *
 * Lines of one connection (host + program + pid) are tied together, as fail2ban's sshd filter does:
 * - a failure logged without the peer (`User root not allowed because account is locked`,
 *   `kex_exchange_identification: ...`, `Disconnecting: Too many authentication failures for root`) takes the
 *   address known from an earlier line of the connection (`Connection from ...`), or is kept pending and
 *   reported by the next line that names the peer (`Connection closed by ...`, `Received disconnect ...`);
 * - a pre-auth disconnect that closes a connection with a pending failure reports that failure, once;
 * - several user names tried in one connection make the next line naming a user a failure
 *   (`ssh_multiple_users`), even an `Accepted` one (which then also yields its `ssh_login` event);
 * - `Accepted`, and every line saying the connection ended, forget the connection.
 * Which lines are failures depends on the mode (README.md); `all` reports everything.
 */
import type { SecurityEvent } from "../../core/event.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserCreateOptions, ParserDefinition } from "../types.ts";
import { A, ACTIONS, categoryOf, MODES, type Action } from "./actions.ts";
import { classify, Line, type Context } from "./lines.ts";
import { addUser, ConnTable, type Conn } from "./state.ts";

export const SSHD_PROGRAMS = ["sshd", "sshd-session", "sshd-auth"] as const;

class SshdParser implements LineParser, Context {
  readonly #reported: ReadonlySet<string> | undefined;
  readonly #wants: (action: string) => boolean;
  readonly #onRejected: ((reason: string) => void) | undefined;
  readonly #conns: ConnTable;
  readonly #line = new Line();
  #frame: Frame | undefined;
  #conn: Conn | undefined;
  #looked = false;
  #key = -1;

  constructor(
    mode: string,
    cap: number,
    wants: (action: string) => boolean = () => true,
    onRejected?: (reason: string) => void,
  ) {
    this.#reported = mode === "all" ? undefined : new Set(MODES[mode] ?? MODES.normal);
    this.#wants = wants;
    this.#onRejected = onRejected;
    this.#conns = new ConnTable(cap);
  }

  reports(action: Action): boolean {
    return this.#reported === undefined || this.#reported.has(action);
  }

  readonly known = (): string | undefined => this.#lookup()?.addr;

  tracked(): boolean {
    return this.#lookup() !== undefined;
  }

  maxed(): boolean {
    return this.#lookup()?.maxed === true;
  }

  reject(reason: string): void {
    this.#onRejected?.(reason);
  }

  /** The key of this line's connection (-1: none yet), computed once per line. */
  #keyOf(assign: boolean): number {
    const f = this.#frame!;
    if (f.pid === undefined) return -1;
    if (this.#key < 0 && (assign || !this.#looked)) this.#key = this.#conns.key(f.host ?? "", f.pid, assign);
    return this.#key;
  }

  #lookup(): Conn | undefined {
    if (!this.#looked) {
      this.#conn = this.#conns.get(this.#keyOf(false), this.#frame!.program ?? "");
      this.#looked = true;
    }
    return this.#conn;
  }

  parse(frame: Frame, out: SecurityEvent[]): void {
    const L = this.#line;
    L.reset();
    this.#frame = frame;
    this.#looked = false;
    this.#conn = undefined;
    this.#key = -1;
    if (classify(frame.message, L, this)) this.#merge(frame, L, out);
    this.#frame = undefined;
    this.#conn = undefined;
  }

  #merge(frame: Frame, L: Line, out: SecurityEvent[]): void {
    const own = L.action !== "" && this.reports(L.action);
    let conn = this.#lookup();
    if (conn === undefined && frame.pid !== undefined && !L.forget) {
      if (!own && L.info === "" && L.addr === undefined && L.user === undefined) return;
      conn = this.#conns.create(this.#keyOf(true), frame.program ?? "");
    }
    if (conn !== undefined && L.addr !== undefined) {
      // An address chosen among several the line names never replaces the one the connection is known by.
      if (L.several && conn.addr !== undefined && conn.addr !== L.addr) {
        this.reject("peer address differs from the connection's");
        return;
      }
      if (L.port === undefined && conn.addr === L.addr) L.port = conn.port;
      conn.addr = L.addr;
      conn.port = L.port;
    }
    let multi = false;
    if (conn !== undefined && L.user !== undefined) {
      addUser(conn, L.user);
      multi = conn.users.length > 1;
    }
    if (conn !== undefined && L.action === A.maxAuthAttempts) conn.maxed = true;
    const pending = conn?.pending;
    let action: string = "";
    let user = L.user;
    let reason = L.reason;
    if (own && !(L.weak && pending !== undefined)) action = L.action;
    else if (pending !== undefined) {
      action = pending.action;
      user = pending.user ?? L.user;
      reason = pending.reason;
    } else if (multi && this.reports(A.multipleUsers)) {
      action = A.multipleUsers;
      reason = "several user names in one connection";
    }
    if (action !== "") {
      const addr = L.addr ?? conn?.addr;
      if (addr === undefined) {
        if (conn !== undefined) conn.pending = { action, user, reason };
      } else {
        // The connection's state changes whether or not a rule wants the event.
        if (this.#wants(action)) {
          const e = this.#event(frame, action, "failure", addr, L.addr !== undefined ? L.port : conn?.port);
          if (user !== undefined) e.user = { name: user };
          if (reason !== undefined) e.event.reason = reason;
          if (action === A.multipleUsers && conn !== undefined) e.related = { user: [...conn.users] };
          out.push(e);
        }
        if (conn !== undefined) conn.pending = undefined;
      }
    }
    if (L.info !== "" && this.#wants(L.info)) {
      const addr = L.addr ?? conn?.addr;
      const e = this.#event(frame, L.info, L.info === A.login ? "success" : "unknown", addr, L.port);
      if (L.user !== undefined) e.user = { name: L.user };
      if (L.reason !== undefined) e.event.reason = L.reason;
      out.push(e);
    }
    if (L.forget && conn !== undefined) this.#conns.delete(this.#keyOf(false), frame.program ?? "");
    if (L.endsPid !== undefined) {
      // The session process's state (sshd-session since 9.8; sshd when the listener re-executes itself).
      const k = this.#conns.key(frame.host ?? "", L.endsPid, false);
      this.#conns.delete(k, "sshd-session");
      this.#conns.delete(k, "sshd");
    }
  }

  #event(
    frame: Frame,
    action: string,
    outcome: "failure" | "success" | "unknown",
    addr: string | undefined,
    port: number | undefined,
  ): SecurityEvent {
    const e = newEvent(frame, "sshd", action, outcome);
    e.event.category = [categoryOf(action)];
    if (addr !== undefined) e.source = sourceOf(addr, port);
    return e;
  }
}

export const sshd: ParserDefinition = {
  id: "sshd",
  description:
    "OpenSSH sshd: failed logins, invalid users, refused users, PAM failures, pre-auth connection abuse, negotiation failures, logins, listener penalties and session crashes",
  programs: SSHD_PROGRAMS,
  modes: MODES,
  actions: ACTIONS,
  fields: ["source.ip", "source.domain", "source.port", "user.name", "related.user"],
  create(options: ParserCreateOptions): LineParser {
    return new SshdParser(options.mode, 20_000, options.wants, options.onRejected);
  },
};

/** `source` for an address as tail.ts returns it: a canonical IP, or a lower-case host name. */
function sourceOf(addr: string, port: number | undefined): NonNullable<SecurityEvent["source"]> {
  let ip = addr.indexOf(":") >= 0; // IPv6 (host names never contain ':')
  if (!ip) {
    ip = true;
    for (let i = 0; i < addr.length && ip; i++) {
      const c = addr.charCodeAt(i);
      ip = c === 46 || (c >= 48 && c <= 57);
    }
  }
  const s: NonNullable<SecurityEvent["source"]> = ip ? { ip: addr } : { domain: addr };
  if (port !== undefined) s.port = port;
  return s;
}
