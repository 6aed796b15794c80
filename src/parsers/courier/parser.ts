/**
 * Courier mail server: IMAP/POP3 login failures and logins, ESMTP AUTH failures.
 *
 *   imapd-ssl: LOGIN FAILED, user=bob@example.org, ip=[::ffff:192.0.2.1]
 *   pop3d: LOGIN FAILED, method=PLAIN, ip=[::ffff:192.0.2.2], port=[51234]
 *   imapd: LOGIN, user=bob@example.org, ip=[::ffff:192.0.2.3], port=[51235], protocol=IMAP
 *   courieresmtpd: error,relay=::ffff:192.0.2.4,msg="535 Authentication failed.",cmd: AUTH PLAIN AGJvYgB4
 *
 * The user name comes before `ip=[...]` and may contain anything (`, ip=[1.2.3.4]`); only courier's own fields
 * (`port=`, `protocol=`) follow, so the last `, ip=[` that is followed by one of them (or the end) is courier's.
 * In ESMTP lines `relay=` comes first, before any client text.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  loginFailed: "courier_auth_failed",
  smtpAuthFailed: "courier_smtp_auth_failed",
  login: "courier_login",
} as const;
type Action = (typeof A)[keyof typeof A];

const FAILURES = [A.loginFailed, A.smtpAuthFailed];

function emit(
  frame: Frame,
  out: SecurityEvent[],
  action: Action,
  ip: string | undefined,
  user: string | undefined,
  reason: string,
): SecurityEvent {
  const e = newEvent(frame, "courier", action, action === A.login ? "success" : "failure");
  e.event.category = ["authentication"];
  e.event.reason = reason;
  if (ip !== undefined) e.source = { ip };
  if (user !== undefined) e.user = { name: user };
  out.push(e);
  return e;
}

const IP = ", ip=[";

/** `LOGIN FAILED, [method=M, ][user=U, ]ip=[A][, port=[N]][, protocol=P]` starting at `at` (after `LOGIN FAILED, `). */
function login(frame: Frame, out: SecurityEvent[], s: string, at: number, action: Action): void {
  const k = s.lastIndexOf(IP);
  if (k < at - 2) return;
  const close = s.indexOf("]", k + IP.length);
  if (close < 0 || close - k > 60) return;
  const rest = close + 1;
  if (rest !== s.length && !s.startsWith(", port=[", rest) && !s.startsWith(", protocol=", rest)) return;
  const ip = canonicalIp(s.slice(k + IP.length, close));
  if (ip === undefined) return;
  // Fields before ip=: an optional `method=M, ` (no spaces or commas in M), then an optional `user=U`.
  let from = at;
  let method: string | undefined;
  if (s.startsWith("method=", from)) {
    const comma = s.indexOf(", ", from);
    if (comma >= 0 && comma <= k && comma - from < 40) {
      method = s.slice(from + 7, comma);
      from = comma + 2;
    }
  }
  let user: string | undefined;
  if (s.startsWith("user=", from) && from + 5 <= k) user = s.slice(from + 5, k);
  let port: number | undefined;
  if (s.startsWith(", port=[", rest)) {
    const m = /^, port=\[(\d{1,5})\]/.exec(s.slice(rest, rest + 16));
    if (m) port = Number(m[1]);
  }
  const e = emit(frame, out, action, ip, user, action === A.login ? "LOGIN" : "LOGIN FAILED");
  if (port !== undefined && port <= 65535) e.source = { ip, port };
  if (method !== undefined) e.event.mechanism = method;
}

const RELAY = "error,relay=";

/** `error,relay=::ffff:A,[ident=...,]msg="535 Authentication failed.",cmd: AUTH ...` */
function esmtp(frame: Frame, out: SecurityEvent[], s: string): void {
  const comma = s.indexOf(",", RELAY.length);
  if (comma < 0 || comma - RELAY.length > 50) return;
  const ip = canonicalIp(s.slice(RELAY.length, comma));
  if (ip === undefined) return;
  // The first msg= is courier's reply; the command (client text) follows it.
  const msg = s.indexOf(',msg="', comma);
  const cmd = s.indexOf(",cmd: ", comma);
  if (msg < 0 || (cmd >= 0 && cmd < msg)) return;
  if (!s.startsWith("535 ", msg + 6)) return;
  emit(frame, out, A.smtpAuthFailed, ip, undefined, "535 Authentication failed");
}

const FAILED = "LOGIN FAILED, ";
const OK = "LOGIN, ";

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const s = frame.message;
  if (s.startsWith(FAILED)) login(frame, out, s, FAILED.length, A.loginFailed);
  else if (s.startsWith(OK)) login(frame, out, s, OK.length, A.login);
  else if (s.startsWith(RELAY)) esmtp(frame, out, s);
}

export const courier: ParserDefinition = {
  id: "courier",
  description: "Courier IMAP/POP3 login failures and logins, Courier ESMTP AUTH failures",
  programs: [
    "imapd",
    "imapd-ssl",
    "pop3d",
    "pop3d-ssl",
    "courierpop3login",
    "courierpop3d",
    "courierimaplogin",
    "courier-imapd",
    "courier-imapd-ssl",
    "courier-pop3d",
    "courier-pop3d-ssl",
    "courieresmtpd",
  ],
  // Courier daemons renamed by packagers: the message itself is distinctive.
  probe(frame) {
    return frame.message.startsWith(FAILED) && frame.message.includes(IP);
  },
  modes: { normal: FAILURES },
  actions: [...FAILURES, A.login],
  create(): LineParser {
    return { parse: parseLine };
  },
};
