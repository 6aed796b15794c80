/**
 * HTTP access logs, shared by the web-server parsers (apache, nginx, traefik; haproxy reuses the classification):
 * a reader for the Common / Combined Log Format and the decision which requests are attack signals.
 *
 *   203.0.113.7 - alice [20/Jan/2015:19:53:28 +0100] "POST /admin HTTP/1.1" 401 162 "-" "curl/8.5.0"
 *   203.0.113.7 - - [20/Jan/2015:19:53:29 +0100] "GET /phpmyadmin/setup.php HTTP/1.1" 404 47 "-" "-"
 *   10.0.0.2 - bob [18/Nov/2018:21:34:34 +0000] "GET / HTTP/2.0" 401 17 "-" "UA" 72 "router" "http://b:80" 0ms
 *                                                                 traefik's extra fields ^^^^^^^^^^^^^^^^^^^^^^^^
 *
 * Trust: the first field is the peer address the server wrote, and the only place an address is ever taken
 * from. The user field, the request line, referrer and user agent are attacker-controlled (they may hold
 * quotes, dates and addresses); they are read only to classify the request and are copied into the event as is.
 *
 * Attack signals (all `event.outcome: failure`), decided on status and path only:
 * - `http_auth_failed`: 401 to a request that carried credentials (the log names a user); category
 *   `authentication`, which the HTTP brute-force rule counts;
 * - `http_unauthorized`: 401 without a user name (no credentials sent, or a log without a user field: haproxy);
 *   category `web` only ({@link categoryOf}): an authentication challenge, not a failed login;
 * - `http_probe`: a request for a well-known scanner target ({@link isProbePath}) the server did not serve
 *   (4xx other than 401): phpMyAdmin, webmail, cgi-bin, WordPress login on a site without WordPress, dotfiles...;
 * - `http_forbidden`: any other 403.
 * And `http_login_attempt` (outcome `unknown`): a POST to `wp-login.php` / `xmlrpc.php` that was served — the
 * access log cannot tell whether the WordPress login failed (WordPress answers 200 both ways), so rules count them.
 * Every other request yields no event (no allocation for the common 2xx/3xx line).
 */
import type { SecurityEvent } from "../core/event.ts";
import { canonicalIp, hexVal } from "../core/ip.ts";
import type { Frame } from "../framing/frame.ts";
import { readClfDate } from "../framing/timestamps.ts";
import type { TimeContext } from "../framing/zone.ts";
import { newEvent, setSource, setUser } from "./event.ts";

export const HTTP = {
  authFailed: "http_auth_failed",
  unauthorized: "http_unauthorized",
  forbidden: "http_forbidden",
  probe: "http_probe",
  login: "http_login_attempt",
} as const;
export type HttpAction = (typeof HTTP)[keyof typeof HTTP];
/** The failure actions of access-log lines. */
export const HTTP_FAILURES = [HTTP.authFailed, HTTP.unauthorized, HTTP.forbidden, HTTP.probe] as const;
/** Every action an access-log line can produce. */
export const HTTP_ACTIONS = [...HTTP_FAILURES, HTTP.login] as const;

export interface AccessLine {
  /** The first field (address or, with `HostnameLookups On`, a host name), as written. */
  client: string;
  /** The authenticated-user field; undefined for `-` (none). */
  user: string | undefined;
  time: number;
  /** The request line as logged (escapes kept). */
  request: string;
  method: string | undefined;
  /** Request target (`url.original`). */
  target: string | undefined;
  status: number;
  /** Index just after the status code. */
  end: number;
}

/**
 * Cheap shape test: `ADDR IDENT USER [dd/Mon/yyyy:` with the bracket within the first 300 characters. Does not
 * allocate.
 */
export function looksLikeAccessLine(s: string): boolean {
  const sp = s.indexOf(" ");
  if (sp <= 0 || sp > 255) return false;
  const c0 = s.charCodeAt(0);
  // An address or host name starts with a hex digit, a letter or ':' — never `[`, `{`, `<` or `#`.
  if (!((c0 >= 48 && c0 <= 58) || (c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122))) return false;
  const br = s.indexOf(" [", sp);
  return br > 0 && br < 300 && s.charCodeAt(br + 4) === 47 && s.charCodeAt(br + 8) === 47;
}

/**
 * Traefik's Common Log Format ends with `<request count> "<router>" "<service URL>" <duration>ms`; nginx's and
 * Apache's formats do not end with `<digits>ms`.
 */
