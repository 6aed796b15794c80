/**
 * Test doubles for the API: a Control that records every call and decides with the real Policy (allowlist,
 * width limit, de-duplication, circuit breaker), and a small HTTPS client that pins the server's certificate.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { TokenStore, type Scope } from "../auth/tokens.ts";
import type { Alert } from "../core/alert.ts";
import { ManualClock, SystemClock, type Clock } from "../core/clock.ts";
import { memoryLogger } from "../core/logger.ts";
import type { Actor } from "../core/decision.ts";
import { Allowlist } from "../policy/allowlist.ts";
import { Policy, normalizeTarget, type PolicyConfig } from "../policy/policy.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import type { Store, StoredAlert, StoredDecision } from "../store/store.ts";
import { loadCertificates, type Certificates } from "./certs.ts";
import { apiSettings } from "./config.ts";
import { createApiServer, type ApiServer } from "./server.ts";
import type { WebhookDefinition } from "./webhooks.ts";
import type {
  AlertQuery,
  BanOutcome,
  BanRequest,
  Control,
  DecisionQuery,
  Explanation,
  RuleInfo,
  StatusReport,
  StreamEvent,
  UnbanOutcome,
  Enforcement,
} from "./control.ts";

export type ControlCall =
  | { op: "ban"; req: BanRequest }
  | { op: "unban"; target: string; actor: Actor; reason?: string }
  | { op: "ingestAlert"; alert: Alert; actor: Actor }
  | { op: "enforcement"; decisionId: string; waitMs: number }
  | { op: "listDecisions"; q: DecisionQuery }
  | { op: "listAlerts"; q: AlertQuery };

export class FakeControl implements Control {
  readonly calls: ControlCall[] = [];
  readonly policy: Policy;
  readonly decisions: StoredDecision[] = [];
  readonly alerts: StoredAlert[] = [];
  readonly #listeners = new Set<(e: StreamEvent) => void>();
  readonly #clock: Clock;
  /** What {@link enforcement} answers (a responder failing, or still pending). */
  enforcementResult: Enforcement = { state: "applied", failed: [], pending: [] };
  /** Make the next calls throw (a failing store). */
  failing = false;
  /** The prefix IPv6 sources are banned under (policy.ipv6_prefix). */
  ipv6Prefix = 64;

  constructor(clock: Clock, opts: { allow?: string[]; policy?: Partial<PolicyConfig> } = {}) {
    this.#clock = clock;
    this.policy = new Policy(
      { maxPrefix: { v4: 16, v6: 48 }, ...opts.policy },
      new Allowlist(opts.allow?.length ? [{ cidrs: opts.allow, why: "configured" }] : []),
    );
  }

  get listeners(): number {
    return this.#listeners.size;
  }

  emit(e: StreamEvent): void {
    for (const l of this.#listeners) l(e);
  }

  /** Calls that would change state (bans, unbans, alerts). */
  get mutations(): ControlCall[] {
    return this.calls.filter((c) => c.op === "ban" || c.op === "unban" || c.op === "ingestAlert");
  }

  #check(): void {
    if (this.failing) throw new Error("store unavailable");
  }

  status(): Promise<StatusReport> {
    const now = this.#clock.now();
    return Promise.resolve({
      version: "test",
      pid: 1,
      started: now,
      now,
      dryRun: false,
      activeBans: this.decisions.filter((d) => d.state === "active").length,
      sources: [],
      responders: [],
      rules: 1,
      counters: {},
      tlsFingerprint: "AA:BB",
    });
  }

  listDecisions(q: DecisionQuery): Promise<StoredDecision[]> {
    this.calls.push({ op: "listDecisions", q });
    const list = this.decisions.filter(
      (d) => (!q.state || d.state === q.state) && (!q.target || d.target === q.target),
    );
    return Promise.resolve(list.slice(q.offset ?? 0, (q.offset ?? 0) + (q.limit ?? 100)));
  }

  #record(r: ReturnType<Policy["ban"]>): BanOutcome {
    const out: BanOutcome = { outcome: r.outcome, reason: r.reason };
    if (r.target !== undefined) out.target = r.target;
    if (r.expires !== undefined) out.expires = r.expires;
    if (r.decision) {
      const d: StoredDecision = { ...r.decision, state: "active" };
      this.decisions.unshift(d);
      out.decision = d;
      this.emit({ kind: "decision", data: d });
    }
    return out;
  }

  ban(req: BanRequest): Promise<BanOutcome> {
    this.calls.push({ op: "ban", req });
    this.#check();
    const r = this.policy.ban(
      {
        target: req.target,
        reason: req.reason ?? "manual",
        actor: req.actor,
        origin: req.origin,
        ...(req.duration !== undefined ? { duration: req.duration } : {}),
      },
      this.#clock.now(),
    );
    return Promise.resolve(this.#record(r));
  }

  unban(
    target: string,
    actor: Actor,
    reason?: string,
    opts: { origin?: string } = {},
  ): Promise<UnbanOutcome> {
    this.calls.push({ op: "unban", target, actor, ...(reason !== undefined ? { reason } : {}) });
    this.#check();
    const t = normalizeTarget(target) ?? target;
    let revoked = 0;
    let held = false;
    const inForce = this.policy.bans.active(t, this.#clock.now())?.decisionId;
    for (const d of this.decisions) {
      if (d.target !== t || d.state !== "active") continue;
      // With an origin (a SIEM hook's unban), only that origin's decisions end.
      if (opts.origin !== undefined && d.origin !== opts.origin) continue;
      d.state = "revoked";
      revoked++;
      if (opts.origin === undefined || d.id === inForce) held = true;
    }
    if (held) this.policy.bans.remove(t);
    return Promise.resolve({ target: t, revoked });
  }

  listAlerts(q: AlertQuery): Promise<StoredAlert[]> {
    this.calls.push({ op: "listAlerts", q });
    return Promise.resolve(this.alerts.filter((a) => !q.sourceIp || a.source_ip === q.sourceIp));
  }

  listRules(): RuleInfo[] {
    return [
      {
        id: "ssh-brute-force",
        name: "SSH brute force",
        type: "threshold",
        enabled: true,
        response: "ban",
        attack: ["T1110"],
      },
    ];
  }

  explain(target: string): Promise<Explanation> {
    return Promise.resolve({
      target,
      decisions: this.decisions.filter((d) => d.target === target),
      alerts: [],
      audit: [],
    });
  }

  enforcement(decisionId: string, waitMs: number): Promise<Enforcement> {
    this.calls.push({ op: "enforcement", decisionId, waitMs });
    return Promise.resolve(structuredClone(this.enforcementResult));
  }

  ingestAlert(alert: Alert, actor: Actor): Promise<BanOutcome> {
    this.calls.push({ op: "ingestAlert", alert, actor });
    this.#check();
    const r = this.policy.onAlert(alert, this.#clock.now());
    const stored: StoredAlert = {
      id: alert.id,
      "@timestamp": alert["@timestamp"],
      rule: { id: alert.rule.id, name: alert.rule.name, type: alert.rule.type },
      severity: alert.severity,
      group: alert.group,
      count: alert.count,
      first_seen: alert.first_seen,
      last_seen: alert.last_seen,
      attack: alert.attack,
      origin: alert.origin,
      response: alert.response,
      outcome: r.outcome,
      events: [],
    };
    if (alert.group["source.ip"] !== undefined) stored.source_ip = alert.group["source.ip"];
    this.alerts.unshift(stored);
    this.emit({ kind: "alert", data: stored });
    return Promise.resolve(this.#record(r));
  }

  subscribe(listener: (e: StreamEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  metrics(): Promise<string> {
    return Promise.resolve(
      "# HELP portcullis_test_total test\n# TYPE portcullis_test_total counter\nportcullis_test_total 1\n",
    );
  }
}

export interface HttpResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  /** Parsed JSON body (undefined when not JSON). */
  json: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test convenience
}

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** PEM the server certificate must equal (pinning); omit for plain HTTP. */
  ca?: string;
  /** Client certificate (mTLS). */
  cert?: string;
  key?: string;
  /** Local address to connect from (a different loopback address). */
  localAddress?: string;
}

/** One request on a fresh connection; resolves even when the server cuts the upload short. */
export function call(url: string, path: string, o: RequestOptions = {}): Promise<HttpResponse> {
  const u = new URL(path, url);
  const secure = u.protocol === "https:";
  return new Promise((resolve, reject) => {
    const opts = {
      method: o.method ?? "GET",
      headers: {
        ...(o.body !== undefined ? { "content-length": String(Buffer.byteLength(o.body)) } : {}),
        ...o.headers,
      },
      agent: false as const,
      ...(o.localAddress ? { localAddress: o.localAddress } : {}),
      ...(secure
        ? {
            ca: o.ca,
            servername: "localhost",
            ...(o.cert ? { cert: o.cert, key: o.key } : {}),
          }
        : {}),
    };
    const req = (secure ? httpsRequest : httpRequest)(u, opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
      res.on("error", reject);
    });
    req.on("error", reject);
    if (o.body !== undefined) {
      req.on("error", () => {});
      req.end(o.body);
    } else req.end();
  });
}

export interface TestServer {
  url: string;
  /** The server certificate (PEM) to pin. */
  ca: string;
  control: FakeControl;
  tokens: TokenStore;
  store: Store;
  clock: ManualClock;
  server: ApiServer;
  logger: ReturnType<typeof memoryLogger>;
  /** A fresh token with these scopes (and source allowlist). */
  token(scopes: Scope[] | Scope, allow?: string[]): Promise<string>;
  /** A request with the server's certificate pinned. */
  call(path: string, o?: RequestOptions): Promise<HttpResponse>;
  /** POST JSON with a bearer token. */
  post(path: string, token: string, body: unknown, headers?: Record<string, string>): Promise<HttpResponse>;
  close(): Promise<void>;
}

let certDir: string | undefined;
let certs: Promise<Certificates> | undefined;

/** One generated certificate per test process (openssl runs once). */
export function testCertificates(): Promise<Certificates> {
  if (!certs) {
    certDir = mkdtempSync(join(tmpdir(), "portcullis-api-certs-"));
    certs = loadCertificates({ dataDir: certDir, clock: SystemClock });
    process.once("exit", () => rmSync(certDir!, { recursive: true, force: true }));
  }
  return certs;
}

export async function startTestServer(
  o: {
    api?: Record<string, unknown>;
    allow?: string[];
    policy?: Partial<PolicyConfig>;
    signatureSecrets?: Buffer[];
    certificates?: Certificates;
    webhooks?: Readonly<Record<string, WebhookDefinition>>;
  } = {},
): Promise<TestServer> {
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  const store = await openSqliteStore(":memory:", { clock: () => clock.now() });
  const tokens = new TokenStore(store.db, clock);
  const control = new FakeControl(clock, {
    ...(o.allow ? { allow: o.allow } : {}),
    ...(o.policy ? { policy: o.policy } : {}),
  });
  const c = o.certificates ?? (await testCertificates());
  const logger = memoryLogger();
  const config = apiSettings({ listen: "127.0.0.1:0", ...o.api });
  const server = await createApiServer({
    control,
    tokens,
    config,
    logger,
    clock,
    ...(config.plainHttp ? {} : { certificates: c }),
    ...(o.signatureSecrets ? { signatureSecrets: o.signatureSecrets } : {}),
    ...(o.webhooks ? { webhooks: o.webhooks } : {}),
  });
  const url = await server.listen();
  const t: TestServer = {
    url,
    ca: c.cert,
    control,
    tokens,
    store,
    clock,
    server,
    logger,
    async token(scopes, allow) {
      const r = await tokens.create({
        scopes: Array.isArray(scopes) ? scopes : [scopes],
        ...(allow ? { allow } : {}),
      });
      return r.token;
    },
    call: (path, ro = {}) => call(url, path, { ca: c.cert, ...ro }),
    post: (path, token, body, headers = {}) =>
      call(url, path, {
        ca: c.cert,
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json", ...headers },
        body: typeof body === "string" ? body : JSON.stringify(body),
      }),
    async close() {
      await server.close();
      await tokens.flush();
      await store.close();
    },
  };
  return t;
}
