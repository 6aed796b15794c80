/**
 * The API's error catalogue: every error body is `{ "error": { "code", "message", "details"? } }` with a code
 * from this table. Codes are stable (scripts and SIEM connectors match on them); messages may change.
 *
 * Refusals of a well-formed ban request (allowlisted, too wide, the caller's own address, not an address) are
 * 422: the request was understood and will never succeed as sent, so a sender must not retry it. The circuit
 * breaker is 503 with Retry-After: the refusal is temporary and a later retry is what should happen (nothing
 * valid is lost). See src/api/README.md.
 */
import type { PolicyOutcome } from "../policy/policy.ts";

export const API_ERRORS = {
  BAD_REQUEST: { status: 400, message: "The request is malformed" },
  BODY_EMPTY: { status: 400, message: "The request body is empty" },
  JSON_INVALID: { status: 400, message: "The body is not valid JSON" },
  JSON_TOO_DEEP: { status: 400, message: "The JSON body is nested too deeply" },
  JSON_FORBIDDEN_KEY: { status: 400, message: "The JSON body contains a forbidden key (__proto__)" },
  INVALID_QUERY: { status: 400, message: "A query parameter is invalid" },
  TOKEN_IN_QUERY: {
    status: 400,
    message:
      "Tokens are never accepted in the URL (they end up in logs): send Authorization: Bearer <token>, and rotate this token",
  },
  AUTH_REQUIRED: { status: 401, message: "Authentication required: Authorization: Bearer <token>" },
  TOKEN_MALFORMED: { status: 401, message: "The bearer token is not a Portcullis token (pcl_<id>_<secret>)" },
  TOKEN_INVALID: { status: 401, message: "The bearer token is not valid" },
  TOKEN_REVOKED: { status: 401, message: "The bearer token has been revoked" },
  SIGNATURE_MISSING: { status: 401, message: "This endpoint requires a signed request" },
  SIGNATURE_MALFORMED: { status: 401, message: "The signature headers are malformed" },
  SIGNATURE_INVALID: { status: 401, message: "The request signature does not match" },
  SIGNATURE_EXPIRED: { status: 401, message: "The request timestamp is outside the accepted window" },
  SIGNATURE_REPLAYED: { status: 401, message: "The request signature was already used" },
  SCOPE_INSUFFICIENT: { status: 403, message: "The token's scopes do not allow this request" },
  SOURCE_NOT_ALLOWED: { status: 403, message: "The token may not be used from this address" },
  NOT_FOUND: { status: 404, message: "No such endpoint" },
  UNKNOWN_WEBHOOK_KIND: { status: 404, message: "No webhook handler of this kind" },
  NOT_BANNED: { status: 404, message: "The target is not banned" },
  BODY_TOO_LARGE: { status: 413, message: "The request body is too large" },
  TOO_MANY_ALERTS: { status: 413, message: "Too many alerts in one request" },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: "Send Content-Type: application/json" },
  VALIDATION_FAILED: { status: 422, message: "The request body does not match the schema" },
  PAYLOAD_INVALID: { status: 422, message: "The webhook payload is not what this kind expects" },
  INVALID_IP: { status: 422, message: "Not a valid IP address" },
  REFUSED_ALLOWLISTED: { status: 422, message: "The address is allowlisted and is never banned" },
  REFUSED_TOO_WIDE: { status: 422, message: "The range is wider than the policy allows" },
  REFUSED_OWN_ADDRESS: { status: 422, message: "The address is the caller's own" },
  RATE_LIMITED: { status: 429, message: "Too many requests" },
  AUTH_RATE_LIMITED: { status: 429, message: "Too many failed authentications from this address" },
  INTERNAL: { status: 500, message: "Internal error" },
  UNAVAILABLE: { status: 503, message: "The daemon could not process the request; retry later" },
  CIRCUIT_BREAKER_OPEN: { status: 503, message: "The ban-rate circuit breaker is open; retry later" },
  STREAM_FULL: { status: 503, message: "Too many stream clients" },
} as const satisfies Record<string, { status: number; message: string }>;

export type ApiErrorCode = keyof typeof API_ERRORS;

export interface ErrorDetail {
  path: string;
  message: string;
}

