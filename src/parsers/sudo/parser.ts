/**
 * sudo and su: privilege use and its failures, from the auth log.
 *
 *   sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/apt update
 *   sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls
 *   sudo:      bob : user NOT in sudoers ; TTY=pts/1 ; PWD=/home/bob ; USER=root ; COMMAND=/bin/sh
 *   su: FAILED SU (to root) alice on pts/0          su[812]: FAILED su for root by alice
 *   su: (to root) alice on pts/0                    su[812]: Successful su for root by alice
 *
 *   sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id ; EXIT=0   (log_exit_status)
 *   sudo:    alice : (command continued) rest of a line longer than syslog_maxlen
 *   sudo[1]: @cee:{"sudo":{"accept":{"submituser":"alice","command":"/usr/bin/id","runargv":["id"],...}}}
 *
 * The command line goes to `process.command_line` (what the suspicious-command rule reads); the invoking user
 * is `user.name`, the target user `user.target.name`. PAM lines of sudo/su are the pam parser's.
 *
 * Everything after the first `COMMAND=` is the command (its arguments may contain ` ; `, ` ; COMMAND=` or
 * ` ; EXIT=0`): the real command is always in it. sudo splits a long line into a first part and `(command
 * continued)` parts; a continued part is the user's own argument text, so it is never read as a reason (a
 * failure) or as fields, only as more of the command line (`sudo_command_continued`), so that a command pushed
 * past the split is still seen.
 */
import type { SecurityEvent } from "../../core/event.ts";
import type { Frame } from "../../framing/frame.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const FAILURES = ["sudo_auth_failed", "sudo_not_allowed", "su_failed"] as const;
const ACTIONS = [
  ...FAILURES,
  "sudo_command",
  "sudo_command_exit",
  "sudo_command_continued",
  "su_session",
] as const;
type Action = (typeof ACTIONS)[number];

const AUTH_FAILED = /incorrect password attempt|a password is required|authentication failure/i;
const NOT_ALLOWED =
  /NOT in sudoers|NOT authorized on host|not allowed to (execute|run)|command not allowed|NOT allowed/i;
const CONTINUED = "(command continued) ";

/** The failure a sudo refusal's reason names (text and JSON records alike), or undefined for another one. */
function rejection(reason: string): "sudo_auth_failed" | "sudo_not_allowed" | undefined {
  if (AUTH_FAILED.test(reason)) return "sudo_auth_failed";
  if (NOT_ALLOWED.test(reason)) return "sudo_not_allowed";
  return undefined;
}
/** What log_exit_status appends to the command: ` ; SIGNAL=SIGKILL`, ` ; EXIT=137`, or both. */
const EXIT_SUFFIX = / ; (?:SIGNAL=([A-Z0-9]{1,16})(?: ; EXIT=(-?\d{1,10}))?|EXIT=(-?\d{1,10}))$/;

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
  if (frame.message.startsWith("@cee:{")) {
    jsonLine(frame, out);
    return;
  }
  const m = SUDO.exec(frame.message);
  if (!m) return;
  const user = m[1]!;
  const rest = m[2]!;
  if (rest.startsWith(CONTINUED)) {
    continuedLine(frame, user, rest.slice(CONTINUED.length), out);
    return;
  }
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
  let command = kv.COMMAND;
  if (command === undefined && reason === undefined) return;
  let action: Action = "sudo_command";
  let outcome: "success" | "failure" = "success";
  let exitCode: number | undefined;
  if (reason !== undefined) {
    const failed = rejection(reason);
    if (failed === undefined) return;
    action = failed;
    outcome = "failure";
  } else if (command !== undefined) {
    // log_exit_status's record of a command that ended. Arguments ending the same way (`; EXIT=0`) pass for
    // one too; only the suffix is dropped, so the command stays visible.
    const x = EXIT_SUFFIX.exec(command);
    if (x) {
      action = "sudo_command_exit";
      command = command.slice(0, x.index);
      const code = x[2] ?? x[3];
      if (code !== undefined) exitCode = Number(code);
    }
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
    if (exitCode !== undefined) proc.exit_code = exitCode;
  }
  out.push(e);
}

/** `user : (command continued) TEXT`: more of the previous line's command, all of it the user's text. */
function continuedLine(frame: Frame, user: string, text: string, out: SecurityEvent[]): void {
  const e = newEvent(frame, "sudo", "sudo_command_continued", "unknown");
  e.event.category = ["process"];
  e.user = { name: user };
  (e.process ??= {}).command_line = text;
  out.push(e);
}

interface SudoJson {
  reason?: unknown;
  submituser?: unknown;
  runuser?: unknown;
  command?: unknown;
  runargv?: unknown;
  runcwd?: unknown;
  ttyname?: unknown;
  exit_value?: unknown;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);

/**
 * sudo's `log_format=json` through syslog: `@cee:{"sudo":{"accept"|"reject"|"exit"|"alert":{...}}}`. The command
 * line is `command` and the arguments after `runargv[0]`, joined by spaces as the text format writes them.
 */
function jsonLine(frame: Frame, out: SecurityEvent[]): void {
  let doc: unknown;
  try {
    doc = JSON.parse(frame.message.slice(5));
  } catch {
    return;
  }
  const root = (doc as { sudo?: unknown } | null)?.sudo;
  if (root === null || typeof root !== "object") return;
  const r = root as Record<string, SudoJson | undefined>;
  let action: Action;
  let outcome: "success" | "failure" = "success";
  let rec: SudoJson | undefined;
  let reason: string | undefined;
  if ((rec = r.accept) !== undefined) action = "sudo_command";
  else if ((rec = r.exit) !== undefined) action = "sudo_command_exit";
  else if ((rec = r.reject) !== undefined) {
    reason = str(rec?.reason);
    if (reason === undefined) return;
    const failed = rejection(reason);
    if (failed === undefined) return;
    action = failed;
    outcome = "failure";
  } else return;
  if (rec === null || typeof rec !== "object") return;
  const user = str(rec.submituser);
  if (user === undefined) return;
  const e = newEvent(frame, "sudo", action, outcome);
  e.event.category = ["process"];
  if (reason !== undefined) e.event.reason = reason;
  e.user = { name: user };
  const target = str(rec.runuser);
  if (target !== undefined) e.user.target = { name: target };
  const proc = (e.process ??= {});
  const command = str(rec.command);
  if (command !== undefined) {
    let line = command;
    if (Array.isArray(rec.runargv)) {
      for (let i = 1; i < rec.runargv.length; i++) {
        const a = str(rec.runargv[i]);
        if (a !== undefined) line += ` ${a}`;
      }
    }
    proc.command_line = line;
    const cwd = str(rec.runcwd);
    if (cwd !== undefined) proc.working_directory = cwd;
  }
  const tty = str(rec.ttyname);
  if (tty !== undefined) proc.tty = { name: tty.startsWith("/dev/") ? tty.slice(5) : tty };
  if (action === "sudo_command_exit" && typeof rec.exit_value === "number") proc.exit_code = rec.exit_value;
  out.push(e);
}

const SU_FAILED = /^FAILED SU \(to (\S+)\) (\S+) on (\S+)$|^FAILED su for (\S+) by (\S+)$/;
const SU_OK = /^\(to (\S+)\) (\S+) on (\S+)$|^Successful su for (\S+) by (\S+)$/;

function suLine(frame: Frame, out: SecurityEvent[]): void {
  const msg = frame.message;
  let m = SU_FAILED.exec(msg);
  let action: Action = "su_failed";
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
