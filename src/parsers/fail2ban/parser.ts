/**
 * fail2ban's own log, read for repeat offenders (what fail2ban's `recidive` jail does): every `Ban` of another
 * jail is one failure of the banned address.
 *
 *   2024-01-01 12:00:00,388 fail2ban.actions        [123]: NOTICE  [sshd] Ban 192.0.2.1      (fail2ban.log)
 *   2006-02-13 15:52:30,388 fail2ban.actions: NOTICE [sendmail] Ban 192.0.2.1                (old releases)
 *   Jan 16 17:11:25 host fail2ban.actions[6605]: NOTICE [postfix-auth] Ban 192.0.2.1          (syslog)
 *   Mar 05 08:41:28 host fail2ban-server[1]: fail2ban.actions        [1]: NOTICE  [x] Ban 192.0.2.1
 *   host fail2ban[15699]: [postfix-sasl] Ban 192.0.2.3                                         (journal)
 *   ... [sshd] Unban 192.0.2.1 | Restore Ban 192.0.2.1 | Increase Ban 192.0.2.1 (2 # ...) | 192.0.2.1 already banned
 *   ... fail2ban.filter  [123]: INFO    [sshd] Found 192.0.2.1 - 2024-01-01 12:00:00
 *
 * The jail name goes to `rule.name`. Bans by the `recidive` jail itself are not counted (they are the result
 * of counting). In fail2ban.log the padded logger name makes the framer read `fail2ban.actions` as the host
 * and the pid as the program; the probe catches that shape.
 */
import type { SecurityEvent } from "../../core/event.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent, setSource } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const ACTIONS = [
  "fail2ban_ban",
  "fail2ban_found",
  "fail2ban_unban",
  "fail2ban_restore_ban",
  "fail2ban_increase_ban",
  "fail2ban_already_banned",
  "fail2ban_recidive_ban",
] as const;
type Action = (typeof ACTIONS)[number];

/** The jail whose own bans are the result of counting, not input to it (fail2ban's default name). */
const RECIDIVE_JAIL = "recidive";

// Optional `fail2ban.<logger>   [pid]: ` (when the syslog program is fail2ban-server), then an optional level.
const LOGGER = /^fail2ban\.[\w.]{1,40} *(?:\[\d{1,10}\])?: +/;
const LEVEL = /^(?:NOTICE|INFO|WARNING|ERROR|DEBUG|CRITICAL|WARN|HEAVYDEBUG|TRACEDEBUG|MSG) +/;
const JAIL = /^\[([^\]\s]{1,100})\] +/;

function verb(text: string): { action: Action; address: string } | undefined {
  const sp = text.lastIndexOf(" ");
  if (text.startsWith("Ban ") && sp === 3) return { action: "fail2ban_ban", address: text.slice(4) };
  if (text.startsWith("Unban ") && sp === 5) return { action: "fail2ban_unban", address: text.slice(6) };
  if (text.startsWith("Restore Ban ") && sp === 11)
    return { action: "fail2ban_restore_ban", address: text.slice(12) };
  if (text.startsWith("Found ")) {
    const end = text.indexOf(" ", 6);
    return { action: "fail2ban_found", address: end < 0 ? text.slice(6) : text.slice(6, end) };
  }
  if (text.startsWith("Increase Ban ")) {
    const end = text.indexOf(" ", 13);
    return { action: "fail2ban_increase_ban", address: end < 0 ? text.slice(13) : text.slice(13, end) };
  }
  if (text.endsWith(" already banned") && text.indexOf(" ") === text.length - 15)
    return { action: "fail2ban_already_banned", address: text.slice(0, -15) };
  return undefined;
}

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  let msg = frame.message;
  if (msg.charCodeAt(0) === 102 /* f */) {
    const m = LOGGER.exec(msg);
    if (!m) return;
    msg = msg.slice(m[0].length);
  }
  if (msg.charCodeAt(0) !== 91 /* [ */) {
    const m = LEVEL.exec(msg);
    if (!m) return;
    msg = msg.slice(m[0].length);
  }
  const b = JAIL.exec(msg);
  if (!b) return;
  const jail = b[1]!;
  const v = verb(msg.slice(b[0].length).trimEnd());
  if (!v) return;
  let action = v.action;
  if (action === "fail2ban_ban" && jail === RECIDIVE_JAIL) action = "fail2ban_recidive_ban";
  const failure = action === "fail2ban_ban" || action === "fail2ban_found";
  const e = newEvent(frame, "fail2ban", action, failure ? "failure" : "unknown");
  if (!setSource(e, v.address)) return;
  e.event.category = ["intrusion_detection"];
  e.rule = { name: jail };
  const pid = frame.program;
  if (frame.host?.startsWith("fail2ban.") && pid !== undefined && /^\d+$/.test(pid)) {
    // fail2ban.log misread as `host prog:`: the "host" is the logger, the "program" the pid.
    delete e.host;
    e.process = { name: "fail2ban-server", pid: Number(pid) };
    e.log = { logger: frame.host };
  }
  out.push(e);
}

export const fail2ban: ParserDefinition = {
  id: "fail2ban",
  description:
    "fail2ban's own log: bans of other jails (repeat offenders, like the recidive jail), unbans, finds",
  programs: ["fail2ban", "fail2ban-server"],
  programPrefixes: ["fail2ban."],
  // fail2ban.log: `2024-01-01 12:00:00,388 fail2ban.actions        [123]: ...` frames with host `fail2ban.*`.
  probe: (frame) => frame.host !== undefined && frame.host.startsWith("fail2ban."),
  modes: { normal: ["fail2ban_ban"], found: ["fail2ban_found"] },
  actions: ACTIONS,
  create(): LineParser {
    return { parse: parseLine };
  },
};
