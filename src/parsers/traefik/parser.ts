/**
 * Traefik's access log in its Common Log Format (`accessLog: {format: common}`), as a plain file or through
 * syslog / journald (program `traefik`):
 *
 *   192.0.2.2 - alice [18/Nov/2018:21:34:34 +0000] "GET /dashboard/ HTTP/2.0" 401 17 "-" "Mozilla/5.0" 72 "Auth for frontend-Host-traefik-0" "/dashboard/" 0ms
 *
 * It is CLF plus `<request count> "<router>" "<service URL>" <duration>ms`; that tail is how a plain line is
 * recognised as Traefik's (the nginx and apache probes leave such lines alone). Reading and classification are
 * the shared ones (../access-log.ts): the client is the first field, the user field says whether credentials
 * were sent.
 */
import { accessEvent, hasTraefikTail, HTTP, HTTP_FAILURES, looksLikeAccessLine } from "../access-log.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

export const traefik: ParserDefinition = {
  id: "traefik",
  description:
    "Traefik access log: 401s with and without credentials, probes for well-known attack paths, 403s",
  programs: ["traefik"],
  probe(frame) {
    const s = frame.message;
    return frame.program === undefined && hasTraefikTail(s) && looksLikeAccessLine(s);
  },
  modes: {
    normal: [HTTP.authFailed, HTTP.probe],
    auth: [HTTP.authFailed],
    ddos: [HTTP.unauthorized],
    botsearch: [HTTP.probe],
    aggressive: [...HTTP_FAILURES],
  },
  actions: [...HTTP_FAILURES, HTTP.login],
  create({ time }): LineParser {
    return {
      parse(frame, out) {
        if (!looksLikeAccessLine(frame.message)) return;
        const e = accessEvent(frame, "traefik", time);
        if (e) out.push(e);
      },
    };
  },
};
