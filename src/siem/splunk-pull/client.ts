/**
 * A minimal client for Splunk's management REST API (../shared/contracts/splunk.md): runs one search and
 * returns its result rows. Form-encoded requests, `output_mode=json`, `count=0` (Splunk returns 100 rows
 * otherwise), every value left as Splunk sends it (strings, or arrays of strings for multivalue fields).
 *
 * - `oneshot`: `POST /services/search/jobs` with `exec_mode=oneshot`; the results are the response body.
 * - `normal`: create the job (a sid), poll its status until `isDone`/`isFailed`, read `/results`, and always
 *   delete the job, also when the run times out or is aborted (a running search holds one of the user's
 *   few concurrent-search slots).
 *
 * Errors are {@link SplunkError}s with a kind the source uses for its messages and backoff: `auth` (401),
 * `forbidden` (403), `bad_search` (400, or a failed job), `not_found` (404), `busy` (503), `http` (other
 * statuses), `tls`, `network`, `protocol` (not the JSON the contract describes), `too_large`.
 */
import { request as httpsRequest, Agent, type RequestOptions } from "node:https";
import type { IncomingMessage } from "node:http";
import { isObject } from "../values.ts";

export type SplunkErrorKind =
  | "auth"
  | "forbidden"
  | "bad_search"
  | "not_found"
  | "busy"
  | "http"
  | "tls"
  | "network"
  | "protocol"
  | "too_large"
  | "timeout"
  | "secret";

export class SplunkError extends Error {
  readonly kind: SplunkErrorKind;
  readonly status: number | undefined;
  constructor(kind: SplunkErrorKind, message: string, opts: { status?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "SplunkError";
    this.kind = kind;
    this.status = opts.status;
  }
}

export interface SplunkMessage {
  type: string;
  text: string;
}

export interface SearchResults {
  /** Result rows as sent (objects of strings / string arrays; anything else is left to the extractor). */
  rows: unknown[];
  /** `messages` of the results document (INFO, WARN, ERROR...). */
  messages: SplunkMessage[];
  /** Response bytes read, all requests of the run together. */
  bytes: number;
  /** The job's sid (`normal` mode). */
  sid?: string;
}

export interface SearchRequest {
  search: string;
  /** Epoch seconds. */
  earliest: string;
  latest: string;
  mode: "oneshot" | "normal";
  /** Seconds Splunk keeps a `normal` job (it is deleted when read; this bounds an orphan's life). */
  jobTtl: number;
}

export interface ClientOptions {
  /** Base URL (https, port included, no trailing slash). */
  url: string;
  namespace?: { owner: string; app: string } | undefined;
  /** The `Authorization` header value. */
  authorization: string;
  /** PEM CA bundle that verifies the server (default: Node's bundled CAs). */
  ca?: string | undefined;
  /** Do not verify the server's certificate. */
  insecure: boolean;
  maxBytes: number;
  pollInterval: number;
  /** Waits between status polls (abortable; resolves false when aborted). */
  sleep: (ms: number, signal: AbortSignal) => Promise<boolean>;
}

interface Response {
  status: number;
  body: Buffer;
}

const TLS_CODES =
  /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME|ALTNAME|SSL_|DEPTH_ZERO/;
const DELETE_TIMEOUT_MS = 10_000;

export class SplunkClient {
  readonly #o: ClientOptions;
  readonly #base: string;
  #bytes = 0;

  constructor(o: ClientOptions) {
    this.#o = o;
    const ns = o.namespace
      ? `/servicesNS/${encodeURIComponent(o.namespace.owner)}/${encodeURIComponent(o.namespace.app)}`
      : "/services";
    this.#base = `${ns}/search/jobs`;
  }

