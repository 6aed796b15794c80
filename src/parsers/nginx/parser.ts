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
 * message (a user name, a path decoded from the URI) and after it (the referrer; request line and Host cannot
 * hold spaces in current nginx). So:
 * - messages without attacker text before the client (limits, TLS) take the first `, client: `;
 * - auth failures take the last `, client: ` before the first `, referrer: "` (the user name comes first and
 *   may contain copies: fail2ban's injection sample; real basic-auth user names cannot even contain `:`);
 * - not-found messages (whose path may contain anything) are used only when exactly one `, client: ` precedes
 *   the referrer; an ambiguous line is dropped rather than risk banning an injected address.
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
const REFERRER = ', referrer: "';

interface Client {
  ip: string;
  /** Index of `, client: `. */
  at: number;
  /** Index just after the address. */
  end: number;
}

/** The address after the `, client: ` at `k`; it must be followed by `, server: ` or the end of the line. */
function clientAt(s: string, k: number): Client | undefined {
  const a = k + CLIENT.length;
  let e = s.indexOf(",", a);
  if (e < 0) e = s.length;
  else if (!s.startsWith(", server: ", e)) return undefined;
  if (e - a > 50) return undefined;
  const ip = canonicalIp(s.slice(a, e));
  return ip === undefined ? undefined : { ip, at: k, end: e };
}

function firstClient(s: string, from: number): Client | undefined {
  const k = s.indexOf(CLIENT, from);
  return k < 0 ? undefined : clientAt(s, k);
}

const MAX_CLIENTS = 8;

/**
 * The client nginx wrote on a line whose start (user name, decoded path) and end (referrer) are the sender's:
 * both may hold `, client: ADDR, server: ` and `, referrer: "`. The real client is the last valid one before
 * the first `, referrer: "` (a user name or path may hold fake clients, fail2ban's "injection on user name"
 * sample). When a valid client comes after a `, referrer: "`, either that referrer text is a fake one in the
 * user name or path (and the client after it is real) or it is the real referrer (and the client in it is
 * fake): the line cannot be read safely and yields nothing, rather than an address the sender chose.
 */
function realClient(s: string, from: number): Client | undefined {
  const referrer = s.indexOf(REFERRER, from);
  let last: Client | undefined;
  let seen = 0;
  for (let k = s.indexOf(CLIENT, from); k >= 0; k = s.indexOf(CLIENT, k + 1)) {
    // nginx writes one; an injection sample has two or three. Many is a hostile line: nothing to read.
    if (++seen > MAX_CLIENTS) {
      rejection = "too many client addresses";
      return undefined;
    }
    const c = clientAt(s, k);
    if (!c) continue;
    if (referrer >= 0 && k > referrer) {
      rejection = "client address after a referrer";
      return undefined;
    }
    last = c;
  }
  return last;
}

/** Why {@link realClient} refused the line being parsed, if it did (a module-level scratch, read per line). */
let rejection: string | undefined;

/** `, server: NAME, request: "M T P"` right after the client. */
function requestAfter(s: string, c: Client): string | undefined {
  if (!s.startsWith(", server: ", c.end)) return undefined;
  const comma = s.indexOf(", ", c.end + 10);
  if (comma < 0 || !s.startsWith(', request: "', comma)) return undefined;
  const start = comma + 12;
  let end = s.indexOf('", ', start);
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
  const c = realClient(s, h.msg);
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
  const c = realClient(s, h.msg);
  if (!c) return;
  const userStart = h.msg + 11;
  const q = s.lastIndexOf("' - ", c.at);
  if (q < userStart) return;
  setUser(emit(frame, h, c, A.auth, AUTH_CATEGORY, s.slice(q + 4, c.at), out), s.slice(userStart, q));
}

/** `open() "PATH" failed (2: ...)` / `"PATH" is not found (2: ...)`: a probe when the request path is one. */
function notFound(frame: Frame, h: Header, out: SecurityEvent[]): void {
  const s = frame.message;
  const c = realClient(s, h.msg);
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
    case 108: // l
      if (s.startsWith("limiting requests", i)) simple(frame, h, A.limitReq, ["web"], out);
      else if (s.startsWith("limiting connections", i)) simple(frame, h, A.limitConn, ["web"], out);
      return;
    case 100: // d
      if (s.startsWith("delaying request", i)) simple(frame, h, A.limitReqDelayed, ["web"], out);
      return;
    case 83: // S
      if (s.startsWith("SSL_do_handshake() failed", i) || s.startsWith("SSL_read() failed (SSL:", i))
        simple(frame, h, A.ssl, ["network"], out);
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
