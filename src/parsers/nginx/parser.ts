/**
 * nginx: its error log (HTTP auth failures, limit_req / limit_conn, TLS handshake failures, not-found probes)
 * and its access log (../access-log.ts), as plain files or through syslog / journald (program `nginx`).
 *
 *   2012/04/09 11:53:29 [error] 2865#0: *66647 user "xyz" was not found in "/etc/nginx/.htpasswd", client: 192.0.2.10, server: www.example.com, request: "GET / HTTP/1.1", host: "www.example.com"
 *   2014/04/01 22:20:38 [error] 30708#0: *3 user "bob": password mismatch, client: 192.0.2.11, server: , request: "GET / HTTP/1.1", host: "localhost:8443"
 *   2025/09/07 21:20:40 [error] 23141#23141: *24470 PAM: user 'bob' - not authenticated: Authentication failure, client: 192.0.2.12, server: dav.example.com, request: "GET / HTTP/2.0", host: "dav.example.com"
 *   2015/10/29 20:01:02 [error] 256554#0: *99927 limiting requests, excess: 1.852 by zone "one", client: 192.0.2.13, server: example.com, request: "POST /index.htm HTTP/1.0", host: "example.com"
 *   2025/08/01 04:24:17 [warn] 4772#4772: *68 delaying request, excess: 0.841, by zone "req_limit", client: ...
 *   2025/08/03 03:17:28 [error] 25808#25808: *598 limiting connections by zone "conn_limit", client: ...
 *   2020/11/25 14:42:16 [crit] 76952#76952: *2454307 SSL_do_handshake() failed (SSL: error:...) while SSL handshaking, client: 192.0.2.14, server: 0.0.0.0:443
 *   2015/01/21 10:56:10 [error] 2833#0: *16336 open() "/var/www/cgi-bin/php4" failed (2: No such file or directory), client: 192.0.2.15, server: localhost, request: "GET /cgi-bin/php4 HTTP/1.1", host: "192.0.2.1"
 *
 * Where the client is: nginx appends `, client: ADDR, server: NAME[, request: "..."][, host: "..."][,
 * referrer: "..."]` to the message. Attacker-controlled text can sit on both sides of it: before it in the
 * message (a user name, a path decoded from the URI) and after it (the referrer; the request line and Host too,
 * which nginx < 1.21.1 lets hold spaces). So:
 * - messages without attacker text before the client (limits, TLS) take the first `, client: `;
 * - auth failures and not-found messages take the only `, client: ADDR, server: ` when there is one; with
 *   several, only those that can be nginx's on both sides count (the text before reads as the message, the text
 *   after as nginx's context: see realClient), on auth failures only those before the first `, referrer: "` (a
 *   user name cannot hold one: it has no `:`), and when these disagree the line is refused with its reason,
 *   rather than risk banning an injected address.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { readSlashDate } from "../../framing/timestamps.ts";
import type { TimeContext } from "../../framing/zone.ts";
import {
  accessEvent,
  hasTraefikTail,
  HTTP,
  HTTP_FAILURES,
  isProbePath,
  looksLikeAccessLine,
  pathOf,
  setRequest,
  splitRequest,
} from "../access-log.ts";
import { newEvent, setUser } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  auth: "nginx_auth_failed",
  limitReq: "nginx_limit_req",
  limitReqDelayed: "nginx_limit_req_delayed",
  limitConn: "nginx_limit_conn",
  ssl: "nginx_ssl_handshake_failed",
} as const;

const AUTH_CATEGORY = ["authentication", "web"];
const FAILURES = [A.auth, A.limitReq, A.limitReqDelayed, A.limitConn, A.ssl, ...HTTP_FAILURES];

interface Header {
  time: number | undefined;
  level: string;
  /** Index of the message text (after `pid#tid: *conn `). */
  msg: number;
}