export function hasTraefikTail(s: string): boolean {
  const n = s.length;
  if (n < 4 || s.charCodeAt(n - 1) !== 115 || s.charCodeAt(n - 2) !== 109) return false;
  const d = s.charCodeAt(n - 3);
  return d >= 48 && d <= 57 && s.lastIndexOf('" ', n - 3) > 0;
}

/** Index of the quote closing a quoted field opened just before `at` (backslash escapes honoured), or -1. */
function closingQuote(s: string, at: number, status: boolean): number {
  for (let i = at; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) {
      if (!status) return i;
      // The request is followed by ` NNN ` (status); a raw quote inside the request is not the end.
      if (
        s.charCodeAt(i + 1) === 32 &&
        isDigit(s.charCodeAt(i + 2)) &&
        isDigit(s.charCodeAt(i + 3)) &&
        isDigit(s.charCodeAt(i + 4)) &&
        (i + 5 === s.length || s.charCodeAt(i + 5) === 32)
      )
        return i;
    }
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** Positions found by {@link scanAccessLine}. */
export interface AccessScan {
  /** Index of the client field: 0, or just after Apache's `vhost_combined` `%v:%p ` in front of it. */
  start?: number;
  /** Index of the space ending the client field. */
  sp1: number;
  /** Index of the space ending the ident field. */
  sp2: number;
  /** Index of the ` [` opening the date. */
  br: number;
  reqStart: number;
  /** Index of the quote closing the request line. */
  reqEnd: number;
  status: number;
}

/**
 * `dd/Mon/yyyy:HH:MM:SS[.fff][ +zzzz]` at `at` by shape only (no arithmetic): the index of the closing `]`, or -1.
 */
function clfDateEnd(s: string, at: number): number {
  if (
    s.charCodeAt(at + 2) !== 47 ||
    s.charCodeAt(at + 6) !== 47 ||
    s.charCodeAt(at + 11) !== 58 ||
    s.charCodeAt(at + 14) !== 58 ||
    s.charCodeAt(at + 17) !== 58
  )
    return -1;
  let i = at + 20;
  if (s.charCodeAt(i) === 46) {
    i++;
    while (isDigit(s.charCodeAt(i)) && i < at + 30) i++;
  }
  if (s.charCodeAt(i) === 32 && (s.charCodeAt(i + 1) === 43 || s.charCodeAt(i + 1) === 45)) i += 6;
  return s.charCodeAt(i) === 93 ? i : -1;
}

/**
 * Finds the fields of a CLF / combined line up to the status code, without allocating: the common served
 * request is dismissed from this alone. Returns undefined when the line is not in that format.
 */
export function scanAccessLine(s: string): AccessScan | undefined {
  let sp1 = s.indexOf(" ");
  if (sp1 <= 0 || sp1 > 255) return undefined;
  let start = 0;
  if (isVhostField(s, sp1)) {
    start = sp1 + 1;
    sp1 = s.indexOf(" ", start);
    if (sp1 <= start || sp1 - start > 255) return undefined;
  }
  const sp2 = s.indexOf(" ", sp1 + 1);
  if (sp2 < 0 || identIsAddress(s, sp1 + 1, sp2)) return undefined;
  // The user field runs up to ` [date] "`; it may itself contain spaces and brackets, so look for the first
  // bracket that opens a date followed by `] "`.
  const scan = scanRequestFrom(s, sp1, sp2, sp2 - 1, sp2 + 512);
  if (scan && start > 0) scan.start = start;
  return scan;
}

/**
 * Whether the ident field `s[start, end)` is an IP address: then the line is not CLF as the reader knows it but a
 * format with a field in front of the client, such as `$host $remote_addr - ...` or `%V %h %l ...`, where the
 * first field is the Host header (the sender's text) and the client comes second. The ident is `-` (an identd
 * answer, itself the client's, with `IdentityCheck`), never an address: such a line is not read at all rather than
 * credited to an address the sender may have chosen.
 */
function identIsAddress(s: string, start: number, end: number): boolean {
  if (end - start === 1 && s.charCodeAt(start) === 45) return false;
  return canonicalIp(s.slice(start, end)) !== undefined;
}

/**
 * Whether the first field, `s[0, end)`, is the `%v:%p` (server name and port) that Apache's `vhost_combined`
 * format (Debian's `other_vhosts_access.log`) writes in front of the client: `www.example.com:443 203.0.113.7 - -
 * [...`. The server name is the configured one, not the Host header. A client field never has a port (`%h` is an
 * address or a resolved name), and an IPv6 client ending in digits (`2001:db8::443`) is an address as a whole, so
 * only a field that is not an address and ends with `:DIGITS` is taken for the vhost; the client is the next field.
 */
function isVhostField(s: string, end: number): boolean {
  if (!isDigit(s.charCodeAt(end - 1))) return false;
  const colon = s.lastIndexOf(":", end - 1);
  if (colon <= 0 || end - colon > 6) return false;
  for (let i = colon + 1; i < end; i++) if (!isDigit(s.charCodeAt(i))) return false;
  return canonicalIp(s.slice(0, end)) === undefined;
}

/**
 * The first `[date] "request" status` whose ` [` is at `from` or after (and before `limit`), as the fields of the
 * line with client `s[0, sp1)` and ident `s[sp1 + 1, sp2)`; undefined when there is none. A line may hold more
 * than one where a server does not escape the user name, referrer or user agent (Traefik): calling this again
 * from just after the previous result's status (`reqEnd + 5`) finds the next, and no text is searched twice.
 */
export function scanRequestFrom(
  s: string,
  sp1: number,
  sp2: number,
  from: number,
  limit = s.length,
): AccessScan | undefined {
  let br = s.indexOf(" [", from);
  let close = -1;
  while (br >= 0 && br < limit) {
    close = clfDateEnd(s, br + 2);
    if (close > 0 && s.charCodeAt(close + 1) === 32 && s.charCodeAt(close + 2) === 34) break;
    close = -1;
    br = s.indexOf(" [", br + 2);
  }
  if (close < 0) return undefined;
  const reqStart = close + 3;
  const reqEnd = closingQuote(s, reqStart, true);
  if (reqEnd < 0) return undefined;
  const status =
    (s.charCodeAt(reqEnd + 2) - 48) * 100 +
    (s.charCodeAt(reqEnd + 3) - 48) * 10 +
    (s.charCodeAt(reqEnd + 4) - 48);
  return { sp1, sp2, br, reqStart, reqEnd, status };
}

/** Index of the first ` [` at `from` or after that opens a CLF date (`[dd/Mon/yyyy:HH:MM:SS ...]`), or -1. */
export function findClfDate(s: string, from: number): number {
  for (let br = s.indexOf(" [", from); br >= 0; br = s.indexOf(" [", br + 2)) {
    if (clfDateEnd(s, br + 2) > 0) return br;
  }
  return -1;
}

let lastDate = "";
let lastCtx: TimeContext | undefined;
let lastTime: number | undefined;

/** The date between `at` and `end` (`]`); consecutive lines mostly share it, so the last one is remembered. */
function clfTime(s: string, at: number, end: number, ctx: TimeContext): number | undefined {
  const text = s.slice(at, end);
  if (text === lastDate && ctx === lastCtx) return lastTime;
  const d = readClfDate(s, at, ctx);
  lastDate = text;
  lastCtx = ctx;
  lastTime = d?.end === end ? d.time : undefined;
  return lastTime;
}

/**
 * Reads a CLF / combined line up to the status code (the rest — size, referrer, user agent, extra fields — is
 * not needed to classify). Returns undefined when the line is not in that format.
 */
export function readAccessLine(
  s: string,
  ctx: TimeContext,
  scan = scanAccessLine(s),
): AccessLine | undefined {
  if (!scan) return undefined;
  const { start = 0, sp1, sp2, br, reqStart, reqEnd, status } = scan;
  const time = clfTime(s, br + 2, reqStart - 3, ctx);
  if (time === undefined) return undefined;
  const userText = br > sp2 ? s.slice(sp2 + 1, br) : "-";
  const request = s.slice(reqStart, reqEnd);
  const { method, target } = splitRequest(request);
  return {
    client: s.slice(start, sp1),
    user: userText === "-" ? undefined : userText === '""' ? "" : userText,
    time,
    request,
    method,
    target,
    status,
    end: reqEnd + 5,
  };
}

/** `METHOD TARGET HTTP/x.y` (or HTTP/0.9's `METHOD TARGET`); both undefined for anything else (`-`, junk). */
export function splitRequest(request: string): { method: string | undefined; target: string | undefined } {
  const a = request.indexOf(" ");
  if (a <= 0) return { method: undefined, target: undefined };
  const b = request.lastIndexOf(" ");
  return {
    method: request.slice(0, a),
    target: b > a && request.startsWith("HTTP/", b + 1) ? request.slice(a + 1, b) : request.slice(a + 1),
  };
}

/** The path of a request target: without query or fragment, and without `scheme://host` in absolute form. */
export function pathOf(target: string): string {
  let start = 0;
  if (target.charCodeAt(0) !== 47) {
    const scheme = target.indexOf("://");
    if (scheme > 0 && scheme < 10) {
      const slash = target.indexOf("/", scheme + 3);
      if (slash < 0) return "/";
      start = slash;
    }
  }
  let end = target.length;
  const q = target.indexOf("?", start);
  if (q >= 0) end = q;
  const h = target.indexOf("#", start);
  if (h >= 0 && h < end) end = h;
  return start === 0 && end === target.length ? target : target.slice(start, end);
}

/**
 * Which attack signal a response is (undefined: none). `user` is the logged user name (undefined: none or no
 * such field), `path` the request path when known.
 */
export function classifyResponse(
  status: number,
  user: string | undefined,
  method: string | undefined,
  path: string | undefined,
): HttpAction | undefined {
  if (status === 401) return user === undefined ? HTTP.unauthorized : HTTP.authFailed;
  if (status >= 400 && status < 500) {
    if (path !== undefined && isProbePath(path)) return HTTP.probe;
    return status === 403 ? HTTP.forbidden : undefined;
  }
  if (method === "POST" && path !== undefined && isWordPressLogin(path)) return HTTP.login;
  return undefined;
}

/**
 * The ECS categories of an access-log action. A 401 without a user name is `web` only, not `authentication`: no
 * credentials were checked (every browser's first request to a protected page, a Docker registry's token
 * challenge before each pull), so rules counting failed authentications (`event.category: authentication and
 * event.outcome: failure`) do not count it; fail2ban's `ddos` modes and rules on `http_unauthorized` still can.
 */
export function categoryOf(action: HttpAction): string[] {
  return action === HTTP.authFailed || action === HTTP.login ? ["authentication", "web"] : ["web"];
}

/**
 * `wp-login.php` / `xmlrpc.php` as the server resolves the path ({@link servedPath}): any case, percent-encoded
 * (`/wp-login%2ephp`), with a path parameter (`;x`) or followed by PATH_INFO (`/xmlrpc.php/x`, which Apache's
 * `AcceptPathInfo` and nginx's usual `fastcgi_split_path_info` hand to the same script).
 */
function isWordPressLogin(path: string): boolean {
  return /\/(?:wp-login|xmlrpc)\.php(?:\/|$)/i.test(servedPath(path));
}

/**
 * The path as the server matches it against files and locations: percent-escapes of printable ASCII decoded once
 * (nginx and Apache decode before matching, so `/wp-login%2ephp` and `/%77p-login.php` reach wp-login.php; a
 * scanner encodes to slip past naive filters), `;parameters` dropped from each segment (`/xmlrpc.php;x`), and dot
 * segments resolved (`/./x/../phpmyadmin/` is `/phpmyadmin/` to the server). Decoded once only, as the server
 * does: `%252e` stays `%2e`. Paths without `%`, `;` or `/.` are returned as they are (no allocation).
 */
export function servedPath(path: string): string {
  if (path.indexOf("%") < 0 && path.indexOf(";") < 0 && path.indexOf("/.") < 0) return path;
  let out = "";
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 59 /* ; */) {
      const slash = path.indexOf("/", i);
      if (slash < 0) break;
      i = slash - 1;
      continue;
    }
    if (c === 37 /* % */) {
      const h = hexVal(path.charCodeAt(i + 1));
      const l = hexVal(path.charCodeAt(i + 2));
      if (h >= 0 && l >= 0 && h * 16 + l > 32 && h * 16 + l < 127) {
        out += String.fromCharCode(h * 16 + l);
        i += 2;
        continue;
      }
    }
    out += path[i];
  }
  return out.indexOf("/.") < 0 ? out : withoutDotSegments(out);
}

