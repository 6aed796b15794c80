/**
 * Postfix (smtpd, postscreen, submission/smtps instances, multi-instance `postfix-<name>/...`): SMTP policy
 * rejects, SASL authentication failures and successes, and connection abuse.
 *
 *   NOQUEUE: reject: RCPT from unknown[192.0.2.1]: 554 5.7.1 <a@example.org>: Relay access denied; from=<...> ...
 *   4F2A1C0: milter-reject: END-OF-MESSAGE from mx.example.net[192.0.2.2]: 550 5.7.1 Spam; from=<...> ...
 *   warning: unknown[192.0.2.3]:55729: SASL LOGIN authentication failed: authentication failure, sasl_username=bob
 *   4F2A1C0: client=mail.example.net[192.0.2.4], sasl_method=PLAIN, sasl_username=alice
 *   improper command pipelining after EHLO from unknown[192.0.2.5]: QUIT
 *   too many errors after RCPT from unknown[192.0.2.6]
 *   lost connection after CONNECT from unknown[192.0.2.7]
 *   disconnect from unknown[192.0.2.8] ehlo=1 auth=0/1 quit=1 commands=2/3
 *   PREGREET 14 after 0.08 from [192.0.2.9]:59415: EHLO x\r\n          (postscreen)
 *   warning: non-SMTP command from unknown[192.0.2.12]: GET / HTTP/1.1
 *   warning: Connection rate limit exceeded: 31 from unknown[192.0.2.10] for service smtp
 *   warning: hostname bad.example.com does not resolve to address 192.0.2.11: Name or service not known
 *
 * The client is always `name[address]` (optionally `:port`): the name is a verified reverse-DNS name or
 * `unknown` and never contains brackets, so the first bracket after the fixed text `from ` (or after
 * `warning: `) is the address postfix wrote. Everything after it (reasons, envelope addresses, HELO) is
 * attacker-influenced and is never searched for an address.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { isHostName, newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  reject: "postfix_reject",
  rbl: "postfix_rbl_reject",
  pipelining: "postfix_pipelining",
  errors: "postfix_too_many_errors",
  sasl: "postfix_sasl_auth_failed",
  saslMech: "postfix_sasl_mechanism_invalid",
  saslOk: "postfix_sasl_auth_success",
  authDisconnect: "postfix_auth_disconnect",
  lost: "postfix_lost_connection",
  postscreen: "postfix_postscreen_violation",
  nonSmtp: "postfix_non_smtp_command",
  rate: "postfix_rate_limited",
  dns: "postfix_reverse_dns_mismatch",
} as const;

const NORMAL = [A.reject, A.rbl, A.pipelining, A.errors];
const AUTH = [A.sasl];
const DDOS = [A.authDisconnect, A.lost, A.postscreen, A.nonSmtp, A.rate];
const FAILURES = [...NORMAL, A.sasl, A.saslMech, ...DDOS, A.dns];

type Action = (typeof A)[keyof typeof A];

interface Client {
  name: string;
  ip: string;
  port: number | undefined;
  /** Index just after `]` or `]:port`. */
  end: number;
}

/** Reads `name[address]` with an optional `:port` at `at` (the name may be empty, as postscreen logs it). */
function readClient(s: string, at: number): Client | undefined {
  const lb = s.indexOf("[", at);
  if (lb < 0 || lb - at > 255) return undefined;
  for (let i = at; i < lb; i++) {
    const c = s.charCodeAt(i);
    if (c === 32 || c === 93) return undefined;
  }
  const rb = s.indexOf("]", lb + 1);
  if (rb < 0 || rb - lb > 60) return undefined;
  let text = s.slice(lb + 1, rb);
  if (text.length > 5 && text.slice(0, 5).toLowerCase() === "ipv6:") text = text.slice(5);
  const ip = canonicalIp(text);
  if (ip === undefined) return undefined;
  let end = rb + 1;
  let port: number | undefined;
  if (s.charCodeAt(end) === 58) {
    let j = end + 1;
    while (j < s.length && j - end <= 11 && s.charCodeAt(j) >= 48 && s.charCodeAt(j) <= 57) j++;
    if (j > end + 1 && j - end <= 11) {
      // A port out of range is not taken (the address and the event are): postfix never writes one.
      const n = Number(s.slice(end + 1, j));
      if (n <= 65535) port = n;
      end = j;
    }
  }
  return { name: s.slice(at, lb), ip, port, end };
}

function emit(
  frame: Frame,
  out: SecurityEvent[],
  action: Action,
  outcome: "failure" | "success",
  client: Client,
  category: string,
  reason?: string,
): SecurityEvent {
  const e = newEvent(frame, "postfix", action, outcome);
  e.event.category = [category];
  if (reason !== undefined) e.event.reason = reason;
  e.source = client.port === undefined ? { ip: client.ip } : { ip: client.ip, port: client.port };
  if (client.name !== "" && client.name !== "unknown" && isHostName(client.name))
    e.source.domain = client.name.toLowerCase();
  out.push(e);
  return e;
}

