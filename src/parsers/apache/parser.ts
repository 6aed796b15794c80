/**
 * Apache httpd: its error log (HTTP auth and authz failures, access denials, digest protocol abuse, SNI
 * mismatches, ModSecurity denials, mod_evasive blocks, not-found probes) and its access log (../access-log.ts),
 * as plain files or through syslog (`ErrorLog syslog`: program `httpd`, `apache2`, `httpd/<vhost>`, ...).
 *
 *   [Thu Jul 11 01:21:43 2013] [error] [client 192.0.2.1] user bob not found: /private
 *   [Sat Jul 20 21:39:11.978080 2013] [auth_basic:error] [pid 17512:tid 1401] [client 192.0.2.1:51390] AH01617: user bob: authentication failure for "/basic": Password Mismatch
 *   [Sun Sep 14 21:44:43.008606 2014] [authz_core:error] [pid 10691] [client 192.0.2.2:44271] AH01630: client denied by server configuration: /var/www/private
 *   [Mon Dec 23 09:49:10 2013] [error] [client 192.0.2.3] File does not exist: /var/www/phpmyadmin
 *   [Sat May 09 00:35:52.389262 2020] [:error] [pid 22406:tid 1399] [client 192.0.2.4:47762] [client 192.0.2.4] ModSecurity: Access denied with code 401 (phase 2). ...
 *   Feb 15 16:23:00 srv httpd[22034]: [authz_core:error] [pid 22034] [client 192.0.2.5:58585] AH01630: client denied by server configuration: /home/www/
 *
 * Where the client is: Apache writes `[client ADDR[:port]]` (or `[remote ADDR:port]`) in the line's header,
 * before the message; only the bracketed header fields are read for it, so user names, paths and referrers in
 * the message can never supply an address (`File does not exist: /x/[client 192.0.2.9] user root not found` is
 * a not-found message from the header's client, not an auth failure).
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp, splitHostPort } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { readIso, readSyslogDate } from "../../framing/timestamps.ts";
import type { TimeContext } from "../../framing/zone.ts";
import {
  accessEvent,
  hasTraefikTail,
  HTTP,
  HTTP_FAILURES,
  isProbeFile,
  looksLikeAccessLine,
} from "../access-log.ts";
import { newEvent, setUser } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  auth: "apache_auth_failed",
  authz: "apache_authz_failed",
  denied: "apache_access_denied",
  invalid: "apache_auth_invalid",
  sni: "apache_sni_mismatch",
  modsec: "apache_modsecurity_denied",
  evasive: "apache_evasive_denied",
} as const;

const AUTH = [A.auth, A.authz, A.denied, A.invalid, A.sni];
const FAILURES = [...AUTH, A.modsec, A.evasive, ...HTTP_FAILURES];

interface Header {
  /** Index of the `]` closing the date, or -1 when the line has none (syslog). */
  dateEnd: number;
  /** `module:level` or `level` as written. */
  level: string;
  ip: string;
  port: number | undefined;
  msg: number;
}

/**
 * `[Sat Jul 20 21:34:49.453232 2013]` (`%t`, `%{u}t`) or `[2013-07-20 21:34:49.453232]` (`%{c}t`, `%{cu}t`:
 * httpd's compact ISO form) at 0 by shape: the index of the closing `]`, or -1.
 */
function errorDateEnd(s: string): number {
  const close = s.indexOf("]");
  if (isCompactDate(s)) return close >= 20 && close <= 40 ? close : -1;
  if (close < 25 || close > 40 || s.charCodeAt(4) !== 32 || s.charCodeAt(8) !== 32 || s.charCodeAt(11) !== 32)
    return -1;
  return s.charCodeAt(close - 5) === 32 ? close : -1;
}

/** `[YYYY-MM-DD hh:` at 0 by shape (digits are checked when the time is read). */
function isCompactDate(s: string): boolean {
  return (
    s.charCodeAt(5) === 45 && s.charCodeAt(8) === 45 && s.charCodeAt(11) === 32 && s.charCodeAt(14) === 58
  );
}

/**
 * The time of `[Sat Jul 20 21:34:49.453232 2013]` (ending at `close`): ctime with the year last, moved in front
 * of the time for the syslog-date reader; or of `[2013-07-20 21:34:49.453232]`, read whole by the ISO reader.
 * Consecutive lines mostly share it, so the last one is remembered.
 */