/** RFC 3986 5.2.4 on a path: `.` segments dropped, `..` removes the segment before it (never above the root). */
function withoutDotSegments(path: string): string {
  const segs = path.split("/");
  const out: string[] = [];
  for (let k = 0; k < segs.length; k++) {
    const seg = segs[k]!;
    if (seg === ".") continue;
    if (seg === "..") {
      if (out.length > 1) out.pop();
      continue;
    }
    out.push(seg);
  }
  return out.join("/");
}

/** Fills the ECS http / url fields of an event. */
export function setRequest(
  e: SecurityEvent,
  method: string | undefined,
  target: string | undefined,
  status: number | undefined,
): void {
  if (method !== undefined || status !== undefined) {
    const http: NonNullable<SecurityEvent["http"]> = {};
    if (method !== undefined) http.request = { method };
    if (status !== undefined) http.response = { status_code: status };
    e.http = http;
  }
  if (target !== undefined) e.url = { original: target, path: pathOf(target) };
}

/** The event of one access-log line, or undefined when the request is no attack signal (or not CLF). */
export function accessEvent(
  frame: Frame,
  dataset: string,
  ctx: TimeContext,
  s = frame.message,
  scan = scanAccessLine(s),
): SecurityEvent | undefined {
  if (!scan) return undefined;
  // Most lines are served requests: dismiss them before reading the date or allocating anything.
  if ((scan.status < 400 || scan.status > 499) && !s.startsWith("POST ", scan.reqStart)) return undefined;
  const line = readAccessLine(s, ctx, scan);
  if (!line) return undefined;
  const path = line.target === undefined ? undefined : pathOf(line.target);
  const action = classifyResponse(line.status, line.user, line.method, path);
  if (action === undefined) return undefined;
  const e = newEvent(frame, dataset, action, action === HTTP.login ? "unknown" : "failure");
  if (!setSource(e, line.client)) return undefined;
  e.event.category = categoryOf(action);
  if (frame.time === undefined) e["@timestamp"] = line.time;
  setUser(e, line.user);
  setRequest(e, line.method, line.target, line.status);
  const ua = userAgentOf(s, line.end);
  if (ua !== undefined) e.user_agent = { original: ua };
  return e;
}

