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
 * A document without structured fields (no event.action/outcome/category/module, no source/user/system) that
 * holds a raw log line in `message` is an unparsed line in a wrapper: the line is framed and parsed by the
 * other parsers (a nested ParserSet, every action), and their events are returned with the document's
 * `log`, `agent` and `host` added.
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
import { NESTED_ONLY } from "../../kql/accessor.ts";
import type { Frame } from "../../framing/frame.ts";
import { LineFramer } from "../../framing/framer.ts";
import type { TimeContext } from "../../framing/zone.ts";
import { ParserSet } from "../dispatch.ts";
import { PARSERS } from "../registry.ts";
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

function isRaw(e: Obj): boolean {
  if (typeof e.message !== "string" || e.message === "") return false;
  if (e.source !== undefined || e.user !== undefined || e.system !== undefined) return false;
  const ev = e.event;
  if (!isObject(ev)) return ev === undefined;
  return (
    ev.action === undefined &&
    ev.outcome === undefined &&
    ev.category === undefined &&
    ev.module === undefined
  );
}

class EcsParser implements LineParser {
  readonly #time: TimeContext;
  #nested: { framer: LineFramer; set: ParserSet } | undefined;
  readonly #buf: SecurityEvent[] = [];

  constructor(time: TimeContext) {
    this.#time = time;
  }

  parse(frame: Frame, out: SecurityEvent[]): void {
    const doc = frame.doc;
    if (frame.format !== "ecs" || doc === undefined || isWindowsDocument(doc) || isTraefikDocument(doc))
      return;
    const e = expand(doc);
    if (isRaw(e)) {
      this.#raw(frame, e, out);
      return;
    }
    legacyFields(e);
    out.push(documentEvent(frame, e, derive(e)));
  }

  #raw(frame: Frame, e: Obj, out: SecurityEvent[]): void {
    if (!this.#nested) {
      // Every parser that reads lines (not this one: no recursion), reporting every action.
      const only = PARSERS.filter((p) => p.programs || p.programPrefixes || "probe" in p).map((p) => p.id);
      this.#nested = {
        framer: new LineFramer(this.#time),
        set: new ParserSet({ time: this.#time, only, allActions: true }),
      };
    }
    const message = e.message as string;
    let inner = this.#nested.framer.frame(message) ?? this.#nested.framer.flush();
    if (!inner) return;
    if (inner.program === undefined && frame.program !== undefined) {
      // The shipper already took the syslog header apart: the message is the bare text of `process.name`.
      inner = {
        ...inner,
        format: "syslog",
        host: frame.host,
        program: frame.program,
        pid: frame.pid,
        message,
      };
    }
    inner.time ??= frame.time;
    inner.host ??= frame.host;
    const buf = this.#buf;
    buf.length = 0;
    this.#nested.set.parse(inner, buf);
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
  create({ time }): LineParser {
    return new EcsParser(time);
  },
};
