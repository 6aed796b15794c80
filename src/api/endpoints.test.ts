/** The endpoints' behaviour: decisions, alerts, rules, status, explain, stream, metrics, docs. */
import assert from "node:assert/strict";
import type { IncomingMessage } from "node:http";
import { request } from "node:https";
import { after, before, describe, test } from "node:test";
import { StreamHub } from "./stream.ts";
import { FakeControl, startTestServer, type HttpResponse, type TestServer } from "./testing.ts";
import { ManualClock } from "../core/clock.ts";
import type { ServerResponse } from "node:http";

function expectError(r: HttpResponse, status: number, code: string) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("decisions, alerts, rules, status, explain", () => {
  let t: TestServer;
  let admin: string;
  let read: string;
  let webhook: string;
  before(async () => {
    t = await startTestServer();
    admin = await t.token("admin");
    read = await t.token("read");
    webhook = await t.token("webhook");
  });
  after(() => t.close());
  const get = (path: string) => t.call(path, { headers: bearer(read) });

  test("POST /v1/decisions bans with the caller as actor; duration and reason are passed on", async () => {
    const r = await t.post("/v1/decisions", admin, {
      target: "203.0.113.7",
      duration: "2h",
      reason: "manual\nban",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.outcome, "banned");
    assert.equal(r.json.result.expires, new Date(t.clock.now() + 7_200_000).toISOString());
    const call = t.control.calls.findLast((c) => c.op === "ban");
    assert.ok(call && call.op === "ban");
    assert.equal(call.req.duration, 7_200_000);
    assert.equal(call.req.reason, "manual ban", "control characters are cleaned");
    assert.equal(call.req.origin, "api");
    assert.equal(call.req.actor.type, "api");
    const seconds = await t.post("/v1/decisions", admin, { target: "203.0.113.8", duration: 90 });
    assert.equal(seconds.json.result.expires, new Date(t.clock.now() + 90_000).toISOString());
    const again = await t.post("/v1/decisions", admin, { target: "203.0.113.7" });
    assert.equal(again.status, 200);
    assert.equal(again.json.result.outcome, "already_banned");
  });

  test("GET /v1/decisions: ISO times, filters, paging, strict query", async () => {
    for (let i = 20; i < 25; i++) await t.post("/v1/decisions", admin, { target: `198.51.100.${i}` });
    const r = await get("/v1/decisions?limit=2");
    assert.equal(r.status, 200);
    assert.equal(r.json.items.length, 2);
    assert.equal(r.json.next_offset, 2);
    assert.match(r.json.items[0]["@timestamp"], /^\d{4}-\d\d-\d\dT/);
    assert.match(r.json.items[0].expires, /Z$/);
    const byTarget = await get("/v1/decisions?target=198.51.100.22&state=active");
    assert.deepEqual(
      (byTarget.json.items as { target: string }[]).map((d) => d.target),
      ["198.51.100.22"],
    );
    const last = await get("/v1/decisions?limit=1000&offset=0");
    assert.equal(last.json.next_offset, null);
    const q = t.control.calls.findLast((c) => c.op === "listDecisions");
    assert.ok(q && q.op === "listDecisions");
    assert.deepEqual(q.q, { limit: 1000, offset: 0 });
    const since = await get("/v1/decisions?since=2026-11-23T00:00:00Z");
    assert.equal(since.status, 200);
    const qs = t.control.calls.findLast((c) => c.op === "listDecisions");
    assert.equal(qs?.op === "listDecisions" && qs.q.since, Date.UTC(2026, 10, 23));
    for (const bad of [
      "limit=0",
      "limit=1001",
      "limit=abc",
      "offset=-1",
      "state=gone",
      "since=yesterday",
      "target=nope",
      "foo=1",
    ]) {
      expectError(await get(`/v1/decisions?${bad}`), 400, "INVALID_QUERY");
    }
  });

  test("DELETE /v1/decisions/:target unbans (CIDR URL-encoded); not banned -> 404; invalid -> 422", async () => {
    await t.post("/v1/decisions", admin, { target: "198.51.100.128/25" });
    const del = (target: string) =>
      t.call(`/v1/decisions/${encodeURIComponent(target)}?reason=false+positive`, {
        method: "DELETE",
        headers: bearer(admin),
      });
    const r = await del("198.51.100.128/25");
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json, { target: "198.51.100.128/25", revoked: 1 });
    const call = t.control.calls.findLast((c) => c.op === "unban");
    assert.equal(call?.op === "unban" && call.reason, "false positive");
    expectError(await del("198.51.100.128/25"), 404, "NOT_BANNED");
    expectError(await del("not-an-ip"), 422, "INVALID_IP");
    expectError(await del("1.2.3.4; rm -rf"), 422, "INVALID_IP");
  });

  test("DELETE /v1/decisions/:target?origin= ends only that origin's decisions; the origin is bounded", async () => {
    await t.post("/v1/decisions", admin, { target: "198.51.100.9" });
    await t.post("/v1/webhooks/generic", webhook, { ip: "198.51.100.10" });
    const del = (target: string, q: string) =>
      t.call(`/v1/decisions/${target}${q}`, { method: "DELETE", headers: bearer(admin) });
    for (const bad of ["?origin=", `?origin=${"w".repeat(33)}`, "?origin=Wazuh%0A", "?origin=a&origin=b"])
      expectError(await del("198.51.100.9", bad), 400, "INVALID_QUERY");
    expectError(await del("198.51.100.9", "?origin=wazuh"), 404, "NOT_BANNED");
    assert.equal(t.control.decisions.find((d) => d.target === "198.51.100.9")?.state, "active");
    const own = await del("198.51.100.10", "?origin=webhook&reason=timeout");
    assert.equal(own.status, 200, own.text);
    assert.deepEqual(own.json, { target: "198.51.100.10", revoked: 1 });
    const all = await del("198.51.100.9", "?reason=operator");
    assert.deepEqual(
      all.json,
      { target: "198.51.100.9", revoked: 1 },
      "without origin: every ban of the target",
    );
  });

  test("GET /v1/alerts lists SIEM alerts with ISO times; source_ip filter is validated", async () => {
    await t.post("/v1/webhooks/generic", webhook, { ip: "203.0.113.99", reason: "kibana threshold" });
    const r = await get("/v1/alerts?source_ip=203.0.113.99");
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.items[0].source_ip, "203.0.113.99");
    assert.equal(r.json.items[0].origin, "webhook");
    assert.equal(r.json.items[0].rule.name, "kibana threshold");
    assert.match(r.json.items[0].first_seen, /Z$/);
    expectError(await get("/v1/alerts?source_ip=999.1.1.1"), 400, "INVALID_QUERY");
  });

  test("GET /v1/rules, /v1/status, /v1/explain/:target", async () => {
    const rules = await get("/v1/rules");
    assert.equal(rules.json.items[0].id, "ssh-brute-force");
    const status = await get("/v1/status");
    assert.equal(status.json.tlsFingerprint, "AA:BB");
    assert.match(status.json.now, /Z$/);
    const ex = await get("/v1/explain/203.0.113.7");
    assert.equal(ex.status, 200);
    assert.equal(ex.json.target, "203.0.113.7");
    assert.equal(ex.json.decisions[0].target, "203.0.113.7");
    expectError(await get("/v1/explain/nope"), 422, "INVALID_IP");
  });

  test("SIEM kinds go through the same plumbing: a Kibana connector body bans; an ungrouped rule is a 422", async () => {
    const r = await t.post("/v1/webhooks/kibana", webhook, {
      ip: "198.51.100.200",
      rule_name: "SSH brute force",
    });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.results[0].outcome, "banned");
    const call = t.control.calls.findLast((c) => c.op === "ingestAlert");
    assert.equal(call?.op === "ingestAlert" && call.alert.origin, "kibana");
    const bad = await t.post("/v1/webhooks/kibana", webhook, { ip: "all documents" });
    expectError(bad, 422, "PAYLOAD_INVALID");
    assert.match(bad.json.error.message, /not grouped/);
  });

  test("unknown routes -> 404 NOT_FOUND in the JSON error format", async () => {
    const r = await t.call("/v2/anything");
    expectError(r, 404, "NOT_FOUND");
    expectError(await t.call("/v1/health", { method: "DELETE" }), 404, "NOT_FOUND");
  });
});

