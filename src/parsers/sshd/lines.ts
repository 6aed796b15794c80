/**
 * Classifies one sshd message into a {@link Line}: its own failure action (if any), the peer it names, the
 * user, and whether it ends the connection. Dispatch is on the first characters of the message
 * (`startsWith`/`charCodeAt` from an offset, no substring until a line is known to matter); there are no
 * regexes. The per-connection merging is the parser's (parser.ts).
 */
import { canonicalIp } from "../../core/ip.ts";
import { A, type Action } from "./actions.ts";
import {
  addrAt,
  AMBIGUOUS,
  idFromRight,
  peerFromRight,
  readPort,
  tokenEnd,
  trimEnd,
  userField,
  type ConnId,
  type Peer,
} from "./tail.ts";

/** What one line says. Reused for every line (reset() before use), so that classifying allocates nothing. */
export class Line {
  /** The line's own failure action, or "" for a helper line. */
  action: Action | "" = "";
  /** A non-failure event to emit (login, rejected public key of a valid user, PAM module note), or "". */
  info: Action | "" = "";
  addr: string | undefined = undefined;
  port: number | undefined = undefined;
  user: string | undefined = undefined;
  reason: string | undefined = undefined;
  /** The connection ends with this line. */
  forget = false;
  /** A closing failure (pre-auth disconnect): when a failure is pending, the line reports that one instead. */
  weak = false;
  /**
   * The address was chosen among several the line names (the others in client-chosen text): it must not
   * replace a different address already known for the connection (the parser rejects the line then).
   */
  several = false;
  /**
   * The pid of another connection that ended (9.8+: the listener logs `Timeout before authentication for
   * connection from A to L, pid = N` for its session process N, which exits without a word, and `session process
   * N for connection from A to L killed by signal S` when it crashed): its state goes.
   */
  endsPid: number | undefined = undefined;

  reset(): void {
    this.action = "";
    this.info = "";
    this.addr = undefined;
    this.port = undefined;
    this.user = undefined;
    this.reason = undefined;
    this.forget = false;
    this.weak = false;
    this.several = false;
    this.endsPid = undefined;
  }
}

export interface Context {
  /** The address already known for this line's connection (looked up only when a line is ambiguous). */
  readonly known: () => string | undefined;
  /** Whether this line's connection has state (helper lines of untracked connections are skipped early). */
  tracked(): boolean;
  /** Whether this line's connection already logged `maximum authentication attempts exceeded`. */
  maxed(): boolean;
  /** Whether the mode reports `action`. */
  reports(action: Action): boolean;
  /** Counts a line that was recognised but not read, because its peer cannot be told from client text. */
  reject(reason: string): void;
}

const PORT = { port: undefined as number | undefined };
const USER_NOT_KNOWN = "User not known to the underlying authentication module for ";

/** Fills `L` from message `m`; returns false when the line says nothing of interest. */
export function classify(m: string, L: Line, ctx: Context): boolean {
  let at = 0;
  for (let guard = 0; guard < 4; guard++) {
    switch (m.charCodeAt(at)) {
      case 101: // e
        if (m.startsWith("error: ", at)) {
          at += 7;
          continue;
        }
        return false;
      case 102: // f
        if (m.startsWith("fatal: ", at)) {
          at += 7;
          continue;
        }
        return false;
      case 80: // P
        if (m.startsWith("PAM: ", at)) {
          at += 5;
          continue;
        }
        return dispatch(m, at, L, ctx);
      case 107: // k
        if (m.startsWith("kex_exchange_identification: ", at)) return kex(m, at + 29, L);
        if (m.startsWith("kernel:", at)) {
          at = skipKernel(m, at + 7);
          if (at < 0) return false;
          continue;
        }
        return false;
      default:
        return dispatch(m, at, L, ctx);
    }
  }
  return false;
}

/** `kernel:[  970.699396]: ` / `kernel: [  970.699397] ` before the message (journal with kernel prefix). */
function skipKernel(m: string, at: number): number {
  let i = at;
  while (m.charCodeAt(i) === 32) i++;
  if (m.charCodeAt(i) !== 91) return -1;
  const close = m.indexOf("]", i);
  if (close < 0 || close - i > 32) return -1;
  i = close + 1;
  if (m.charCodeAt(i) === 58) i++;
  while (m.charCodeAt(i) === 32) i++;
  return i;
}

