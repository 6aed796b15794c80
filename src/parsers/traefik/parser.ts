/**
 * Traefik's access log, in its Common Log Format (`accessLog: {format: common}`) as a plain file or through
 * syslog / journald (program `traefik`), and in its JSON format (`accessLog: {format: json}`):
 *
 *   192.0.2.2 - alice [18/Nov/2018:21:34:34 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0" 72 "Auth for frontend-Host-traefik-0" "/dashboard/" 0ms
 *   {"ClientHost":"192.0.2.7","ClientUsername":"bob","DownstreamStatus":401,"RequestMethod":"GET","RequestPath":"/dashboard/","StartUTC":"2024-05-01T10:00:00Z",...}
 *
 * The common format is CLF plus `<request count> "<router>" "<service URL>" <duration>ms`; that tail is how a
 * plain line is recognised as Traefik's (the nginx and apache probes leave such lines alone). Reading and
 * classification are the shared ones (../access-log.ts): the client is the first field, the user field says
 * whether credentials were sent. A JSON document is read from its fields (`ClientAddr`, `ClientUsername`,
 * `DownstreamStatus`, `RequestMethod`, `RequestPath`, `StartUTC`) with the same classification; the ecs parser
 * leaves these documents to this one. `ClientHost` is not the source (see setPeer): Traefik writes the
 * X-Forwarded-For header there, and as the common format's first field, whenever the request still has one.
 *
 * Prefer the JSON format. Traefik writes the common format without escaping anything: the user name, request
 * path, referrer and user agent go into the line as they came. The user name is the worst: Go decodes it from
 * base64 (Basic credentials), so it can hold a newline, and one request then writes two physical lines whose
 * second one starts with whatever the sender chose:
 *
 *   192.0.2.2 - x
 *   203.0.113.99 - admin [18/Nov/2018:21:31:34 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0" 72 "Auth" "/dashboard/" 0ms
 *
 * What this parser does about it, and what it cannot:
 * - A record always has its `[date]` (Traefik writes one even when it has no time: `-` never appears there), and
 *   a Basic user name never holds a `:` (Go splits the credentials at the first one), so it cannot hold a date.
 *   A line that starts like a record (`ADDR - ...`) but has no date is the first part of a record cut by a user
 *   name; the lines after it, up to the first with a date, are the rest of that user name, and that line (the
 *   record's end, whose first field the sender wrote) is refused and counted (`onRejected`: "line after a record
 *   cut by a user name"). The request it ends is lost (a brute forcer sending such names is seen only in that
 *   count); reading the cut record's client from its first line instead would credit the next record to the
 *   wrong client when a line was cut for another reason (a crash mid-write).
 * - A user name, referrer or user agent may also hold a whole `[date] "request" status` (user names from an
 *   absolute request URI, `GET http://NAME@host/`, are decoded and may hold `:`), e.g. to make a 401 read as a
 *   200. The client is the line's first field either way, so each request found on the line is classified and
 *   the first that is an attack signal is reported: a fake one can only report its own sender.
 * - Not defended, and not defensible from the text: on routes without the BasicAuth middleware Traefik logs the
 *   user name of an absolute request URI, percent-decoded, so it may hold a newline and `:` alike, and one
 *   request can write any number of complete-looking lines (the first line of such a record looks complete too).
 *   Traefik's JSON format escapes every field; with it none of this applies.
 */
import { canonicalIp, splitHostPort } from "../../core/ip.ts";
import { readIso } from "../../framing/timestamps.ts";
import {
  accessEvent,
  categoryOf,
  classifyResponse,
  findClfDate,
  hasTraefikTail,
  HTTP,
  HTTP_FAILURES,
  pathOf,
  scanRequestFrom,
  setRequest,
} from "../access-log.ts";
import { newEvent, setSource, setUser } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";
import type { Frame } from "../../framing/frame.ts";
import type { SecurityEvent } from "../../core/event.ts";
import type { TimeContext } from "../../framing/zone.ts";

const CUT = "line after a record cut by a user name";

/**
 * The index of the space after the client when `s` starts like a Traefik CLF record, `CLIENT - ` (Traefik always
 * writes `-` as the ident; the user field may be empty when the line was cut right after it); -1 otherwise.
 */
function recordStart(s: string): number {
  const sp = s.indexOf(" ");
  if (sp <= 0 || sp > 255) return -1;
  const c0 = s.charCodeAt(0);
  // An address or host name starts with a hex digit, a letter or ':'.
  if (!((c0 >= 48 && c0 <= 58) || (c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122))) return -1;
  if (s.charCodeAt(sp + 1) !== 45 || (sp + 2 < s.length && s.charCodeAt(sp + 2) !== 32)) return -1;
  return sp;
}

/** Whether a JSON document is a Traefik access-log entry (the ecs parser declines these). */
export function isTraefikDocument(doc: Record<string, unknown>): boolean {
  return typeof doc.ClientHost === "string" && typeof doc.DownstreamStatus === "number";
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v !== "" ? v : undefined;
}

/** Why a JSON entry's source was refused: the request was forwarded, so the log does not say who sent it. */
const FORWARDED = "forwarded request (ClientHost is not the peer)";

