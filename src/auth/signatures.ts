/**
 * HMAC request signatures for senders that can sign (Stripe/Standard-Webhooks-like):
 *
 *   X-Portcullis-Timestamp: <Unix seconds>
 *   X-Portcullis-Signature: sha256=<lower-case hex of HMAC-SHA256(secret, "<timestamp>.<raw body>")>
 *
 * Several `sha256=` values may be sent, separated by commas or spaces, and several secrets may be configured
 * (rotation): any match passes. The raw bytes received are verified, never re-serialised JSON.
 *
 * Replay protection: the timestamp must be within `window` of now (either direction), and a request whose
 * timestamp and body were already accepted within the window is refused, whichever secret signed it and whichever
 * of its signatures is sent again (the cache is keyed on SHA-256 of "<timestamp>.<body>", not on a signature, so
 * a sender holding two secrets cannot be replayed once per secret). The cache of seen signatures is bounded; when it is full the oldest
 * entries are dropped and every timestamp not newer than the newest dropped one is refused as expired, so a
 * dropped signature can never be replayed (under a flood the effective window shrinks; it never opens).
 *
 * Identical bodies sent twice within the same second carry the same signature and the second is a replay: a
 * sender that may do so puts a unique id in its body.
 */
import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Clock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";

export const TIMESTAMP_HEADER = "x-portcullis-timestamp";
export const SIGNATURE_HEADER = "x-portcullis-signature";

export type SignatureFailure =
  | "SIGNATURE_MISSING"
  | "SIGNATURE_MALFORMED"
  | "SIGNATURE_EXPIRED"
  | "SIGNATURE_INVALID"
  | "SIGNATURE_REPLAYED";

export type SignatureCheck = { ok: true } | { ok: false; code: SignatureFailure; message: string };

export interface SignatureOptions {
  /** Secrets (bytes); any one may have signed. */
  secrets: readonly Buffer[];
  /** Accepted distance between the timestamp and now (ms). */
  window: number;
  /** Most signatures remembered for replay detection. Default 100,000 (about 10 MB). */
  maxCache?: number;
}

/** The header value a sender puts in X-Portcullis-Signature. */
export function sign(secret: Buffer | string, timestamp: number | string, body: Buffer | string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest("hex")}`;
}

const SIG_RE = /^sha256=([0-9a-f]{64})$/;
const TS_RE = /^\d{1,12}$/;

export class SignatureVerifier {
  readonly #secrets: readonly Buffer[];
  readonly #window: number;
  readonly #max: number;
  readonly #clock: Clock;
  /** SHA-256 hex of "<timestamp>.<body>" -> timestamp (ms), in insertion order. */
  readonly #seen = new Map<string, number>();
  /** Timestamps at or below this are refused (their signatures may have been dropped from the cache). */
  #floor = Number.NEGATIVE_INFINITY;

  constructor(opts: SignatureOptions, clock: Clock) {
    if (!opts.secrets.length) throw new Error("SignatureVerifier needs at least one secret");
    this.#secrets = opts.secrets;
    this.#window = opts.window;
    this.#max = Math.max(1, opts.maxCache ?? 100_000);
    this.#clock = clock;
  }

  get cached(): number {
    return this.#seen.size;
  }

  verify(timestamp: string | undefined, signature: string | undefined, body: Buffer): SignatureCheck {
    if (timestamp === undefined && signature === undefined) {
      return fail("SIGNATURE_MISSING", `${TIMESTAMP_HEADER} and ${SIGNATURE_HEADER} are required`);
    }
    if (timestamp === undefined || !TS_RE.test(timestamp)) {
      return fail("SIGNATURE_MALFORMED", `${TIMESTAMP_HEADER} must be Unix seconds`);
    }
    const candidates: Buffer[] = [];
    for (const part of (signature ?? "").split(/[\s,]+/)) {
      if (!part) continue;
      const m = SIG_RE.exec(part);
      if (m) candidates.push(Buffer.from(m[1]!, "hex"));
    }
    if (!candidates.length || candidates.length > 8) {
      return fail("SIGNATURE_MALFORMED", `${SIGNATURE_HEADER} must be sha256=<64 hex digits> (up to 8)`);
    }
    const now = this.#clock.now();
    const ts = Number(timestamp) * 1000;
    if (Math.abs(now - ts) > this.#window) {
      return fail(
        "SIGNATURE_EXPIRED",
        `timestamp is outside the ${Math.round(this.#window / 1000)} s window`,
      );
    }
    if (ts <= this.#floor) {
      return fail(
        "SIGNATURE_EXPIRED",
        "timestamp too old for the replay cache (under load); send a fresh one",
      );
    }
    let matched = false;
    for (const secret of this.#secrets) {
      const expected = createHmac("sha256", secret).update(`${timestamp}.`).update(body).digest();
      for (const c of candidates) {
        if (timingSafeEqual(expected, c)) matched = true;
      }
    }
    if (!matched) return fail("SIGNATURE_INVALID", "signature does not match the body and timestamp");
    const key = createHash("sha256").update(`${timestamp}.`).update(body).digest("hex");
    this.#prune(now);
    if (this.#seen.has(key)) {
      return fail("SIGNATURE_REPLAYED", "this timestamp and body were already accepted");
    }
    while (this.#seen.size >= this.#max) {
      const [oldKey, oldTs] = this.#seen.entries().next().value as [string, number];
      this.#seen.delete(oldKey);
      if (oldTs > this.#floor) this.#floor = oldTs;
    }
    this.#seen.set(key, ts);
    return { ok: true };
  }

  /** Drops entries from the front while they are out of the window (insertion order is nearly time order). */
  #prune(now: number): void {
    for (const [k, ts] of this.#seen) {
      if (ts >= now - this.#window) break;
      this.#seen.delete(k);
    }
  }
}

function fail(code: SignatureFailure, message: string): SignatureCheck {
  return { ok: false, code, message };
}

/**
 * Reads signing secrets: the environment variable's value, or the file's lines (blank lines and `#` comments
 * skipped). Several secrets (one per line) allow rotation. Each must be at least 16 characters.
 */
export function readSecrets(
  source: { env?: string; file?: string },
  environment: NodeJS.ProcessEnv = process.env,
): Buffer[] {
  let lines: string[];
  let where: string;
  if (source.env !== undefined) {
    where = `environment variable ${source.env}`;
    const v = environment[source.env];
    if (v === undefined) throw new PortcullisError("CONFIG_INVALID", `api.signatures: ${where} is not set`);
    lines = v.split(/\r?\n/);
  } else if (source.file !== undefined) {
    where = source.file;
    try {
      lines = readFileSync(source.file, "utf8").split(/\r?\n/);
    } catch (e) {
      throw new PortcullisError(
        "CONFIG_INVALID",
        `api.signatures: cannot read ${where}: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
  } else return [];
  const secrets = lines.map((l) => l.trim()).filter((l) => l && !l.startsWith("#"));
  if (!secrets.length)
    throw new PortcullisError("CONFIG_INVALID", `api.signatures: ${where} holds no secret`);
  if (secrets.some((s) => s.length < 16)) {
    throw new PortcullisError(
      "CONFIG_INVALID",
      `api.signatures: every secret in ${where} needs at least 16 characters`,
    );
  }
  return secrets.map((s) => Buffer.from(s, "utf8"));
}