function dispatch(m: string, at: number, L: Line, ctx: Context): boolean {
  switch (m.charCodeAt(at)) {
    case 70: // F
      if (m.startsWith("Failed ", at)) return auth(m, at + 7, L, ctx, false);
      return false;
    case 65: // A
      if (m.startsWith("Accepted ", at)) return auth(m, at + 9, L, ctx, true);
      if (m.startsWith("Authentication ", at)) return pam(m, at + 15, L, ctx);
      return false;
    case 97: // a
      if (m.startsWith("authentication ", at)) return pam(m, at + 15, L, ctx);
      return false;
    case 73: // I
    case 105: // i
      if (m.startsWith("nvalid user ", at + 1) || m.startsWith("llegal user ", at + 1))
        return invalidUser(m, at + 13, L, ctx);
      return false;
    case 85: // U
      if (m.startsWith(USER_NOT_KNOWN, at)) return pamFor(m, at + USER_NOT_KNOWN.length, L, ctx);
      if (m.startsWith("User ", at)) return userNotAllowed(m, at + 5, L);
      if (m.startsWith("Unable to negotiate ", at)) return negotiate(m, at + 20, L);
      return false;
    case 82: // R
      if (m.startsWith("Received disconnect from ", at)) return received(m, at + 25, L, ctx);
      if (m.startsWith("ROOT LOGIN REFUSED FROM ", at)) return rootRefused(m, at + 24, L);
      if (m.startsWith("Read from socket failed: Connection reset by peer", at)) {
        L.action = A.preauthDisconnect;
        L.weak = true;
        L.forget = true;
        return true;
      }
      return false;
    case 114: // r
      if (m.startsWith("refused connect from ", at)) return refused(m, at + 21, L);
      return false;
    case 67: // C
      if (m.startsWith("Connection from ", at)) return connectionFrom(m, at + 16, L);
      if (m.startsWith("Connection closed by ", at)) return closed(m, at + 21, L, ctx, false);
      if (m.startsWith("Connection reset by ", at)) return closed(m, at + 20, L, ctx, false);
      return false;
    case 68: // D
      if (m.startsWith("Disconnected from ", at)) return closed(m, at + 18, L, ctx, true);
      if (m.startsWith("Disconnecting", at)) return disconnecting(m, at + 13, L, ctx);
      if (m.startsWith("Did not receive identification string from ", at))
        return addrPort(m, at + 43, L, A.noIdentification);
      return false;
    case 66: // B
      if (m.startsWith("Bad protocol version identification ", at)) return badVersion(m, at + 36, L, ctx);
      return false;
    case 80: // P
      if (m.startsWith(VERSIONS_DIFFER, at)) return versionsDiffer(m, at + VERSIONS_DIFFER.length, L);
      return false;
    case 98: // b
      if (m.startsWith("banner exchange: Connection from ", at)) return bannerExchange(m, at + 33, L);
      return false;
    case 115: // s
      switch (m.charCodeAt(at + 1)) {
        case 115: // ss
          if (m.startsWith("ssh_dispatch_run_fatal: Connection from ", at))
            return dispatchFatal(m, at + 40, L);
          return false;
        case 114: // sr
          if (m.startsWith(PENALISE, at)) return penalise(m, at + PENALISE.length, L);
          return false;
        case 101: // se
          if (m.startsWith("session process ", at)) return sessionProcess(m, at + 16, L, false);
          return false;
        default:
          return false;
      }
    case 83: // S
      if (m.startsWith("SSH: Server;Ltype: ", at)) return sshServer(m, at + 19, L);
      if (m.startsWith("Session process ", at)) return sessionProcess(m, at + 16, L, true);
      return false;
    case 100: // d
      if (m.startsWith("drop connection #", at)) return dropConnection(m, at + 17, L);
      return false;
    case 84: // T
      if (m.startsWith("Timeout before authentication for ", at)) return timeout(m, at + 34, L);
      return false;
    case 109: // m
      if (m.startsWith("maximum authentication attempts exceeded for ", at))
        return maxAttempts(m, at + 45, L, ctx);
      return false;
    case 110: // n
      if (m.startsWith("no matching ", at)) return noMatching(m, at, L);
      return false;
    case 112: // p
      if (m.startsWith("pam_", at)) return pamModule(m, at + 4, L);
      return false;
    default:
      return false;
  }
}

/** The peer of an auth line (see peerFromRight); an ambiguous line is rejected. */
function peer(m: string, lo: number, L: Line, ctx: Context, via: boolean, keyed: boolean): Peer | undefined {
  const p = peerFromRight(m, lo, ctx.known, via, keyed);
  if (p === AMBIGUOUS) {
    ctx.reject("several peer addresses");
    return undefined;
  }
  if (p !== undefined) L.several = p.several;
  return p;
}

/** Whether the method s[at, end) is `name`. */
function methodIs(s: string, at: number, end: number, name: string): boolean {
  return end - at === name.length && s.startsWith(name, at);
}

/** `Failed|Accepted METHOD for [invalid user ]U from ADDR port N ssh2[: info]`. */
function auth(m: string, at: number, L: Line, ctx: Context, accepted: boolean): boolean {
  const sp = tokenEnd(m, at, 64);
  if (sp <= at || !m.startsWith(" for ", sp)) return false;
  const lo = sp + 5;
  // Only key-based methods are followed by key info (`ssh2: RSA SHA256:...`).
  const keyed = !(
    methodIs(m, at, sp, "password") ||
    methodIs(m, at, sp, "none") ||
    m.startsWith("keyboard-interactive", at)
  );
  const p = peer(m, lo, L, ctx, false, keyed);
  if (p === undefined) return false;
  const method = m.slice(at, sp);
  const u = userField(m, lo, p.at);
  L.addr = p.addr;
  L.port = p.port;
  L.user = u.user;
  L.reason = method;
  if (accepted) {
    L.info = A.login;
    L.forget = true;
  } else if (method === "publickey" && !u.invalid) {
    // A valid user's client offering several keys: not a failure by itself (fail2ban's publickey=nofail).
    L.info = A.publickeyRejected;
  } else L.action = A.authFailed;
  return true;
}

