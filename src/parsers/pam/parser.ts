/**
 * PAM module messages of any program (sshd, sudo, su, login, vsftpd, proftpd, pure-ftpd, dovecot, cron, ...):
 *
 *   pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root
 *   pam_sss(sshd:auth): authentication failure; ... (any module writing the same fields), pam_unix: ..., and
 *   (pam_unix) authentication failure; ...  /  pop(pam_unix)[4920]: authentication failure; ...  (Linux-PAM < 0.99.2)
 *   PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.1  user=root
 *     (pam_unix at pam_end: the failures after the first in one PAM handle; the `PAM` prefix is libpam's when no
 *     module is running; Linux-PAM < 0.99.2: `sshd(pam_unix)[1]: 2 more authentication failures; ...`)
 *   pam_unix(sshd:auth): check pass; user unknown   /   check pass; user (bob) unknown   (option `audit`)
 *   pam_faillock(sshd:auth): Consecutive login failures for user root account temporarily locked
 *   pam_tally2(sshd:auth): user root (0) tally 4, deny 3     (pam_tally too: the account is over its limit)
 *   pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)  /  session closed for user root
 *
 * Routing: a probe (the message starts with `pam_` or `(pam_`, or the program is `svc(pam_x)`), so it sees the
 * lines of every program whose own parser produced nothing for them.
 *
 * `ruser=` and `user=` are free text that a client may control (vsftpd copies the login name into both), and
 * `rhost=` sits between them. The daemon-written `rhost=` is found by trying every ` rhost=` whose value is an
 * address, a host name or empty and is followed by the end of the line or by ` user=` (one or two spaces):
 *  1. the candidate whose ruser text equals its user text (vsftpd writes the same name twice; at most one
 *     candidate has equal lengths);
 *  2. ruser empty: the first ` rhost=` is the daemon's (sshd; nothing precedes it);
 *  3. else the only candidate; several candidates are ambiguous: the event keeps no source (`event.reason`).
 * A ruser starting with ` rhost=` looks like an empty one, so when 1 and 2 both apply to different hosts the line
 * is ambiguous too (the sender may be either a vsftpd client whose login name starts with ` rhost=` or an sshd
 * client whose user name ends with a copy of the rest).
 * `user.name` is `user=` when present, else a non-empty `ruser=` (as fail2ban reports it).
 * An empty rhost (sudo, su, login on a console) gives `pam_local_auth_failure`: a failure with `user.name` but
 * no source, useful to local privilege-escalation rules, outside the `normal` mode (fail2ban ignores it).
 */
import type { SecurityEvent } from "../../core/event.ts";
import { MAX_REPEAT, type Frame } from "../../framing/frame.ts";
import { canonicalIp } from "../../core/ip.ts";
import { isHostName, newEvent, setSource } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const FAILURES = [
  "pam_auth_failure",
  "pam_legacy_auth_failure",
  "pam_local_auth_failure",
  "pam_more_auth_failures",
  "pam_user_unknown",
  "pam_account_locked",
] as const;
const ACTIONS = [...FAILURES, "pam_session_opened", "pam_session_closed"] as const;
type Action = (typeof ACTIONS)[number];

// `pam_unix(sshd:auth): `, `pam_unix(auth): `, `pam_unix: `, `(pam_unix) `.
const HEADER = /^(?:(pam_\w{1,40})(?:\(([^():\s]{0,64})(?::(\w{1,16}))?\))?: |\((pam_\w{1,40})\) )/;
const LEGACY_PROGRAM = /^(.{1,64})\((pam_\w{1,40})\)$/;
const PAM_TYPES = new Set(["auth", "account", "session", "password"]);
const PREFIX_FIELDS = /^ ?logname=(\S*) uid=\d+ euid=\d+ tty=(\S*)$/;
const SESSION_OPENED = /^session opened for user (\S+?)(?:\(uid=\d+\))? by (\S*)$/;
const SESSION_CLOSED = /^session closed for user (\S+)$/;
const LOCKED = /^Consecutive login failures for user (\S+) account temporarily locked$/;
const TALLY = /^user (\S+) \(\d+\) tally \d+, deny \d+$/;
const USER_UNKNOWN = /^check pass; user \((.*)\) unknown$/;
/** `N more authentication failure[s];` (pam_unix's summary at pam_end): N and where the fields start. */
const MORE = /^(\d{1,9}) more authentication failures?;/;

interface PamInfo {
  module: string;
  service?: string;
  type?: string;
  ruser?: string;
  logname?: string;
  tty?: string;
}

