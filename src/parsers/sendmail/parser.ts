/**
 * Sendmail (`sendmail`, `sm-mta`, `sm-acceptingconnections`, ... — the syslog identifier follows the process
 * title): SMTP AUTH failures and successes, "possible SMTP attack" (too many commands of one kind), and policy
 * rejects from the check_* rulesets.
 *
 *   s1GNXHYB005133: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=bob, relay=mx.example.net [192.0.2.1] (may be forged)
 *   s1GNXHYB005133: mx.example.net [192.0.2.2]: possible SMTP attack: command=AUTH, count=5
 *   s1GNXHYB005133: AUTH=server, relay=laptop.example.net [192.0.2.3], authid=alice, mech=PLAIN, bits=0
 *   s1GNXHYB005133: ruleset=check_rcpt, arg1=<a@example.org>, relay=[192.0.2.4], reject=550 5.7.1 <a@example.org>... Relaying denied
 *   s1GNXHYB005133: ruleset=check_relay, arg1=[192.0.2.5], arg2=192.0.2.5, relay=[192.0.2.5], reject=421 4.3.2 Connection rate limit exceeded.
 *   s1GNXHYB005133: rejecting commands from mx.example.net [192.0.2.6] due to pre-greeting traffic after 0 seconds
 *   s1GNXHYB005133: mx.example.net [192.0.2.7] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA
 *
 * The relay is `[address]` or `name [address]`, optionally followed by `(may be forged)`. User names (and in
 * AUTH failures, the SASL detail, which repeats the user name) come before `relay=`, so the last `relay=` of an
 * AUTH failure is sendmail's, and in it the last bracket. Reject lines carry attacker text on both sides
 * (`arg1=` before, the reply text after): every well-formed `relay=..., reject=` must agree on the address.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { isHostName, newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const A = {
  authFailed: "sendmail_auth_failed",
  authAttack: "sendmail_auth_attack",
  smtpAttack: "sendmail_smtp_attack",
  reject: "sendmail_reject",
  rate: "sendmail_rate_limited",
  pregreet: "sendmail_pregreet",
  noMail: "sendmail_no_mail_command",
  authOk: "sendmail_auth_success",
} as const;
type Action = (typeof A)[keyof typeof A];

const AUTH = [A.authFailed, A.authAttack];
const REJECTS = [A.reject, A.rate, A.pregreet];
const FAILURES = [...AUTH, ...REJECTS, A.smtpAttack, A.noMail];

interface Relay {
  ip: string;
  name: string | undefined;
}

const FORGED = " (may be forged)";

/** `[addr]`, `name [addr]`, each optionally followed by ` (may be forged)`: the address is the last bracket. */
function readRelay(text: string): Relay | undefined {
  let t = text;
  let forged = false;
  if (t.endsWith(FORGED)) {
    t = t.slice(0, -FORGED.length);
    forged = true;
  }
  if (!t.endsWith("]")) return undefined;
  const lb = t.lastIndexOf("[");
  if (lb < 0 || t.length - lb > 70) return undefined;
  let addr = t.slice(lb + 1, -1);
  if (addr.startsWith("IPv6:") || addr.startsWith("ipv6:")) addr = addr.slice(5);
  const ip = canonicalIp(addr);
  if (ip === undefined) return undefined;
  const name = lb > 1 && t.charCodeAt(lb - 1) === 32 ? t.slice(0, lb - 1) : undefined;
  return { ip, name: !forged && name !== undefined && isHostName(name) ? name.toLowerCase() : undefined };
}

function emit(
  frame: Frame,
  out: SecurityEvent[],
  action: Action,
  relay: Relay | undefined,
  category: string,
  reason: string,
): SecurityEvent {
  const e = newEvent(frame, "sendmail", action, action === A.authOk ? "success" : "failure");
  e.event.category = [category];
  e.event.reason = reason.length > 200 ? reason.slice(0, 200) : reason;
  if (relay) e.source = relay.name === undefined ? { ip: relay.ip } : { ip: relay.ip, domain: relay.name };
  out.push(e);
  return e;
}

