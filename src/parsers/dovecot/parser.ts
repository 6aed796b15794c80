/**
 * Dovecot (IMAP/POP3/submission/ManageSieve): login-process results, authentication back-end failures, and the
 * PAM lines dovecot's auth process writes. Lines come through syslog (`dovecot: imap-login: ...`,
 * `dovecot[12]: auth-worker(34): ...`), dovecot's own log file (`2013-08-11 03:56:40 imap-login: Info: ...`) and
 * multilog (`@4000... imap-login: Info: ...`).
 *
 *   imap-login: Disconnected (auth failed, 1 attempts in 2 secs): user=<bob>, method=PLAIN, rip=192.0.2.1, lip=192.0.2.9, TLS
 *   pop3-login: Aborted login (tried to use disallowed plaintext auth): rip=192.0.2.2, lip=192.0.2.9
 *   imap-login: Disconnected (no auth attempts in 0 secs): user=<>, rip=192.0.2.3, lip=192.0.2.9, TLS handshaking: ...
 *   imap-login: Login: user=<bob>, method=PLAIN, rip=192.0.2.4, lip=192.0.2.9, mpid=123, TLS
 *   auth-worker(304): pam(bob,192.0.2.5): pam_authenticate() failed: Authentication failure (password mismatch?)
 *   auth: sql(bob,192.0.2.6,<sess>): unknown user
 *   auth(bob,192.0.2.7,sasl:login)<sess>: Info: sql: Password mismatch          (dovecot 2.4)
 *   pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=bob rhost=192.0.2.8
 *
 * Spoofing: the user name is attacker text and may contain anything (`>, rip=`, `,1.2.3.4): unknown user`,
 * ` rhost=`). The remote address is `rip=`, never `lip=`:
 * - login lines: the reason comes first, the user second, `rip=` after it; only dovecot's own fields (lip, mpid,
 *   TLS state, session) follow, so the rightmost `rip=` is the one dovecot wrote;
 * - back-end lines `driver(user,ip[,session]): result`: the user is first, so the rightmost well-formed closing
 *   is dovecot's. When the line also logs the given password (auth_verbose_passwords, attacker text after the
 *   closing), every well-formed closing must agree on the address, otherwise no address is reported;
 * - PAM lines have attacker text on both sides of `rhost=` (`ruser=` before, `user=` after): every well-formed
 *   `rhost=` must agree, otherwise no address is reported.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  authFailed: "dovecot_auth_failed",
  disallowed: "dovecot_auth_disallowed",
  proxy: "dovecot_proxy_auth_failed",
  unknownUser: "dovecot_unknown_user",
  mismatch: "dovecot_password_mismatch",
  pam: "dovecot_pam_auth_failed",
  noAuth: "dovecot_no_auth_attempt",
  unfinished: "dovecot_auth_unfinished",
  tls: "dovecot_tls_handshake_failed",
  login: "dovecot_login",
} as const;
type Action = (typeof A)[keyof typeof A];

const NORMAL = [A.authFailed, A.disallowed, A.proxy, A.unknownUser, A.mismatch, A.pam];
const FAILURES = [...NORMAL, A.noAuth, A.unfinished, A.tls];

/** Service prefixes dovecot writes before the message: `imap-login: `, `auth-worker(304): `, `auth(default): `. */
const SERVICE =
  /(?:auth|auth-worker|dovecot-auth|[a-z0-9]{1,20}-login|imap|pop3|lmtp|submission|managesieve|master)(?:\((?:\d{1,10}|default)\))?: /y;
const LEVEL = /(?:Info|Warning|Error|Debug|Fatal|Panic): /y;
/** `conn unix:auth-worker (pid=27359,uid=97): auth-worker<55>: ` (auth-worker connection prefix). */
const CONN = /conn [^\s()]{1,100} \([^()]{0,60}\): (?:auth-worker<\d{1,10}>: )?/y;

/** Matches sticky regex `re` at index `i`; returns the index after the match or -1. */
function stickyEnd(re: RegExp, s: string, i: number): number {
  re.lastIndex = i;
  return re.test(s) ? re.lastIndex : -1;
}

