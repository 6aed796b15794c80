/**
 * Security headers, computed once with helmet and set on every response from a table.
 *
 * Why not @fastify/helmet: its onRequest hook calls `helmet(config)` for every request, which rebuilds every
 * middleware and re-validates the CSP directives each time; on this 2-core machine that alone cut HTTPS
 * throughput of a trivial route from ~5,000 to ~500 requests/s. Our headers do not vary per request (no CSP
 * nonces), so helmet runs here once per profile and the hook only copies strings.
 *
 * Two profiles: the JSON API and the docs pages. The API gets the set OWASP's REST Security Cheat Sheet lists
 * (HSTS, nosniff, frame denial, `default-src 'none'`, no-referrer, same-origin resources, `Cache-Control:
 * no-store`) and none of helmet's headers that only mean something to an HTML page in a browser (they cost
 * bytes and header validation on every response); the docs pages get helmet's defaults, which the Swagger UI
 * works with (scripts and styles from 'self').
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import helmet, { type HelmetOptions } from "helmet";

/** The headers helmet would set with these options. */
export function helmetHeaders(options: Readonly<HelmetOptions>): Readonly<Record<string, string>> {
  const headers: Record<string, string> = {};
  const res = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = typeof value === "object" ? value.join(", ") : String(value);
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()];
    },
  };
  helmet(options)({} as IncomingMessage, res as unknown as ServerResponse, (err?: unknown) => {
    if (err) throw err instanceof Error ? err : new Error("helmet failed");
  });
  return Object.freeze(headers);
}

export const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  ...helmetHeaders({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
    },
    frameguard: { action: "deny" },
    crossOriginOpenerPolicy: false,
    originAgentCluster: false,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xPermittedCrossDomainPolicies: false,
    xXssProtection: false,
  }),
  "cache-control": "no-store",
});

export const DOCS_HEADERS = helmetHeaders({});