function digitsEnd(s: string, i: number): number {
  while (i < s.length && s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  return i;
}

/** `[YYYY/MM/DD HH:MM:SS ][level] PID#TID: [*CONN ]` at `at`. */
function readHeaderAt(s: string, at: number, ctx: TimeContext): Header | undefined {
  let i = at;
  let time: number | undefined;
  if (s.charCodeAt(at) !== 91) {
    const t = readSlashDate(s, at, ctx);
    if (!t || s.charCodeAt(t.end) !== 32) return undefined;
    time = t.time;
    i = t.end + 1;
  }
  if (s.charCodeAt(i) !== 91) return undefined;
  const close = s.indexOf("] ", i);
  if (close < 0 || close - i > 8) return undefined;
  const level = s.slice(i + 1, close);
  i = close + 2;
  let j = digitsEnd(s, i);
  if (j === i || s.charCodeAt(j) !== 35) return undefined;
  i = j + 1;
  j = digitsEnd(s, i);
  if (j === i || s.charCodeAt(j) !== 58 || s.charCodeAt(j + 1) !== 32) return undefined;
  i = j + 2;
  if (s.charCodeAt(i) === 42) {
    j = digitsEnd(s, i + 1);
    if (j > i + 1 && s.charCodeAt(j) === 32) i = j + 1;
  }
  return { time, level, msg: i };
}

function readHeader(frame: Frame, ctx: TimeContext): Header | undefined {
  const s = frame.message;
  const h = readHeaderAt(s, 0, ctx);
  if (h || frame.program === undefined) return h;
  // journald may keep a second `host nginx: ` prefix in front of nginx's own date.
  const c = s.indexOf(": ");
  return c > 0 && c < 128 ? readHeaderAt(s, c + 2, ctx) : undefined;
}

const CLIENT = ", client: ";
const SERVER = ", server: ";
const REQUEST = ', request: "';
const REFERRER = ', referrer: "';

interface Client {
  ip: string;
  /** Index of `, client: `. */
  at: number;
  /** Index just after the address. */
  end: number;
}

/** A `, client: ADDR` that nginx could have written: ADDR is followed by `, server: ` or ends the line. */
interface Candidate {
  /** The address, canonical; undefined for what is not an IP address (`unix:`, a client on a Unix socket). */
  ip: string | undefined;
  /** The address as written. */
  text: string;
  at: number;
  end: number;
}

function candidateAt(s: string, k: number): Candidate | undefined {
  const a = k + CLIENT.length;
  let e = s.indexOf(",", a);
  if (e < 0) e = s.length;
  else if (!s.startsWith(SERVER, e)) return undefined;
  if (e - a > 50) return undefined;
  const text = s.slice(a, e);
  return { ip: canonicalIp(text), text, at: k, end: e };
}

/** The address after the `, client: ` at `k`; it must be followed by `, server: ` or the end of the line. */
function clientAt(s: string, k: number): Client | undefined {
  const c = candidateAt(s, k);
  return c?.ip === undefined ? undefined : { ip: c.ip, at: c.at, end: c.end };
}

function firstClient(s: string, from: number): Client | undefined {
  const k = s.indexOf(CLIENT, from);
  return k < 0 ? undefined : clientAt(s, k);
}

const MAX_CLIENTS = 8;

/**
 * Lines at least this long (UTF-8 bytes) may have been cut: nginx cuts its messages at 2048 bytes, a syslog relay
 * at 1024 bytes or more (with its own header in them). A shorter line that ends with a quote ends as nginx wrote it.
 */
const MAY_BE_CUT = 400;

/** The message kinds read with {@link realClient}: what precedes nginx's `, client: ` in each. */
type Kind = "basic" | "pam" | "path";

function isMethodChar(c: number): boolean {
  return (c >= 65 && c <= 90) || c === 95 || c === 45; // A-Z _ -
}

function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function isSchemeChar(c: number): boolean {
  return isLetter(c) || (c >= 48 && c <= 57) || c === 43 || c === 45 || c === 46; // 0-9 + - .
}

/**
 * The end (index of the closing quote) of the HTTP/1.x request line starting at `q`, or -1 when it cannot be
 * one. nginx's HTTP/1 parser (every version, including those that allow spaces in the URI) takes a space followed
 * by `H` after the start of the URI as the start of the version, which must be `HTTP/major.minor`, optionally
 * followed by spaces, and then ends the line. So the first ` H` after the URI's first character is the version.
 */
function http1RequestEnd(s: string, q: number): number {
  const sp = s.indexOf(" ", q);
  if (sp <= q) return -1;
  let u = sp;
  while (s.charCodeAt(u) === 32) u++;
  const h = s.indexOf(" H", u);
  if (h < 0 || !s.startsWith("HTTP/", h + 1)) return -1;
  let i = digitsEnd(s, h + 6);
  if (i === h + 6 || s.charCodeAt(i) !== 46) return -1;
  const j = digitsEnd(s, i + 1);
  if (j === i + 1) return -1;
  i = j;
  while (s.charCodeAt(i) === 32) i++;
  return s.charCodeAt(i) === 34 ? i : -1;
}

/**
 * Whether the text after candidate `c` can be the context nginx appends after the real client:
 * `, server: NAME, request: "REQUEST"[, subrequest: "..."][, upstream: "..."][, host: "HOST"][, referrer: "..."]`,
 * the line possibly cut anywhere when `cut` (long, or not ending with the quote nginx closes its last value
 * with). Only what holds for every line nginx writes is checked (the real client always passes); the request,
 * host and referrer are the sender's text and may contain anything else:
 * - NAME is the server's configured name: no `"` and no `, `; the request line always follows it (these
 *   messages come from request phases, after the request line was read);
 * - the request line is `METHOD URI ...`: METHOD in `[A-Z_-]`, URI starting with `/` or `scheme://` (HTTP/1 and
 *   the :path of HTTP/2 and HTTP/3 alike; CONNECT has a host instead);
 * - an HTTP/1 request line ends at its version ({@link http1RequestEnd}); HTTP/2 and HTTP/3 request lines are
 *   built from :path, which nginx < 1.21.1 let hold spaces and quotes, so when one may be present (or the line
 *   may be cut inside the request) nothing is assumed about where the request ends;
 * - after the request: a Host value never contains `/` (nginx answers 400 to such a Host before any of these
 *   messages), so it ends at a `", referrer: "` before the first `/` after it, or at the end of the line.
 */
function tailOk(s: string, c: Candidate, cut: boolean): boolean {
  if (c.end === s.length) return cut;
  const v = c.end + SERVER.length;
  const dq = s.indexOf('"', v);
  if (dq < 0) return cut;
  const sep = s.indexOf(", ", v);
  if (sep < 0 || sep !== dq - (REQUEST.length - 1) || !s.startsWith(REQUEST, sep)) return false;
  const q = dq + 1;
  const sp = s.indexOf(" ", q);
  if (sp < 0) return cut;
  if (sp === q) return false;
  for (let i = q; i < sp; i++) if (!isMethodChar(s.charCodeAt(i))) return false;
  let u = sp;
  while (s.charCodeAt(u) === 32) u++;
  if (u === s.length) return cut;
  if (!(sp - q === 7 && s.startsWith("CONNECT", q)) && s.charCodeAt(u) !== 47 /* / */) {
    // An absolute URI: `scheme://` (a letter, then letters, digits, `+`, `-`, `.`).
    if (!isLetter(s.charCodeAt(u))) return false;
    let i = u + 1;
    while (isSchemeChar(s.charCodeAt(i))) i++;
    const rest = s.length - i;
    if (rest < 3) return cut && "://".startsWith(s.slice(i));
    if (!s.startsWith("://", i)) return false;
  }
  if (cut || s.includes(' HTTP/2.0"', u) || s.includes(' HTTP/3.0"', u)) return true;
  // No version at all: an HTTP/0.9 request (no headers follow it).
  if (s.indexOf(" H", u) < 0) return true;
  const e = http1RequestEnd(s, q);
  if (e < 0) return false;
  const i = e + 1;
  if (i === s.length) return true;
  if (s.startsWith(', host: "', i)) {
    const hs = i + 9;
    const slash = s.indexOf("/", hs);
    if (slash < 0) return true;
    const ref = s.indexOf('", referrer: "', hs);
    return ref >= 0 && ref < slash;
  }
  return s.startsWith(REFERRER, i) || s.startsWith(', upstream: "', i) || s.startsWith(', subrequest: "', i);
}

/** Whether the message before candidate `c` can be nginx's message of this kind (its user name, path, reason). */
function headOk(s: string, kind: Kind, msg: number, c: Candidate): boolean {
  const k = c.at;
  switch (kind) {
    case "basic": // user "X": password mismatch / user "X" was not found in "FILE"
      if (s.endsWith('": password mismatch', k)) return k - 20 >= msg + 6;
      return s.charCodeAt(k - 1) === 34 && s.lastIndexOf(' was not found in "', k - 1) > msg + 6;
    case "pam": // PAM: user 'X' - REASON
      return s.lastIndexOf("' - ", k) >= msg + 11;
    case "path": // open() "PATH" failed (2: No such file or directory)[ while ACTION]
      return (
        s.charCodeAt(k - 1) === 41 || / while [a-z][a-z ]{0,80}$/.test(s.slice(Math.max(msg, k - 90), k))
      );
  }
}

/**
 * The client nginx wrote on a line whose start (user name, decoded path) and end (request line, Host, referrer:
 * nginx < 1.21.1 allows spaces in the first two) are the sender's: both sides may hold `, client: ADDR, server: `.
 * nginx writes its client once, so a line with a single candidate is read as it is. With several, each is kept
 * only if the text before it can be this kind of message ({@link headOk}) and the text after it can be nginx's
 * context ({@link tailOk}); nginx's own client always passes both. On an auth failure (a user name before the
 * client, which cannot hold `, referrer: "`), candidates after the first `, referrer: "` are dropped too. When
 * the candidates left disagree on the address, the line cannot be read safely and yields nothing (refused with a
 * reason), rather than an address the sender chose; so does a line where none passes. A decoded path (not-found
 * messages) may hold anything, a fake referrer included, so there a fake client after a referrer still makes the
 * line ambiguous.
 */
function realClient(s: string, from: number, kind: Kind): Client | undefined {
  const found: Candidate[] = [];
  let seen = 0;
  for (let k = s.indexOf(CLIENT, from); k >= 0; k = s.indexOf(CLIENT, k + 1)) {
    // nginx writes one; an injection sample has two or three. Many is a hostile line: nothing to read.
    if (++seen > MAX_CLIENTS) {
      rejection = "too many client addresses";
      return undefined;
    }
    const c = candidateAt(s, k);
    if (c) found.push(c);
  }
  let pick: Candidate | undefined;
  if (found.length === 1) pick = found[0];
  else if (found.length > 1) {
    // nginx ends these lines with a quoted value (request, host, referrer): a line without one was cut.
    const cut = !s.endsWith('"') || Buffer.byteLength(s, "utf8") >= MAY_BE_CUT;
    let ok = found.filter((c) => headOk(s, kind, from, c) && tailOk(s, c, cut));
    if (kind !== "path" && ok.length > 0) {
      // Before the client of an auth failure there is only a user name and nginx's text; a user name never
      // holds a `:` (nginx splits the Basic credentials at the first one), so never `, referrer: "`. The first
      // one on the line is therefore after nginx's client (in the referrer nginx writes last, or in the request
      // line or Host of an old nginx, which come after the client too): a candidate after it is the sender's.
      const referrer = s.indexOf(REFERRER, from);
      if (referrer >= 0) {
        const before = ok.filter((c) => c.at < referrer);
        if (before.length === 0) {
          rejection = "client address after a referrer";
          return undefined;
        }
        ok = before;
      }
    }
    const last = ok[ok.length - 1];
    if (!last) {
      rejection = "no client address where nginx writes it";
      return undefined;
    }
    const key = (c: Candidate) => c.ip ?? c.text;
    const other = ok.find((c) => key(c) !== key(last));
    if (other) {
      const referrer = s.indexOf(REFERRER, ok[0]!.end);
      rejection =
        referrer >= 0 && last.at > referrer ? "client address after a referrer" : "ambiguous client address";
      return undefined;
    }
    pick = last;
  }
  return pick?.ip === undefined ? undefined : { ip: pick.ip, at: pick.at, end: pick.end };
}

/** Why {@link realClient} refused the line being parsed, if it did (a module-level scratch, read per line). */
let rejection: string | undefined;

/** `, server: NAME, request: "M T P"` right after the client. */
function requestAfter(s: string, c: Client): string | undefined {
  if (!s.startsWith(SERVER, c.end)) return undefined;
  const comma = s.indexOf(", ", c.end + 10);
  if (comma < 0 || !s.startsWith(REQUEST, comma)) return undefined;
  const start = comma + 12;
  let end = http1RequestEnd(s, start);
  if (end < 0) end = s.indexOf('", ', start);
  if (end < 0) end = s.endsWith('"') ? s.length - 1 : -1;
  return end < start ? undefined : s.slice(start, end);
}

function emit(
  frame: Frame,
  h: Header,
  c: Client,
  action: string,
  category: string[],
  reason: string,
  out: SecurityEvent[],
): SecurityEvent {
  const s = frame.message;
  const e = newEvent(frame, "nginx", action, "failure");
  if (frame.time === undefined && h.time !== undefined) e["@timestamp"] = h.time;
  e.event.category = category;
  e.event.reason = reason;
  e.source = { ip: c.ip };
  e.log = { level: h.level };
  const req = requestAfter(s, c);
  if (req !== undefined) {
    const { method, target } = splitRequest(req);
    setRequest(e, method, target, undefined);
  }
  out.push(e);
  return e;
}

/** `user "X" was not found in "FILE"` / `user "X": password mismatch`. */
function basicAuth(frame: Frame, h: Header, out: SecurityEvent[]): void {
  const s = frame.message;
  const c = realClient(s, h.msg, "basic");
  if (!c) return;
  const userStart = h.msg + 6;
  let user: string;
  let reason: string;
  if (c.at - 20 >= userStart && s.endsWith('": password mismatch', c.at)) {
    user = s.slice(userStart, c.at - 20);
    reason = "password mismatch";
  } else {
    const w = s.lastIndexOf(' was not found in "', c.at);
    if (w <= userStart) return;
    // nginx writes `user "X" was not found`; fail2ban's samples also have `user "X": was not found`.
    const q = s.charCodeAt(w - 1) === 58 ? w - 1 : w;
    if (q <= userStart || s.charCodeAt(q - 1) !== 34) return;
    user = s.slice(userStart, q - 1);
    reason = "user not found";
  }
  setUser(emit(frame, h, c, A.auth, AUTH_CATEGORY, reason, out), user);
}

/** ngx_http_auth_pam: `PAM: user 'X' - not authenticated: REASON` (or `- invalid account: REASON`). */
function pamAuth(frame: Frame, h: Header, out: SecurityEvent[]): void {
  const s = frame.message;
  const c = realClient(s, h.msg, "pam");
  if (!c) return;
  const userStart = h.msg + 11;
  const q = s.lastIndexOf("' - ", c.at);
  if (q < userStart) return;
  setUser(emit(frame, h, c, A.auth, AUTH_CATEGORY, s.slice(q + 4, c.at), out), s.slice(userStart, q));
}

/** `open() "PATH" failed (2: ...)` / `"PATH" is not found (2: ...)`: a probe when the request path is one. */
function notFound(frame: Frame, h: Header, out: SecurityEvent[]): void {
  const s = frame.message;
  const c = realClient(s, h.msg, "path");
  if (!c) return;
  const req = requestAfter(s, c);
  if (req === undefined) return;
  const { target } = splitRequest(req);
  if (target === undefined || !isProbePath(pathOf(target))) return;
  emit(frame, h, c, HTTP.probe, ["web"], s.slice(h.msg, c.at), out);
}

function simple(frame: Frame, h: Header, action: string, category: string[], out: SecurityEvent[]): void {
  const s = frame.message;
  const c = firstClient(s, h.msg);
  if (c) emit(frame, h, c, action, category, s.slice(h.msg, c.at), out);
}

function errorLine(frame: Frame, h: Header, out: SecurityEvent[]): void {
  const s = frame.message;
  const i = h.msg;
  switch (s.charCodeAt(i)) {
    case 117: // u
      if (s.startsWith('user "', i)) basicAuth(frame, h, out);
      return;
    case 80: // P
      if (s.startsWith("PAM: user '", i)) pamAuth(frame, h, out);
      return;
    // `limit_req_dry_run` / `limit_conn_dry_run` write `limiting requests, dry run, excess: ...`,
    // `limiting connections, dry run, by zone ...`, `delaying request, dry run, ...`: the request was served
    // (the limit is being tried out), so it is no failure of the client's.
    case 108: // l
      if (s.startsWith("limiting requests, excess", i)) simple(frame, h, A.limitReq, ["web"], out);
      else if (s.startsWith("limiting connections by", i)) simple(frame, h, A.limitConn, ["web"], out);
      return;
    case 100: // d
      if (s.startsWith("delaying request, excess", i)) simple(frame, h, A.limitReqDelayed, ["web"], out);
      return;
    case 83: // S
      // `SSL_read() failed (SSL: ... unexpected eof while reading)`: a client that completed the handshake and
      // closed without close_notify (browsers and mobile clients do; an nginx built with OpenSSL 3 that does not
      // ignore it logs it at crit), not junk on the TLS port.
      if (s.startsWith("SSL_do_handshake() failed", i)) simple(frame, h, A.ssl, ["network"], out);
      else if (s.startsWith("SSL_read() failed (SSL:", i)) {
        // Only nginx's text, before the first `, client: `, is searched (a request line may follow the client).
        const eof = s.indexOf(":unexpected eof while reading)", i);
        const c = s.indexOf(CLIENT, i);
        if (eof < 0 || (c >= 0 && eof > c)) simple(frame, h, A.ssl, ["network"], out);
      }
      return;
    case 111: // o
      if (s.startsWith('open() "', i)) notFound(frame, h, out);
      return;
    case 34: // "
      notFound(frame, h, out);
      return;
  }
}

export const nginx: ParserDefinition = {
  id: "nginx",
  description:
    "nginx error log (basic/PAM auth failures, limit_req/limit_conn, TLS handshake failures, not-found probes) and access log (401s, probes)",
  programs: ["nginx"],
  probe(frame) {
    const s = frame.message;
    if (s.charCodeAt(4) === 47 && s.charCodeAt(20) === 91) return true; // `2012/04/09 11:53:29 [`
    return frame.program === undefined && looksLikeAccessLine(s) && !hasTraefikTail(s);
  },
  modes: {
    normal: [A.auth, A.limitReq, A.limitConn, HTTP.authFailed, HTTP.probe],
    auth: [A.auth, HTTP.authFailed],
    fallback: [A.ssl],
    "limit-req": [A.limitReq, A.limitReqDelayed, A.limitConn],
    botsearch: [HTTP.probe],
    aggressive: FAILURES,
  },
  actions: [...FAILURES, HTTP.login],
  create({ time, onRejected }): LineParser {
    return {
      parse(frame, out) {
        const h = readHeader(frame, time);
        if (h) {
          rejection = undefined;
          errorLine(frame, h, out);
          if (rejection !== undefined) onRejected?.(rejection);
        } else if (looksLikeAccessLine(frame.message)) {
          const e = accessEvent(frame, "nginx", time);
          if (e) out.push(e);
        }
      },
    };
  },
};
