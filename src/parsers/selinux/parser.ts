/**
 * Linux audit records of user authentication (audit.log on SELinux/RHEL systems, fail2ban's `selinux-ssh`):
 *
 *   type=USER_AUTH msg=audit(1373129280.000:9): pid=1277 uid=0 auid=4294967295 ses=4294967295
 *     subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=password acct="root" exe="/usr/sbin/sshd"
 *     hostname=? addr=192.0.2.1 terminal=ssh res=failed'
 *   type=USER_ERR  ... msg='op=PAM:bad_ident acct="?" exe="/usr/sbin/sshd" hostname=192.0.2.1 addr=... res=failed'
 *   type=USER_LOGIN ... msg='op=login acct=28696E76616C6964207573657229 exe=... addr=192.0.2.1 ... res=failed'
 *
 * Also with a `node=host ` prefix, through audisp/syslog (`audispd: node=h type=...`), the kernel's numeric form
 * (`audit: type=1100 audit(...): ...`) and journald's (`audit[1277]: USER_AUTH pid=1277 ... msg='...'`).
 * The time is the audit epoch. `acct` is quoted text or hex (audit hex-encodes values with spaces or quotes);
 * sshd's placeholders `(invalid user)`/`(unknown user)` and `?` give no user name.
 *
 * Failures: USER_AUTH (one per attempt) and USER_ERR (bad identification, PAM errors). USER_LOGIN res=failed is
 * sshd's end-of-connection summary of the same attempts (RHEL's audit patch), so it only counts in the
 * `aggressive` mode, as USER_ACCT res=failed (account not permitted) does. The address is the last `addr=` of
 * the record's message (the daemon writes it after `acct=`); `hostname=` is never used.
 */
import type { SecurityEvent } from "../../core/event.ts";
import type { Frame } from "../../framing/frame.ts";
import { readEpochSeconds } from "../../framing/timestamps.ts";
import { newEvent, setSource } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const FAILURES = [
  "selinux_auth_failed",
  "selinux_user_error",
  "selinux_login_failed",
  "selinux_acct_failed",
] as const;
const ACTIONS = [...FAILURES, "selinux_auth_success", "selinux_login_success"] as const;
type Action = (typeof ACTIONS)[number];

const TYPES: Readonly<Record<string, readonly [Action, Action | undefined]>> = {
  USER_AUTH: ["selinux_auth_failed", "selinux_auth_success"],
  USER_ERR: ["selinux_user_error", undefined],
  USER_LOGIN: ["selinux_login_failed", "selinux_login_success"],
  USER_ACCT: ["selinux_acct_failed", undefined],
};
const NUMERIC_TYPES: Readonly<Record<string, string>> = {
  "1100": "USER_AUTH",
  "1101": "USER_ACCT",
  "1109": "USER_ERR",
  "1112": "USER_LOGIN",
};

// `[node=N ]type=T msg=audit(E:S): ` or `audit: type=NNNN audit(E:S): `.
const HEADER =
  /^(?:node=(\S{1,255}) )?(?:audit: )?type=(\w{1,32}) (?:msg=)?audit\((\d{1,12}(?:\.\d{1,9})?):(\d{1,20})\): /;
const JOURNAL_HEADER = /^([A-Z_]{1,32}) (?=pid=)/;
const HEX = /^(?:[0-9A-Fa-f]{2}){1,512}$/;

interface AuditRecord {
  type: string;
  node?: string;
  time?: number;
  sequence?: number;
  rest: string;
}

function header(frame: Frame): AuditRecord | undefined {
  const msg = frame.message;
  const m = HEADER.exec(msg);
  if (m) {
    const type = NUMERIC_TYPES[m[2]!] ?? m[2]!;
    const r: AuditRecord = { type, rest: msg.slice(m[0].length), sequence: Number(m[4]) };
    if (m[1] !== undefined) r.node = m[1];
    const t = readEpochSeconds(m[3]!);
    if (t !== undefined) r.time = t;
    return r;
  }
  if (frame.program === "audit") {
    const j = JOURNAL_HEADER.exec(msg);
    if (j) return { type: j[1]!, rest: msg.slice(j[0].length) };
  }
  return undefined;
}

