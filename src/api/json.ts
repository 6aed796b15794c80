/**
 * The API's only body parser: `application/json`, with the raw bytes kept (HMAC signatures are computed over
 * them), a nesting-depth limit checked before parsing (a linear scan; deep nesting is refused, not recursed
 * into) and `__proto__` keys refused.
 */
import { ApiError } from "./errors.ts";

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Greatest nesting depth of the arrays and objects in `buf` (strings skipped); stops early past `limit`. */
export function jsonDepth(buf: Uint8Array, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < buf.length; i++) {
    const c = buf[i]!;
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) {
        max = depth;
        if (max > limit) return max;
      }
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return max;
}

const PROTO_HINT = /__proto__|\\u/;

function noProto(key: string, value: unknown): unknown {
  if (key === "__proto__") throw new ApiError("JSON_FORBIDDEN_KEY");
  return value;
}

/** Parses a JSON body; throws an {@link ApiError} with a precise code. An empty body is an error. */
export function parseJsonBody(buf: Buffer, maxDepth: number): unknown {
  if (!buf.length) throw new ApiError("BODY_EMPTY");
  if (jsonDepth(buf, maxDepth) > maxDepth) {
    throw new ApiError("JSON_TOO_DEEP", `The JSON body is nested deeper than ${maxDepth} levels`);
  }
  const text = buf.toString("utf8");
  if (!text.trim()) throw new ApiError("BODY_EMPTY");
  try {
    // The reviver is slower; it only runs when the key could be present (also spelled with \u escapes).
    return PROTO_HINT.test(text) ? (JSON.parse(text, noProto) as unknown) : (JSON.parse(text) as unknown);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw new ApiError("JSON_INVALID", `The body is not valid JSON: ${(e as Error).message.slice(0, 200)}`);
  }
}
