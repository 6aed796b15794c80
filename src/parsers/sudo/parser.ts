/**
 * sudo and su: privilege use and its failures, from the auth log.
 *
 *   sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update
 *   sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls
 *   sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh
 *   su: FAILED SU (to root) alice on pts/0          su[812]: FAILED su for root by alice
 *   su: (to root) alice on pts/0                    su[812]: Successful su for root by alice
 *
 * The command line goes to `process.command_line` (what the suspicious-command rule reads); the invoking user
 * is `user.name`, the target user `user.target.name`. PAM lines of sudo/su are the pam parser's.
 */
import type { SecurityEvent } from "../../core/event.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const FAILURES = ["sudo_auth_failed", "sudo_not_allowed", "su_failed"] as const;
const ACTIONS = [...FAILURES, "sudo_command", "su_session"] as const;

// `user : [reason ; ]TTY=... ; PWD=... ; USER=... ; COMMAND=...` — the user name cannot contain spaces.
const SUDO = /^\s*(\S+) : (.*)$/;

/** The end of the field name (`TTY`, `PWD`, `USER`, `COMMAND`, `ENV`...: `[A-Z_]*`) at `from`, at most `to`. */
function fieldNameEnd(s: string, from: number, to: number): number {
  let i = from;
  for (; i < to; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || c === 95)) break;
  }
  return i;
}

function sudoLine(frame: Frame, out: SecurityEvent[]): void {
  const m = SUDO.exec(frame.message);
  if (!m) return;
  const user = m[1]!;
  const rest = m[2]!;
  // Fields separated by " ; " (read in place, no split): the last TTY/PWD/USER wins; COMMAND ends the list.
  const kv = {
    TTY: undefined as string | undefined,
    PWD: undefined as string | undefined,
    USER: undefined as string | undefined,
    COMMAND: undefined as string | undefined,
  };
  let reason: string | undefined;
  for (let i = 0, from = 0; ; i++) {
    const sep = rest.indexOf(" ; ", from);
    const end = sep < 0 ? rest.length : sep;
    // `NAME=` at the start of this field (looked for in the field only: the fields are read in linear time).
    const eq = fieldNameEnd(rest, from, end);
    const named = eq > from && eq < end && rest.charCodeAt(eq) === 61; /* = */
    if (named && eq - from === 7 && rest.startsWith("COMMAND", from)) {
      // The command is last and may itself contain " ; ".
      kv.COMMAND = rest.slice(eq + 1);
      break;
    }
    if (named) {
      const key = rest.slice(from, eq);
      if (key === "TTY" || key === "PWD" || key === "USER") kv[key] = rest.slice(eq + 1, end);
    } else if (i === 0) reason = rest.slice(from, end);
    if (sep < 0) break;
    from = sep + 3;
  }
  const command = kv.COMMAND;
  if (command === undefined && reason === undefined) return;
  let action: (typeof ACTIONS)[number] = "sudo_command";
  let outcome: "success" | "failure" = "success";
  if (reason !== undefined) {
    if (/incorrect password attempt|a password is required|authentication failure/i.test(reason)) {
      action = "sudo_auth_failed";
      outcome = "failure";
    } else if (/NOT in sudoers|not allowed to (execute|run)|command not allowed|NOT allowed/i.test(reason)) {
      action = "sudo_not_allowed";
      outcome = "failure";
    } else return;
  }
  const e = newEvent(frame, "sudo", action, outcome);
  e.event.category = ["process"];
  if (reason !== undefined) e.event.reason = reason;
  e.user = { name: user };
  const target = kv.USER;
  if (target !== undefined) e.user.target = { name: target };
  const tty = kv.TTY;
  if (command !== undefined || tty !== undefined) {
    // newEvent's process object is this event's own: completed in place (no copies).
    const proc = (e.process ??= {});
    if (command !== undefined) {
      proc.command_line = command;
      if (kv.PWD !== undefined) proc.working_directory = kv.PWD;
    }
    if (tty !== undefined) proc.tty = { name: tty };
  }
  out.push(e);
}

const SU_FAILED = /^FAILED SU \(to (\S+)\) (\S+) on (\S+)$|^FAILED su for (\S+) by (\S+)$/;
const SU_OK = /^\(to (\S+)\) (\S+) on (\S+)$|^Successful su for (\S+) by (\S+)$/;

function suLine(frame: Frame, out: SecurityEvent[]): void {
  const msg = frame.message;
  let m = SU_FAILED.exec(msg);
  let action: (typeof ACTIONS)[number] = "su_failed";
  let outcome: "success" | "failure" = "failure";
  if (!m) {
    m = SU_OK.exec(msg);
    action = "su_session";
    outcome = "success";
  }
  if (!m) return;
  const target = m[1] ?? m[4]!;
  const user = m[2] ?? m[5]!;
  const e = newEvent(frame, "sudo", action, outcome);
  e.event.category = ["authentication"];
  e.user = { name: user, target: { name: target } };
  out.push(e);
}

export const sudo: ParserDefinition = {
  id: "sudo",
  description: "sudo commands and failures (not in sudoers, wrong passwords) and su attempts",
  programs: ["sudo", "su"],
  modes: { normal: FAILURES },
  actions: ACTIONS,
  create(): LineParser {
    return {
      parse(frame, out) {
        if (frame.program === "su") suLine(frame, out);
        else sudoLine(frame, out);
      },
    };
  },
};
