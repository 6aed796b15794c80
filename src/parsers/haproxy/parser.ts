/**
 * HAProxy HTTP logs (`option httplog`, and `option httplog clf`), through syslog (program `haproxy`) or without a
 * program name (`log stdout format raw`, `format short` / `iso`; see the probe):
 *
 *   haproxy[760]: 192.0.2.1:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 "GET / HTTP/1.1"
 *   haproxy[760]: 2001:db8::1234:58430 [14/Nov/2015:22:45:11.608] main app/app1 10/0/1/2/13 404 150 - - ---- 1/1/0/0/0 0/0 "GET /.env HTTP/1.1"
 *   haproxy[760]: 192.0.2.1 - - [14/Nov/2015:22:45:11 +0000] "GET /admin HTTP/1.1" 401 248 "" "" 58430 608 "main" "main" "<NOSRV>" ...
 *
 * An HTTP log line has five timers and a quoted request line (last, or followed by `option httpslog`'s TLS
 * fields); TCP logs (`option tcplog`: three timers, the bytes
 * read where the status would be) are not read. The CLF variant is read by the shared reader (../access-log.ts);
 * HAProxy writes `- -` for ident and user there.
 *
 * The client is the first field, `address:port` as HAProxy prints it (IPv6 without brackets, IPv4-mapped
 * `::ffff:a.b.c.d:port`), written before anything the client sends. HAProxy logs no user name, so a 401 (from
 * `http-request auth`: credentials missing or wrong) is `http_unauthorized`, category `web`: whether credentials
 * were sent is unknown, and without them a 401 is only a challenge (every browser's first request, a Docker
 * client's before each pull), so the HTTP brute-force rule does not count it. The request line is the last
 * quoted field and is only used to classify probes (../access-log.ts). The event time is the syslog time;
 * HAProxy's own accept date is used only for lines without one (journal).
 */
import { splitHostPort } from "../../core/ip.ts";
import { readClfDate } from "../../framing/timestamps.ts";
import {
  accessEvent,
  categoryOf,
  classifyResponse,
  HTTP,
  HTTP_FAILURES,
  pathOf,
  setRequest,
  splitRequest,
} from "../access-log.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

/** Index after the next space-separated token starting at `i`, or -1. */
function skipToken(s: string, i: number): number {
  const sp = s.indexOf(" ", i);
  return sp <= i ? -1 : sp + 1;
}

/** Whether `s[start, end)` is five timers, `a/b/c/d/e` (each a number, possibly negative or `+`-prefixed). */
function fiveTimers(s: string, start: number, end: number): boolean {
  let slashes = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 47) slashes++;
    else if (!((c >= 48 && c <= 57) || c === 45 || c === 43)) return false;
  }
  return slashes === 4;
}

/**
 * The quote closing the request line opened at `at`: the line's last character (`option httplog`), or, with
 * `option httpslog`, the first quote after `at` when TLS fields (`fc_err/ssl_fc_err/... sni/version/cipher`,
 * unquoted) follow it. HAProxy writes a quote inside the request as `%22`, so the first one ends it; -1 when there
 * is none.
 */
function requestEnd(s: string, at: number): number {
  if (s.endsWith('"') && s.length - 1 >= at) return s.length - 1;
  const end = s.indexOf('"', at);
  return end > 0 && s.charCodeAt(end + 1) === 32 ? end : -1;
}

export const haproxy: ParserDefinition = {
  id: "haproxy",
  description:
    "HAProxy HTTP logs: 401 responses (http-request auth), probes for well-known attack paths, 403s",
  programs: ["haproxy"],
  probe(frame) {
    // No program name: `log stdout format raw` (containers), or `format short` / `timed` / `iso`. The line's
    // own shape: `ADDR:PORT [03/Jun/2024:10:11:09.512] ` (an accept date with milliseconds, unlike CLF dates).
    if (frame.program !== undefined) return false;
    const s = frame.message;
    const sp = s.indexOf(" [");
    return sp > 0 && sp <= 60 && s.charCodeAt(sp + 22) === 46 && s.charCodeAt(sp + 26) === 93;
  },
  modes: {
    normal: [HTTP.unauthorized, HTTP.probe],
    auth: [HTTP.unauthorized],
    botsearch: [HTTP.probe],
    aggressive: [...HTTP_FAILURES],
  },
  actions: [...HTTP_FAILURES, HTTP.login],
  create({ time }): LineParser {
    return {
      parse(frame, out) {
        const s = frame.message;
        const sp1 = s.indexOf(" ");
        if (sp1 > 0 && s.startsWith(" - - [", sp1)) {
          // `option httplog clf`: `ADDR - - [date] "REQUEST" STATUS ...`, read by the shared CLF reader.
          const e = accessEvent(frame, "haproxy", time, s);
          if (e) out.push(e);
          return;
        }
        const sp = s.indexOf(" [");
        if (sp <= 0 || sp > 60) return;
        const date = readClfDate(s, sp + 2, time);
        if (!date || s.charCodeAt(date.end) !== 93 || s.charCodeAt(date.end + 1) !== 32) return;
        // frontend, backend/server, timers, then the status
        let i = date.end + 2;
        for (let k = 0; k < 2 && i > 0; k++) i = skipToken(s, i);
        if (i < 0) return;
        const timers = i;
        i = skipToken(s, i);
        // HTTP logs have five timers (`TR/Tw/Tc/Tr/Ta`), TCP logs (`option tcplog`) three (`Tw/Tc/Tt`), and
        // the bytes read where an HTTP log has its status.
        if (i < 0 || !fiveTimers(s, timers, i - 1)) return;
        const sEnd = s.indexOf(" ", i);
        if (sEnd !== i + 3) return;
        const status = Number(s.slice(i, sEnd));
        if (!(status >= 400 && status < 500) && !(status < 400 && s.includes('"POST ', sEnd))) return;
        // ... and the request line, quoted (`"GET / HTTP/1.1"`, `"<BADREQ>"`).
        const q = s.indexOf(' "', sEnd);
        if (q < 0) return;
        let method: string | undefined;
        let target: string | undefined;
        const end = requestEnd(s, q + 2);
        if (end > 0) ({ method, target } = splitRequest(s.slice(q + 2, end)));
        const action = classifyResponse(
          status,
          undefined,
          method,
          target === undefined ? undefined : pathOf(target),
        );
        if (action === undefined) return;
        const client = splitHostPort(s.slice(0, sp));
        if (!client) return;
        const e = newEvent(frame, "haproxy", action, action === HTTP.login ? "unknown" : "failure");
        if (frame.time === undefined) e["@timestamp"] = date.time;
        e.event.category = categoryOf(action);
        e.source = { ip: client.ip, port: client.port };
        setRequest(e, method, target, status);
        out.push(e);
      },
    };
  },
};