function errorTime(
  s: string,
  close: number,
  ctx: TimeContext,
  memo: { text: string; time: number | undefined },
) {
  const text = s.slice(1, close);
  if (text === memo.text) return memo.time;
  let time: number | undefined;
  if (isCompactDate(s)) {
    const t = readIso(s, 1, ctx);
    time = t?.end === close ? t.time : undefined;
  } else {
    // `Jun 01 ` + `2013` + ` ` + `21:34:49.453232`
    const t = readSyslogDate(
      `${s.slice(5, 12)}${s.slice(close - 4, close)} ${s.slice(12, close - 5)}`,
      0,
      ctx,
    );
    time = t?.time;
  }
  memo.text = text;
  memo.time = time;
  return time;
}

/** `ADDR`, `ADDR:port` or `[v6]:port` from a `[client ...]` field. */
function readAddress(text: string): { ip: string; port: number | undefined } | undefined {
  const ip = canonicalIp(text);
  if (ip !== undefined) return { ip, port: undefined };
  return splitHostPort(text);
}

/**
 * `mod_auth_basic.c(422): ` at `i` (ErrorLogFormat's `%F`: the source file and line, written by httpd before the
 * client): the index after it, or `i`. The name is a source file's (letters, digits, `_`, `-`, `.`, ending `.c`,
 * `.h`, `.cc` or `.cpp`), the line a number: this is the server's text, never the client's.
 */
