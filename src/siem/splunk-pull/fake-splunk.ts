/**
 * A fake Splunk management API for the tests. Splunk cannot run here; this fake implements the documented REST
 * contract (../shared/contracts/splunk.md) and nothing more: HTTPS on 127.0.0.1 with a self-signed certificate
 * generated per test process (openssl), `Authorization: Bearer <token>` or `Basic`, form-encoded
 * `POST /services/search/jobs` (also under `/servicesNS/<owner>/<app>/`) in `oneshot` and `normal` modes, job
 * status, `/results` and `DELETE`, results as JSON only with `output_mode=json`, 100 rows unless `count=0`,
 * every value a string (numbers are turned into strings as Splunk does), and the documented errors (400 for
 * SPL not starting with a generating command, 401, 403, 404 unknown sid, 503). Tests can queue failures and
 * hold requests (slowness), and read every request it received.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface FakeRequest {
  method: string;
  /** Path without the query. */
  path: string;
  /** Query and form parameters together. */
  params: Record<string, string>;
  authorization: string | undefined;
  contentType: string | undefined;
}

export interface FakeFailure {
  status: number;
  text: string;
}

interface Job {
  rows: unknown[];
  polls: number;
  deleted: boolean;
}

let certs: { cert: string; key: string } | undefined;

/** A self-signed certificate for 127.0.0.1 (one per test process). */
export function fakeCertificate(): { cert: string; key: string } {
  if (certs) return certs;
  const dir = mkdtempSync(join(tmpdir(), "portcullis-fake-splunk-"));
  try {
    const r = spawnSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
        "-days",
        "2",
        "-subj",
        "/CN=fake-splunk",
        "-addext",
        "subjectAltName=IP:127.0.0.1",
      ],
      { encoding: "utf8" },
    );
    if (r.status !== 0)
      throw new Error(`openssl failed (needed for the fake Splunk's certificate): ${r.stderr}`);
    certs = {
      cert: readFileSync(join(dir, "cert.pem"), "utf8"),
      key: readFileSync(join(dir, "key.pem"), "utf8"),
    };
    return certs;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Splunk sends every value as a string; multivalue fields as arrays of strings. */
function stringify(v: unknown): unknown {
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  if (Array.isArray(v)) return v.map(stringify);
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, stringify(x)]));
  }
  return v;
}

const MAX_RESULT_ROWS = 50_000;
const JOBS = /^\/(?:services|servicesNS\/[^/]+\/[^/]+)\/search\/jobs(?:\/([^/]+))?(\/results)?$/;

export class FakeSplunk {
  readonly requests: FakeRequest[] = [];
  /** Rows a search returns (called with the job's parameters). */
  rows: (params: Record<string, string>) => unknown[] = () => [];
  /** `messages` sent with the results. */
  messages: { type: string; text: string }[] = [];
  /** Credentials accepted: `Bearer <token>` and `Basic` of user:password. */
  token = "good-token";
  basic = { user: "portcullis", password: "s3cret" };
  /** Status polls answering RUNNING before a `normal` job is DONE. */
  pollsUntilDone = 1;
  /** Most requests handled at once. */
  maxConcurrent = 0;
  readonly jobs = new Map<string, Job>();
  readonly #server: Server;
  readonly #failures: FakeFailure[] = [];
  #gate: Promise<void> | undefined;
  #open: (() => void) | undefined;
  #concurrent = 0;
  #sid = 0;
  url = "";