/** An audit value: `"quoted"`, hex-encoded text, `?`/`(null)` (none), or a bare word. */
function value(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  let s = v;
  if (s.length >= 2 && s.charCodeAt(0) === 34 && s.charCodeAt(s.length - 1) === 34) s = s.slice(1, -1);
  else if (HEX.test(s)) s = Buffer.from(s, "hex").toString("utf8");
  return s === "?" || s === "(null)" ? undefined : s;
}

const WANTED = ["op", "acct", "exe", "addr", "terminal", "res", "pid"] as const;
/** Keys whose first occurrence counts (the daemon writes them before any attacker text). */
const FIRST = new Set(["op", "acct", "exe"]);

/**
 * The wanted `key=value` tokens of a space-separated record. `op`, `acct`, `exe` keep their first occurrence,
 * the others (`addr`, `res`, ...) the last: the daemon writes op, acct, exe, hostname, addr, terminal, res in
 * that order, so text smuggled into acct cannot replace the last addr=.
 */
function fields(text: string, start: number, end: number): Map<string, string> {
  const kv = new Map<string, string>();
  let i = start;
  while (i < end) {
    let sp = text.indexOf(" ", i);
    if (sp < 0 || sp > end) sp = end;
    for (const k of WANTED) {
      if (text.charCodeAt(i + k.length) === 61 /* = */ && text.startsWith(k, i) && i + k.length < sp) {
        if (!(FIRST.has(k) && kv.has(k))) kv.set(k, text.slice(i + k.length + 1, sp));
        break;
      }
    }
    i = sp + 1;
  }
  return kv;
}

function parseLine(frame: Frame, out: SecurityEvent[]): void {
  const r = header(frame);
  if (!r) return;
  const actions = TYPES[r.type];
  if (!actions) return;
  const rest = r.rest;
  // Outer fields (kernel/auditd written) up to ` msg='`, then the inner message up to the last quote.
  const open = rest.indexOf("msg='");
  const close = rest.lastIndexOf("'");
  if (open < 0 || close <= open + 4) return;
  const outer = fields(rest, 0, open);
  const kv = fields(rest, open + 5, close);
  const res = kv.get("res");
  let action: Action | undefined;
  if (res === "failed" || res === "failure") action = actions[0];
  else if (res === "success") action = actions[1];
  if (action === undefined) return;
  const outcome = action.endsWith("_success") ? "success" : "failure";
  const e = newEvent(frame, "selinux", action, outcome);
  if (r.time !== undefined) e["@timestamp"] = r.time;
  e.event.category = ["authentication"];
  if (r.sequence !== undefined) e.event.sequence = r.sequence;
  const addr = value(kv.get("addr"));
  if (addr !== undefined) setSource(e, addr);
  const acct = value(kv.get("acct"));
  if (acct === "(invalid user)" || acct === "(unknown user)") e.event.reason = acct.slice(1, -1);
  else if (acct !== undefined) e.user = { name: acct };
  const exe = value(kv.get("exe"));
  const pid = outer.get("pid");
  if (exe !== undefined || pid !== undefined) {
    e.process = { ...e.process };
    if (exe !== undefined) {
      e.process.executable = exe;
      e.process.name = exe.slice(exe.lastIndexOf("/") + 1);
    }
    if (pid !== undefined && /^\d{1,10}$/.test(pid)) e.process.pid = Number(pid);
  }
  if (r.node !== undefined) e.host = { name: r.node };
  const log: Record<string, unknown> = { record_type: r.type };
  if (r.sequence !== undefined) log.sequence = r.sequence;
  const op = value(kv.get("op"));
  if (op !== undefined) log.op = op;
  const terminal = value(kv.get("terminal"));
  if (terminal !== undefined) log.terminal = terminal;
  log.res = res;
  e.auditd = { log };
  out.push(e);
}

export const selinux: ParserDefinition = {
  id: "selinux",
  description:
    "Linux audit (SELinux) user authentication records: USER_AUTH, USER_ERR, USER_LOGIN, USER_ACCT",
  programs: ["audit", "audispd", "audisp-syslog"],
  probe(frame) {
    const m = frame.message;
    return m.startsWith("type=") || m.startsWith("node=") || m.startsWith("audit: type=");
  },
  modes: {
    normal: ["selinux_auth_failed", "selinux_user_error"],
    aggressive: FAILURES,
  },
  actions: ACTIONS,
  create(): LineParser {
    return { parse: parseLine };
  },
};