  /** Runs the search; rejects with a {@link SplunkError} (or the signal's reason once `signal` aborts). */
  async search(req: SearchRequest, signal: AbortSignal): Promise<SearchResults> {
    this.#bytes = 0;
    const agent = new Agent({
      keepAlive: true,
      maxSockets: 1,
      rejectUnauthorized: !this.#o.insecure,
      ...(this.#o.ca !== undefined ? { ca: this.#o.ca } : {}),
    });
    try {
      const form: Record<string, string> = {
        search: req.search,
        earliest_time: req.earliest,
        latest_time: req.latest,
        output_mode: "json",
        exec_mode: req.mode,
      };
      if (req.mode === "oneshot") {
        form.count = "0";
        const r = await this.#call(agent, "POST", this.#base, form, signal);
        return { ...results(r.body), bytes: this.#bytes };
      }
      form.timeout = String(req.jobTtl);
      const created = await this.#call(agent, "POST", this.#base, form, signal);
      const sid = sidOf(created.body);
      try {
        await this.#wait(agent, sid, signal);
        const q = new URLSearchParams({ output_mode: "json", count: "0", offset: "0" });
        const r = await this.#call(
          agent,
          "GET",
          `${this.#job(sid)}/results?${q.toString()}`,
          undefined,
          signal,
        );
        return { ...results(r.body), bytes: this.#bytes, sid };
      } finally {
        await this.#delete(agent, sid);
      }
    } finally {
      agent.destroy();
    }
  }

  #job(sid: string): string {
    return `${this.#base}/${encodeURIComponent(sid)}`;
  }

  async #wait(agent: Agent, sid: string, signal: AbortSignal): Promise<void> {
    for (;;) {
      const r = await this.#call(agent, "GET", `${this.#job(sid)}?output_mode=json`, undefined, signal);
      const content = jobContent(r.body);
      if (content.isFailed === true || content.dispatchState === "FAILED") {
        throw new SplunkError("bad_search", `the search job ${sid} failed: ${messageText(content.messages)}`);
      }
      if (content.isDone === true) return;
      if (!(await this.#o.sleep(this.#o.pollInterval, signal))) signal.throwIfAborted();
    }
  }

  /** Best effort, also after an abort: the job would otherwise hold a concurrency slot until it ends. */
  async #delete(agent: Agent, sid: string): Promise<void> {
    try {
      const path = `${this.#job(sid)}?output_mode=json`;
      await this.#call(agent, "DELETE", path, undefined, AbortSignal.timeout(DELETE_TIMEOUT_MS));
    } catch {
      // the job expires after its ttl anyway
    }
  }

  #call(
    agent: Agent,
    method: "GET" | "POST" | "DELETE",
    path: string,
    form: Record<string, string> | undefined,
    signal: AbortSignal,
  ): Promise<Response> {
    const url = new URL(this.#o.url + path);
    const body = form ? new URLSearchParams(form).toString() : undefined;
    const headers: Record<string, string> = {
      Authorization: this.#o.authorization,
      Accept: "application/json",
      "User-Agent": "portcullis-splunk-pull",
    };
    if (body !== undefined) {
      headers["Content-Type"] = "application/x-www-form-urlencoded";
      headers["Content-Length"] = String(Buffer.byteLength(body));
    }
    const options: RequestOptions = { method, agent, headers, signal };
    return new Promise<Response>((resolve, reject) => {
      const fail = (e: unknown) => reject(signal.aborted ? (signal.reason as Error) : transportError(e));
      const req = httpsRequest(url, options, (res: IncomingMessage) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (c: Buffer) => {
          size += c.length;
          this.#bytes += c.length;
          if (size > this.#o.maxBytes) {
            res.destroy(
              new SplunkError(
                "too_large",
                `response larger than max_response_bytes (${this.#o.maxBytes}): narrow the search`,
              ),
            );
            return;
          }
          chunks.push(c);
        });
        res.on("error", fail);
        res.on("end", () => {
          const status = res.statusCode ?? 0;
          const r = { status, body: Buffer.concat(chunks) };
          if (status >= 200 && status < 300) resolve(r);
          else reject(httpError(method, path, r));
        });
      });
      req.on("error", fail);
      req.end(body);
    });
  }
}

