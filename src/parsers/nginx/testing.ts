/**
 * Test support: nginx error records written as nginx 1.22 writes them (ngx_log_error_core), to test the
 * forged-record guard (records.ts) without an nginx; test/nginx checks the same against a real nginx.
 */
import { MAX_RECORD } from "./records.ts";

/**
 * One `open()` failure record for `path` (decoded, so it may hold line feeds): header, message, errno (the
 * message cut at 2048 - 50 bytes with "..." when longer), then the HTTP context (cut at what is left), in at
 * most 2048 bytes with its line feed. Returns its lines.
 */
export function nginxOpenRecord(
  path: string,
  request: string,
  client = "203.0.113.9",
  message: { before: string; after: string; errno: string } = {
    before: 'open() "',
    after: '" failed',
    errno: "2: No such file or directory",
  },
): string[] {
  let p = `2024/06/03 10:11:12 [error] 7#7: *9 ${message.before}/var/www/html${path}${message.after}`;
  if (p.length > MAX_RECORD - 50) p = p.slice(0, MAX_RECORD - 50) + "...";
  p += ` (${message.errno})`;
  const context = `, client: ${client}, server: example.com, request: "${request}", host: "example.com"`;
  p += context.slice(0, Math.max(0, MAX_RECORD - 1 - p.length));
  return p.split("\n");
}

/** `s` as a client writes it in a request path: `%`, quotes, `#`, `?`, spaces and line feeds encoded. */
export const encodePath = (s: string): string =>
  s.replace(/[%"# ?\r\n]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`);

/** A complete-looking auth failure naming `victim`: what an attacker puts between the line feeds. */
export const forgedAuthFailure = (victim: string): string =>
  `2024/06/03 10:11:12 [error] 1#1: *1 user "admin": password mismatch, client: ${victim}, server: example.com, request: "GET /secret HTTP/1.1", host: "example.com"`;

/** The lines one request for `/x` + (LF + forged line) x n writes into nginx's error log. */
export function injectionRecord(victim: string, n: number, client = "203.0.113.9"): string[] {
  const path = `/x${`\n${forgedAuthFailure(victim)}`.repeat(n)}\ny`;
  return nginxOpenRecord(path, `GET ${encodePath(path)} HTTP/1.1`, client);
}