/** The user agent of a combined-format line (` SIZE "referrer" "agent"` after the status). */
function userAgentOf(s: string, at: number): string | undefined {
  const sp = s.indexOf(" ", at + 1);
  if (sp < 0 || s.charCodeAt(sp + 1) !== 34) return undefined;
  const refEnd = closingQuote(s, sp + 2, false);
  if (refEnd < 0 || s.charCodeAt(refEnd + 1) !== 32 || s.charCodeAt(refEnd + 2) !== 34) return undefined;
  const uaEnd = closingQuote(s, refEnd + 3, false);
  if (uaEnd < 0) return undefined;
  const ua = s.slice(refEnd + 3, uaEnd);
  return ua === "-" ? undefined : ua;
}

// ---------------------------------------------------------------------------------------------------------
// Probe paths ("botsearch"): what vulnerability scanners ask for on every server they find. A request for one
// of these that the server did not serve is a probe; the same path served (200) is someone's real application.

/**
 * Directory targets. In a URL path ({@link isProbePath}) a segment must be one of these, whole, or one followed by a
 * version (`phpMyAdmin-4.9.0`, `phpmyadmin2`, `pma2005`: a digit, or `-` / `_` then a digit): ordinary pages
 * such as `/mailbox/42`, `/mailman/listinfo`, `/pmarket/item` or `/shop/mail-order` are not scanner targets.
 */
