/**
 * lighttpd's error log: mod_auth failures (basic and digest), as a plain file or through syslog / journald
 * (program `lighttpd`).
 *
 *   2011-12-25 17:09:20: (http_auth.c.875) password doesn't match for /gitweb/ username: alice, IP: 192.0.2.1
 *   2021-09-30 16:05:33: (mod_auth.c.828) password doesn't match for /secure/ username: bob IP: 192.0.2.2
 *   2012-09-26 10:24:35: (http_auth.c.1136) digest: auth failed for  carol : wrong password, IP: 192.0.2.3
 *   2023-03-01 10:00:00: (mod_auth.c.1201) digest: auth failed for carol: wrong password, IP: 192.0.2.3
 *   2013-08-25 00:24:55: (http_auth.c.877) get_password failed, IP: 192.0.2.4
 *   2021-09-30 17:44:37: (mod_auth.c.791) digest: auth failed: uri mismatch (/a != /b), IP: 192.0.2.5
 *
 * lighttpd writes the client address last (`IP: ADDR` ends the line), after the URI and the user name, so the
 * address is the text after the last `IP: ` and must be the whole remainder of the line.
 */
import { canonicalIp } from "../../core/ip.ts";
import { newEvent, setUser } from "../event.ts";
import type { LineParser, ParserDefinition } from "../types.ts";

const AUTH_FAILED = "lighttpd_auth_failed";

/** Start of the text after `(mod_auth.c.828) ` (the opening parenthesis is missing in some versions). */
function messageStart(s: string): number {
  let i = s.charCodeAt(0) === 58 && s.charCodeAt(1) === 32 ? 2 : 0; // `: ` left by the plain-file framing
  if (s.charCodeAt(i) === 40) i++;
  const close = s.indexOf(") ", i);
  if (close < 0 || close - i > 40) return -1;
  const src = s.slice(i, close);
  // `mod_auth.c.828`, `http_auth.c.875`, `mod_authn_file.c.90`
  if (!/^(?:mod|http)_auth\w*\.c\.\d+$/.test(src)) return -1;
  return close + 2;
}

function userOf(s: string, at: number, ipAt: number): string | undefined {
  let k = s.indexOf(" username: ", at);
  if (k >= 0 && k < ipAt) {
    let end = ipAt;
    while (end > k + 11 && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 44)) end--;
    return s.slice(k + 11, end);
  }
  k = s.indexOf("auth failed for ", at);
  if (k >= 0 && k < ipAt) {
    // Old versions separate log arguments with spaces: `auth failed for ` + ` ` + user + ` ` + `: wrong password`;
    // later ones write `auth failed for USER: wrong password`.
    let start = k + 16;
    if (s.charCodeAt(start) === 32) start++;
    let end = s.lastIndexOf(": wrong password", ipAt);
    if (end < 0) end = s.lastIndexOf(" : ", ipAt);
    else if (end > start && s.charCodeAt(end - 1) === 32) end--;
    if (end >= start) return s.slice(start, end);
  }
  return undefined;
}

export const lighttpd: ParserDefinition = {
  id: "lighttpd",
  description: "lighttpd mod_auth failures (basic and digest): wrong passwords, unknown users, digest errors",
  programs: ["lighttpd"],
  probe(frame) {
    const s = frame.message;
    // A plain `2011-12-25 17:09:20: (mod_auth.c.875) ...` line is framed as an ISO time followed by `: (...`.
    return (
      frame.format === "iso" &&
      frame.program === undefined &&
      s.charCodeAt(0) === 58 &&
      (s.startsWith("(", 2) || s.startsWith("mod_", 2) || s.startsWith("http_", 2))
    );
  },
  modes: { normal: [AUTH_FAILED] },
  actions: [AUTH_FAILED],
  create(): LineParser {
    return {
      parse(frame, out) {
        const s = frame.message;
        const at = messageStart(s);
        if (at < 0) return;
        const ipAt = s.lastIndexOf("IP: ");
        if (ipAt < at || (s.charCodeAt(ipAt - 1) !== 32 && s.charCodeAt(ipAt - 1) !== 44)) return;
        const ip = canonicalIp(s.slice(ipAt + 4).trimEnd());
        if (ip === undefined) return;
        const e = newEvent(frame, "lighttpd", AUTH_FAILED, "failure");
        e.event.category = ["authentication", "web"];
        let end = ipAt;
        while (end > at && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 44)) end--;
        e.event.reason = s.slice(at, end);
        e.source = { ip };
        setUser(e, userOf(s, at, ipAt));
        out.push(e);
      },
    };
  },
};