/** Index where the message proper starts, after `dovecot: `, service, level and connection prefixes. */
function skipPrefixes(s: string): number {
  let i = 0;
  for (let n = 0; n < 6; n++) {
    if (s.startsWith("dovecot: ", i)) {
      i += 9;
      continue;
    }
    const c = s.charCodeAt(i);
    // Every prefix starts with a letter (services and `conn` lower case, levels capitalised).
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90))) break;
    let j = stickyEnd(SERVICE, s, i);
    if (j < 0) j = stickyEnd(LEVEL, s, i);
    if (j < 0 && c === 99) j = stickyEnd(CONN, s, i);
    if (j < 0) break;
    i = j;
  }
  return i;
}

function emit(
  frame: Frame,
  out: SecurityEvent[],
  action: Action,
  ip: string | undefined,
  user: string | undefined,
  reason: string,
): void {
  const e = newEvent(frame, "dovecot", action, action === A.login ? "success" : "failure");
  // Connections that never completed an authentication are network events, not failed logins.
  e.event.category =
    action === A.tls || action === A.noAuth || action === A.unfinished ? ["network"] : ["authentication"];
  e.event.reason = reason.length > 200 ? reason.slice(0, 200) : reason;
  if (ip !== undefined) e.source = { ip };
  if (user !== undefined) e.user = { name: user };
  out.push(e);
}

// ---------------------------------------------------------------------------------------------------------
// Login processes: `<reason>: user=<...>, method=..., rip=..., lip=..., ...`

/** dovecot 1.x: `Aborted login (3 authentication attempts): user=<u>, method=PLAIN, rip=...`. */
const FAILED_1X = /\([1-9]\d{0,5} authentication attempts\)/;

function kvStart(s: string, at: number): number {
  let k = -1;
  for (const key of [": user=<", ": method=", ": rip="]) {
    const i = s.indexOf(key, at);
    if (i >= 0 && (k < 0 || i < k)) k = i;
  }
  return k;
}

function loginLine(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const kv = kvStart(s, at);
  if (kv < 0) return;
  const head = s.slice(at, kv);
  let action: Action | undefined;
  if (head === "Login") action = A.login;
  else if (head.includes("(auth failed") || FAILED_1X.test(head)) action = A.authFailed;
  else if (head.includes("(tried to use disabled ") || head.includes("(tried to use disallowed "))
    action = A.disallowed;
  else if (head.includes("(proxy dest auth failed)")) action = A.proxy;
  else if (head.includes("(no auth attempts") || head.includes("(disconnected before auth was ready"))
    action = A.noAuth;
  else if (head.includes("(client didn't finish SASL auth")) action = A.unfinished;
  else if (head.includes("(disconnected during TLS handshake)")) action = A.tls;
  if (action === undefined) return;

  // The rightmost `, rip=` / `: rip=` is dovecot's: the user name (attacker text) comes before it.
  let r = s.lastIndexOf(" rip=");
  while (r > kv && s.charCodeAt(r - 1) !== 44 && s.charCodeAt(r - 1) !== 58)
    r = s.lastIndexOf(" rip=", r - 1);
  let ip: string | undefined;
  if (r > kv) {
    let end = s.indexOf(",", r + 5);
    if (end < 0) end = s.length;
    if (end - r < 60) ip = canonicalIp(s.slice(r + 5, end));
  }

  let user: string | undefined;
  if (ip !== undefined && s.startsWith(": user=<", kv)) {
    const from = kv + 8;
    let end = r - 1; // the ',' before " rip="
    const m = s.lastIndexOf(", method=", end);
    if (m >= from && s.indexOf(" ", m + 2) >= end) end = m;
    if (s.charCodeAt(end - 1) === 62 /* > */ && end - 1 >= from) user = s.slice(from, end - 1);
  }
  // Lines without an authentication attempt only name a user when the client gave one.
  if (user === "" && (action === A.noAuth || action === A.tls || action === A.unfinished)) user = undefined;
  emit(frame, out, action, ip, user, head);
}