  private constructor() {
    const { cert, key } = fakeCertificate();
    this.#server = createServer({ cert, key }, (req, res) => {
      this.#handle(req, res).catch((e: unknown) => {
        res.statusCode = 500;
        res.end(String(e));
      });
    });
  }

  static async start(): Promise<FakeSplunk> {
    const f = new FakeSplunk();
    await new Promise<void>((resolve) => f.#server.listen(0, "127.0.0.1", resolve));
    f.url = `https://127.0.0.1:${(f.#server.address() as AddressInfo).port}`;
    return f;
  }

  /** The certificate to trust (the fake's own, self-signed). */
  get ca(): string {
    return fakeCertificate().cert;
  }

  /** The next requests fail with these answers, in order. */
  fail(...failures: FakeFailure[]): void {
    this.#failures.push(...failures);
  }

  /** Requests received from now on wait until {@link release} (a slow or hung Splunk). */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }

  release(): void {
    this.#gate = undefined;
    this.#open?.();
  }

  /** Requests currently being handled (held ones included). */
  get inFlight(): number {
    return this.#concurrent;
  }

  /** Requests that created a search (oneshot or job). */
  get searches(): FakeRequest[] {
    return this.requests.filter((r) => {
      const m = JOBS.exec(r.path);
      return r.method === "POST" && m !== null && m[1] === undefined;
    });
  }

  async close(): Promise<void> {
    this.release();
    this.#server.closeAllConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#concurrent++;
    this.maxConcurrent = Math.max(this.maxConcurrent, this.#concurrent);
    try {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      const url = new URL(req.url ?? "/", "https://fake");
      const params = Object.fromEntries(url.searchParams);
      const contentType = req.headers["content-type"];
      if (req.method === "POST")
        Object.assign(params, Object.fromEntries(new URLSearchParams(Buffer.concat(chunks).toString())));
      const r: FakeRequest = {
        method: req.method ?? "",
        path: url.pathname,
        params,
        authorization: req.headers.authorization,
        contentType,
      };
      this.requests.push(r);
      if (this.#gate) await this.#gate;
      this.#answer(r, res);
    } finally {
      this.#concurrent--;
    }
  }

  #answer(r: FakeRequest, res: ServerResponse): void {
    const send = (status: number, body: unknown) => {
      res.statusCode = status;
      res.setHeader("Content-Type", "application/json; charset=UTF-8");
      res.end(JSON.stringify(body));
    };
    const error = (status: number, text: string, type = "ERROR") =>
      send(status, { messages: [{ type, text }] });
    if (!this.#authorized(r.authorization)) return error(401, "call not properly authenticated", "WARN");
    const failure = this.#failures.shift();
    if (failure) return error(failure.status, failure.text);
    const m = JOBS.exec(r.path);
    if (!m) return error(404, `Not Found: ${r.path}`);
    if (r.params.output_mode !== "json") {
      res.statusCode = 200;
      res.setHeader("Content-Type", "text/xml");
      res.end('<?xml version="1.0" encoding="UTF-8"?><response/>');
      return;
    }
    const [, sidPart, results] = m;
    if (sidPart === undefined) {
      if (r.method !== "POST") return error(405, "Method not allowed");
      if (!r.contentType?.startsWith("application/x-www-form-urlencoded"))
        return error(400, "expected a form");
      const spl = r.params.search ?? "";
      if (!/^(?:search\s|\|)/.test(spl)) {
        return error(400, `Error in 'search' command: Unknown search command '${spl.split(/\s/)[0]}'.`);
      }
      const rows = this.rows(r.params).map(stringify);
      if (r.params.exec_mode === "oneshot") return send(200, this.#results(rows, r.params.count));
      const sid = `1767607200.${++this.#sid}`;
      this.jobs.set(sid, { rows, polls: 0, deleted: false });
      return send(201, { sid });
    }
    const sid = decodeURIComponent(sidPart);
    const job = this.jobs.get(sid);
    if (!job || job.deleted) return error(404, "Unknown sid.");
    if (r.method === "DELETE") {
      job.deleted = true;
      return send(200, { messages: [{ type: "INFO", text: `Search job cancelled.` }] });
    }
    if (results) return send(200, this.#results(job.rows, r.params.count));
    const done = job.polls++ >= this.pollsUntilDone;
    return send(200, {
      entry: [
        {
          name: "search",
          content: {
            sid,
            dispatchState: done ? "DONE" : "RUNNING",
            isDone: done,
            isFailed: false,
            resultCount: job.rows.length,
            messages: [],
          },
        },
      ],
    });
  }

  #results(rows: unknown[], count: string | undefined) {
    const n = count === undefined ? 100 : Number(count) === 0 ? MAX_RESULT_ROWS : Number(count);
    return {
      preview: false,
      init_offset: 0,
      messages: this.messages,
      fields: [],
      results: rows.slice(0, n),
      highlighted: {},
    };
  }

  #authorized(h: string | undefined): boolean {
    if (h === `Bearer ${this.token}`) return true;
    const b = Buffer.from(`${this.basic.user}:${this.basic.password}`).toString("base64");
    return h === `Basic ${b}`;
  }
}