export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  readonly details: readonly ErrorDetail[] | undefined;
  readonly headers: Record<string, string> | undefined;
  constructor(
    code: ApiErrorCode,
    message?: string,
    opts: { details?: ErrorDetail[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(message ?? API_ERRORS[code].message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "ApiError";
    this.code = code;
    this.status = API_ERRORS[code].status;
    this.details = opts.details;
    this.headers = opts.headers;
  }

  body(extra: Record<string, unknown> = {}): Record<string, unknown> {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details?.length ? { details: this.details } : {}),
      },
      ...extra,
    };
  }
}

/** What happened to one target, as the API reports it: the policy's outcomes plus the API's own. */
export type ResultOutcome = PolicyOutcome | "refused_own_address" | "failed";

const ACCEPTED: ReadonlySet<ResultOutcome> = new Set(["banned", "extended", "already_banned", "alert_only"]);

export function isAccepted(o: ResultOutcome): boolean {
  return ACCEPTED.has(o);
}

/** The error code for a refused or failed outcome (undefined for accepted ones). */
export function outcomeError(o: ResultOutcome): ApiErrorCode | undefined {
  switch (o) {
    case "refused_allowlisted":
      return "REFUSED_ALLOWLISTED";
    case "refused_too_wide":
      return "REFUSED_TOO_WIDE";
    case "refused_invalid":
      return "INVALID_IP";
    case "refused_own_address":
      return "REFUSED_OWN_ADDRESS";
    case "refused_circuit_breaker":
      return "CIRCUIT_BREAKER_OPEN";
    case "failed":
      return "UNAVAILABLE";
    default:
      return undefined;
  }
}

/**
 * One status for a set of results: a failure (503) wins, so the sender retries and nothing valid is lost
 * (accepted targets come back as already_banned); then the circuit breaker (503); then any accepted target
 * (200); otherwise the first refusal (422).
 */
export function combinedError(outcomes: readonly ResultOutcome[]): ApiErrorCode | undefined {
  if (outcomes.includes("failed")) return "UNAVAILABLE";
  if (outcomes.includes("refused_circuit_breaker")) return "CIRCUIT_BREAKER_OPEN";
  if (!outcomes.length || outcomes.some(isAccepted)) return undefined;
  return outcomeError(outcomes[0]!);
}

export const RETRY_AFTER_SECONDS: Partial<Record<ApiErrorCode, number>> = {
  CIRCUIT_BREAKER_OPEN: 60,
  UNAVAILABLE: 5,
};

interface FastifyLikeError {
  code?: string;
  statusCode?: number;
  message?: string;
  validation?: { instancePath?: string; message?: string }[];
  validationContext?: string;
}

/** Any thrown value as an {@link ApiError}: ours as is, fastify's and the core's by code, the rest as INTERNAL. */
export function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  const err = (e ?? {}) as FastifyLikeError;
  if (e instanceof Error && err.code === "INVALID_IP") return new ApiError("INVALID_IP", err.message);
  if (err.validation) {
    const details = err.validation.map((v) => ({
      path: (v.instancePath ?? "").replace(/^\//, "").replace(/\//g, ".") || "(root)",
      message: v.message ?? "invalid",
    }));
    const text = details.map((d) => `${d.path}: ${d.message}`).join("; ");
    return err.validationContext === "body"
      ? new ApiError("VALIDATION_FAILED", `Invalid body: ${text}`, { details })
      : new ApiError("INVALID_QUERY", `Invalid ${err.validationContext ?? "request"}: ${text}`, { details });
  }
  switch (err.code) {
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
    case "FST_ERR_CTP_INVALID_TYPE":
    case "FST_ERR_CTP_EMPTY_TYPE":
      return new ApiError("UNSUPPORTED_MEDIA_TYPE");
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return new ApiError("BODY_TOO_LARGE");
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
      return new ApiError("BODY_EMPTY");
    case "FST_ERR_NOT_FOUND":
      return new ApiError("NOT_FOUND");
    default:
      break;
  }
  const status = err.statusCode ?? 500;
  if (status === 413) return new ApiError("BODY_TOO_LARGE");
  if (status === 415) return new ApiError("UNSUPPORTED_MEDIA_TYPE");
  if (status >= 400 && status < 500) return new ApiError("BAD_REQUEST", err.message?.slice(0, 200));
  return new ApiError("INTERNAL", undefined, { cause: e });
}