function skipSourceFile(s: string, i: number): number {
  let k = i;
  const max = i + 64;
  for (; k < max; k++) {
    const c = s.charCodeAt(k);
    const word =
      (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 || c === 45;
    if (!word && c !== 46) break;
  }
  if (s.charCodeAt(k) !== 40 /* ( */) return i;
  const name = s.slice(i, k);
  if (
    !(name.endsWith(".c") || name.endsWith(".h") || name.endsWith(".cc") || name.endsWith(".cpp")) ||
    name.length < 3
  )
    return i;
  let d = k + 1;
  while (d < k + 8 && s.charCodeAt(d) >= 48 && s.charCodeAt(d) <= 57) d++;
  if (
    d === k + 1 ||
    s.charCodeAt(d) !== 41 /* ) */ ||
    s.charCodeAt(d + 1) !== 58 ||
    s.charCodeAt(d + 2) !== 32
  )
    return i;
  return d + 3;
}

/**
 * The bracketed header: `[date] ` (absent through syslog), `[module:level] `, optional `[pid N:tid M] `, an
 * optional `file.c(LINE): ` (`%F`), an optional `(errno)text: ` (`%E`), then `[client A] ` / `[remote A] `
 * (ModSecurity repeats `[client A]`; the user-agent `client` wins over the connection's `remote`), then an
 * optional `AH01234: ` code.
 */
function readHeader(s: string): Header | undefined {
  let i = 0;
  let dateEnd = -1;
  if (s.charCodeAt(0) !== 91) return undefined;
  const c1 = s.charCodeAt(1);
  if ((c1 >= 65 && c1 <= 90 && s.charCodeAt(4) === 32) || (c1 >= 48 && c1 <= 57 && s.charCodeAt(5) === 45)) {
    dateEnd = errorDateEnd(s);
    if (dateEnd < 0 || s.charCodeAt(dateEnd + 1) !== 32) return undefined;
    i = dateEnd + 2;
  }
  if (s.charCodeAt(i) !== 91) return undefined;
  let close = s.indexOf("] ", i);
  if (close < 0 || close - i > 40) return undefined;
  const level = s.slice(i + 1, close);
  i = close + 2;
  if (s.startsWith("[pid ", i)) {
    close = s.indexOf("] ", i);
    if (close < 0 || close - i > 60) return undefined;
    i = close + 2;
  }
  i = skipSourceFile(s, i);
  if (s.charCodeAt(i) === 40) {
    // `(13)Permission denied: ` before the client (Apache 2.4's %E)
    const colon = s.indexOf(": ", i);
    if (colon > 0 && colon - i < 100) i = colon + 2;
  }
  let client: { ip: string; port: number | undefined } | undefined;
  let remote: { ip: string; port: number | undefined } | undefined;
  for (let k = 0; k < 3; k++) {
    const isClient = s.startsWith("[client ", i);
    if (!isClient && !s.startsWith("[remote ", i)) break;
    close = s.indexOf("]", i + 8);
    // `[client [2001:db8::1]:51548]`: the address itself may be bracketed.
    if (s.charCodeAt(i + 8) === 91) close = s.indexOf("]", close + 1);
    if (close < 0 || close - i > 70) return undefined;
    const addr = readAddress(s.slice(i + 8, close));
    if (!addr) return undefined;
    if (isClient) client ??= addr;
    else remote ??= addr;
    i = close + 1;
    if (s.charCodeAt(i) === 32) i++;
  }
  const who = client ?? remote;
  if (!who) return undefined;
  if (s.charCodeAt(i) === 65 && s.charCodeAt(i + 1) === 72 && s.charCodeAt(i + 7) === 58) i += 9; // AH01234:
  return { dateEnd, level, ip: who.ip, port: who.port, msg: i };
}

/** The message without Apache's `, referer: ...` suffix. */
function withoutReferer(s: string, from: number): string {
  const r = s.indexOf(", referer: ", from);
  return r < 0 ? s.slice(from) : s.slice(from, r);
}

interface Finding {
  action: string;
  user?: string;
  reason: string;
  status?: number;
  category: string[];
}

const AUTHN = ["authentication", "web"];
const WEB = ["web"];

/** `user ...` messages of mod_auth_basic, mod_auth_digest and mod_authz_*. */
function userMessage(m: string): Finding | undefined {
  // m starts with `user `
  let k = m.indexOf(": authentication failure for ");
  if (k >= 5) return { action: A.auth, user: m.slice(5, k), reason: m.slice(k + 2), category: AUTHN };
  k = m.indexOf(": authorization failure for ");
  if (k >= 5) return { action: A.authz, user: m.slice(5, k), reason: m.slice(k + 2), category: AUTHN };
  k = m.indexOf(": password mismatch");
  if (k >= 5) return { action: A.auth, user: m.slice(5, k), reason: "password mismatch", category: AUTHN };
  if (m.charCodeAt(5) === 96) {
    // digest: user `bob' in realm `private' not found: /uri
    k = m.indexOf("' in realm `");
    if (k > 5 && m.includes("' not found", k))
      return { action: A.auth, user: m.slice(6, k), reason: "user not found in realm", category: AUTHN };
    return undefined;
  }
  // `user X not found: URI` (2.2 and 2.4's AH01618), `user X not found` (no URI). X is a Basic user name, which
  // holds no `:` (the credentials are split at the first one) but may hold ` not found` itself: the first
  // ` not found:` ends it, not the first ` not found` (else `user a not found b` would hide every failure).
  k = m.indexOf(" not found:", 4);
  if (k < 0 && m.endsWith(" not found") && m.indexOf(":") < 0) k = m.length - 10;
  if (k >= 4)
    return { action: A.auth, user: m.slice(5, Math.max(5, k)), reason: "user not found", category: AUTHN };
  return undefined;
}

function digestMessage(m: string): Finding | undefined {
  if (m.startsWith("invalid nonce ")) {
    // A nonce whose hash does not verify is what a client sends after a server restart: not counted.
    if (m.includes(" received - hash is not ")) return undefined;
    return { action: A.invalid, reason: m, category: AUTHN };
  }
  if (m.startsWith("realm mismatch") || m.startsWith("unknown algorithm") || m.startsWith("invalid qop"))
    return { action: A.invalid, reason: m, category: AUTHN };
  return undefined;
}

function classify(m: string, level: string): Finding | undefined {
  if (m.startsWith("Digest: ")) {
    const d = m.slice(8);
    return d.startsWith("user ") ? userMessage(d) : digestMessage(d);
  }
  if (m.startsWith("user ")) return userMessage(m);
  if (m.startsWith("client denied by server configuration")) {
    return level.startsWith("evasive")
      ? { action: A.evasive, reason: "mod_evasive: client denied", category: WEB }
      : { action: A.denied, reason: "client denied by server configuration", category: WEB };
  }
  if (m.startsWith("Authorization of user ")) {
    const k = m.indexOf(" to access ", 22);
    return k < 0 ? undefined : { action: A.authz, user: m.slice(22, k), reason: m, category: AUTHN };
  }
  if (m.startsWith("client used wrong authentication scheme"))
    return { action: A.invalid, reason: "wrong authentication scheme", category: AUTHN };
  if (
    (m.startsWith("Hostname ") && m.includes(" provided via SNI")) ||
    m.startsWith("No hostname was provided via SNI")
  )
    return { action: A.sni, reason: m, category: ["network", "web"] };
  if (m.startsWith("ModSecurity: ")) {
    const k = m.indexOf("Access denied with code ");
    if (k < 0) return undefined;
    const status = Number(m.slice(k + 24, k + 27));
    const f: Finding = {
      action: A.modsec,
      reason: modsecReason(m),
      category: ["intrusion_detection", "web"],
    };
    if (status >= 100 && status <= 599) f.status = status;
    return f;
  }
  const digest = digestMessage(m); // Apache 2.4 writes them without the `Digest: ` prefix
  if (digest) return digest;
  let path: string | undefined;
  if (m.startsWith("File does not exist: ")) path = m.slice(21);
  else if (m.startsWith("script not found or unable to stat: ")) path = m.slice(36);
  else if (m.startsWith("script '")) {
    const k = m.indexOf("' not found or unable to stat", 8);
    if (k > 8) path = m.slice(8, k);
  }
  if (path !== undefined && isProbeFile(path)) return { action: HTTP.probe, reason: m, category: WEB };
  return undefined;
}

/** `[id "960015"] ... [msg "Request Missing an Accept Header"]` -> `960015: Request Missing an Accept Header`. */
function modsecReason(m: string): string {
  const id = /\[id "(\d{1,12})"\]/.exec(m)?.[1];
  const msg = /\[msg "([^"]{0,300})"\]/.exec(m)?.[1];
  if (id !== undefined && msg !== undefined) return `ModSecurity rule ${id}: ${msg}`;
  return "ModSecurity: access denied";
}