/** Index after a `QUEUEID: ` prefix (sendmail ids are 14+ alphanumerics), or 0 when there is none. */
function afterQueueId(s: string): number {
  let i = 0;
  while (i < 40) {
    const c = s.charCodeAt(i);
    if ((c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122)) i++;
    else break;
  }
  return i >= 6 && s.charCodeAt(i) === 58 && s.charCodeAt(i + 1) === 32 ? i + 2 : 0;
}

// `AUTH failure (LOGIN): authentication failure (-13) SASL(-13): ...`
const AUTH_FAILURE = "AUTH failure (";
/** SASL result codes that say something about the client: bad credentials, unknown user, authz, protocol. */
const CLIENT_CODES = new Set(["-13", "-14", "-20", "-5"]);

function authFailure(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const mechAt = at + AUTH_FAILURE.length;
  const close = s.indexOf("): ", mechAt);
  if (close < 0 || close - mechAt > 30) return;
  const reasonAt = close + 3;
  const code = s.indexOf(" (-", reasonAt);
  if (code < 0 || code - reasonAt > 80) return;
  const codeEnd = s.indexOf(")", code + 3);
  if (codeEnd < 0 || codeEnd - code > 6) return;
  const codeText = s.slice(code + 2, codeEnd);
  if (!CLIENT_CODES.has(codeText)) return;
  const r = s.lastIndexOf(", relay=");
  if (r < at) return;
  const relay = readRelay(s.slice(r + 8));
  const e = emit(frame, out, A.authFailed, relay, "authentication", s.slice(reasonAt, codeEnd + 1));
  e.event.mechanism = s.slice(mechAt, close);
  const u = s.lastIndexOf(", user=", r - 1);
  if (u > at) e.user = { name: s.slice(u + 7, r) };
}

const ATTACK = ": possible SMTP attack: command=";

function attack(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const k = s.lastIndexOf(ATTACK);
  if (k < at) return;
  const m = /^([A-Za-z]{1,12}), count=(\d{1,9})$/.exec(s.slice(k + ATTACK.length, k + ATTACK.length + 32));
  if (!m) return;
  const relay = readRelay(s.slice(at, k));
  if (!relay) return;
  const cmd = m[1]!.toUpperCase();
  // The count is sendmail's per-session command counter, not a number of separate events (the individual AUTH
  // failures may be logged too), so it stays in the reason rather than in event.count.
  emit(
    frame,
    out,
    cmd === "AUTH" ? A.authAttack : A.smtpAttack,
    relay,
    cmd === "AUTH" ? "authentication" : "network",
    `possible SMTP attack: command=${cmd}, count=${m[2]}`,
  );
}

const AUTH_OK = "AUTH=server, relay=";

function authSuccess(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const from = at + AUTH_OK.length;
  const k = s.indexOf(", authid=", from);
  if (k < 0) return;
  const relay = readRelay(s.slice(from, k));
  if (!relay) return;
  let end = s.indexOf(", mech=", k + 9);
  if (end < 0) end = s.length;
  const e = emit(frame, out, A.authOk, relay, "authentication", "AUTH=server");
  e.user = { name: s.slice(k + 9, end) };
}

const REJECT = ", reject=";
/**
 * FEATURE(ratecontrol) and FEATURE(conncontrol) answer with 4.3.2 (a system status code), but the condition is the
 * client's own: too many connections from its address.
 */
const RATE_LIMITS = ["421 4.3.2 Connection rate limit exceeded.", "421 4.3.2 Too many open connections."];

