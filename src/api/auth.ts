/**
 * Who may call what. Runs in `onRequest`, before the body is read, in this order (the order is the point:
 * @fastify/rate-limit's own route hooks would run after an auth hook that answers 401, so a flood of bad tokens
 * would never be limited; here the limiters are called explicitly):
 *
 *   1. a token in the query string            -> 400 TOKEN_IN_QUERY (never accepted, whatever the route)
 *   2. per-source rate limit                  -> 429 RATE_LIMITED
 *   3. route needs no token                   -> done (health, docs, 404s)
 *   4. no Authorization header                -> /metrics from `metrics_allow`: done; else 401 AUTH_REQUIRED
 *   5. too many failed authentications        -> 429 AUTH_RATE_LIMITED (checked before hashing anything)
 *   6. token malformed / unknown / revoked    -> 401 TOKEN_MALFORMED / TOKEN_INVALID / TOKEN_REVOKED
 *   7. source outside the token's allowlist   -> 403 SOURCE_NOT_ALLOWED
 *   8. scope                                  -> 403 SCOPE_INSUFFICIENT
 *   9. per-token rate limit                   -> 429 RATE_LIMITED
 *
 * Signatures are checked later (they need the body): see {@link checkSignature}.
 */
import type { FastifyRequest } from "fastify";
import { scopeAllows, type Scope, type TokenVerifier, type VerifiedToken } from "../auth/tokens.ts";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, type SignatureVerifier } from "../auth/signatures.ts";
import { groupKey, type CidrSet } from "../core/ip.ts";
import { ApiError, type ApiErrorCode } from "./errors.ts";
import type { ApiMetrics } from "./metrics.ts";

/** What a route needs: a scope, no token at all, or the /metrics rule (a read token, or an allowed address). */
export type RouteAuth = Scope | "none" | "metrics";

declare module "fastify" {
  interface FastifyContextConfig {
    /** Default (fail closed): `admin`. */
    auth?: RouteAuth;
    /** Verify X-Portcullis-Signature when signatures are configured. */
    signed?: boolean;
  }
  interface FastifyRequest {
    /** The verified token (null on routes without one). */
    auth: VerifiedToken | null;
    /** Canonical client address (after trusted proxies). */
    clientIp: string;
    /** The raw JSON body (for signatures). */
    rawBody: Buffer | null;
  }
}

type LimitResult =
  | { isAllowed: true }
  | { isAllowed: false; isExceeded: boolean; remaining: number; ttlInSeconds: number; max: number };
export type Limiter = (req: FastifyRequest, opts?: { increment?: boolean }) => Promise<LimitResult>;

export interface AuthDeps {
  tokens: TokenVerifier;
  metricsAllow: CidrSet;
  limiters: { source: Limiter; token: Limiter; authFailures: Limiter };
  metrics: ApiMetrics;
}

const QUERY_TOKEN_NAMES = new Set([
  "token",
  "access_token",
  "accesstoken",
  "api_key",
  "apikey",
  "api-key",
  "key",
  "auth",
  "authorization",
  "bearer",
  "secret",
  "password",
]);

/** Whether a query string carries something that looks like a credential. */
export function queryHasToken(url: string): boolean {
  const q = url.indexOf("?");
  if (q < 0) return false;
  const query = url.slice(q + 1);
  if (/pcl_/i.test(query)) return true;
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    return false;
  }
  // Decoded too: `%70cl_...` is a token as well.
  for (const [k, v] of params) {
    if (v && QUERY_TOKEN_NAMES.has(k.toLowerCase())) return true;
    if (/pcl_/i.test(k) || /pcl_/i.test(v)) return true;
  }
  return false;
}

const BEARER = 'Bearer realm="portcullis"';

function limited(code: ApiErrorCode, r: LimitResult, what: string): ApiError {
  const headers: Record<string, string> = {};
  if (!r.isAllowed) {
    headers["retry-after"] = String(Math.max(1, r.ttlInSeconds));
    headers["x-ratelimit-limit"] = String(r.max);
    headers["x-ratelimit-remaining"] = "0";
    headers["x-ratelimit-reset"] = String(r.ttlInSeconds);
  }
  return new ApiError(code, code === "RATE_LIMITED" ? `Too many requests ${what}; retry later` : undefined, {
    headers,
  });
}

function exceeded(r: LimitResult): boolean {
  return !r.isAllowed && r.isExceeded;
}

export function routeAuth(req: FastifyRequest): RouteAuth {
  if (req.is404) return "none";
  return req.routeOptions.config.auth ?? "admin";
}