function invalidUser(m: string, lo: number, L: Line, ctx: Context): boolean {
  const p = peer(m, lo, L, ctx, false, false);
  if (p === undefined) return false;
  L.action = A.invalidUser;
  L.addr = p.addr;
  L.port = p.port;
  L.user = m.slice(lo, p.at);
  return true;
}

function maxAttempts(m: string, lo: number, L: Line, ctx: Context): boolean {
  const p = peer(m, lo, L, ctx, false, false);
  if (p === undefined) return false;
  L.action = A.maxAuthAttempts;
  L.addr = p.addr;
  L.port = p.port;
  L.user = userField(m, lo, p.at).user;
  return true;
}

/** After `PAM: Authentication ` / `authentication `: `failure|error|failed for U from ADDR[ via HOST]`. */
function pam(m: string, at: number, L: Line, ctx: Context): boolean {
  let lo: number;
  if (m.startsWith("failure for ", at)) lo = at + 12;
  else if (m.startsWith("error for ", at)) lo = at + 10;
  else if (m.startsWith("failed for ", at)) lo = at + 11;
  else return false;
  return pamFor(m, lo, L, ctx);
}

function pamFor(m: string, lo: number, L: Line, ctx: Context): boolean {
  const p = peer(m, lo, L, ctx, true, false);
  if (p === undefined) return false;
  L.action = A.pamFailure;
  L.addr = p.addr;
  L.port = p.port;
  L.user = userField(m, lo, p.at).user;
  return true;
}

/** `User U from ADDR not allowed because REASON` or, without the address, `User U not allowed because ...`. */
function userNotAllowed(m: string, lo: number, L: Line): boolean {
  const idx = m.lastIndexOf(" not allowed because ");
  if (idx < lo) return false;
  L.action = A.userNotAllowed;
  L.reason = m.slice(idx + 21, trimEnd(m, idx + 21).end);
  const f = m.lastIndexOf(" from ", idx - 1);
  const addr = f >= lo ? addrAt(m, f + 6, idx) : undefined;
  if (addr !== undefined) {
    L.addr = addr;
    L.user = m.slice(lo, f);
  } else L.user = m.slice(lo, idx);
  return true;
}

function rootRefused(m: string, at: number, L: Line): boolean {
  if (!addrPort(m, at, L, A.rootRefused)) return false;
  L.user = "root";
  return true;
}

/** `ADDR[ port N]` at `at` (then anything): the lines that name the peer first. */
function addrPort(m: string, at: number, L: Line, action: Action | ""): boolean {
  const e = tokenEnd(m, at);
  if (e <= at) return false;
  const addr = addrAt(m, at, e);
  if (addr === undefined) return false;
  L.action = action;
  L.addr = addr;
  if (m.startsWith(" port ", e)) {
    PORT.port = undefined;
    if (readPort(m, e + 6, PORT) > 0) L.port = PORT.port;
  }
  return true;
}

/** `refused connect from NAME (ADDR)` (tcp wrappers): the address in the final parentheses. */
function refused(m: string, lo: number, L: Line): boolean {
  const end = trimEnd(m, lo).end;
  if (m.charCodeAt(end - 1) !== 41) return false;
  const open = m.lastIndexOf(" (", end - 1);
  if (open < lo) return false;
  const addr = addrAt(m, open + 2, end - 1);
  if (addr === undefined) return false;
  L.action = A.refusedConnect;
  L.addr = addr;
  return true;
}

/**
 * `Received disconnect from ADDR[ port N]:CODE: TEXT[ [preauth]]` (the address sshd wrote comes first; the
 * text is the client's). Code 3 ending in `Auth fail` and code 14 `No [supported ]authentication methods
 * available` are failures; any other code only ends the connection.
 */
function received(m: string, at: number, L: Line, ctx: Context): boolean {
  const sp = tokenEnd(m, at);
  if (sp <= at) return false;
  let addrEnd: number;
  let k: number;
  PORT.port = undefined;
  if (m.charCodeAt(sp - 1) === 58) {
    addrEnd = sp - 1;
    k = sp + 1;
  } else if (m.startsWith(" port ", sp)) {
    addrEnd = sp;
    k = readPort(m, sp + 6, PORT);
    if (k < 0 || m.charCodeAt(k) !== 58) return false;
    k++;
    while (m.charCodeAt(k) === 32) k++;
  } else return false;
  let code = 0;
  const c0 = k;
  while (k < m.length && k - c0 < 4 && m.charCodeAt(k) >= 48 && m.charCodeAt(k) <= 57)
    code = code * 10 + m.charCodeAt(k++) - 48;
  if (k === c0 || m.charCodeAt(k) !== 58) return false;
  k++;
  while (m.charCodeAt(k) === 32) k++;
  const end = trimEnd(m, k).end;
  let action: Action | "" = "";
  if (code === 3 && m.startsWith("Auth fail", end - 9) && end - 9 >= k) action = A.authFailDisconnect;
  else if (
    code === 14 &&
    (m.startsWith("No supported authentication methods available", k) ||
      m.startsWith("No authentication methods available", k))
  )
    action = A.noAuthMethods;
  if (action === "" && !ctx.tracked()) return false;
  const addr = addrAt(m, at, addrEnd);
  if (addr === undefined) return false;
  L.action = action;
  L.addr = addr;
  L.port = PORT.port;
  L.forget = true;
  if (action !== "") L.reason = m.slice(k, end);
  return true;
}

