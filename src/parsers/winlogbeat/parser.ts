/**
 * Windows event log documents shipped by Winlogbeat 8.x or the Elastic Agent (System/Windows integrations):
 * every document with a `winlog` object (or `event.provider: Microsoft-Windows-Security-Auditing`). The `ecs`
 * parser declines exactly these, so one document never yields two events.
 *
 * Like the ecs parser, the document is passed through (every field kept; see ../ecs/document.ts), and the ECS
 * fields that Winlogbeat's ingest pipeline would add are filled in when the document has not been through it
 * (documents from `output.file`/Logstash carry only `winlog.*`):
 *   4624 logged-in (success)           source.ip/port <- IpAddress/IpPort, user.name/domain <- TargetUserName/
 *   4625 logon-failed (failure)          TargetDomainName, winlog.logon.type <- LogonType (3 -> Network, ...),
 *   4648 logged-in-explicit              winlog.logon.failure.{status,sub_status} <- the pipeline's description
 *                                        of Status/SubStatus (4625, 4776; the codes stay in event_data); 4648:
 *                                        user <- Subject*, user.effective <- Target* (as the pipeline)
 *   4688 created-process (success)     process.command_line <- CommandLine, process.executable/name <-
 *                                        NewProcessName, process.pid <- NewProcessId (hex), parent <- ParentProcessName,
 *                                        ProcessId; user.name <- SubjectUserName
 *   4740 locked-out-user-account       user.name <- SubjectUserName, user.target.name <- TargetUserName (no
 *                                        address: CallerComputerName is a name)
 *   4771 kerberos-preauth-failed (failure)  source.ip <- IpAddress (`::ffff:` form), user.name <- TargetUserName
 *   4776 credential-validated          failure when Status is not 0x0; user.name <- TargetUserName
 * A UPN user name (`alice@corp.example`) is the account before the `@`, as in the pipeline. Event data
 * values that a shipper turned into numbers (`LogonType: 3`) are read as their text. The action names are
 * Winlogbeat's pipeline's (so Kibana rules written for Winlogbeat keep working): they replace the task name
 * that Winlogbeat itself writes to event.action (`Logon`), as the pipeline does. The document's own
 * event.outcome wins; otherwise the outcome comes from `winlog.keywords` (Audit Failure/Success), then from
 * the table. Other event ids pass through with their own action (or `windows-event`).
 * `IpAddress` "-" means no network address (no source.ip); loopback addresses are kept (the policy never bans
 * them). Workstation names are attacker-chosen and never used as a source.
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import type { LineParser, ParserDefinition } from "../types.ts";
import {
  child,
  documentEvent,
  expand,
  getString,
  isObject,
  isWindowsDocument,
  REJECTED,
  unreadableTime,
} from "../ecs/document.ts";

type Obj = Record<string, unknown>;

interface Known {
  action: string;
  outcome: "failure" | "success" | "unknown";
  category: string[];
  type: string[];
}

/** By event id. Maps, not objects: ids and logon types are the document's text (`__proto__`, `toString`). */
const KNOWN: ReadonlyMap<string, Known> = new Map([
  ["4624", { action: "logged-in", outcome: "success", category: ["authentication"], type: ["start"] }],
  ["4625", { action: "logon-failed", outcome: "failure", category: ["authentication"], type: ["start"] }],
  [
    "4648",
    { action: "logged-in-explicit", outcome: "success", category: ["authentication"], type: ["start"] },
  ],
  ["4688", { action: "created-process", outcome: "success", category: ["process"], type: ["start"] }],
  [
    "4740",
    { action: "locked-out-user-account", outcome: "success", category: ["iam"], type: ["user", "change"] },
  ],
  [
    "4771",
    { action: "kerberos-preauth-failed", outcome: "failure", category: ["authentication"], type: ["start"] },
  ],
  [
    "4776",
    { action: "credential-validated", outcome: "unknown", category: ["authentication"], type: ["start"] },
  ],
]);

const FAILURES = ["logon-failed", "kerberos-preauth-failed"] as const;
const ACTIONS = [...new Set([...KNOWN.values()].map((k) => k.action)), "windows-event"] as const;

const LOGON_TYPES: ReadonlyMap<string, string> = new Map([
  ["0", "System"],
  ["2", "Interactive"],
  ["3", "Network"],
  ["4", "Batch"],
  ["5", "Service"],
  ["7", "Unlock"],
  ["8", "NetworkCleartext"],
  ["9", "NewCredentials"],
  ["10", "RemoteInteractive"],
  ["11", "CachedInteractive"],
  ["12", "CachedRemoteInteractive"],
  ["13", "CachedUnlock"],
]);

/**
 * The pipeline's descriptions of 4625/4776 Status and SubStatus codes (winlog.logon.failure.status/sub_status;
 * the code itself stays in winlog.event_data), by the code as Windows writes it.
 */