/** Most sources remembered as having failed recently (beyond it the memory is reset; see below). */
const MAX_FAILING = 50_000;

export function authHook(deps: AuthDeps): (req: FastifyRequest) => Promise<void> {
  // Sources with failed authentications in the current window: only these pay for a look-up in the failure
  // limiter before their token is checked. If the set overflows it is cleared; a cleared source is checked
  // again after its next failure (the limiter itself keeps counting throughout).
  const failing = new Set<string>();
  const fail = async (req: FastifyRequest, code: ApiErrorCode): Promise<never> => {
    deps.metrics.authFailures.inc({ code });
    if (failing.size >= MAX_FAILING) failing.clear();
    failing.add(groupKey(req.clientIp, 64));
    await deps.limiters.authFailures(req);
    throw new ApiError(code, undefined, {
      headers: { "www-authenticate": `${BEARER}, error="invalid_token"` },
    });
  };
  return async (req) => {
    if (queryHasToken(req.url)) {
      deps.metrics.authFailures.inc({ code: "TOKEN_IN_QUERY" });
      throw new ApiError("TOKEN_IN_QUERY");
    }
    const src = await deps.limiters.source(req);
    if (exceeded(src)) {
      deps.metrics.rateLimited.inc({ limit: "source" });
      throw limited("RATE_LIMITED", src, "from this address");
    }
    const mode = routeAuth(req);
    if (mode === "none") return;
    const header = req.headers.authorization;
    if (header === undefined) {
      if (mode === "metrics" && deps.metricsAllow.has(req.clientIp)) return;
      deps.metrics.authFailures.inc({ code: "AUTH_REQUIRED" });
      throw new ApiError(
        "AUTH_REQUIRED",
        mode === "metrics"
          ? "Metrics need a read token from addresses outside api.metrics_allow: Authorization: Bearer <token>"
          : undefined,
        { headers: { "www-authenticate": BEARER } },
      );
    }
    const source = groupKey(req.clientIp, 64);
    if (failing.has(source)) {
      const failures = await deps.limiters.authFailures(req, { increment: false });
      if (!failures.isAllowed && failures.remaining === 0) {
        deps.metrics.rateLimited.inc({ limit: "auth_failures" });
        throw limited("AUTH_RATE_LIMITED", failures, "");
      }
      if (!failures.isAllowed && failures.remaining === failures.max) failing.delete(source);
    }
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (!m) return fail(req, "TOKEN_MALFORMED");
    const r = await deps.tokens.verify(m[1]!);
    if (!r.ok)
      return fail(
        req,
        r.reason === "malformed"
          ? "TOKEN_MALFORMED"
          : r.reason === "revoked"
            ? "TOKEN_REVOKED"
            : "TOKEN_INVALID",
      );
    const token = r.token;
    if (token.allow && !token.allow.has(req.clientIp)) {
      deps.metrics.authFailures.inc({ code: "SOURCE_NOT_ALLOWED" });
      throw new ApiError("SOURCE_NOT_ALLOWED", `Token ${token.name} may not be used from ${req.clientIp}`);
    }
    const needed: Scope = mode === "metrics" ? "read" : mode;
    if (!scopeAllows(token.scopes, needed)) {
      deps.metrics.authFailures.inc({ code: "SCOPE_INSUFFICIENT" });
      throw new ApiError(
        "SCOPE_INSUFFICIENT",
        `Token ${token.name} has scope ${token.scopes.join(", ")}; this request needs ${needed}`,
      );
    }
    req.auth = token;
    const tok = await deps.limiters.token(req);
    if (exceeded(tok)) {
      deps.metrics.rateLimited.inc({ limit: "token" });
      throw limited("RATE_LIMITED", tok, `for token ${token.name}`);
    }
  };
}

/** For routes marked `signed`: verify the signature when one is sent or required. */
export function checkSignature(
  req: FastifyRequest,
  verifier: SignatureVerifier | undefined,
  required: boolean,
): void {
  if (!verifier || !req.routeOptions.config.signed) return;
  const ts = req.headers[TIMESTAMP_HEADER];
  const sig = req.headers[SIGNATURE_HEADER];
  if (ts === undefined && sig === undefined && !required) return;
  const r = verifier.verify(
    Array.isArray(ts) ? ts.join(",") : ts,
    Array.isArray(sig) ? sig.join(",") : sig,
    req.rawBody ?? Buffer.alloc(0),
  );
  if (!r.ok) throw new ApiError(r.code, r.message);
}