function reject(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  // `ruleset=check_xxx, arg1=<...>, relay=RELAY, reject=550 5.7.1 ...`: arg1 and the reply text are attacker
  // text, so every `relay=..., reject=` pair on the line must name the same address.
  let found: { relay: Relay; reason: string; rate: boolean; ambiguous?: boolean } | undefined;
  for (let k = s.indexOf(REJECT, at); k >= 0; k = s.indexOf(REJECT, k + REJECT.length)) {
    const w = Math.max(at, k - 330);
    const r = s.slice(w, k).lastIndexOf("relay=") + w;
    if (r < w) continue;
    const relay = readRelay(s.slice(r + 6, k));
    const reply = /^([45]\d\d) (?:[245]\.(\d{1,3})\.\d{1,3} )?/.exec(s.slice(k + REJECT.length, k + 30));
    if (!relay || !reply) continue;
    if (!found) {
      const reason = s.slice(k + REJECT.length, k + REJECT.length + 200);
      const rate = RATE_LIMITS.includes(reason);
      // Mailbox (x.2.x) and mail-system (x.3.x) codes are the server's condition, not the client's doing.
      if (!rate && (reply[2] === "2" || reply[2] === "3")) return;
      found = { relay, reason, rate };
    } else if (found.relay.ip !== relay.ip) {
      found.ambiguous = true;
      break;
    }
  }
  if (!found) return;
  const relay = found.ambiguous ? undefined : found.relay;
  if (found.rate) emit(frame, out, A.rate, relay, "network", found.reason);
  else emit(frame, out, A.reject, relay, "email", found.reason);
}

const PREGREET = "rejecting commands from ";
const PREGREET_END = " due to pre-greeting traffic after ";

/** `rejecting commands from NAME [ADDR] due to pre-greeting traffic after N seconds` (FEATURE(greet_pause)). */
function pregreet(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  // The name is a reverse-DNS name (no spaces), so the first ` due to ` is sendmail's.
  const from = at + PREGREET.length;
  const k = s.indexOf(PREGREET_END, from);
  if (k < 0 || k - from > 330) return;
  const relay = readRelay(s.slice(from, k).trimStart());
  if (relay) emit(frame, out, A.pregreet, relay, "network", "pre-greeting traffic");
}

const NO_MAIL = " did not issue MAIL/EXPN/VRFY/ETRN during connection to ";

/** `RELAY did not issue MAIL/EXPN/VRFY/ETRN during connection to DAEMON`: only the daemon name (config) follows. */
function noMail(frame: Frame, out: SecurityEvent[], s: string, at: number): void {
  const k = s.lastIndexOf(NO_MAIL);
  if (k < at || s.length - k - NO_MAIL.length > 60) return;
  const relay = readRelay(s.slice(at, k));
  if (relay) emit(frame, out, A.noMail, relay, "network", "did not issue MAIL/EXPN/VRFY/ETRN");
}

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const s = frame.message;
  const at = afterQueueId(s);
  const c = s.charCodeAt(at);
  if (c === 65 /* A */) {
    if (s.startsWith(AUTH_FAILURE, at)) return authFailure(frame, out, s, at);
    if (s.startsWith(AUTH_OK, at)) return authSuccess(frame, out, s, at);
  }
  if (c === 114 /* r */) {
    if (s.startsWith("ruleset=check_", at)) return reject(frame, out, s, at);
    if (s.startsWith(PREGREET, at)) return pregreet(frame, out, s, at);
  }
  if (s.includes(NO_MAIL, at)) return noMail(frame, out, s, at);
  // `... possible SMTP attack: command=AUTH, count=5` ends with a digit.
  const last = s.charCodeAt(s.length - 1);
  if (last >= 48 && last <= 57) attack(frame, out, s, at);
}

export const sendmail: ParserDefinition = {
  id: "sendmail",
  description: "Sendmail: SMTP AUTH failures and logins, possible SMTP attacks, check_* ruleset rejects",
  programs: ["sendmail"],
  programPrefixes: ["sm-"],
  modes: { normal: AUTH, reject: REJECTS, aggressive: FAILURES },
  actions: [...FAILURES, A.authOk],
  create(): LineParser {
    return { parse: parseLine };
  },
};