function header(frame: Frame): { info: PamInfo; body: string } | undefined {
  const msg = frame.message;
  const m = HEADER.exec(msg);
  if (m) {
    const info: PamInfo = { module: m[1] ?? m[4]! };
    const a = m[2];
    const b = m[3];
    if (b !== undefined) {
      if (a) info.service = a;
      info.type = b;
    } else if (a) {
      if (PAM_TYPES.has(a)) info.type = a;
      else info.service = a;
    }
    return { info, body: msg.slice(m[0].length) };
  }
  const prog = frame.program;
  if (prog !== undefined && prog.charCodeAt(prog.length - 1) === 41 /* ) */) {
    const p = LEGACY_PROGRAM.exec(prog);
    if (p) return { info: { module: p[2]!, service: p[1]! }, body: msg };
  }
  return undefined;
}

interface Candidate {
  at: number;
  hostStart: number;
  hostEnd: number;
  /** Index of the user value, or -1 when the line ends after the host. */
  userStart: number;
}

/** An address, a host name, or empty (no remote host). */
function hostOk(s: string, start: number, end: number): boolean {
  if (start === end) return true;
  const text = s.slice(start, end);
  return canonicalIp(text) !== undefined || isHostName(text);
}

/** Finds the daemon-written rhost in `s` (trailing spaces removed); `base` is just after `ruser=` (or -1). */
function locateRhost(s: string, base: number, from: number): { pick?: Candidate; candidates: number } {
  let first: Candidate | undefined;
  let equal: Candidate | undefined;
  let only: Candidate | undefined;
  let count = 0;
  for (let p = s.indexOf(" rhost=", from); p >= 0; p = s.indexOf(" rhost=", p + 1)) {
    const hostStart = p + 7;
    let hostEnd = s.indexOf(" ", hostStart);
    if (hostEnd < 0) hostEnd = s.length;
    let userStart = -1;
    if (hostEnd !== s.length) {
      let q = hostEnd + 1;
      if (s.charCodeAt(q) === 32) q++;
      if (!s.startsWith("user=", q)) continue;
      userStart = q + 5;
    }
    if (!hostOk(s, hostStart, hostEnd)) continue;
    const c: Candidate = { at: p, hostStart, hostEnd, userStart };
    count++;
    if (base >= 0 && p === base) first = c;
    if (base >= 0 && userStart >= 0 && p - base === s.length - userStart && equal === undefined) {
      if (s.slice(base, p) === s.slice(userStart)) equal = c;
    }
    only = c;
  }
  // An empty ruser and a ruser equal to user are both how daemons write these lines; a ruser that starts with
  // ` rhost=` makes the first candidate look like an empty ruser. When both readings exist and name different
  // hosts, either may be the sender's forgery (vsftpd's login name, or sshd's user name): no source.
  if (first && equal && first !== equal && !sameHost(s, first, equal)) return { candidates: count };
  const pick = equal ?? first ?? (count === 1 ? only : undefined);
  return pick ? { pick, candidates: count } : { candidates: count };
}

function sameHost(s: string, a: Candidate, b: Candidate): boolean {
  return s.slice(a.hostStart, a.hostEnd) === s.slice(b.hostStart, b.hostEnd);
}

/**
 * body: `authentication failure; logname=... uid=0 euid=0 tty=... ruser=... rhost=...[  user=...]`, or with `more`
 * (N) the same fields after `N more authentication failures;` (`fieldsAt`: where the fields start).
 */
function authFailure(
  wants: Wants,
  frame: Frame,
  info: PamInfo,
  body: string,
  out: SecurityEvent[],
  fieldsAt = 23, // after "authentication failure;"
  more?: number,
): void {
  const s = body.trimEnd();
  const ruserAt = s.indexOf(" ruser=", fieldsAt);
  let base = -1;
  if (ruserAt >= 0) {
    base = ruserAt + 7;
    const pre = PREFIX_FIELDS.exec(s.slice(fieldsAt, ruserAt));
    if (pre) {
      info.logname = pre[1]!;
      info.tty = pre[2]!;
    }
  }
  const found = locateRhost(s, base, base >= 0 ? base : fieldsAt);
  const e = newEvent(frame, "pam", "pam_auth_failure", "failure");
  e.event.category = ["authentication"];
  let user: string | undefined;
  const c = found.pick;
  if (c) {
    if (base >= 0) info.ruser = s.slice(base, c.at);
    if (c.userStart >= 0) user = s.slice(c.userStart);
    if (c.hostStart === c.hostEnd) e.event.action = "pam_local_auth_failure" satisfies Action;
    else setSource(e, s.slice(c.hostStart, c.hostEnd));
    // Linux-PAM < 0.99.2 put the module into the program name (`pop(pam_unix)[4920]: ...`). fail2ban dropped
    // that form from its default mode; we keep it recognisable (aggressive, all) under its own action.
    if (frame.program?.endsWith(")") && e.event.action === "pam_auth_failure") {
      e.event.action = "pam_legacy_auth_failure" satisfies Action;
    }
  } else {
    e.event.reason = found.candidates > 1 ? "ambiguous rhost (injected text?)" : "no usable rhost";
  }
  if (user === undefined && info.ruser) user = info.ruser;
  if (user !== undefined) e.user = { name: user };
  if (more !== undefined) {
    // The attempts after the first (remote or local alike): one event standing for `more` of them.
    e.event.action = "pam_more_auth_failures" satisfies Action;
    // Capped as `message repeated N times` is (a forged 999999999 must not weigh more than a million attempts).
    e.event.count = Math.min(frame.repeat > 1 ? more * frame.repeat : more, MAX_REPEAT);
  }
  e.pam = info;
  // Its action is known once the rhost is read (remote, local or legacy).
  if (wants(e.event.action)) out.push(e);
}