describe("metrics and docs", () => {
  test("/metrics: daemon and API metrics without a token from loopback", async () => {
    const t = await startTestServer();
    try {
      await t.call("/v1/health");
      const r = await t.call("/metrics");
      assert.equal(r.status, 200);
      assert.match(String(r.headers["content-type"]), /^text\/plain; version=0\.0\.4/);
      assert.match(r.text, /^portcullis_test_total 1$/m);
      assert.match(
        r.text,
        /^portcullis_api_requests_total\{route="\/v1\/health",method="GET",status="200"\} 1$/m,
      );
      assert.match(r.text, /^portcullis_api_request_seconds_bucket\{le="0.005",route="\/v1\/health"\} \d+$/m);
    } finally {
      await t.close();
    }
  });

  test("/metrics outside metrics_allow: 401 without a token, 403 with a webhook token, 200 with a read token", async () => {
    const t = await startTestServer({ api: { metrics_allow: ["192.0.2.10"] } });
    try {
      expectError(await t.call("/metrics"), 401, "AUTH_REQUIRED");
      expectError(
        await t.call("/metrics", { headers: bearer(await t.token("webhook")) }),
        403,
        "SCOPE_INSUFFICIENT",
      );
      assert.equal((await t.call("/metrics", { headers: bearer(await t.token("read")) })).status, 200);
    } finally {
      await t.close();
    }
  });

  test("/docs serves the OpenAPI document and the UI without a token", async () => {
    const t = await startTestServer();
    try {
      const r = await t.call("/docs/json");
      assert.equal(r.status, 200);
      assert.equal(r.json.openapi, "3.0.3");
      for (const p of [
        "/v1/health",
        "/v1/decisions",
        "/v1/decisions/{target}",
        "/v1/alerts",
        "/v1/rules",
        "/v1/stream",
        "/v1/webhooks/{kind}",
        "/blockip",
        "/metrics",
      ]) {
        assert.ok(r.json.paths[p], `missing ${p}`);
      }
      assert.equal(
        r.json.paths["/v1/decisions"].post.requestBody.content["application/json"].schema.required[0],
        "target",
      );
      assert.deepEqual(r.json.components.securitySchemes.bearer, { type: "http", scheme: "bearer" });
      const ui = await t.call("/docs");
      assert.equal(ui.status, 200);
      assert.match(ui.text, /Swagger UI/);
      // Docs pages get helmet's browser policy; API responses the REST set (nothing may run or be framed).
      assert.match(String(ui.headers["content-security-policy"]), /script-src 'self'/);
      const api = await t.call("/v1/health");
      assert.equal(api.headers["content-security-policy"], "default-src 'none';frame-ancestors 'none'");
      assert.equal(api.headers["cache-control"], "no-store");
      assert.equal(api.headers["x-frame-options"], "DENY");
    } finally {
      await t.close();
    }
  });
});

