/**
 * HAProxy HTTP logs (`option httplog`), through syslog (program `haproxy`):
 *
 *   haproxy[760]: 192.0.2.1:58430 [14/Nov/2015:22:45:11.608] main main/<NOSRV> -1/-1/-1/-1/0 401 248 - - PR-- 0/0/0/0/0 0/0 "GET / HTTP/1.1"
 *   haproxy[760]: 2001:db8::1234:58430 [14/Nov/2015:22:45:11.608] main app/app1 10/0/1/2/13 404 150 - - ---- 1/1/0/0/0 0/0 "GET /.env HTTP/1.1"
 *
 * The client is the first field, `address:port` as HAProxy prints it (IPv6 without brackets, IPv4-mapped
 * `::ffff:a.b.c.d:port`), written before anything the client sends. HAProxy logs no user name, so a 401 (from
 * `http-request auth`: credentials missing or wrong) is `http_unauthorized`. The request line is the last
 * quoted field and is only used to classify probes (../access-log.ts). The event time is the syslog time;
 * HAProxy's own accept date is used only for lines without one (journal).
 */
import { splitHostPort } from "../../core/ip.ts";
import { readClfDate } from "../../framing/timestamps.ts";
import { classifyResponse, HTTP, HTTP_FAILURES, pathOf, setRequest, splitRequest } from "../access-log.ts";
import { newEvent } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

/** Index after the next space-separated token starting at `i`, or -1. */
function skipToken(s: string, i: number): number {
  const sp = s.indexOf(" ", i);
  return sp <= i ? -1 : sp + 1;
}

export const haproxy: ParserDefinition = {
  id: "haproxy",
  description:
    "HAProxy HTTP logs: 401 responses (http-request auth), probes for well-known attack paths, 403s",
  programs: ["haproxy"],
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
        const sp = s.indexOf(" [");
        if (sp <= 0 || sp > 60) return;
        const date = readClfDate(s, sp + 2, time);
        if (!date || s.charCodeAt(date.end) !== 93 || s.charCodeAt(date.end + 1) !== 32) return;
        // frontend, backend/server, timers, then the status
        let i = date.end + 2;
        for (let k = 0; k < 3 && i > 0; k++) i = skipToken(s, i);
        if (i < 0) return;
        const sEnd = s.indexOf(" ", i);
        if (sEnd !== i + 3) return;
        const status = Number(s.slice(i, sEnd));
        if (!(status >= 400 && status < 500) && !(status < 400 && s.includes('"POST ', sEnd))) return;
        const q = s.indexOf(' "', sEnd);
        let method: string | undefined;
        let target: string | undefined;
        if (q > 0 && s.endsWith('"')) ({ method, target } = splitRequest(s.slice(q + 2, s.length - 1)));
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
        e.event.category =
          action === HTTP.unauthorized || action === HTTP.login ? ["authentication", "web"] : ["web"];
        e.source = { ip: client.ip, port: client.port };
        setRequest(e, method, target, status);
        out.push(e);
      },
    };
  },
};
