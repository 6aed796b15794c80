/**
 * API load benchmark: authenticated webhook requests over HTTPS on loopback against the real server (TLS, token
 * verification, rate limiting, JSON parsing, helmet, metrics) with a fast fake Control.
 *
 *   node --import tsx bench/api.ts [--duration 10] [--connections 50]
 *
 * 1. Throughput: `POST /v1/webhooks/generic` with a bearer token, keep-alive connections; requests/s, p50/p99
 *    latency. Target: > 5,000 req/s with p99 < 20 ms on a 2-core machine.
 * 2. Overload: 10x the connections against a server whose per-token limit is the target rate; shows the 429s,
 *    the latency of what is served, and the process memory (sampled) staying bounded.
 *
 * autocannon runs in a worker thread so that the server has the main thread to itself (as in the daemon).
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import Fastify from "fastify";
import { TokenStore } from "../src/auth/tokens.ts";
import { loadCertificates } from "../src/api/certs.ts";
import { apiSettings } from "../src/api/config.ts";
import type { Control } from "../src/api/control.ts";
import { createApiServer } from "../src/api/server.ts";
import { SystemClock } from "../src/core/clock.ts";
import { silentLogger } from "../src/core/logger.ts";
import { openSqliteStore } from "../src/store/sqlite.ts";

const { values } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
  },
});
const DURATION = Number(values.duration);
const CONNECTIONS = Number(values.connections);
const TARGET_RPS = 5000;
const TARGET_P99_MS = 20;

/** A Control that answers at once (the API's own cost is what is measured). */
function fastControl(): Control & { ingested: number } {
  let n = 0;
  const never = () => Promise.reject(new Error("not used in the benchmark"));
  return {
    ipv6Prefix: 64,
    get ingested() {
      return n;
    },
    ingestAlert: (alert) => {
      n++;
      return Promise.resolve({
        outcome: "banned",
        target: alert.group["source.ip"]!,
        reason: alert.rule.name,
        expires: alert["@timestamp"] + 600_000,
      });
    },
    status: never,
    listDecisions: never,
    ban: never,
    unban: never,
    listAlerts: never,
    listRules: () => [],
    explain: never,
    enforcement: never,
    subscribe: () => () => {},
    metrics: () => Promise.resolve(""),
  };
}

async function startServer(dataDir: string, rateLimit: Record<string, unknown>) {
  const store = await openSqliteStore(join(dataDir, `bench-${Math.random().toString(36).slice(2)}.db`), {
    clock: () => SystemClock.now(),
  });
  const tokens = new TokenStore(store.db, SystemClock);
  const { token } = await tokens.create({ scopes: ["webhook"], name: "bench" });
  const certificates = await loadCertificates({ dataDir, clock: SystemClock });
  const control = fastControl();
  const server = await createApiServer({
    control,
    tokens,
    config: apiSettings({ listen: "127.0.0.1:0", rate_limit: rateLimit }),
    logger: silentLogger,
    clock: SystemClock,
    certificates,
  });
  const url = await server.listen();
  return {
    url,
    token,
    control,
    /** Requests the server answered (its own counter). */
    async answered(): Promise<number> {
      const text = await server.metrics.text();
      let n = 0;
      for (const m of text.matchAll(/^portcullis_api_requests_total\{[^}]*\} (\d+)$/gm)) n += Number(m[1]);
      return n;
    },
    async close() {
      await server.close();
      await tokens.flush();
      await store.close();
    },
  };
}

function run(opts: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((resolve, reject) => {
    void autocannon(opts, (err, result) =>
      err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(result),
    );
  });
}

function loadOptions(s: { url: string; token: string }, connections = CONNECTIONS): autocannon.Options {
  return {
    url: `${s.url}/v1/webhooks/generic`,
    method: "POST",
    headers: { authorization: `Bearer ${s.token}`, "content-type": "application/json" },
    body: JSON.stringify({ ip: "203.0.113.7", reason: "bench" }),
    connections,
    pipelining: 1,
    duration: DURATION,
    workers: 1,
    servername: "localhost",
  };
}

function load(url: string, token: string, connections: number) {
  return run(loadOptions({ url, token }, connections));
}

const mb = (b: number) => `${(b / 1024 / 1024).toFixed(0)} MB`;