/** An SMTP command name as postfix logs it (`RCPT`, `END-OF-MESSAGE`, `CONNECT`). */
function readVerb(s: string, at: number): number {
  let i = at;
  while (i < s.length && i - at < 20) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c === 45) i++;
    else break;
  }
  return i > at ? i : -1;
}

const FROM = " from ";

/** `<VERB> from client` at `at`; returns the verb and the client. */
function verbFrom(s: string, at: number): { verb: string; client: Client } | undefined {
  const v = readVerb(s, at);
  if (v < 0 || !s.startsWith(FROM, v)) return undefined;
  const client = readClient(s, v + FROM.length);
  return client ? { verb: s.slice(at, v), client } : undefined;
}

// `550 5.7.1 ` — reply code, then an optional enhanced status code.
const REPLY = /^([45]\d\d) (?:([245])\.(\d{1,3})\.\d{1,3} )?/;

function reject(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const vf = verbFrom(s, at);
  if (!vf || !s.startsWith(": ", vf.client.end)) return;
  const rest = s.slice(vf.client.end + 2);
  const r = REPLY.exec(rest);
  if (!r) return;
  // Mailbox (x.2.x) and mail-system (x.3.x) status codes report the server's own condition (mailbox full,
  // storage, lookup failures, greylisting's 4.2.0), not something the client did.
  if (r[3] === "2" || r[3] === "3") return;
  let end = rest.indexOf("; from=<");
  if (end < 0) end = rest.indexOf("; proto=");
  const reason = (end < 0 ? rest : rest.slice(0, end)).slice(0, 300);
  const action = reason.includes(" blocked using ") ? A.rbl : A.reject;
  const e = emit(frame, out, action, "failure", vf.client, "email", reason);
  e.event.code = r[1];
}

const SASL = " authentication failed:";
const NON_SMTP = "non-SMTP command from ";
const SASL_USER = ", sasl_username=";

function warning(frame: Frame, out: SecurityEvent[], s: string): void {
  const at = 9; // after "warning: "
  if (s.startsWith("hostname ", at)) {
    const k = s.indexOf(" does not resolve to address ", at);
    if (k < 0) return;
    const from = k + 29;
    let end = s.indexOf(": ", from);
    if (end < 0) end = s.length;
    const ip = canonicalIp(s.slice(from, end));
    if (ip !== undefined)
      emit(
        frame,
        out,
        A.dns,
        "failure",
        { name: "", ip, port: undefined, end },
        "network",
        "reverse DNS mismatch",
      );
    return;
  }
  if (s.startsWith(NON_SMTP, at)) {
    // warning: non-SMTP command from name[addr]: GET / HTTP/1.1    (smtpd_forbidden_commands)
    const c = readClient(s, at + NON_SMTP.length);
    if (c && s.startsWith(": ", c.end))
      emit(frame, out, A.nonSmtp, "failure", c, "network", "non-SMTP command");
    return;
  }
  const client = readClient(s, at);
  if (client) {
    // warning: name[addr]:port: SASL MECH authentication failed: reason[, sasl_username=user]
    if (!s.startsWith(": SASL ", client.end)) return;
    const mech = client.end + 7;
    const sp = s.indexOf(" ", mech);
    if (sp < 0 || sp - mech > 30 || !s.startsWith(SASL, sp)) return;
    let reason = s.slice(sp + SASL.length).trimStart();
    let user: string | undefined;
    const u = reason.indexOf(SASL_USER);
    if (u >= 0) {
      user = reason.slice(u + SASL_USER.length);
      reason = reason.slice(0, u);
    }
    // The SASL back end was unreachable: says nothing about the client.
    if (reason.startsWith("Connection lost to authentication server")) return;
    // A client asking for a mechanism the server does not offer tried no password: category email (an SMTP
    // protocol error, like pipelining), not authentication, so brute-force rules do not count it (fail2ban
    // counts it in aggressive mode only).
    const mechanism = reason.startsWith("Invalid authentication mechanism");
    const e = emit(
      frame,
      out,
      mechanism ? A.saslMech : A.sasl,
      "failure",
      client,
      mechanism ? "email" : "authentication",
      reason.slice(0, 200),
    );
    e.event.mechanism = s.slice(mech, sp);
    if (user !== undefined) e.user = { name: user };
    return;
  }
  // warning: Connection rate limit exceeded: 31 from name[addr] for service smtp
  const k = s.indexOf(" limit exceeded: ", at);
  if (k < 0 || k - at > 60) return;
  let i = k + 17;
  while (s.charCodeAt(i) >= 48 && s.charCodeAt(i) <= 57) i++;
  if (i === k + 17 || !s.startsWith(FROM, i)) return;
  const c = readClient(s, i + FROM.length);
  if (c && s.startsWith(" for service ", c.end))
    emit(frame, out, A.rate, "failure", c, "network", s.slice(at, k + 15));
}

const NOT_ABUSE_AFTER = new Set(["DATA", "BDAT", "END-OF-MESSAGE", "AUTH"]);