/**
 * The source of a JSON entry: the connection's peer, `ClientAddr` (Go's `RemoteAddr`, `ADDR:PORT`). Traefik's
 * access log replaces `ClientHost` with the request's `X-Forwarded-For` header whenever one is left on the
 * request (sent through a `forwardedHeaders.trustedIPs` proxy, or by anyone with `forwardedHeaders.insecure`).
 * Such an entry is refused (FORWARDED, counted): its peer is then a proxy (a load balancer, a CDN), which must not
 * be banned (that would cut off every client behind it), and its `ClientHost` is a value the sender chose, or a
 * list (`a, b`). Only an entry whose `ClientAddr` was dropped from the log (`fields.names`) falls back to
 * `ClientHost`, and not when the logged headers show an `X-Forwarded-For`. Returns the refusal's reason, if any.
 */
function setPeer(e: SecurityEvent, doc: Record<string, unknown>): boolean | string {
  const forwarded = doc["request_X-Forwarded-For"] !== undefined;
  if (typeof doc.ClientAddr === "string") {
    const peer = splitHostPort(doc.ClientAddr);
    if (!peer) return false;
    const host = doc.ClientHost;
    if (forwarded || (typeof host === "string" && host !== "" && canonicalIp(host) !== peer.ip)) {
      return FORWARDED;
    }
    e.source = { ip: peer.ip, port: peer.port };
    return true;
  }
  if (forwarded) return FORWARDED;
  return setSource(e, doc.ClientHost as string);
}

/** The event of a Traefik JSON access-log entry, or undefined when the request is no attack signal. */
function documentEvent(
  frame: Frame,
  doc: Record<string, unknown>,
  ctx: TimeContext,
  onRejected: ((reason: string) => void) | undefined,
): SecurityEvent | undefined {
  const status = doc.DownstreamStatus as number;
  const method = str(doc.RequestMethod);
  const target = str(doc.RequestPath);
  const userText = str(doc.ClientUsername);
  const user = userText === "-" ? undefined : userText;
  const action = classifyResponse(status, user, method, target === undefined ? undefined : pathOf(target));
  if (action === undefined) return undefined;
  const e = newEvent(frame, "traefik", action, action === HTTP.login ? "unknown" : "failure");
  const peer = setPeer(e, doc);
  if (peer !== true) {
    if (peer) onRejected?.(peer);
    return undefined;
  }
  e.event.category = categoryOf(action);
  if (frame.time === undefined) {
    const start = str(doc.StartUTC) ?? str(doc.StartLocal) ?? str(doc.time);
    const t = start === undefined ? undefined : readIso(start, 0, ctx)?.time;
    if (t !== undefined) e["@timestamp"] = t;
  }
  setUser(e, user);
  setRequest(e, method, target, status);
  const ua = str(doc["request_User-Agent"]);
  if (ua !== undefined) e.user_agent = { original: ua };
  return e;
}

export const traefik: ParserDefinition = {
  id: "traefik",
  description:
    "Traefik access log (common or JSON format): 401s with and without credentials, probes for well-known attack paths, 403s",
  programs: ["traefik"],
  formats: ["ecs"],
  probe(frame) {
    if (frame.program !== undefined) return false;
    const s = frame.message;
    // A record, or the end of one cut by a user name; or the first part of one (no date), which the parser
    // must see to refuse the line that ends it.
    return hasTraefikTail(s) || (recordStart(s) > 0 && findClfDate(s, 0) < 0);
  },
  modes: {
    normal: [HTTP.authFailed, HTTP.probe],
    auth: [HTTP.authFailed],
    ddos: [HTTP.unauthorized],
    botsearch: [HTTP.probe],
    aggressive: [...HTTP_FAILURES],
  },
  actions: [...HTTP_FAILURES, HTTP.login],
  create({ time, onRejected }): LineParser {
    /** A record was cut by a user name holding a newline: its end (the next line with a date) is still to come. */
    let cut = false;
    return {
      parse(frame, out) {
        if (frame.format === "ecs") {
          const doc = frame.doc;
          if (doc !== undefined && isTraefikDocument(doc)) {
            const e = documentEvent(frame, doc, time, onRejected);
            if (e) out.push(e);
          }
          return;
        }
        const s = frame.message;
        if (cut) {
          if (findClfDate(s, 0) < 0) return; // more of the user name
          cut = false;
          onRejected?.(CUT);
          return;
        }
        const sp1 = recordStart(s);
        if (sp1 < 0) return;
        const sp2 = sp1 + 2;
        let scan = scanRequestFrom(s, sp1, sp2, sp2 - 1);
        if (!scan) {
          if (findClfDate(s, sp1) < 0) cut = true;
          return;
        }
        // Each request on the line, in order: the first that is an attack signal is reported.
        while (scan) {
          const e = accessEvent(frame, "traefik", time, s, scan);
          if (e) {
            out.push(e);
            return;
          }
          scan = scanRequestFrom(s, sp1, sp2, scan.reqEnd + 5);
        }
      },
    };
  },
};