/** A bare fastify HTTPS route on the same certificate: what this machine can do right now (context for noise). */
async function baseline(certificates: { cert: string; key: string }): Promise<number> {
  const app = Fastify({ https: { cert: certificates.cert, key: certificates.key, minVersion: "TLSv1.2" } });
  app.post("/v1/webhooks/generic", () => ({ results: [] }));
  await app.listen({ host: "127.0.0.1", port: 0 });
  const port = (app.server.address() as AddressInfo).port;
  const r = await run({
    url: `https://127.0.0.1:${port}/v1/webhooks/generic`,
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ ip: "203.0.113.7" }),
    connections: CONNECTIONS,
    duration: Math.min(DURATION, 5),
    workers: 1,
  });
  await app.close();
  return r.requests.average;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-bench-api-"));
  try {
    const unlimited = { per_token: 10_000_000, per_source: 10_000_000 };
    // Warm-up: JIT, TLS.
    const warm = await startServer(dir, unlimited);
    await run({ ...loadOptions(warm), duration: 2 });
    await warm.close();

    console.log(
      `API benchmark: ${DURATION} s per phase, node ${process.version}, ${cpus().length} CPUs, HTTPS on 127.0.0.1`,
    );
    const certificates = await loadCertificates({ dataDir: dir, clock: SystemClock });
    const base = await baseline(certificates);
    console.log(
      `0. baseline    bare fastify HTTPS route, no auth, ${CONNECTIONS} connections: ${base.toFixed(0)} req/s (machine capacity now)`,
    );

    const s = await startServer(dir, unlimited);
    const r = await load(s.url, s.token, CONNECTIONS);
    const rps = r.requests.average;
    const ok = rps > TARGET_RPS && r.latency.p99 < TARGET_P99_MS && r.non2xx === 0 && r.errors === 0;
    console.log(
      `1. throughput  ${CONNECTIONS} connections: ${rps.toFixed(0)} req/s (${r.requests.total} requests), ` +
        `latency p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms, max ${r.latency.max} ms; ` +
        `non-2xx ${r.non2xx}, errors ${r.errors}, alerts ingested ${s.control.ingested}`,
    );
    console.log(`   target > ${TARGET_RPS} req/s with p99 < ${TARGET_P99_MS} ms: ${ok ? "MET" : "NOT MET"}`);
    await s.close();

    // Overload: ten times more than the token may send (its limit is a tenth of the measured rate) on ten
    // times the connections. Excess is refused with 429, what is allowed is served, memory stays flat.
    const limit = Math.max(100, Math.floor(rps / 10));
    const o = await startServer(dir, { per_token: limit, per_source: 10_000_000, window: "1s" });
    const samples: number[] = [];
    const before = process.memoryUsage().rss;
    const timer = setInterval(() => samples.push(process.memoryUsage().rss), 250);
    const r2 = await load(o.url, o.token, CONNECTIONS * 10);
    clearInterval(timer);
    const served = r2["2xx"];
    const refused = r2["4xx"];
    console.log(
      `2. overload    ${CONNECTIONS * 10} connections, per-token limit ${limit}/s: ${r2.requests.average.toFixed(0)} req/s answered: ` +
        `${(served / DURATION).toFixed(0)}/s served (2xx, all ingested: ${o.control.ingested === served ? "yes" : `no, ${o.control.ingested}`}), ` +
        `${(refused / DURATION).toFixed(0)}/s refused with 429; latency p50 ${r2.latency.p50} ms, p99 ${r2.latency.p99} ms; ` +
        `client timeouts ${r2.timeouts}, other errors ${r2.errors - r2.timeouts}`,
    );
    const answered = await o.answered();
    console.log(
      `   server: answered ${answered} of ${r2.requests.sent} requests sent (the rest were in flight at the end, or ` +
        `waiting for a TLS handshake: ${CONNECTIONS * 10} connections opened at once queue behind the flood; bare fastify shows the same stall, shorter)`,
    );
    console.log(
      `   memory (rss): before ${mb(before)}, during ${mb(Math.min(...samples))} .. ${mb(Math.max(...samples))}, ` +
        `after ${mb(process.memoryUsage().rss)}; heap used ${mb(process.memoryUsage().heapUsed)}`,
    );
    await o.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