function lostConnection(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  // `lost connection after DATA` is an ordinary network failure during a transfer; after AUTH, the
  // `disconnect ... auth=0/1` line that follows reports the same session.
  const vf = verbFrom(s, at);
  if (vf && !NOT_ABUSE_AFTER.has(vf.verb))
    emit(frame, out, A.lost, "failure", vf.client, "network", `lost connection after ${vf.verb}`);
}

function disconnect(frame: Frame, out: SecurityEvent[], s: string): void {
  const client = readClient(s, 16);
  if (!client) return;
  const k = s.indexOf(" auth=", client.end);
  if (k < 0) return;
  const m = /^ auth=(\d+)\/(\d+)(?: |$)/.exec(s.slice(k, k + 24));
  if (m && Number(m[1]) === 0 && Number(m[2]) > 0)
    // Category network: a session summary; the SASL warning before it is the authentication failure itself
    // (counting both would count every failed AUTH twice).
    emit(frame, out, A.authDisconnect, "failure", client, "network", `auth=${m[1]}/${m[2]}`);
}

const POSTSCREEN =
  /^(?:PREGREET \d+ after \S+|HANGUP after \S+|COMMAND (?:TIME|COUNT|LENGTH) LIMIT|COMMAND PIPELINING|NON-SMTP COMMAND|BARE NEWLINE) from \[/;

function postscreen(frame: Frame, out: SecurityEvent[], s: string): void {
  const m = POSTSCREEN.exec(s.slice(0, 80));
  if (!m) return;
  const client = readClient(s, m[0].length - 1);
  if (client) emit(frame, out, A.postscreen, "failure", client, "network", m[0].slice(0, m[0].length - 7));
}

/** `QUEUEID: client=name[addr], sasl_method=PLAIN, sasl_username=alice` */
function saslLogin(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const client = readClient(s, at + 7);
  if (!client || !s.startsWith(", sasl_method=", client.end)) return;
  const u = s.indexOf(SASL_USER, client.end);
  if (u < 0) return;
  let user = s.slice(u + SASL_USER.length);
  const sender = user.lastIndexOf(", sasl_sender=");
  if (sender >= 0) user = user.slice(0, sender);
  const e = emit(frame, out, A.saslOk, "success", client, "authentication");
  e.event.mechanism = s.slice(client.end + 14, u);
  e.user = { name: user };
}

/** Index after `QUEUEID: ` / `NOQUEUE: ` at the start, or -1. */
function afterQueueId(s: string): number {
  let i = 0;
  while (i < s.length && i < 40) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) i++;
    else break;
  }
  return i > 0 && s.charCodeAt(i) === 58 && s.charCodeAt(i + 1) === 32 ? i + 2 : -1;
}

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const s = frame.message;
  switch (s.charCodeAt(0)) {
    case 119: // w
      if (s.startsWith("warning: ")) warning(frame, out, s);
      return;
    case 105: {
      // i
      const p = "improper command pipelining after ";
      if (!s.startsWith(p)) return;
      const vf = verbFrom(s, p.length);
      if (vf) emit(frame, out, A.pipelining, "failure", vf.client, "email", `pipelining after ${vf.verb}`);
      return;
    }
    case 116: {
      // t
      const p = "too many errors after ";
      if (!s.startsWith(p)) return;
      const vf = verbFrom(s, p.length);
      if (vf) emit(frame, out, A.errors, "failure", vf.client, "email", `too many errors after ${vf.verb}`);
      return;
    }
    case 108: // l
      if (s.startsWith("lost connection after ")) lostConnection(frame, out, s, 22);
      return;
    case 100: // d
      if (s.startsWith("disconnect from ")) disconnect(frame, out, s);
      return;
    case 80: // P
    case 72: // H
    case 67: // C
    case 66: // B
    case 78: // N
      postscreen(frame, out, s);
      break;
    default:
      break;
  }
  // QUEUEID: reject: ... | NOQUEUE: reject: ... | QUEUEID: client=...
  const at = afterQueueId(s);
  if (at < 0) return;
  const c = s.charCodeAt(at);
  if (c === 114 /* r */ && s.startsWith("reject: ", at)) reject(frame, out, s, at + 8);
  else if (c === 109 /* m */ && s.startsWith("milter-reject: ", at)) reject(frame, out, s, at + 15);
  else if (c === 99 /* c */ && s.startsWith("client=", at)) saslLogin(frame, out, s, at);
  else if (c === 108 /* l */ && s.startsWith("lost connection after ", at))
    lostConnection(frame, out, s, at + 22);
}

export const postfix: ParserDefinition = {
  id: "postfix",
  description:
    "Postfix smtpd/postscreen: SMTP rejects, RBL blocks, SASL authentication failures and logins, connection abuse",
  programPrefixes: ["postfix/", "postfix-"],
  modes: {
    more: NORMAL,
    normal: NORMAL,
    rbl: [A.rbl],
    auth: AUTH,
    ddos: DDOS,
    extra: [...AUTH, ...NORMAL],
    errors: [A.errors],
    aggressive: FAILURES,
  },
  actions: [...FAILURES, A.saslOk],
  create(): LineParser {
    return { parse: parseLine };
  },
};