const DIR_TARGETS = [
  "phpmyadmin",
  "pma",
  "myadmin",
  "mysqladmin",
  "mysql-admin",
  "sqladmin",
  "dbadmin",
  "phpadmin",
  "websql",
  "cgi-bin",
  "webmail",
  "v-webmail",
  "vwebmail",
  "extmail",
  "mail",
  "roundcube",
  "squirrelmail",
  "rainloop",
  "horde",
  "wp-admin",
  "wp-includes",
  "phpunit",
  "actuator",
  "boaform",
  "hnap1",
  "_ignition",
  "jmx-console",
];

/**
 * Dotfiles and secrets, in any segment: the name itself, or a copy of it with a suffix after `.` or `~`
 * (`.env.local`, `.env~`, `wp-config.php.bak`). Never a longer name (`.environment-friendly`, `.github`,
 * `.htmlhint`).
 */
const DOT_TARGETS = [
  ".env",
  ".git",
  ".git-credentials",
  ".gitconfig",
  ".svn",
  ".hg",
  ".aws",
  ".ssh",
  ".htaccess",
  ".htpasswd",
  ".ds_store",
  ".vscode",
  ".idea",
  ".bash_history",
  ".npmrc",
  ".dockercfg",
  "wp-config",
];

/** File names, matched exactly as the last segment. */
const FILE_TARGETS = new Set([
  "wp-login.php",
  "xmlrpc.php",
  "wlwmanifest.xml",
  "setup.php",
  "setup-config.php",
  "phpinfo.php",
  "eval-stdin.php",
  "adminer.php",
  "shell.php",
  "c99.php",
  "r57.php",
  "wso.php",
  "id_rsa",
  "backup.sql",
  "dump.sql",
  "database.sql",
  "db.sql",
  "sftp-config.json",
]);