function transportError(e: unknown): Error {
  if (e instanceof SplunkError) return e;
  const err = e as NodeJS.ErrnoException;
  const code = err.code ?? "";
  if (TLS_CODES.test(code) || /certificate|self[- ]signed|TLS|SSL/i.test(err.message)) {
    return new SplunkError(
      "tls",
      `TLS: ${err.message}${code ? ` (${code})` : ""}: set tls.ca_file to the CA that signed the ` +
        "management port's certificate (Splunk's default certificate is self-signed)",
      { cause: e },
    );
  }
  return new SplunkError("network", `cannot reach Splunk: ${err.message}`, { cause: e });
}

function httpError(method: string, path: string, r: Response): SplunkError {
  const text = messageText(parse(r.body)?.messages) || r.body.toString("utf8", 0, 200).trim() || "no message";
  const what = `HTTP ${r.status} on ${method} ${path.split("?")[0]}: ${text}`;
  const kinds: Record<number, [SplunkErrorKind, string]> = {
    400: ["bad_search", `Splunk rejected the search (${what})`],
    401: [
      "auth",
      `Splunk refused the credentials (${what}): check the token or password and that it is valid`,
    ],
    403: ["forbidden", `the Splunk user lacks a capability (${what}): its role needs \`search\``],
    404: ["not_found", `not found (${what}): check url, namespace (owner/app) and that this is port 8089`],
    503: ["busy", `Splunk did not run the search (${what}): concurrency quota reached or server busy`],
  };
  const [kind, message] = kinds[r.status] ?? ["http", `unexpected answer from Splunk (${what})`];
  return new SplunkError(kind, message, { status: r.status });
}

function parse(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString("utf8"));
    return isObject(v) ? v : undefined;
  } catch {
    return undefined;
  }
}

/** `messages` entries that have the documented shape, as "TYPE: text" joined. */
function messageText(v: unknown): string {
  return messagesOf(v)
    .map((m) => `${m.type}: ${m.text}`)
    .join("; ")
    .slice(0, 500);
}

function messagesOf(v: unknown): SplunkMessage[] {
  if (!Array.isArray(v)) return [];
  return v
    .filter(isObject)
    .filter((m) => typeof m.text === "string")
    .slice(0, 20)
    .map((m) => ({
      type: typeof m.type === "string" ? m.type : "INFO",
      text: (m.text as string).slice(0, 500),
    }));
}

function notJson(what: string, body: Buffer): SplunkError {
  const head = body.toString("utf8", 0, 60).replace(/\s+/g, " ").trim();
  return new SplunkError(
    "protocol",
    `${what} is not the JSON Splunk's REST API sends (starts with "${head}"): is the url the management ` +
      "port (8089), not Splunk Web?",
  );
}

function results(body: Buffer): Omit<SearchResults, "bytes"> {
  if (body.length === 0 || body.toString("utf8").trim() === "") return { rows: [], messages: [] };
  const doc = parse(body);
  if (!doc) throw notJson("the results document", body);
  const rows = doc.results ?? [];
  if (!Array.isArray(rows))
    throw new SplunkError("protocol", "the results document's `results` is not an array");
  return { rows, messages: messagesOf(doc.messages) };
}

function sidOf(body: Buffer): string {
  const doc = parse(body);
  if (!doc) throw notJson("the job creation answer", body);
  const sid = doc.sid;
  if (typeof sid !== "string" || sid.length === 0 || sid.length > 256 || /[\0-\x1f]/.test(sid)) {
    throw new SplunkError("protocol", "the job creation answer has no usable `sid`");
  }
  return sid;
}

function jobContent(body: Buffer): Record<string, unknown> {
  const doc = parse(body);
  if (!doc) throw notJson("the job status", body);
  const entry: unknown = Array.isArray(doc.entry) ? doc.entry[0] : undefined;
  const content = isObject(entry) ? entry.content : undefined;
  if (!isObject(content)) throw new SplunkError("protocol", "the job status has no `entry[0].content`");
  return content;
}