function simple(
  wants: Wants,
  frame: Frame,
  info: PamInfo,
  action: Action,
  outcome: "failure" | "success",
  user: string | undefined,
  category: string,
  out: SecurityEvent[],
): void {
  if (!wants(action)) return;
  const e = newEvent(frame, "pam", action, outcome);
  e.event.category = [category];
  if (user !== undefined) e.user = { name: user };
  e.pam = info;
  out.push(e);
}

type Wants = (action: string) => boolean;

/**
 * A session line (`pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)`), told without
 * allocating: most PAM lines of a busy host are sessions, which replay skips when no rule reads them.
 */
const SESSION_LINE =
  /^(?:pam_\w{1,40}(?:\([^():\s]{0,64}(?::\w{1,16})?\))?: |\(pam_\w{1,40}\) )session (?:opened|closed) for user /;

function moreFailures(wants: Wants, frame: Frame, info: PamInfo, body: string, out: SecurityEvent[]): void {
  const m = MORE.exec(body);
  if (!m) return;
  const n = Number(m[1]);
  if (n > 0) authFailure(wants, frame, info, body, out, m[0].length, n);
}

function parseLine(wants: Wants, skipSessions: boolean, frame: Frame, out: SecurityEvent[]): void {
  if (skipSessions && SESSION_LINE.test(frame.message)) return;
  const msg = frame.message;
  if (msg.startsWith("PAM ")) {
    moreFailures(wants, frame, { module: "PAM" }, msg.slice(4), out);
    return;
  }
  const h = header(frame);
  if (!h) return;
  const { info, body } = h;
  const c0 = body.charCodeAt(0);
  if (c0 >= 48 && c0 <= 57 /* 0-9 */) moreFailures(wants, frame, info, body, out);
  else if (c0 === 97 /* a */) {
    if (body.startsWith("authentication failure;")) authFailure(wants, frame, info, body, out);
  } else if (c0 === 115 /* s */) {
    let m = SESSION_OPENED.exec(body);
    if (m) {
      simple(wants, frame, info, "pam_session_opened", "success", m[1], "session", out);
      return;
    }
    m = SESSION_CLOSED.exec(body);
    if (m) simple(wants, frame, info, "pam_session_closed", "success", m[1], "session", out);
  } else if (c0 === 99 /* c */) {
    if (body === "check pass; user unknown")
      simple(wants, frame, info, "pam_user_unknown", "failure", undefined, "authentication", out);
    else {
      // With `audit`, the name as typed (possibly a password typed into the login prompt).
      const m = USER_UNKNOWN.exec(body);
      if (m) simple(wants, frame, info, "pam_user_unknown", "failure", m[1], "authentication", out);
    }
  } else if (c0 === 67 /* C */) {
    const m = LOCKED.exec(body);
    if (m) simple(wants, frame, info, "pam_account_locked", "failure", m[1], "authentication", out);
  } else if (c0 === 117 /* u */) {
    const m = TALLY.exec(body);
    if (m) simple(wants, frame, info, "pam_account_locked", "failure", m[1], "authentication", out);
  }
}

export const pam: ParserDefinition = {
  id: "pam",
  description: "PAM module messages of any program: authentication failures (remote and local), sessions",
  probe(frame) {
    const m = frame.message;
    const c0 = m.charCodeAt(0);
    if (c0 === 112 /* p */) return m.startsWith("pam_");
    if (c0 === 40 /* ( */) return m.startsWith("(pam_");
    if (c0 === 80 /* P */) return m.startsWith("PAM ") && MORE.test(m.slice(4, 60));
    const p = frame.program;
    return p !== undefined && p.charCodeAt(p.length - 1) === 41 && p.includes("(pam_");
  },
  modes: { normal: ["pam_auth_failure"], aggressive: FAILURES },
  actions: ACTIONS,
  fields: [
    "source.ip",
    "source.domain",
    "user.name",
    "pam.module",
    "pam.service",
    "pam.type",
    "pam.ruser",
    "pam.logname",
    "pam.tty",
  ],
  create(options): LineParser {
    const wants = options.wants ?? (() => true);
    const skipSessions = !wants("pam_session_opened") && !wants("pam_session_closed");
    return { parse: (frame, out) => parseLine(wants, skipSessions, frame, out) };
  },
};
