/**
 * ECS JSON documents from Filebeat / Elastic Agent (NDJSON files, `output.file`, documents fetched from
 * Elasticsearch). The document itself becomes the SecurityEvent, so a Kibana query written for that data works
 * unchanged (`event.dataset: "system.auth" and system.auth.ssh.event: "Failed"`): every field is kept (dotted
 * keys expanded, see document.ts), `@timestamp` is epoch ms, `source.ip` canonical, and `event.action` /
 * `event.outcome` always present. The document's own values win; when absent they are derived:
 *   system.auth.ssh.event Failed|Invalid -> ssh_login / failure, Accepted -> ssh_login / success (as Filebeat's
 *   pipeline does); system.auth.ssh.dropped_ip -> ssh_dropped_connection (and source.ip); system.auth.sudo
 *   with an error -> sudo_failed / failure, else sudo_command / success; Filebeat 6 `system.auth.ssh.ip` and
 *   `system.auth.user` fill `source.ip` / `user.name`; anything else -> ecs_event / unknown.
 * A document without parsed fields (no `source`, no event.action/outcome/category, no system.auth; an
 * `event.module`, `event.dataset` or `user` may be there: Filebeat's inputs set them before any pipeline) that
 * holds a log line in `message` is an unparsed line in a wrapper: the line is framed and parsed by the other
 * parsers (a nested ParserSet, every action), and their events are returned with the document's `log`,
 * `agent` and `host` added (and its `@timestamp`, which has a zone, where the line's own time may not). A
 * document with other fields (module, user, system) whose line no parser recognises passes through as above.
 * The program of a document (framer.ts ecsProgram: `process.name`, `log.syslog.identifier`,
 * `journald.process.name`) is checked against its executable as a journal entry's is.
 * Addresses of sshd and dropbear documents are the line parser's (see #checkSource): Filebeat's grok patterns
 * are not anchored at the end, and a user name holding `from <IP> port N ssh2` became `source.ip`.
 * Windows event log documents are the winlogbeat parser's, Traefik's JSON access log the traefik parser's: both
 * are declined here.
 *
 * Modes: the actions of ECS documents are open-ended (each integration has its own), so the only mode is
 * `all`: every document's event is reported; rules select by `event.dataset` / `event.action`.
 *
 * Import cycle: this module uses the dispatcher (nested parsing), and the dispatcher's registry lists this
 * parser. Nothing is used at module evaluation, so loading through registry.ts / dispatch.ts works; do not
 * import this file before the registry (tests take the definition from `parserById("ecs")`).
 */