const FAILURE_STATUS: ReadonlyMap<string, string> = new Map([
  ["0xc000005e", "There are currently no logon servers available to service the logon request."],
  ["0xc0000064", "User logon with misspelled or bad user account"],
  ["0xc000006a", "User logon with misspelled or bad password"],
  ["0xc000006d", "This is either due to a bad username or authentication information"],
  ["0xc000006e", "Unknown user name or bad password."],
  ["0xc000006f", "User logon outside authorized hours"],
  ["0xc0000070", "User logon from unauthorized workstation"],
  ["0xc0000071", "User logon with expired password"],
  ["0xc0000072", "User logon to account disabled by administrator"],
  ["0xc00000dc", "Indicates the Sam Server was in the wrong state to perform the desired operation."],
  ["0xc0000133", "Clocks between DC and other computer too far out of sync"],
  ["0xc000015b", "The user has not been granted the requested logon type (aka logon right) at this machine"],
  [
    "0xc000018c",
    "The logon request failed because the trust relationship between the primary domain and the trusted domain failed.",
  ],
  ["0xc0000192", "An attempt was made to logon, but the Netlogon service was not started."],
  ["0xc0000193", "User logon with expired account"],
  ["0xc0000224", "User is required to change password at next logon"],
  ["0xc0000225", "Evidently a bug in Windows and not a risk"],
  ["0xc0000234", "User logon with account locked"],
  ["0xc00002ee", "Failure Reason: An Error occurred during Logon"],
  [
    "0xc0000413",
    "Logon Failure: The machine you are logging onto is protected by an authentication firewall. The specified account is not allowed to authenticate to the machine.",
  ],
  ["0xc0000371", "The local account store does not contain secret material for the specified account"],
  ["0x0", "Status OK."],
]);

/** Windows writes "-" (or nothing) for "no value". */
function present(v: string | undefined): string | undefined {
  return v === undefined || v === "" || v === "-" ? undefined : v;
}

function hexPid(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = /^0x[0-9a-f]{1,8}$/i.test(v) ? parseInt(v.slice(2), 16) : /^\d{1,10}$/.test(v) ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
}

function basename(path: string): string {
  return path.slice(Math.max(path.lastIndexOf("\\"), path.lastIndexOf("/")) + 1);
}

function setIfAbsent(parent: Obj | undefined, key: string, v: unknown): void {
  if (parent && v !== undefined && parent[key] === undefined) parent[key] = v;
}

/** An `event_data` value as text: Winlogbeat writes strings; a shipper that converted them writes numbers. */
function text(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  return typeof v === "number" && Number.isFinite(v) ? String(v) : undefined;
}

/** `TargetUserName` as the pipeline reads it: a UPN `alice@corp.example` is the account `alice`. */
function accountName(v: string | undefined): string | undefined {
  const at = v === undefined ? -1 : v.indexOf("@");
  return at > 0 ? v!.slice(0, at) : v;
}

/** Fills the ECS fields of the known Security events from `winlog.event_data` when they are missing. */
function enrich(e: Obj, id: string, data: Obj): void {
  const d = (k: string) => present(text(data[k]));
  const user = child(e, "user");
  if (id === "4688") {
    const proc = child(e, "process");
    setIfAbsent(proc, "command_line", d("CommandLine"));
    const exe = d("NewProcessName");
    setIfAbsent(proc, "executable", exe);
    if (exe !== undefined) setIfAbsent(proc, "name", basename(exe));
    setIfAbsent(proc, "pid", hexPid(d("NewProcessId")));
    const parentExe = d("ParentProcessName");
    const ppid = hexPid(d("ProcessId"));
    if (proc && (parentExe !== undefined || ppid !== undefined)) {
      const parent = child(proc, "parent");
      setIfAbsent(parent, "executable", parentExe);
      if (parentExe !== undefined) setIfAbsent(parent, "name", basename(parentExe));
      setIfAbsent(parent, "pid", ppid);
    }
    setIfAbsent(user, "name", d("SubjectUserName"));
    setIfAbsent(user, "domain", d("SubjectDomainName"));
    return;
  }
  if (id === "4648" || id === "4740") {
    // The pipeline's user is the subject (who used explicit credentials; the DC that locked the account), and
    // TargetUserName the effective (4648) or target (4740) user.
    setIfAbsent(user, "name", d("SubjectUserName"));
    setIfAbsent(user, "domain", d("SubjectDomainName"));
    const name = accountName(d("TargetUserName"));
    // 4740's TargetDomainName is the caller computer's name, not a domain.
    const domain = id === "4648" ? d("TargetDomainName") : undefined;
    if (user && (name !== undefined || domain !== undefined)) {
      const other = child(user, id === "4648" ? "effective" : "target");
      setIfAbsent(other, "name", name);
      setIfAbsent(other, "domain", domain);
    }
  } else {
    setIfAbsent(user, "name", accountName(d("TargetUserName")));
    setIfAbsent(user, "domain", d("TargetDomainName"));
  }
  const ip = d("IpAddress");
  if (ip !== undefined) {
    const port = d("IpPort");
    const p = port !== undefined && /^\d{1,5}$/.test(port) ? Number(port) : 0;
    setSource(e, ip, p > 0 && p <= 65535 ? p : undefined);
  }
  const winlog = e.winlog as Obj;
  const logonType = d("LogonType");
  const typeName = logonType === undefined ? undefined : LOGON_TYPES.get(logonType);
  if (typeName !== undefined) {
    const logon = child(winlog, "logon");
    setIfAbsent(logon, "type", typeName);
  }
  const status = FAILURE_STATUS.get(d("Status") ?? "");
  const sub = FAILURE_STATUS.get(d("SubStatus") ?? "");
  if ((id === "4625" || id === "4776") && (status !== undefined || sub !== undefined)) {
    const failure = child(child(winlog, "logon") ?? {}, "failure");
    setIfAbsent(failure, "status", status);
    setIfAbsent(failure, "sub_status", sub);
  }
}

