/**
 * The CLI's way to a running daemon: its HTTPS API, with the local admin token the daemon keeps in
 * <data_dir>/cli.token (root only) and its certificate pinned from <data_dir>/tls/api.crt. When no daemon runs
 * (or its API is off), commands fall back to reading and writing the store directly (see local.ts).
 */
import { existsSync, readFileSync } from "node:fs";
import { request } from "node:https";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import type { StoredAlert, StoredDecision, StoredAudit } from "../store/store.ts";
import { runningPid } from "./pid.ts";

export interface ApiTarget {
  url: string;
  token: string;
  ca?: string;
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