/** Reads an SSE stream until `until` matches the accumulated text. */
function openStream(t: TestServer, token: string) {
  let text = "";
  let res: IncomingMessage | undefined;
  let ended = false;
  const waiters: (() => void)[] = [];
  const wake = () => waiters.splice(0).forEach((w) => w());
  const ready = new Promise<IncomingMessage>((resolve, reject) => {
    const req = request(
      new URL("/v1/stream", t.url),
      { ca: t.ca, servername: "localhost", headers: bearer(token), agent: false },
      (r) => {
        res = r;
        r.setEncoding("utf8");
        r.on("data", (c: string) => {
          text += c;
          wake();
        });
        r.on("end", () => {
          ended = true;
          wake();
        });
        r.on("error", () => {});
        resolve(r);
      },
    );
    req.on("error", reject);
    req.end();
  });
  return {
    ready,
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    async until(re: RegExp): Promise<void> {
      while (!re.test(text)) {
        if (ended) throw new Error(`stream ended before ${re}: ${text}`);
        await new Promise<void>((r) => waiters.push(r));
      }
    },
    async end(): Promise<void> {
      while (!ended) await new Promise<void>((r) => waiters.push(r));
    },
    close: () => res?.destroy(),
  };
}

describe("stream", () => {
  test(
    "GET /v1/stream sends alert and decision events, heartbeats, and ends cleanly on shutdown",
    { timeout: 20_000 },
    async () => {
      const t = await startTestServer({ api: { stream: { heartbeat: "20ms" } } });
      const read = await t.token("read");
      const s = openStream(t, read);
      const res = await s.ready;
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers["content-type"]), /^text\/event-stream/);
      await s.until(/: connected\n\n/);
      assert.equal(t.control.listeners, 1);
      await t.post("/blockip", await t.token("webhook"), { ip: "203.0.113.77" });
      await s.until(/event: decision\ndata: .*"target":"203\.0\.113\.77"/);
      await s.until(/event: alert\ndata: .*"source_ip":"203\.0\.113\.77"/);
      const decision = /event: decision\ndata: (.*)\n\n/.exec(s.text)!;
      assert.match(JSON.parse(decision[1]!).expires, /Z$/, "times are ISO-8601");
      await s.until(/: heartbeat\n\n/);
      await t.close();
      await s.end();
      assert.match(s.text, /event: shutdown\n/);
      assert.equal(t.control.listeners, 0, "unsubscribed from the daemon");
    },
  );

  test(
    "the stream needs a read token and is capped in clients (503 STREAM_FULL)",
    { timeout: 20_000 },
    async () => {
      const t = await startTestServer({ api: { stream: { max_clients: 1 } } });
      try {
        const read = await t.token("read");
        expectError(await t.call("/v1/stream"), 401, "AUTH_REQUIRED");
        const s = openStream(t, read);
        await s.ready;
        await s.until(/: connected/);
        expectError(await t.call("/v1/stream", { headers: bearer(read) }), 503, "STREAM_FULL");
        s.close();
        while (t.control.listeners > 0) await new Promise((r) => setImmediate(r));
      } finally {
        await t.close();
      }
    },
  );

  test("a client that does not read is dropped once its buffer is full (bounded memory)", async () => {
    const control = new FakeControl(new ManualClock(0));
    const hub = new StreamHub(control, { heartbeat: 60_000, maxClients: 5, maxBuffered: 1000 });
    const written: string[] = [];
    let destroyed = false;
    const fake = {
      writableLength: 0,
      writeHead: () => fake,
      write(s: string) {
        written.push(s);
        fake.writableLength += s.length; // never drains
        return false;
      },
      on: () => fake,
      end: () => fake,
      destroy() {
        destroyed = true;
      },
    };
    hub.open(fake as unknown as ServerResponse, {});
    for (let i = 0; i < 100 && !destroyed; i++) {
      control.emit({ kind: "alert", data: { id: `a${i}`, pad: "x".repeat(100) } });
    }
    assert.ok(destroyed);
    assert.equal(hub.size, 0);
    assert.equal(control.listeners, 0);
    assert.ok(fake.writableLength <= 1000);
    await hub.closeAll();
  });
});