// ---------------------------------------------------------------------------------------------------------
// Authentication back ends: `driver(user,ip[,session]): result`, dovecot 2.4 `auth(user,ip,sasl:mech)<s>: ...`

const DRIVER = /[a-z][a-z0-9-]{1,20}\(/y;
const DRIVER_NAME = /[a-z][a-z0-9-]{1,20}: /y;

/**
 * The `>` closing the `<` at `open` within 80 characters, or -1. Session ids and pids hold no `<` or `)`, so the
 * scan also stops at these: the scans of successive closings never overlap, and a line costs linear time.
 */
function sessionEnd(s: string, open: number): number {
  const end = Math.min(s.length, open + 81);
  for (let i = open + 1; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 62) return i;
    if (c === 60 || c === 41) return -1; // < )
  }
  return -1;
}

/** After `)` at `k`: skips `<session>` groups and `: `; returns where the result text starts, or -1. */
function afterClose(s: string, k: number): number {
  let i = k + 1;
  for (let n = 0; n < 3 && s.charCodeAt(i) === 60; n++) {
    const close = sessionEnd(s, i);
    if (close < 0) return -1;
    i = close + 1;
  }
  return s.charCodeAt(i) === 58 && s.charCodeAt(i + 1) === 32 ? i + 2 : -1;
}

function resultAction(s: string, at: number): Action | undefined {
  let i = at;
  const lvl = stickyEnd(LEVEL, s, i);
  if (lvl >= 0) i = lvl;
  // dovecot 2.4 names the driver after the prefix: `Info: sql: Password mismatch`.
  const drv = stickyEnd(DRIVER_NAME, s, i);
  if (drv >= 0) i = drv;
  if (s.startsWith("unknown user", i)) return A.unknownUser;
  if (s.startsWith("Password mismatch", i) || s.startsWith("password mismatch", i)) return A.mismatch;
  if (s.startsWith("invalid credentials", i) || s.startsWith("Invalid credentials", i)) return A.mismatch;
  if (s.startsWith("pam_authenticate() failed: ", i)) {
    const j = i + 27;
    if (s.startsWith("User not known", j)) return A.unknownUser;
    if (s.startsWith("Authentication failure", j) || s.startsWith("Permission denied", j)) return A.mismatch;
  }
  return undefined;
}

/**
 * Splits `user,ip[,<session>|,sasl:mech|,]` between `from` and `k` from the right (the user may contain
 * commas). Only the last ~130 characters are looked at, so each candidate costs constant time.
 */
function backendArgs(s: string, from: number, k: number): { ip: string; userEnd: number } | undefined {
  const limit = Math.max(from, k - 130);
  let c = k - 1;
  while (c >= limit && s.charCodeAt(c) !== 44) c--;
  if (c < limit) return undefined;
  let field = s.slice(c + 1, k);
  let ipEnd = k;
  if (
    field === "" ||
    (field.startsWith("<") && field.endsWith(">")) ||
    /^[a-z0-9-]+:[a-z0-9-]+$/i.test(field)
  ) {
    ipEnd = c;
    c--;
    while (c >= limit && s.charCodeAt(c) !== 44) c--;
    if (c < limit) return undefined;
    field = s.slice(c + 1, ipEnd);
  }
  const ip = canonicalIp(field);
  return ip === undefined ? undefined : { ip, userEnd: c };
}

/**
 * The most well-formed closings (`,ip[,session]): result`) read on one line, from the right: only the strict
 * reading reads past the first, through a user name that holds copies. Any other `)` costs constant time (see
 * afterClose, backendArgs), so a line costs linear time.
 */
const MAX_CLOSINGS = 64;

