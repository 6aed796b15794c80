/**
 * dropbear, the small SSH server of embedded systems and routers.
 *
 *   Bad password attempt for 'root' from 1.2.3.4:5678            (older releases: `bad password attempt`)
 *   Bad PAM password attempt for 'root' from 1.2.3.4:5678
 *   Too-long password attempt for 'root' from 1.2.3.4:5678        (over DROPBEAR_MAX_PASSWORD_LEN: a bad password)
 *   Login attempt for nonexistent user from ::ffff:1.2.3.4:5678   (optionally `user 'x' from`)
 *   Exit before auth (user 'root', 3 fails): Max auth tries reached - user 'root' from 1.2.3.4:5678
 *   Exit before auth from <1.2.3.4:5678>: (user 'root', 10 fails): Max auth tries reached - user 'root'
 *   Exit before auth from <1.2.3.4:5678>: Exited normally             (no authentication failure: aggressive)
 *   exit before auth: Timeout before auth                            (before 2013: lowercase, no address)
 *   Early exit from <1.2.3.4:5678>: Failed to get remote version     (2022+: exit before the session began)
 *   Password auth succeeded for 'root' from 1.2.3.4:5678     Pubkey auth succeeded for 'root' with key ... from ...
 *   Child connection from 1.2.3.4:5678                                (remembered per pid, no event)
 *
 * Some builds log through the journal with their own `[pid] Mmm dd HH:MM:SS ` prefix; it is skipped. The
 * address always follows the daemon's own ` from ` at the end of the line (or `from <...>` right after the fixed
 * prefix), so a quoted user name containing `' from 6.6.6.6:1` cannot move it.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { splitHostPort } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const FAILURES = ["dropbear_auth_failed", "dropbear_invalid_user", "dropbear_max_auth_tries"] as const;
const ACTIONS = [...FAILURES, "dropbear_preauth_exit", "dropbear_auth_success"] as const;
type Action = (typeof ACTIONS)[number];

/** Connections whose address is remembered (pid -> address), for old-style exits that print none. */
const MAX_CONNECTIONS = 4096;

const JOURNAL_PREFIX = /^\[\d{1,10}\] [A-Z][a-z]{2} [ \d]?\d \d\d:\d\d:\d\d /;
const EXIT_USER_PREFIX = "(user '";
const EXIT_USER_SEPARATOR = /', \d+ fails\): /g;

/**
 * `(user 'NAME', N fails): REASON`, NAME being everything up to the LAST `', N fails): ` (a name may contain
 * that text). Found by scanning, not with `^\(user '(.*)', (\d+) fails\): (.*)$`, which backtracks
 * quadratically on a long hostile name (1 MB: over a minute).
 */
function exitUser(rest: string): { user: string; reason: string } | undefined {
  if (!rest.startsWith(EXIT_USER_PREFIX)) return undefined;
  const re = EXIT_USER_SEPARATOR;
  re.lastIndex = EXIT_USER_PREFIX.length;
  let at = -1;
  let end = -1;
  for (let m = re.exec(rest); m !== null; m = re.exec(rest)) {
    at = m.index;
    end = re.lastIndex;
  }
  if (at < 0) return undefined;
  return { user: rest.slice(EXIT_USER_PREFIX.length, at), reason: rest.slice(end) };
}
const MAX_TRIES_USER = /^Max auth tries reached - user '(.*)'$/;

interface Peer {
  ip: string;
  port: number;
}

function peer(text: string): Peer | undefined {
  return splitHostPort(text);
}

/** `... from ADDR` at the very end of `s` (ADDR has no spaces); returns the address and where ` from ` starts. */
function trailingFrom(s: string): { peer: Peer; at: number } | undefined {
  const at = s.lastIndexOf(" from ");
  if (at < 0) return undefined;
  const addr = s.slice(at + 6);
  if (addr.length === 0 || addr.indexOf(" ") >= 0) return undefined;
  const p = peer(addr);
  return p ? { peer: p, at } : undefined;
}

class DropbearParser implements LineParser {
  readonly #connections = new Map<string, Peer>();

  parse(frame: Frame, out: SecurityEvent[]): void {
    let msg = frame.message;
    if (msg.charCodeAt(0) === 91 /* [ */) {
      const m = JOURNAL_PREFIX.exec(msg);
      if (m) msg = msg.slice(m[0].length);
    }
    const c0 = msg.charCodeAt(0);
    if (c0 === 66 || c0 === 98 /* B b */) this.#badPassword(frame, msg, out);
    else if (c0 === 76 || c0 === 108 /* L l */) this.#nonexistent(frame, msg, out);
    else if (c0 === 69 || c0 === 101 /* E e */) this.#exit(frame, msg, out);
    else if (c0 === 84 /* T */) this.#tooLong(frame, msg, out);
    else if (c0 === 80 /* P */) this.#success(frame, msg, out);
    else if (c0 === 67 /* C */ && msg.startsWith("Child connection from ")) {
      const p = peer(msg.slice(22));
      if (p) this.#remember(frame, p);
    }
  }