/** `Connection from ADDR[ port N[ on ADDR port N[ rdomain "..."]]]`: names the peer, fails nothing. */
function connectionFrom(m: string, at: number, L: Line): boolean {
  // Remembered for the lines that will not name the peer (kex, negotiation, Too many failures).
  return addrPort(m, at, L, "");
}

/**
 * `Connection closed by ID`, `Connection reset by ID`, `Disconnected from ID`, each optionally `[preauth]`.
 * Before authentication completes these are `ssh_preauth_disconnect` (ddos), or `ssh_auth_abandoned` for a
 * `Disconnected from` naming the user being authenticated (extra); otherwise they only end the connection.
 */
function closed(m: string, lo: number, L: Line, ctx: Context, disconnected: boolean): boolean {
  const t = trimEnd(m, lo);
  let action: Action | "" = "";
  if (t.preauth) {
    action = A.preauthDisconnect;
    if (disconnected && m.startsWith("authenticating user ", lo)) action = A.authAbandoned;
    else if (disconnected && m.startsWith("invalid user ", lo)) action = A.authAbandoned;
  }
  if ((action === "" || !ctx.reports(action)) && !ctx.tracked()) return false;
  const id = idFromRight(m, lo, t.end);
  if (id === undefined) return false;
  L.action = action;
  L.weak = true;
  L.forget = true;
  L.addr = id.addr;
  L.port = id.port;
  L.user = id.user;
  return true;
}

const TOO_MANY = ": Too many authentication failures";
const CHANGE = ": Change of username or service not allowed: ";
/** sshd logs at most 100 bytes of a disconnect reason (`Disconnecting %s: %.100s`). */
const REASON_MAX = 100;

/**
 * `Disconnecting: Too many authentication failures[ for U]` (sshd before 6.8: the failure, without the
 * peer; 6.8 to 7.x: it follows `maximum authentication attempts exceeded`, which already counted, and only ends
 * the connection then), `Disconnecting ID: Too many authentication failures` (newer: only follows `maximum
 * authentication attempts exceeded`, which already counted), `Disconnecting ID: Change of username or service
 * not allowed: (U,svc) -> (U2,svc2)` (see {@link userChange}).
 */
function disconnecting(m: string, at: number, L: Line, ctx: Context): boolean {
  if (m.startsWith(TOO_MANY, at)) {
    // 6.8 to 7.x log `Disconnecting: Too many authentication failures` right after `maximum authentication
    // attempts exceeded for U from A port N ssh2`, which already counted: then it only ends the connection.
    if (ctx.maxed()) {
      L.forget = true;
      return true;
    }
    L.action = A.tooManyFailures;
    const t = trimEnd(m, at);
    const f = at + TOO_MANY.length;
    if (m.startsWith(" for ", f) && t.end > f + 5) L.user = m.slice(f + 5, t.end);
    return true;
  }
  if (m.charCodeAt(at) !== 32) return false;
  const lo = at + 1;
  const t = trimEnd(m, lo);
  if (t.end - TOO_MANY.length > lo && m.startsWith(TOO_MANY, t.end - TOO_MANY.length)) {
    if (!ctx.tracked()) return false;
    const id = idFromRight(m, lo, t.end - TOO_MANY.length);
    if (id === undefined) return false;
    L.addr = id.addr;
    L.port = id.port;
    L.user = id.user;
    L.forget = true;
    return true;
  }
  return userChange(m, lo, t.end, L, ctx);
}

/**
 * How the text after a marker reads as the reason sshd wrote for an id ({@link changeReason}): NO, not that
 * reason; SHORT, a prefix of it that stops before sshd's 100 bytes (sshd's own only if it lost trailing
 * spaces); YES, that reason (it holds `(U,` whole, or runs to the end of the line after 100 characters).
 */
const NO = 0;
const SHORT = 1;
const YES = 2;

/**
 * sshd's reason is `Change of username or service not allowed: (U,svc) -> (U2,svc2)` cut to 100 bytes (before
 * it escapes non-printable bytes, which only lengthens the text), U being the id's user name.
 */