import type { SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import { NESTED_ONLY } from "../../kql/accessor.ts";
import type { Frame } from "../../framing/frame.ts";
import { ecsClaimedProgram, LineFramer } from "../../framing/framer.ts";
import type { TimeContext } from "../../framing/zone.ts";
import { ParserSet } from "../dispatch.ts";
import { PARSERS } from "../registry.ts";
import { SSHD_PROGRAMS } from "../sshd/parser.ts";
import { isTraefikDocument } from "../traefik/parser.ts";
import type { LineParser, ParserDefinition } from "../types.ts";
import {
  child,
  documentEvent,
  expand,
  get,
  getString,
  isObject,
  isWindowsDocument,
  REJECTED,
  unreadableTime,
  type DocumentDefaults,
} from "./document.ts";

const ACTIONS = ["ssh_login", "ssh_dropped_connection", "sudo_failed", "sudo_command", "ecs_event"] as const;

type Obj = Record<string, unknown>;

/** What a system.auth document means when its pipeline left out event.action / event.outcome. */
function derive(e: Obj): DocumentDefaults {
  const ssh = get(e, "system.auth.ssh");
  if (isObject(ssh)) {
    const kind = ssh.event;
    if (kind === "Failed" || kind === "Invalid")
      return { dataset: "ecs", action: "ssh_login", outcome: "failure", category: ["authentication"] };
    if (kind === "Accepted")
      return {
        dataset: "ecs",
        action: "ssh_login",
        outcome: "success",
        category: ["authentication", "session"],
      };
    if (typeof ssh.dropped_ip === "string") {
      const source = child(e, "source");
      if (source && source.ip === undefined) source.ip = ssh.dropped_ip;
      return { dataset: "ecs", action: "ssh_dropped_connection", outcome: "unknown", category: ["network"] };
    }
  }
  const sudo = get(e, "system.auth.sudo");
  if (isObject(sudo)) {
    if (sudo.error !== undefined)
      return { dataset: "ecs", action: "sudo_failed", outcome: "failure", category: ["process"] };
    if (sudo.command !== undefined)
      return { dataset: "ecs", action: "sudo_command", outcome: "success", category: ["process"] };
  }
  return { dataset: "ecs", action: "ecs_event", outcome: "unknown" };
}

/** Filebeat 6.x field names, aliased to ECS since 7.0. */
function legacyFields(e: Obj): void {
  const ip = getString(e, "system.auth.ssh.ip");
  if (ip !== undefined) {
    const source = child(e, "source");
    if (source && source.ip === undefined) source.ip = ip;
  }
  const user = getString(e, "system.auth.user");
  if (user !== undefined) {
    const u = child(e, "user");
    if (u && u.name === undefined) u.name = user;
  }
}

/**
 * Whether the document is an unparsed line in a wrapper: a `message`, and none of the fields a parsing pipeline
 * adds (`source`, event.action/outcome/category, system.auth). Filebeat's inputs add `event.module` /
 * `event.dataset` (a module's documents before its ingest pipeline ran) and `user.id` (journald) before any
 * parsing: they do not make a document parsed.
 */
function isRaw(e: Obj): boolean {
  if (typeof e.message !== "string" || e.message === "") return false;
  if (e.source !== undefined || get(e, "system.auth") !== undefined) return false;
  const ev = e.event;
  if (!isObject(ev)) return ev === undefined;
  return ev.action === undefined && ev.outcome === undefined && ev.category === undefined;
}

/**
 * Whether a raw document whose line no parser recognised still passes through as an `ecs_event`: one with
 * fields besides the wrapper's (a module, a user, system fields) may be what a Kibana query is about. A bare
 * wrapper (`message` and shipper metadata) yields nothing, as the line would in a plain file.
 */
function passesThrough(e: Obj): boolean {
  return e.user !== undefined || e.system !== undefined || get(e, "event.module") !== undefined;
}

/** Rejection reasons (constant strings: the daemon counts rejections by reason). */
const UNCONFIRMED = "document address not read from its message by the service's parser";
const BELIED = "program belied by its executable";

/** The peer a line parser read from a document's message. */
interface Peer {
  addr: string;
  ip: boolean;
  port: number | undefined;
  user: string | undefined;
}

/** The document's own addresses in `source` (`ip`, one or several, else `domain`), canonical. */
function documentAddresses(e: Obj): Set<string> {
  const out = new Set<string>();
  const source = e.source;
  if (!isObject(source)) return out;
  const raw = source.ip ?? source.domain;
  for (const v of Array.isArray(raw) ? raw : [raw]) {
    if (typeof v !== "string" || v.trim() === "") continue;
    out.add(canonicalIp(v.trim()) ?? v.trim().toLowerCase());
  }
  return out;
}

class EcsParser implements LineParser {
  readonly #time: TimeContext;
  readonly #onRejected: ((reason: string) => void) | undefined;
  #nested: { framer: LineFramer; set: ParserSet } | undefined;
  /** Lines the nested parsers refused (see #nestedSet): a document they refused is not reported twice. */
  #nestedRejections = 0;
  readonly #buf: SecurityEvent[] = [];
  /** Programs whose documents' addresses are read from their message, each with its service's parser id. */
  readonly #verified: ReadonlyMap<string, string>;

  constructor(time: TimeContext, onRejected: ((reason: string) => void) | undefined) {
    this.#time = time;
    this.#onRejected = onRejected;
    this.#verified = new Map<string, string>([
      ...SSHD_PROGRAMS.map((p) => [p, "sshd"] as const),
      ["dropbear", "dropbear"],
    ]);
  }

  readonly #reject = (reason: string): void => this.#onRejected?.(reason);

  parse(frame: Frame, out: SecurityEvent[]): void {
    const doc = frame.doc;
    if (frame.format !== "ecs" || doc === undefined || isWindowsDocument(doc) || isTraefikDocument(doc))
      return;
    const e = expand(doc);
    if (unreadableTime(frame, e)) {
      this.#reject(REJECTED.unreadableTime);
      return;
    }
    if (isRaw(e)) {
      if (this.#raw(frame, e, out) || !passesThrough(e)) return;
      // No parser recognised the line: the document as it is (it has no source, so no address is taken).
      out.push(documentEvent(frame, e, derive(e), this.#reject));
      return;
    }
    legacyFields(e);
    const defaults = derive(e);
    this.#checkSource(frame, doc, e);
    out.push(documentEvent(frame, e, defaults, this.#reject));
  }

  /** The nested line parsers: every parser that reads lines (not this one: no recursion), every action. */
  #nestedSet(): { framer: LineFramer; set: ParserSet } {
    if (!this.#nested) {
      const only = PARSERS.filter((p) => p.programs || p.programPrefixes || "probe" in p).map((p) => p.id);
      this.#nested = {
        framer: new LineFramer(this.#time),
        set: new ParserSet({
          time: this.#time,
          only,
          allActions: true,
          onRejected: (parser, reason) => {
            this.#nestedRejections++;
            this.#reject(`${parser}: ${reason}`);
          },
        }),
      };
    }
    return this.#nested;
  }

  /**
   * The frame of the line in the `message` of document frame `frame`. When the document names its program
   * (the shipper took the syslog header apart), the message is that program's bare text: an envelope inside it
   * is used only when it names the same program (a message holding the whole line); any other (`x sshd[1]:
   * Failed password ...` logged by another program) is text of the message, not a program's line. The
   * document's `@timestamp` (with a zone) is preferred to the line's (a syslog time has none).
   */
  #inner(frame: Frame, message: string, program: string | undefined): Frame | undefined {
    const framer = this.#nestedSet().framer;
    const framed = framer.frame(message) ?? framer.flush();
    let inner: Frame;
    if (framed !== undefined && (program === undefined || framed.program === program)) inner = framed;
    else if (program !== undefined) {
      // A plain frame's message is the whole message with `message repeated N times: [ ]` undone.
      const plain = framed?.format === "plain" ? framed : undefined;
      inner = {
        format: "syslog",
        time: undefined,
        host: frame.host,
        program,
        pid: frame.pid,
        message: plain ? plain.message : message,
        repeat: plain ? plain.repeat : 1,
      };
    } else return undefined;
    inner.time = frame.time ?? inner.time;
    inner.host ??= frame.host;
    return inner;
  }

  /**
   * Parses the line of a raw document; its events get the document's `log`, `agent` and `host`. Returns
   * whether a parser made an event of it or refused it.
   */
  #raw(frame: Frame, e: Obj, out: SecurityEvent[]): boolean {
    const inner = this.#inner(frame, e.message as string, frame.program);
    if (inner === undefined) return false;
    const buf = this.#buf;
    buf.length = 0;
    const rejected = this.#nestedRejections;
    this.#nestedSet().set.parse(inner, buf);
    for (const ev of buf) {
      for (const k of ["log", "agent", "host"] as const) {
        if (ev[k] === undefined && isObject(e[k])) {
          ev[k] = e[k];
          // The document's objects may hold dotted keys: field lookups must not assume plain nesting.
          delete (ev as { [NESTED_ONLY]?: boolean })[NESTED_ONLY];
        }
      }
      out.push(ev);
    }
    return buf.length > 0 || this.#nestedRejections !== rejected;
  }

  /**
   * The source of a parsed sshd (or dropbear) document is what the project's line parser reads from its
   * `message`, not the document's `source.ip`: Filebeat's grok for `Failed password for <user> from <ip> port
   * <port> ssh2` is not anchored at the end, so a user name `x from 203.0.113.9 port 22 ssh2` made the
   * document's source.ip 203.0.113.9 while sshd's peer was the address after it. So:
   * - the parser reads an address: it is the source (`source.ip`/`domain`, `port`). When the document said
   *   otherwise, its pipeline misread the line: `source` is replaced (its geo and other fields were about the
   *   wrong address), the wrong address leaves `related.ip`, and `user.name` becomes the parser's. This is not
   *   a rejection: the address is read, from the daemon's own text. Every other field stays, so a Kibana query
   *   on `system.auth.ssh.event` still matches;
   * - the parser reads none (it does not recognise the line, or refused it as ambiguous) while the document has
   *   an address: the address cannot be confirmed. `source` is removed (the event has no ban target) and the
   *   document is reported through onRejected, unless the parser already reported the line;
   * - the document claims sshd or dropbear but its executable belies it (framer.ts ecsProgram: `logger -t
   *   sshd`, a copy of sshd in a home directory): its address is not taken either (removed, reported).
   * Documents of other programs, and ones without a message, keep their address.
   */
  #checkSource(frame: Frame, doc: Obj, e: Obj): void {
    const claimed = ecsClaimedProgram(doc);
    if (claimed !== undefined && claimed !== frame.program && this.#verified.has(claimed)) {
      if (documentAddresses(e).size > 0) {
        delete e.source;
        this.#reject(BELIED);
      }
      return;
    }
    const service =
      frame.program !== undefined
        ? this.#verified.get(frame.program)
        : isObject(get(e, "system.auth.ssh"))
          ? "sshd"
          : undefined;
    const message = e.message;
    if (service === undefined || typeof message !== "string" || message === "") return;
    const rejected = this.#nestedRejections;
    const peer = this.#readPeer(frame, message, service);
    const own = documentAddresses(e);
    if (peer === undefined) {
      if (own.size === 0) return;
      delete e.source;
      if (this.#nestedRejections === rejected) this.#reject(UNCONFIRMED);
      return;
    }
    if (own.size === 1 && own.has(peer.addr)) {
      const source = e.source as Obj;
      if (peer.port !== undefined) source.port = peer.port;
      return;
    }
    const source: Obj = { [peer.ip ? "ip" : "domain"]: peer.addr };
    if (isObject(e.source) && e.source.address !== undefined) source.address = peer.addr;
    if (peer.port !== undefined) source.port = peer.port;
    e.source = source;
    const related = e.related;
    if (isObject(related) && related.ip !== undefined) {
      const ips = (Array.isArray(related.ip) ? related.ip : [related.ip]).filter(
        (v) => !(typeof v === "string" && own.has(canonicalIp(v.trim()) ?? v)),
      );
      if (peer.ip && !ips.includes(peer.addr)) ips.push(peer.addr);
      related.ip = ips;
    }
    if (own.size > 0 && peer.user !== undefined) {
      const user = child(e, "user");
      if (user) user.name = peer.user;
    }
  }

  /**
   * The peer the line parsers read from `message`, the document's line under its program (`service` when the
   * document names none), as they would read that line in a log file (sshd's parser, or the PAM parser for a
   * `pam_unix(sshd:auth)` line); undefined when they read none. Their events are not reported: the document is
   * the event.
   */
  #readPeer(frame: Frame, message: string, service: string): Peer | undefined {
    const program = frame.program ?? service;
    const inner = this.#inner(frame, message, program);
    if (inner === undefined) return undefined;
    const buf = this.#buf;
    buf.length = 0;
    this.#nestedSet().set.parse(inner, buf);
    let peer: Peer | undefined;
    for (const ev of buf) {
      const ip = ev.source?.ip;
      const addr = ip ?? ev.source?.domain;
      if (addr === undefined) continue;
      // Two events of one line naming different peers: no one peer (sshd does not write such lines).
      if (peer !== undefined && peer.addr !== addr) {
        buf.length = 0;
        return undefined;
      }
      peer ??= { addr, ip: ip !== undefined, port: ev.source?.port, user: ev.user?.name };
    }
    buf.length = 0;
    return peer;
  }
}

export const ecs: ParserDefinition = {
  id: "ecs",
  description:
    "Filebeat / Elastic Agent ECS JSON documents, passed through as events (raw lines parsed inside)",
  formats: ["ecs"],
  // `all` is the dispatcher's every-action mode; listed first it is the default. The list names the failure
  // actions derived here, for documentation only (documents bring their own).
  modes: { all: ["ssh_login", "sudo_failed"] },
  actions: ACTIONS,
  create({ time, onRejected }): LineParser {
    return new EcsParser(time, onRejected);
  },
};