interface TimeMemo {
  text: string;
  time: number | undefined;
}

function errorLine(frame: Frame, h: Header, ctx: TimeContext, memo: TimeMemo, out: SecurityEvent[]): void {
  const f = classify(withoutReferer(frame.message, h.msg), h.level);
  if (!f) return;
  let time = frame.time;
  if (time === undefined && h.dateEnd > 0) {
    time = errorTime(frame.message, h.dateEnd, ctx, memo);
    if (time === undefined) return;
  }
  const e = newEvent(frame, "apache", f.action, "failure");
  if (time !== undefined) e["@timestamp"] = time;
  e.event.category = f.category;
  e.event.reason = f.reason;
  e.source = h.port === undefined ? { ip: h.ip } : { ip: h.ip, port: h.port };
  e.log = { level: h.level };
  if (f.status !== undefined) e.http = { response: { status_code: f.status } };
  setUser(e, f.user);
  out.push(e);
}

export const apache: ParserDefinition = {
  id: "apache",
  description:
    "Apache httpd error log (auth/authz failures, access denials, digest abuse, SNI mismatches, ModSecurity, mod_evasive, not-found probes) and access log",
  programs: ["httpd", "apache2", "apache"],
  programPrefixes: ["httpd/", "apache2/", "apache/"],
  probe(frame) {
    const s = frame.message;
    // `[Sat Jun 01 ` (`%t`, `%{u}t`) or `[2013-06-01 ` (`%{c}t`, `%{cu}t`)
    if (s.charCodeAt(0) === 91)
      return (
        (s.charCodeAt(4) === 32 && s.charCodeAt(8) === 32) ||
        (s.charCodeAt(5) === 45 && s.charCodeAt(8) === 45)
      );
    // An access log has no syslog envelope (one that has is claimed by program name).
    return frame.program === undefined && looksLikeAccessLine(s) && !hasTraefikTail(s);
  },
  modes: {
    normal: [...AUTH, A.modsec, A.evasive, HTTP.authFailed, HTTP.probe],
    auth: AUTH,
    botsearch: [HTTP.probe],
    modsecurity: [A.modsec],
    aggressive: FAILURES,
  },
  actions: [...FAILURES, HTTP.login],
  create({ time }): LineParser {
    const memo: TimeMemo = { text: "", time: undefined };
    return {
      parse(frame, out) {
        const s = frame.message;
        if (s.charCodeAt(0) === 91) {
          const h = readHeader(s);
          if (h) errorLine(frame, h, time, memo, out);
        } else if (looksLikeAccessLine(s)) {
          const e = accessEvent(frame, "apache", time);
          if (e) out.push(e);
        }
      },
    };
  },
};