function changeReason(m: string, c: number, end: number, user: string | undefined): number {
  const r = c + CHANGE.length;
  if (m.charCodeAt(r) !== 40) return NO;
  if (user === undefined) return YES;
  const cut = end - (c + 2) >= REASON_MAX ? YES : SHORT;
  let i = r + 1;
  for (let j = 0; j < user.length; j++, i++) {
    if (i >= end) return cut;
    if (m.charCodeAt(i) !== user.charCodeAt(j)) return NO;
  }
  if (i >= end) return cut;
  return m.charCodeAt(i) === 44 ? YES : NO;
}

/**
 * `Disconnecting ID: Change of username or service not allowed: (U,svc) -> (U2,svc2)` in m[lo, end). The id's
 * user name U and the reason are the client's, so the marker may appear more than once. sshd's marker always
 * reads YES ({@link changeReason}); a fake one inside its reason cannot (the fake id's user name holds sshd's
 * marker, too long to repeat whole within sshd's 100 bytes, and its text stops short of them), and fake ones
 * inside U are left of sshd's: the rightmost YES is sshd's. On a line with several markers, the connection's
 * known address must be the one read (a marker naming it is taken, else the line is rejected); without one,
 * the line is rejected when a SHORT match right of the pick names another address (sshd's reason lost its
 * trailing spaces, or something else cut it) or when no marker reads YES. The id is read from the right
 * (idFromRight), so a line with one marker is sshd's alone.
 */
function userChange(m: string, lo: number, end: number, L: Line, ctx: Context): boolean {
  let c = m.lastIndexOf(CHANGE, end - CHANGE.length);
  if (c < lo) return false;
  const several = m.lastIndexOf(CHANGE, c - 1) >= lo;
  let pick: ConnId | undefined;
  if (!several) {
    const id = idFromRight(m, lo, c);
    if (id === undefined || changeReason(m, c, end, id.user) === NO) return false;
    pick = id;
  } else {
    const known = ctx.known();
    let short: ConnId | undefined;
    for (let n = 0; n < 16 && c >= lo; n++, c = c > lo ? m.lastIndexOf(CHANGE, c - 1) : -1) {
      const id = idFromRight(m, lo, c);
      if (id === undefined || (known !== undefined && id.addr !== known)) continue;
      const r = changeReason(m, c, end, id.user);
      if (r === YES) {
        pick = id;
        break;
      }
      if (r === SHORT) short ??= id;
    }
    if (known !== undefined) pick ??= short;
    else if (pick !== undefined && short !== undefined && short.addr !== pick.addr) pick = undefined;
    if (pick === undefined) {
      ctx.reject("change of user name: several peer addresses");
      return false;
    }
  }
  L.action = A.userChange;
  L.addr = pick.addr;
  L.port = pick.port;
  L.user = pick.user;
  L.forget = true;
  L.several = several;
  L.reason = "Change of username or service not allowed";
  return true;
}

/** `Bad protocol version identification 'TEXT' from ADDR[ port N]`: TEXT is the client's; anchor right. */
function badVersion(m: string, lo: number, L: Line, ctx: Context): boolean {
  const p = peer(m, lo, L, ctx, false, false);
  if (p === undefined) return false;
  L.action = A.badBanner;
  L.addr = p.addr;
  L.port = p.port;
  L.forget = true;
  L.reason = "bad protocol version identification";
  return true;
}

const VERSIONS_DIFFER = "Protocol major versions differ for ";

/**
 * After `Protocol major versions differ for `: `ADDR port N: SERVER_VERSION vs. CLIENT_VERSION` (sshd before 8.0,
 * e.g. an SSH-1 client or scanner); the client's version string comes after the address sshd wrote.
 */
function versionsDiffer(m: string, at: number, L: Line): boolean {
  if (!addrPort(m, at, L, A.badBanner) || L.port === undefined) return false;
  L.reason = "protocol major versions differ";
  L.forget = true;
  return true;
}

/** `banner exchange: Connection from ADDR port N: REASON`. */
function bannerExchange(m: string, at: number, L: Line): boolean {
  if (!addrPort(m, at, L, A.badBanner)) return false;
  const c = m.indexOf(": ", at);
  if (c > 0) L.reason = `banner exchange: ${m.slice(c + 2, trimEnd(m, c + 2).end)}`;
  L.forget = true;
  return true;
}

const MAC = "message authentication code incorrect";
const CORRUPT = "onnection corrupted";

/** `ssh_dispatch_run_fatal: Connection from ID: message authentication code incorrect|Connection corrupted`. */
function dispatchFatal(m: string, lo: number, L: Line): boolean {
  const t = trimEnd(m, lo);
  let r: number;
  if (m.startsWith(MAC, t.end - MAC.length)) r = t.end - MAC.length;
  else if (m.startsWith(CORRUPT, t.end - CORRUPT.length)) r = t.end - CORRUPT.length - 1;
  else return false;
  if (r - 2 <= lo || !m.startsWith(": ", r - 2)) return false;
  const id = idFromRight(m, lo, r - 2);
  if (id === undefined) return false;
  L.action = A.protocolError;
  L.addr = id.addr;
  L.port = id.port;
  L.user = id.user;
  L.reason = m.slice(r, t.end);
  L.forget = true;
  return true;
}