function backendLine(frame: Frame, out: SecurityEvent[], s: string, argsAt: number): boolean {
  const strict = s.includes("given password: ", argsAt);
  let found: { ip: string; user: string; action: Action; reasonAt: number } | undefined;
  let ambiguous = false;
  let n = 0;
  for (let k = s.lastIndexOf(")"); k >= argsAt; k = s.lastIndexOf(")", k - 1)) {
    const tail = afterClose(s, k);
    if (tail < 0) continue;
    const action = resultAction(s, tail);
    if (action === undefined) continue;
    const args = backendArgs(s, argsAt, k);
    if (!args) continue;
    if (!found) {
      found = { ip: args.ip, user: s.slice(argsAt, args.userEnd), action, reasonAt: tail };
      if (!strict) break;
    } else if (found.ip !== args.ip || ++n >= MAX_CLOSINGS) {
      // Another address, or so many closings that the ones left unread could hold one.
      ambiguous = true;
      break;
    }
  }
  if (!found) return false;
  const reason = s.slice(found.reasonAt, found.reasonAt + 120);
  if (ambiguous) emit(frame, out, found.action, undefined, undefined, reason);
  else emit(frame, out, found.action, found.ip, found.user, reason);
  return true;
}

// ---------------------------------------------------------------------------------------------------------
// PAM: `pam_unix(dovecot:auth): authentication failure; logname= uid=0 euid=0 tty=dovecot ruser=U rhost=IP[  user=U]`

const PAM = /pam_[a-z0-9_]{1,20}\(dovecot:auth\): authentication failure; /y;

function pamLine(frame: Frame, out: SecurityEvent[], s: string, start: number): void {
  const from = stickyEnd(PAM, s, start);
  if (from < 0) return;
  const ruserAt = s.indexOf(" ruser=", from - 1);
  let ip: string | undefined;
  let user: string | undefined;
  let ambiguous = false;
  for (let k = s.indexOf(" rhost=", from - 1); k >= 0; k = s.indexOf(" rhost=", k + 7)) {
    let end = s.indexOf(" ", k + 7);
    if (end < 0) end = s.length;
    if (end - k > 60) continue;
    let rest: string | undefined;
    if (end === s.length) rest = undefined;
    else if (s.startsWith("  user=", end)) rest = s.slice(end + 7);
    else if (s.startsWith(" user=", end)) rest = s.slice(end + 6);
    else continue;
    const v = canonicalIp(s.slice(k + 7, end));
    if (v === undefined) continue;
    if (ip === undefined) {
      ip = v;
      user = rest ?? (ruserAt >= 0 && ruserAt < k ? s.slice(ruserAt + 7, k) : undefined);
    } else if (ip !== v) ambiguous = true;
  }
  if (ambiguous) emit(frame, out, A.pam, undefined, undefined, "PAM authentication failure");
  else emit(frame, out, A.pam, ip, user === "" ? undefined : user, "PAM authentication failure");
}

// ---------------------------------------------------------------------------------------------------------

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const s = frame.message;
  const from = skipPrefixes(s);
  if (s.startsWith("pam_", from)) {
    pamLine(frame, out, s, from);
    return;
  }
  const args = stickyEnd(DRIVER, s, from);
  if (args >= 0 && backendLine(frame, out, s, args)) return;
  if (s.indexOf("rip=", from) >= 0) loginLine(frame, out, s, from);
}

export const dovecot: ParserDefinition = {
  id: "dovecot",
  description:
    "Dovecot IMAP/POP3/submission/ManageSieve: login failures, back-end (PAM, SQL, LDAP, passwd-file) failures, logins",
  programs: [
    "dovecot",
    "imap-login",
    "pop3-login",
    "submission-login",
    "managesieve-login",
    "auth",
    "auth-worker",
    "dovecot-auth",
  ],
  // dovecot's own log file: `auth-worker(default): Info: ...`; 2.4: `auth(user,ip,sasl:login)<session>: ...`.
  programPrefixes: ["auth-worker(", "auth("],
  probe(frame) {
    if (frame.program !== undefined) return false;
    const s = frame.message;
    return s.startsWith("auth(") || s.startsWith("auth-worker(");
  },
  modes: { normal: NORMAL, aggressive: FAILURES },
  actions: [...FAILURES, A.login],
  create(): LineParser {
    return { parse: parseLine };
  },
};