/** Targets indexed by their first character, so a segment is compared only with the few that could match. */
function byFirstChar(list: readonly string[]): Map<number, string[]> {
  const m = new Map<number, string[]>();
  for (const t of list) {
    const k = t.charCodeAt(0);
    const l = m.get(k);
    if (l) l.push(t);
    else m.set(k, [t]);
  }
  return m;
}
const DIRS = byFirstChar(DIR_TARGETS);
const DOTS = byFirstChar(DOT_TARGETS);

/**
 * Whether the segment `p[start, end)` (lower case) is a dotfile target, or (`dirs`) a directory target followed by
 * nothing or a version. `prefix`: a directory target followed by anything but `.` (an extension) also counts, as
 * in fail2ban's botsearch filters (used for error-log file names only, see {@link isProbeFile}).
 */
function segmentMatches(p: string, start: number, end: number, dirs: boolean, prefix = false): boolean {
  const c = p.charCodeAt(start);
  const dots = DOTS.get(c);
  if (dots) {
    for (const d of dots) {
      if (d.length > end - start || !p.startsWith(d, start)) continue;
      const next = start + d.length;
      if (next === end) return true;
      const n = p.charCodeAt(next);
      if (n === 46 /* . */ || n === 126 /* ~ */) return true;
    }
  }
  if (!dirs) return false;
  const ds = DIRS.get(c);
  if (ds) {
    for (const d of ds) {
      if (d.length > end - start || !p.startsWith(d, start)) continue;
      const next = start + d.length;
      if (next === end) return true;
      const n = p.charCodeAt(next);
      if (
        prefix
          ? n !== 46
          : isDigit(n) || ((n === 45 || n === 95) && next + 1 < end && isDigit(p.charCodeAt(next + 1)))
      )
        return true;
    }
  }
  return false;
}

/**
 * Whether a URL path names a scanner target: a directory target in one of the first two segments
 * (`/phpmyadmin/`, `/admin/pma/`), a dotfile in any segment, or a known file name as the last segment.
 * Case-insensitive, on the path as served ({@link servedPath}: `/%2eenv`, `/pma;x/`); empty segments (`//pma`) are
 * skipped. WordPress's `admin-ajax.php` is never one: it answers
 * 400 to every request for an unknown action, logged-in editors' included.
 */
export function isProbePath(path: string): boolean {
  const p = servedPath(path).toLowerCase();
  let lastEnd = p.length;
  while (lastEnd > 0 && p.charCodeAt(lastEnd - 1) === 47) lastEnd--;
  const lastStart = p.lastIndexOf("/", lastEnd - 1) + 1;
  if (lastEnd - lastStart === 14 && p.startsWith("admin-ajax.php", lastStart)) return false;
  let n = 0;
  for (let i = 0; i < lastEnd; ) {
    let j = p.indexOf("/", i);
    if (j < 0) j = p.length;
    if (j > i) {
      if (segmentMatches(p, i, j, n < 2)) return true;
      n++;
    }
    i = j + 1;
  }
  return lastEnd > lastStart && FILE_TARGETS.has(p.slice(lastStart, lastEnd));
}

/**
 * The same test for a file-system path from an error log (`File does not exist: /var/www/pma`): only the last
 * component counts, since the document root is unknown and Apache reports the first missing component. Directory
 * targets match as prefixes there (`mails`, `mail_this_entry`, `pmapper-3.2-beta3`), as fail2ban's
 * apache-botsearch does and its sample log (the conformance corpus) expects: this is Apache 2.2's error log, or
 * 2.4's at `LogLevel info`, and fail2ban's semantics are what its users configured it for.
 */
export function isProbeFile(path: string): boolean {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 47) end--;
  const seg = path.slice(path.lastIndexOf("/", end - 1) + 1, end).toLowerCase();
  return seg !== "" && (FILE_TARGETS.has(seg) || segmentMatches(seg, 0, seg.length, true, true));
}