/** `Timeout before authentication for ADDR port N` / `... for connection from ADDR to ADDR, pid = N`. */
function timeout(m: string, at: number, L: Line): boolean {
  const from = m.startsWith("connection from ", at) ? at + 16 : at;
  if (!addrPort(m, from, L, A.preauthTimeout)) return false;
  L.forget = true;
  // The listener's line names the session process that timed out (which logs nothing itself since 9.8).
  const p = m.lastIndexOf(", pid = ");
  if (p > from) {
    let pid = 0;
    let i = p + 8;
    for (; i < m.length && i < p + 18; i++) {
      const d = m.charCodeAt(i) - 48;
      if (d < 0 || d > 9) break;
      pid = pid * 10 + d;
    }
    if (i > p + 8 && (i === m.length || m.charCodeAt(i) === 32)) L.endsPid = pid;
  }
  return true;
}

/*
 * OpenSSH 9.8+ listener lines (program `sshd`, the listener's pid). The listener writes them whole from the
 * socket's addresses and its own tables: no part is the client's. They belong to no connection of the listener's
 * pid (`forget`), so that pid never gets state, nor an address later lines could borrow.
 */

/** The index after 1 to `max` digits at `at`, or -1 (no digit, or more than `max`). */
function digitsEnd(m: string, at: number, max: number): number {
  let i = at;
  while (i < m.length && isDigit(m.charCodeAt(i))) {
    if (i - at === max) return -1;
    i++;
  }
  return i > at ? i : -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The IP address in m[from, to) (canonical), never a host name: the listener prints numeric addresses only. */
function ipAt(m: string, from: number, to: number): string | undefined {
  return to > from && to - from <= 255 ? canonicalIp(m.slice(from, to)) : undefined;
}

/** The index of the `]` closing a bracketed address that starts at `at`, or -1 (bounded: no scan of a long line). */
function bracketEnd(m: string, at: number): number {
  const stop = Math.min(m.length, at + 256);
  for (let i = at; i < stop; i++) if (m.charCodeAt(i) === 93) return i;
  return -1;
}

const PENALTY = "penalty: ";
/** A drop for the penalty table's overflow (PerSourcePenalties `overflow=deny-all`): nothing the peer did. */
const TABLE_FULL = "too many penalised addresses";

/**
 * `drop connection #N from [ADDR]:PORT on [LADDR]:LPORT REASON` (sshd.c drop_connection(), the listener refusing
 * a connection before it forks). REASON `penalty: <why>` (the source is penalised, PerSourcePenalties) is
 * `ssh_penalty` from ADDR with event.reason = `<why>`; `[LADDR]:LPORT` is the server's own socket and is never
 * read as the source. `past MaxStartups` / `past Maxstartups` (the server is full) and `[penalty: ]too many
 * penalised addresses` (the penalty table is full) say nothing of the peer: no event.
 */
function dropConnection(m: string, at: number, L: Line): boolean {
  let k = digitsEnd(m, at, 10);
  if (k < 0 || !m.startsWith(" from [", k)) return false;
  const a = k + 7;
  const ae = bracketEnd(m, a);
  if (ae < 0 || m.charCodeAt(ae + 1) !== 58) return false;
  PORT.port = undefined;
  k = readPort(m, ae + 2, PORT);
  if (k < 0 || !m.startsWith(" on [", k)) return false;
  const port = PORT.port;
  const la = k + 5;
  const le = bracketEnd(m, la);
  if (le < 0 || m.charCodeAt(le + 1) !== 58) return false;
  k = readPort(m, le + 2, PORT);
  if (k < 0 || m.charCodeAt(k) !== 32 || !m.startsWith(PENALTY, k + 1)) return false;
  const r = k + 1 + PENALTY.length;
  const end = trimEnd(m, r).end;
  if (end <= r || (end - r === TABLE_FULL.length && m.startsWith(TABLE_FULL, r))) return false;
  const addr = ipAt(m, a, ae);
  if (addr === undefined || ipAt(m, la, le) === undefined) return false;
  L.action = A.penalty;
  L.addr = addr;
  L.port = port;
  L.reason = m.slice(r, end);
  L.forget = true;
  return true;
}

const PENALISE = "srclimit_penalise: ";

/**
 * After `srclimit_penalise: ` (srclimit.c srclimit_penalise(), the listener recording a penalty for the address
 * of a session process that ended):
 *   `ipv4|ipv6: new ADDR/BITS active|deferred penalty of SECS seconds for penalty: <why>`
 *   `ADDR/BITS: activating ipv4|ipv6 penalty of SECS seconds for penalty: <why>`
 * (SECS `%d`/`%lld` in 9.8/9.9, `%.3f` since 10.0). `ssh_penalty` from ADDR only when BITS is the whole address
 * (/32, /128): a shorter mask (PerSourceNetBlockSize) names a range the administrator configured, not a peer.
 */
function penalise(m: string, at: number, L: Line): boolean {
  let a: number;
  let e: number;
  let v6: boolean;
  let k: number;
  if (m.startsWith("ipv", at) && m.startsWith(": new ", at + 4)) {
    v6 = m.charCodeAt(at + 3) === 54;
    if (!v6 && m.charCodeAt(at + 3) !== 52) return false;
    a = at + 10;
    e = tokenEnd(m, a, 256);
    if (e <= a) return false;
    if (m.startsWith(" active", e)) k = e + 7;
    else if (m.startsWith(" deferred", e)) k = e + 9;
    else return false;
  } else {
    a = at;
    const c = tokenEnd(m, a, 256);
    if (c <= a + 1 || m.charCodeAt(c - 1) !== 58 || !m.startsWith(" activating ipv", c)) return false;
    e = c - 1;
    const f = m.charCodeAt(c + 15);
    if (f !== 52 && f !== 54) return false;
    v6 = f === 54;
    k = c + 16;
  }
  if (!m.startsWith(" penalty of ", k)) return false;
  k = digitsEnd(m, k + 12, 20);
  if (k > 0 && m.charCodeAt(k) === 46) k = digitsEnd(m, k + 1, 20);
  if (k < 0 || !m.startsWith(" seconds for penalty: ", k)) return false;
  const r = k + 22;
  const end = trimEnd(m, r).end;
  if (end <= r) return false;
  const slash = m.lastIndexOf("/", e - 1);
  if (slash <= a || e - slash !== (v6 ? 4 : 3) || !m.startsWith(v6 ? "128" : "32", slash + 1)) return false;
  // The family the listener names is the address's (an IPv4-mapped IPv6 address is ipv6, /128).
  const colon = m.lastIndexOf(":", slash - 1) >= a;
  if (colon !== v6) return false;
  const addr = ipAt(m, a, slash);
  if (addr === undefined) return false;
  L.action = A.penalty;
  L.addr = addr;
  L.reason = m.slice(r, end);
  L.forget = true;
  return true;
}

/**
 * After `session process ` / `Session process ` (sshd.c child_reap(), the listener reaping a session process that
 * crashed; ID is `connection from ADDR to LADDR`, or `connection from ADDR` for a non-TCP socket):
 *   `error: session process N for ID killed by signal S[ (early)]` (logged at ERROR only for crash signals)
 *   `error: session process N for ID terminated abnormally, status=0xX[ (early)]`
 *   `Session process N unpriv child crash for ID[ (early)]`
 * `ssh_session_crash` from ADDR; the session process N ends (its state goes, as for the listener's timeout line).
 */
function sessionProcess(m: string, at: number, L: Line, unpriv: boolean): boolean {
  let k = digitsEnd(m, at, 10);
  if (k < 0) return false;
  const pid = Number(m.slice(at, k));
  let reason: string;
  if (unpriv) {
    if (!m.startsWith(" unpriv child crash for ", k)) return false;
    k = connectionId(m, k + 24, L);
    if (k < 0) return false;
    reason = "unpriv child crash";
  } else {
    if (!m.startsWith(" for ", k)) return false;
    k = connectionId(m, k + 5, L);
    if (k < 0) return false;
    const r = k + 1;
    if (m.startsWith(" killed by signal ", k)) k = digitsEnd(m, k + 18, 3);
    else if (m.startsWith(" terminated abnormally, status=0x", k)) {
      const h = k + 33;
      k = h;
      while (k < m.length && k - h < 8 && isHex(m.charCodeAt(k))) k++;
      if (k === h) return false;
    } else return false;
    if (k < 0) return false;
    reason = m.slice(r, k);
  }
  if (m.startsWith(" (early)", k)) k += 8;
  if (trimEnd(m, k).end !== k) return false;
  L.action = A.sessionCrash;
  L.reason = reason;
  L.forget = true;
  L.endsPid = pid;
  return true;
}

function isHex(c: number): boolean {
  return isDigit(c) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** `connection from ADDR[ to LADDR]` at `at` (child_register()): sets L.addr; the index after it, or -1. */
function connectionId(m: string, at: number, L: Line): number {
  if (!m.startsWith("connection from ", at)) return -1;
  const a = at + 16;
  const e = tokenEnd(m, a, 256);
  const addr = e > a ? ipAt(m, a, e) : undefined;
  if (addr === undefined) return -1;
  L.addr = addr;
  if (!m.startsWith(" to ", e)) return e;
  const l = e + 4;
  const le = tokenEnd(m, l, 256);
  return le > l && ipAt(m, l, le) !== undefined ? le : -1;
}

/** `SSH: Server;Ltype: Version|Kex|Authname;Remote: ADDR-PORT;...` (a patched sshd): names the peer. */
function sshServer(m: string, at: number, L: Line): boolean {
  const r = m.indexOf(";Remote: ", at);
  if (r < 0 || r - at > 16) return false;
  const a = r + 9;
  const semi = m.indexOf(";", a);
  if (semi < 0 || semi - a > 300) return false;
  const dash = m.lastIndexOf("-", semi);
  if (dash <= a) return false;
  const addr = addrAt(m, a, dash);
  if (addr === undefined) return false;
  L.addr = addr;
  PORT.port = undefined;
  if (readPort(m, dash + 1, PORT) === semi) L.port = PORT.port;
  return true;
}

/** `Unable to negotiate with ADDR port N: no matching X found. ...` / `Unable to negotiate a X`. */
function negotiate(m: string, at: number, L: Line): boolean {
  if (m.startsWith("a ", at)) {
    L.action = A.negotiationFailed;
    L.reason = `unable to negotiate ${m.slice(at, trimEnd(m, at).end)}`;
    return true;
  }
  if (!m.startsWith("with ", at)) return false;
  const a = at + 5;
  const sp = tokenEnd(m, a);
  if (sp <= a) return false;
  let addrEnd = sp;
  let k: number;
  PORT.port = undefined;
  if (m.charCodeAt(sp - 1) === 58) {
    addrEnd = sp - 1;
    k = sp + 1;
  } else if (m.startsWith(" port ", sp)) {
    k = readPort(m, sp + 6, PORT);
    if (k < 0 || !m.startsWith(": ", k)) return false;
    k += 2;
  } else return false;
  if (!m.startsWith("no matching ", k)) return false;
  const addr = addrAt(m, a, addrEnd);
  if (addr === undefined) return false;
  L.action = A.negotiationFailed;
  L.addr = addr;
  L.port = PORT.port;
  L.forget = true;
  const dot = m.indexOf(" found", k);
  L.reason = dot > 0 && dot - k < 80 ? m.slice(k, dot + 6) : "no matching algorithm";
  return true;
}

/** `no matching mac found: client ... server ...` (older sshd; the peer comes from the connection). */
function noMatching(m: string, at: number, L: Line): boolean {
  const f = m.indexOf(" found", at);
  if (f < 0 || f - at > 64) return false;
  L.action = A.negotiationFailed;
  L.reason = m.slice(at, f + 6);
  return true;
}

/** After `kex_exchange_identification: `: no (or a bad) identification string; the peer is known or later. */
function kex(m: string, at: number, L: Line): boolean {
  let i = at;
  if (m.startsWith("read: ", i)) i += 6;
  const c = m.charCodeAt(i);
  if ((c === 99 || c === 67) && m.startsWith("lient sent invalid protocol identifier", i + 1)) {
    L.action = A.badBanner;
    L.reason = "client sent invalid protocol identifier";
    return true;
  }
  if (
    (c === 99 || c === 67) &&
    (m.startsWith("onnection closed by remote host", i + 1) || m.startsWith("onnection reset by peer", i + 1))
  ) {
    L.action = A.noIdentification;
    L.reason = m.slice(i, trimEnd(m, i).end);
    return true;
  }
  return false;
}

/**
 * `pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser=R rhost=ADDR[ user=U]`
 * (any `pam_*` module): not a failure by itself (another module may still succeed), but it names the peer and
 * the user tried. With `ruser=` empty (always, from sshd) the address is the value right after it; otherwise
 * (`ruser` and `user` may contain anything) the `rhost=` value read from the right, after an optional
 * space-less `user=` value.
 */
function pamModule(m: string, at: number, L: Line): boolean {
  const open = m.indexOf("(sshd:auth): authentication failure;", at);
  if (open < 0 || open - at > 16) return false;
  const t = trimEnd(m, open);
  // sshd never sets PAM_RUSER: with `ruser=` empty, the daemon's `rhost=` follows it at once, and everything
  // after its value is `user=` (which a module like pam_sss writes as given, spaces and fake `rhost=` included).
  const ru = m.indexOf(" ruser= rhost=", open);
  if (ru >= 0) {
    const hs = ru + 14;
    let he = m.indexOf(" ", hs);
    if (he < 0 || he > t.end) he = t.end;
    let us = he;
    while (us < t.end && m.charCodeAt(us) === 32) us++;
    const user = m.startsWith("user=", us) ? m.slice(us + 5, t.end) : undefined;
    L.info = A.pamModuleFailure;
    L.addr = he > hs ? addrAt(m, hs, he) : undefined;
    L.user = user === "" ? undefined : user;
    return true;
  }
  let hi = t.end;
  let user: string | undefined;
  const u = m.lastIndexOf(" user=", hi);
  if (u > open && !hasSpace(m, u + 6, hi)) {
    user = m.slice(u + 6, hi);
    hi = u;
    while (hi > open && m.charCodeAt(hi - 1) === 32) hi--;
  }
  const r = m.lastIndexOf(" rhost=", hi);
  if (r < open || hasSpace(m, r + 7, hi)) return false;
  const addr = addrAt(m, r + 7, hi);
  if (user === undefined || user === "") {
    const ru = m.lastIndexOf(" ruser=", r - 1);
    if (ru > open && r > ru + 7) user = m.slice(ru + 7, r);
  }
  L.info = A.pamModuleFailure;
  L.addr = addr;
  L.user = user === "" ? undefined : user;
  return true;
}

function hasSpace(m: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (m.charCodeAt(i) === 32) return true;
  return false;
}