/**
 * `source` from the event's `IpAddress` / `IpPort`, which Windows wrote, and from which Winlogbeat's pipeline
 * derives `source.ip`: a document whose own `source` names the same address keeps it (and its other fields),
 * with the port filled in when it has none. One whose `source` names another address, or several, or is not
 * an object (a list of sources) has a `source` that did not come from this event's address: it is replaced
 * by the address and port (its geo and other fields were about the other one). An `IpAddress` that is not an
 * address fills `source.ip` only when absent, as before (it then moves to `source.domain`/`address`).
 */
function setSource(e: Obj, ip: string, port: number | undefined): void {
  const addr = canonicalIp(ip.trim());
  const own = e.source;
  if (addr === undefined) {
    const source = child(e, "source");
    setIfAbsent(source, "ip", ip);
    setIfAbsent(source, "port", port);
    return;
  }
  if (isObject(own)) {
    const v = Array.isArray(own.ip) && own.ip.length === 1 ? (own.ip[0] as unknown) : own.ip;
    if (v === undefined || (typeof v === "string" && canonicalIp(v.trim()) === addr)) {
      own.ip = addr;
      setIfAbsent(own, "port", port);
      return;
    }
  }
  e.source = port === undefined ? { ip: addr } : { ip: addr, port };
}

function outcomeFor(e: Obj, id: string, data: Obj, known: Known | undefined): Known["outcome"] {
  const keywords = (e.winlog as Obj).keywords;
  const kw = Array.isArray(keywords) ? keywords : typeof keywords === "string" ? [keywords] : [];
  if (kw.includes("Audit Failure")) return "failure";
  if (kw.includes("Audit Success") && id !== "4776") return "success";
  if (id === "4776") {
    const status = text(data.Status)?.toLowerCase();
    if (status === undefined) return "unknown";
    return status === "0x0" || status === "0" ? "success" : "failure";
  }
  return known?.outcome ?? "unknown";
}

function parseDocument(frame: Frame, out: SecurityEvent[], reject: (reason: string) => void): void {
  const doc = frame.doc;
  if (frame.format !== "ecs" || doc === undefined || !isWindowsDocument(doc)) return;
  const e = expand(doc);
  const winlog = child(e, "winlog");
  if (!winlog) return;
  if (unreadableTime(frame, e)) {
    reject(REJECTED.unreadableTime);
    return;
  }
  const id = getString(e, "winlog.event_id") ?? getString(e, "event.code") ?? "";
  const provider = getString(e, "winlog.provider_name") ?? getString(e, "event.provider");
  const security = provider === undefined || provider === "Microsoft-Windows-Security-Auditing";
  const known = security ? KNOWN.get(id) : undefined;
  const data = isObject(winlog.event_data) ? winlog.event_data : {};
  if (known) enrich(e, id, data);
  const event = child(e, "event");
  if (event && event.code === undefined && id !== "") event.code = id;
  if (event && event.provider === undefined && provider !== undefined) event.provider = provider;
  if (event && known && event.type === undefined) event.type = known.type;
  // Winlogbeat itself writes the event's task as event.action (`Logon`, `Kerberos Authentication Service`);
  // the pipeline replaces it with its own name, and so do we: the parser's modes select these names.
  if (event && known) event.action = known.action;
  out.push(
    documentEvent(
      frame,
      e,
      {
        dataset: "winlogbeat",
        action: known?.action ?? "windows-event",
        outcome: outcomeFor(e, id, data, known),
        ...(known ? { category: known.category } : {}),
      },
      reject,
    ),
  );
}

export const winlogbeat: ParserDefinition = {
  id: "winlogbeat",
  description:
    "Windows event log documents from Winlogbeat / Elastic Agent: logons (4624/4625), processes (4688), ...",
  formats: ["ecs"],
  modes: { normal: FAILURES, aggressive: [...FAILURES, "credential-validated"] },
  actions: ACTIONS,
  create({ onRejected }): LineParser {
    const reject = (reason: string) => onRejected?.(reason);
    return { parse: (frame, out) => parseDocument(frame, out, reject) };
  },
};
