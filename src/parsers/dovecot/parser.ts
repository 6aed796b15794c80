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
 *   imap-login: Logged in: user=<bob>, method=PLAIN, rip=192.0.2.4, lip=192.0.2.9, mpid=123, TLS, session=<s>  (2.4)
 *   imap-login: Login aborted: Connection closed (auth failed, 2 attempts in 14 secs) (auth_failed): user=<bob>, ...  (2.4)
 *   auth-worker(304): pam(bob,192.0.2.5): pam_authenticate() failed: Authentication failure (password mismatch?)
 *   auth: sql(bob,192.0.2.6,<sess>): unknown user
 *   auth(bob,192.0.2.7,sasl:login)<sess>: Info: sql: Password mismatch          (dovecot 2.4)
 *   auth-worker(bob,192.0.2.10)<123><sess>: request [393]: unix_user: pam_authenticate() failed: Authentication failure (Password mismatch?)
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
 * Other services' lines are not read at all: `lmtp(alice)<pid><session>: msgid=<...>: saved mail`, lda, sieve and
 * imap's mail_log carry text that any sender writes (a Message-ID such as `<x,203.0.113.9): unknown user>`), so a
 * line is read as a login result only from a `*-login` service and as a back-end or PAM result only from the auth
 * process (`auth`, `auth-worker`, `dovecot-auth`, 2.4's `auth(...)` prefix), and never at level Debug.
 *
 * Counting: a login summary `(auth failed, N attempts ...)` weighs N (event.count). Back-end and PAM lines repeat
 * attempts that a summary (or the SASL client's own log) reports too; back-end lines carry the login session they
 * came from in `dovecot.session` (none for SASL clients such as Postfix), which rules/mail.yaml uses to count each
 * attempt once per rule.
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

/**
 * Service prefixes dovecot writes before the message: `imap-login: `, `auth-worker(304): `, `auth(default): `.
 * Post-login services with a user (`imap(alice)<pid><session>: `, `lmtp(alice)`, `lda(alice)`) are not prefixes:
 * the message proper starts there, and no failure is read from such lines (see parseLine).
 */
const SERVICE =
  /(auth|auth-worker|dovecot-auth|[a-z0-9]{1,20}-login|imap|pop3|lmtp|submission|managesieve|master)(?:\((?:\d{1,10}|default)\))?: /y;
const LEVEL = /(?:Info|Warning|Error|Debug|Fatal|Panic): /y;
/** `conn unix:auth-worker (pid=27359,uid=97): auth-worker<55>: ` (auth-worker connection prefix). */
const CONN = /conn [^\s()]{1,100} \([^()]{0,60}\): (?:auth-worker<\d{1,10}>: )?/y;

/** Matches sticky regex `re` at index `i`; returns the index after the match or -1. */
function stickyEnd(re: RegExp, s: string, i: number): number {
  re.lastIndex = i;
  return re.test(s) ? re.lastIndex : -1;
}

interface Prefixes {
  /** Index where the message proper starts. */
  at: number;
  /** The last service prefix read (`auth`, `auth-worker`, `imap-login`, ...), without `(pid)`. */
  service: string | undefined;
  /** A `Debug: ` level was read (auth_debug, mail_debug): these lines echo requests, never report a result. */
  debug: boolean;
}

/** Reads `dovecot: `, service, level and connection prefixes. */
function skipPrefixes(s: string): Prefixes {
  let i = 0;
  let service: string | undefined;
  let debug = false;
  for (let n = 0; n < 6; n++) {
    if (s.startsWith("dovecot: ", i)) {
      i += 9;
      continue;
    }
    const c = s.charCodeAt(i);
    // Every prefix starts with a letter (services and `conn` lower case, levels capitalised).
    if (!((c >= 97 && c <= 122) || (c >= 65 && c <= 90))) break;
    SERVICE.lastIndex = i;
    const m = SERVICE.exec(s);
    if (m) {
      service = m[1];
      i = SERVICE.lastIndex;
      continue;
    }
    let j = stickyEnd(LEVEL, s, i);
    if (j >= 0) {
      if (c === 68 /* D */) debug = true;
    } else if (c === 99) j = stickyEnd(CONN, s, i);
    if (j < 0) break;
    i = j;
  }
  return { at: i, service, debug };
}

/** The service a syslog program name stands for (`auth-worker(default)` -> `auth-worker`); `dovecot` says none. */
function programService(program: string | undefined): string | undefined {
  if (program === undefined) return undefined;
  const p = program.indexOf("(");
  const name = p < 0 ? program : program.slice(0, p);
  return name === "dovecot" || name === "" ? undefined : name;
}

/** Services whose lines report authentication results: the auth process and its workers. */
function isAuthService(service: string | undefined): boolean {
  return service === "auth" || service === "auth-worker" || service === "dovecot-auth";
}

function emit(
  frame: Frame,
  out: SecurityEvent[],
  action: Action,
  ip: string | undefined,
  user: string | undefined,
  reason: string,
): SecurityEvent {
  const e = newEvent(frame, "dovecot", action, action === A.login ? "success" : "failure");
  // Connections that never completed an authentication are network events, not failed logins.
  e.event.category =
    action === A.tls || action === A.noAuth || action === A.unfinished ? ["network"] : ["authentication"];
  e.event.reason = reason.length > 200 ? reason.slice(0, 200) : reason;
  if (ip !== undefined) e.source = { ip };
  if (user !== undefined) e.user = { name: user };
  out.push(e);
  return e;
}

// ---------------------------------------------------------------------------------------------------------
// Login processes: `<reason>: user=<...>, method=..., rip=..., lip=..., ...`

/** dovecot 1.x: `Aborted login (3 authentication attempts): user=<u>, method=PLAIN, rip=...`. */
const FAILED_1X = /\(([1-9]\d{0,5}) authentication attempts\)/;
/** 2.x: `(auth failed, 3 attempts in 12 secs)`: the session's failed attempts (each a password tried). */
const FAILED_N = /\(auth failed, ([1-9]\d{0,8}) attempts/;
/**
 * The most attempts one summary line counts for. A login process disconnects a client after a few failed
 * attempts; beyond this bound one line, whatever it says, would weigh as much as a whole attack.
 */
const MAX_ATTEMPTS = 1000;
/** The largest event.count (as the framer bounds rsyslog's `message repeated N times`). */
const MAX_COUNT = 1_000_000;

/** How many failed attempts a login-process summary reports (1 when it does not say). */
function attemptsOf(head: string): number {
  const m = FAILED_N.exec(head) ?? FAILED_1X.exec(head);
  return m ? Math.min(MAX_ATTEMPTS, Number(m[1])) : 1;
}

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
  // dovecot 2.4 writes `Logged in:`, earlier versions `Login:`.
  if (head === "Login" || head === "Logged in") action = A.login;
  else if (head.includes("(auth failed") || FAILED_1X.test(head)) action = A.authFailed;
  else if (head.includes("(tried to use disabled ") || head.includes("(tried to use disallowed "))
    action = A.disallowed;
  else if (head.includes("(proxy dest auth failed)")) action = A.proxy;
  else if (head.includes("(no auth attempts") || head.includes("(disconnected before auth was ready"))
    action = A.noAuth;
  else if (
    head.includes("(client didn't finish SASL auth") ||
    head.includes("(disconnected while authenticating")
  )
    action = A.unfinished;
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
  const e = emit(frame, out, action, ip, user, head);
  if (action === A.authFailed) {
    // One line for the session's N failed attempts: it weighs N (times rsyslog's repeat count), as sshd's
    // `message repeated N times` does. This is the count of dovecot's own protocols: the back-end and PAM lines
    // of the same attempts are details that mail-auth-brute-force does not count (see rules/mail.yaml).
    const n = attemptsOf(head);
    if (n > 1) e.event.count = Math.min(MAX_COUNT, n * frame.repeat);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Authentication back ends: `driver(user,ip[,session]): result`, dovecot 2.4 `auth(user,ip,sasl:mech)<s>: ...`

/**
 * dovecot 2.0-2.3 passdb drivers, as the auth process names them in `driver(user,ip[,<session>]): result`. Only
 * these, and only right after an auth-process prefix (see parseLine): any other `name(` is not a back end
 * (`lmtp(alice)`, `imap(alice)`, and the text a sender or client wrote after them).
 */
const DRIVER =
  /(?:pam|passwd|passwd-file|shadow|sql|ldap|checkpassword|bsdauth|static|oauth2|lua|imap|dict|vpopmail)\(/y;
/**
 * dovecot 2.4 names the passdb after the `auth(user,ip,sasl:mech)<session>: ` prefix: `Info: sql: ...`. It is the
 * name given in the configuration (`passdb unix_user { driver = pam }`), not only a driver name.
 */
const DRIVER_NAME = /[A-Za-z][A-Za-z0-9_.-]{1,40}: /y;
/** dovecot 2.4's auth-worker adds the request it serves: `auth-worker(u,ip)<pid><session>: request [393]: `. */
const REQUEST = /request \[\d{1,10}\]: /y;

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
  if (lvl >= 0) {
    // dovecot 2.4 writes the level after its prefix; debug lines (auth_debug) report no result.
    if (s.charCodeAt(i) === 68 /* D */) return undefined;
    i = lvl;
  }
  const req = stickyEnd(REQUEST, s, i);
  if (req >= 0) i = req;
  // dovecot 2.4 names the passdb after the prefix: `Info: sql: Password mismatch`.
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
function backendArgs(
  s: string,
  from: number,
  k: number,
): { ip: string; userEnd: number; session: string | undefined } | undefined {
  const limit = Math.max(from, k - 130);
  let c = k - 1;
  while (c >= limit && s.charCodeAt(c) !== 44) c--;
  if (c < limit) return undefined;
  let field = s.slice(c + 1, k);
  let ipEnd = k;
  let session: string | undefined;
  if (
    field === "" ||
    (field.startsWith("<") && field.endsWith(">")) ||
    /^[a-z0-9-]+:[a-z0-9-]+$/i.test(field)
  ) {
    if (field.startsWith("<")) session = field.slice(1, -1);
    ipEnd = c;
    c--;
    while (c >= limit && s.charCodeAt(c) !== 44) c--;
    if (c < limit) return undefined;
    field = s.slice(c + 1, ipEnd);
  }
  const ip = canonicalIp(field);
  return ip === undefined ? undefined : { ip, userEnd: c, session };
}

/** dovecot 2.4 `auth(user,ip,sasl:mech)<session>: `: the last `<...>` group after the `)` at `k`, if any. */
function sessionAfter(s: string, k: number): string | undefined {
  let i = k + 1;
  let session: string | undefined;
  for (let n = 0; n < 3 && s.charCodeAt(i) === 60; n++) {
    const close = sessionEnd(s, i);
    if (close < 0) return undefined;
    session = s.slice(i + 1, close);
    i = close + 1;
  }
  return session;
}

/**
 * The most well-formed closings (`,ip[,session]): result`) read on one line, from the right: only the strict
 * reading reads past the first, through a user name that holds copies. Any other `)` costs constant time (see
 * afterClose, backendArgs), so a line costs linear time.
 */
const MAX_CLOSINGS = 64;

/**
 * Reads a back-end result line whose `(user,ip[,...])` starts at `argsAt`. `v24`: dovecot 2.4's
 * `auth(user,ip,sasl:mech)<session>: ` prefix, whose session follows the `)`; 2.0-2.3 write it inside, `,<session>`.
 */
function backendLine(frame: Frame, out: SecurityEvent[], s: string, argsAt: number, v24: boolean): boolean {
  const strict = s.includes("given password: ", argsAt);
  let found:
    | { ip: string; user: string; action: Action; reasonAt: number; session: string | undefined }
    | undefined;
  let ambiguous = false;
  let n = 0;
  for (let k = s.lastIndexOf(")"); k >= argsAt; k = s.lastIndexOf(")", k - 1)) {
    const tail = afterClose(s, k);
    if (tail < 0) continue;
    const action = resultAction(s, tail);
    if (action === undefined) continue;
    const args = backendArgs(s, argsAt, k);
    if (!args) continue;
    const session = args.session ?? (v24 ? sessionAfter(s, k) : undefined);
    if (!found) {
      found = { ip: args.ip, user: s.slice(argsAt, args.userEnd), action, reasonAt: tail, session };
      if (!strict) break;
    } else if (found.ip !== args.ip || ++n >= MAX_CLOSINGS) {
      // Another address, or so many closings that the ones left unread could hold one.
      ambiguous = true;
      break;
    } else if (found.session !== session) {
      // The given password imitates a closing with another session: which one dovecot wrote is unknown, so the
      // line is not taken as a login-process request (see the session field below).
      found.session = undefined;
    }
  }
  if (!found) return false;
  const reason = s.slice(found.reasonAt, found.reasonAt + 120);
  if (ambiguous) {
    emit(frame, out, found.action, undefined, undefined, reason);
    return true;
  }
  const e = emit(frame, out, found.action, found.ip, found.user, reason);
  // The login session the request came from: dovecot's login processes send one (their summary line, which
  // names the same session, reports the attempt); SASL clients such as Postfix or Exim send none. The
  // mail-sasl-backend-brute-force rule counts only lines without one.
  if (found.session !== undefined && found.session !== "") e.dovecot = { session: found.session };
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

/**
 * Which line is read as what depends on the service that wrote it (the last service prefix, else the syslog
 * program): login processes (`*-login`) write the session summaries, the auth process and its workers the
 * back-end and PAM results. Other services (`lmtp(alice)`, `lda(alice)`, `imap(alice)`, sieve) log text that
 * senders and clients wrote (Message-IDs, addresses) and are never read for failures; nor are `Debug:` lines.
 */
function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const s = frame.message;
  const p = skipPrefixes(s);
  if (p.debug) return;
  const from = p.at;
  const service = p.service ?? programService(frame.program);
  if (service !== undefined && service.endsWith("-login")) {
    if (s.indexOf("rip=", from) >= 0) loginLine(frame, out, s, from);
    return;
  }
  if (service !== undefined && !isAuthService(service)) return;
  // Here: the auth process, or a line with no service named (`dovecot: ` only, or no program at all).
  if (s.startsWith("pam_", from)) {
    pamLine(frame, out, s, from);
    return;
  }
  if (p.service === undefined) {
    // dovecot 2.4: the prefix itself is `auth(user,ip,sasl:mech)<session>: ` (also `auth-worker(...)`).
    const v24 = s.startsWith("auth(", from) ? from + 5 : s.startsWith("auth-worker(", from) ? from + 12 : -1;
    if (v24 >= 0) {
      backendLine(frame, out, s, v24, true);
      return;
    }
  }
  if (!isAuthService(service)) return;
  const args = stickyEnd(DRIVER, s, from);
  if (args >= 0) backendLine(frame, out, s, args, false);
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