  #key(frame: Frame): string | undefined {
    return frame.pid === undefined ? undefined : `${frame.host ?? ""} ${frame.pid}`;
  }

  #remember(frame: Frame, p: Peer): void {
    const key = this.#key(frame);
    if (key === undefined) return;
    this.#connections.delete(key);
    this.#connections.set(key, p);
    if (this.#connections.size > MAX_CONNECTIONS) {
      const oldest = this.#connections.keys().next().value;
      if (oldest !== undefined) this.#connections.delete(oldest);
    }
  }

  #forget(frame: Frame): Peer | undefined {
    const key = this.#key(frame);
    if (key === undefined) return undefined;
    const p = this.#connections.get(key);
    this.#connections.delete(key);
    return p;
  }

  #emit(
    frame: Frame,
    action: Action,
    p: Peer | undefined,
    user: string | undefined,
    out: SecurityEvent[],
    reason?: string,
  ): void {
    const outcome = action === "dropbear_auth_success" ? "success" : "failure";
    const e = newEvent(frame, "dropbear", action, outcome);
    e.event.category = ["authentication"];
    if (reason !== undefined) e.event.reason = reason;
    if (p) e.source = { ip: p.ip, port: p.port };
    if (user !== undefined) e.user = { name: user };
    out.push(e);
  }

  #badPassword(frame: Frame, msg: string, out: SecurityEvent[]): void {
    let rest: string;
    if (msg.startsWith("Bad password attempt for '") || msg.startsWith("bad password attempt for '"))
      rest = msg.slice(26);
    else if (msg.startsWith("Bad PAM password attempt for '")) rest = msg.slice(30);
    else return;
    const from = trailingFrom(rest);
    if (!from || rest.charCodeAt(from.at - 1) !== 39 /* ' */) return;
    this.#emit(frame, "dropbear_auth_failed", from.peer, rest.slice(0, from.at - 1), out);
  }

  /** A password longer than dropbear accepts, for an existing user: counted as a bad password. */
  #tooLong(frame: Frame, msg: string, out: SecurityEvent[]): void {
    if (!msg.startsWith("Too-long password attempt for '")) return;
    const rest = msg.slice(31);
    const from = trailingFrom(rest);
    if (!from || rest.charCodeAt(from.at - 1) !== 39 /* ' */) return;
    this.#emit(
      frame,
      "dropbear_auth_failed",
      from.peer,
      rest.slice(0, from.at - 1),
      out,
      "password too long",
    );
  }

  #nonexistent(frame: Frame, msg: string, out: SecurityEvent[]): void {
    if (
      !msg.startsWith("Login attempt for nonexistent user") &&
      !msg.startsWith("login attempt for nonexistent user")
    )
      return;
    const rest = msg.slice(34);
    const from = trailingFrom(rest);
    if (!from) return;
    const between = rest.slice(0, from.at);
    let user: string | undefined;
    if (between.length >= 3 && between.startsWith(" '") && between.endsWith("'")) user = between.slice(2, -1);
    else if (between !== "") return;
    this.#emit(frame, "dropbear_invalid_user", from.peer, user, out);
  }

  #exit(frame: Frame, msg: string, out: SecurityEvent[]): void {
    if (msg.startsWith("Early exit from <")) {
      // 2022+: an exit before the session was set up (no user yet). Without ` from <...>` it is the listener's.
      const close = msg.indexOf(">: ", 17);
      if (close < 0) return;
      const p = peer(msg.slice(17, close));
      if (!p) return;
      this.#forget(frame);
      this.#emit(frame, "dropbear_preauth_exit", p, undefined, out, msg.slice(close + 3));
      return;
    }
    // `exit before auth` (lowercase): releases before 2013, same layout as the old `Exit before auth`.
    if (!msg.startsWith("Exit before auth") && !msg.startsWith("exit before auth")) return;
    let rest = msg.slice(16);
    let p: Peer | undefined;
    if (rest.startsWith(" from <")) {
      // Current format: the daemon writes the address first, before any user text.
      const close = rest.indexOf(">: ", 7);
      if (close < 0) return;
      p = peer(rest.slice(7, close));
      if (!p) return;
      rest = rest.slice(close + 3);
      this.#forget(frame);
    } else if (rest.startsWith(" (") || rest.startsWith(": ")) {
      rest = rest.startsWith(": ") ? rest.slice(2) : rest.slice(1);
      p = this.#forget(frame);
    } else return;
    let user: string | undefined;
    let reason = rest;
    const u = exitUser(rest);
    if (u) {
      user = u.user;
      reason = u.reason;
    }
    if (reason.startsWith("Max auth tries reached")) {
      // Older releases append ` from ADDR` to this reason.
      const from = trailingFrom(reason);
      if (from) {
        p = from.peer;
        reason = reason.slice(0, from.at);
      }
      if (user === undefined) {
        const m = MAX_TRIES_USER.exec(reason);
        // `user 'is invalid'` is dropbear's placeholder for a name that does not exist.
        if (m && m[1] !== "is invalid") user = m[1];
      }
      this.#emit(frame, "dropbear_max_auth_tries", p, user, out, reason);
      return;
    }
    if (p) this.#emit(frame, "dropbear_preauth_exit", p, user, out, reason);
  }

  #success(frame: Frame, msg: string, out: SecurityEvent[]): void {
    let rest: string;
    let pubkey = false;
    if (msg.startsWith("Password auth succeeded for '")) rest = msg.slice(29);
    else if (msg.startsWith("PAM password auth succeeded for '")) rest = msg.slice(33);
    else if (msg.startsWith("Pubkey auth succeeded for '")) {
      rest = msg.slice(27);
      pubkey = true;
    } else return;
    const from = trailingFrom(rest);
    if (!from) return;
    const head = rest.slice(0, from.at);
    const end = pubkey ? head.lastIndexOf("' with ") : head.length - 1;
    if (end < 0 || head.charCodeAt(end) !== 39) return;
    this.#forget(frame);
    this.#emit(frame, "dropbear_auth_success", from.peer, head.slice(0, end), out);
  }
}

export const dropbear: ParserDefinition = {
  id: "dropbear",
  description:
    "dropbear SSH server: bad passwords, nonexistent users, max auth tries, pre-auth exits, logins",
  programs: ["dropbear"],
  modes: { normal: FAILURES, aggressive: [...FAILURES, "dropbear_preauth_exit"] },
  actions: ACTIONS,
  create(): LineParser {
    return new DropbearParser();
  },
};
