/**
 * The CLI's way to a running daemon: its HTTPS API, with the local admin token the daemon keeps in
 * <data_dir>/cli.token (root only) and its certificate pinned from <data_dir>/tls/api.crt. When no daemon runs
 * (or its API is off), commands fall back to reading and writing the store directly (see local.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { SIGNATURE_HEADER, TIMESTAMP_HEADER, sign } from "../auth/signatures.ts";
import { SystemClock } from "../core/clock.ts";
import type { StoredAlert, StoredDecision, StoredAudit } from "../store/store.ts";
import { runningPid } from "./pid.ts";

export interface ApiTarget {
  url: string;
  token: string;
  ca?: string;
  /**
   * Secrets to sign requests with (`api.signatures`): each request carries X-Portcullis-Timestamp and one
   * `sha256=` value per secret in X-Portcullis-Signature (the server accepts any match, so a file holding the
   * new and the old secret keeps working through a rotation).
   */
  signingSecrets?: readonly string[];
}

/** Most signatures the server looks at in one X-Portcullis-Signature header. */
const MAX_SIGNATURES = 8;

/**
 * The signing secrets of a secret file, read as the server reads `api.signatures.secret_file`: one per line,
 * blank lines and `#` comments skipped, each at least 16 characters. Throws (with a message naming the file,
 * never a secret) when the file cannot be read or holds no usable secret.
 */
export function readSigningSecrets(path: string): string[] {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new Error(
      `cannot read the signing secret file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { cause: e },
    );
  }
  const secrets = text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("#"));
  if (!secrets.length) throw new Error(`the signing secret file ${path} holds no secret`);
  if (secrets.some((s) => s.length < 16))
    throw new Error(`every secret in the signing secret file ${path} needs at least 16 characters`);
  if (secrets.length > MAX_SIGNATURES)
    throw new Error(`the signing secret file ${path} holds more than ${MAX_SIGNATURES} secrets`);
  return secrets;
}

/** The two signature headers for `body` (the exact bytes sent; empty for a request without a body). */
export function signatureHeaders(
  secrets: readonly string[],
  body: string,
  now = SystemClock.now(),
): Record<string, string> {
  const timestamp = String(Math.floor(now / 1000));
  return {
    [TIMESTAMP_HEADER]: timestamp,
    [SIGNATURE_HEADER]: secrets.map((s) => sign(Buffer.from(s, "utf8"), timestamp, body)).join(", "),
  };
}

const TIME_KEYS = ["@timestamp", "expires", "ended_at", "first_seen", "last_seen", "at", "started", "now"];

/** API records carry ISO times; the CLI's renderers use epoch ms. */
function revive<T>(r: unknown): T {
  if (Array.isArray(r)) return r.map((x) => revive(x)) as T;
  if (r === null || typeof r !== "object") return r as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(r)) {
    if (TIME_KEYS.includes(k) && typeof v === "string" && !Number.isNaN(Date.parse(v)))
      out[k] = Date.parse(v);
    else if (k === "events") out[k] = v;
    else if (v && typeof v === "object") out[k] = revive(v);
    else out[k] = v;
  }
  return out as T;
}

/** The running daemon's API for this data directory, if there is one the CLI may use. */
export function localApi(dataDir: string): ApiTarget | undefined {
  if (runningPid(dataDir) === undefined) return undefined;
  try {
    const status = JSON.parse(readFileSync(join(dataDir, "status.json"), "utf8")) as {
      apiUrl?: string;
      running?: boolean;
    };
    const token = readFileSync(join(dataDir, "cli.token"), "utf8").trim();
    if (!status.apiUrl || !token) return undefined;
    const caPath = join(dataDir, "tls", "api.crt");
    return { url: status.apiUrl, token, ...(existsSync(caPath) ? { ca: readFileSync(caPath, "utf8") } : {}) };
  } catch {
    return undefined;
  }
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: Record<string, unknown>,
  ) {
    const e = body.error as { code?: string; message?: string } | undefined;
    super(e?.message ?? `HTTP ${status}`);
  }
}

export class ApiClient {
  constructor(readonly target: ApiTarget) {}

  async call(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: Record<string, unknown> }> {
    const url = new URL(path, this.target.url);
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = url.protocol === "https:" ? request : httpRequest;
    return new Promise((resolve, reject) => {
      const r = req(
        url,
        {
          method,
          headers: {
            authorization: `Bearer ${this.target.token}`,
            accept: "application/json",
            ...(payload !== undefined ? { "content-type": "application/json" } : {}),
            ...(this.target.signingSecrets?.length
              ? signatureHeaders(this.target.signingSecrets, payload ?? "")
              : {}),
            ...headers,
          },
          ...(this.target.ca ? { ca: this.target.ca } : {}),
          timeout: 15_000,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => {
            const text = Buffer.concat(chunks).toString("utf8");
            let parsed: Record<string, unknown> = {};
            try {
              parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
            } catch {
              parsed = { error: { message: text.slice(0, 200) } };
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      r.on("timeout", () => r.destroy(new Error(`no answer from ${url.origin} within 15 s`)));
      r.on("error", reject);
      r.end(payload);
    });
  }

  async get<T>(path: string, key: string): Promise<T> {
    const r = await this.call("GET", path);
    if (r.status !== 200) throw new ApiError(r.status, r.body);
    return revive<T>(r.body[key]);
  }

  decisions(q: string): Promise<StoredDecision[]> {
    return this.get(`/v1/decisions?${q}`, "items");
  }

  alerts(q: string): Promise<StoredAlert[]> {
    return this.get(`/v1/alerts?${q}`, "items");
  }

  async explain(target: string): Promise<{
    decisions: StoredDecision[];
    alerts: StoredAlert[];
    audit: StoredAudit[];
    allowlisted?: { cidr: string; why: string };
  }> {
    const r = await this.call("GET", `/v1/explain/${encodeURIComponent(target)}`);
    if (r.status !== 200) throw new ApiError(r.status, r.body);
    return revive(r.body);
  }
}
