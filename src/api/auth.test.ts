/** Authentication, authorisation, rate limits, signatures, TLS and mTLS against the real HTTPS server. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connect, type TLSSocket } from "node:tls";
import { sign } from "../auth/signatures.ts";
import { queryHasToken } from "./auth.ts";
import { call, startTestServer, testCertificates, type HttpResponse, type TestServer } from "./testing.ts";

function expectError(r: HttpResponse, status: number, code: string) {
  assert.equal(r.status, status, r.text);
  assert.equal(r.json?.error?.code, code, r.text);
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("authentication", () => {
  let t: TestServer;
  const issued: string[] = [];
  before(async () => {
    t = await startTestServer();
  });
  after(async () => {
    // The token never appears in logs.
    const logs = JSON.stringify(t.logger.records);
    for (const tok of issued) assert.ok(!logs.includes(tok.slice(4)), "a token leaked into the logs");
    await t.close();
  });
  const token = async (...a: Parameters<TestServer["token"]>) => {
    const tok = await t.token(...a);
    issued.push(tok);
    return tok;
  };

  test("no token -> 401 AUTH_REQUIRED with WWW-Authenticate; health needs none", async () => {
    const r = await t.call("/v1/decisions");
    expectError(r, 401, "AUTH_REQUIRED");
    assert.match(String(r.headers["www-authenticate"]), /^Bearer realm="portcullis"/);
    const h = await t.call("/v1/health");
    assert.equal(h.status, 200);
    assert.deepEqual(h.json, { status: "ok" });
  });

  test("wrong token -> 401 TOKEN_INVALID; not a Portcullis token -> 401 TOKEN_MALFORMED", async () => {
    const good = await token("read");
    const wrongSecret = good.slice(0, -2) + (good.endsWith("AA") ? "BB" : "AA");
    expectError(await t.call("/v1/decisions", { headers: bearer(wrongSecret) }), 401, "TOKEN_INVALID");
    expectError(
      await t.call("/v1/decisions", { headers: bearer(`pcl_0123456789ab_${"x".repeat(43)}`) }),
      401,
      "TOKEN_INVALID",
    );
    expectError(await t.call("/v1/decisions", { headers: bearer("hunter2") }), 401, "TOKEN_MALFORMED");
    const basic = await t.call("/v1/decisions", { headers: { authorization: "Basic YWRtaW46YWRtaW4=" } });
    expectError(basic, 401, "TOKEN_MALFORMED");
    const ok = await t.call("/v1/decisions", { headers: { authorization: `bearer ${good}` } });
    assert.equal(ok.status, 200, "the scheme is case-insensitive");
  });

  test("revoked token -> 401 TOKEN_REVOKED", async () => {
    const tok = await token("webhook");
    assert.equal((await t.post("/blockip", tok, { ip: "203.0.113.5" })).status, 200);
    const id = tok.slice(4, 16);
    await t.tokens.revoke(id);
    const before = t.control.mutations.length;
    expectError(await t.post("/blockip", tok, { ip: "203.0.113.6" }), 401, "TOKEN_REVOKED");
    assert.equal(t.control.mutations.length, before);
  });

  test("token in the query string -> 400 TOKEN_IN_QUERY, never accepted (with or without a header)", async () => {
    const tok = await token("read");
    expectError(await t.call(`/v1/decisions?token=${tok}`), 400, "TOKEN_IN_QUERY");
    expectError(
      await t.call(`/v1/decisions?access_token=${tok}`, { headers: bearer(tok) }),
      400,
      "TOKEN_IN_QUERY",
    );
    expectError(
      await t.call(`/v1/decisions?limit=5&x=${tok}`, { headers: bearer(tok) }),
      400,
      "TOKEN_IN_QUERY",
    );
    expectError(await t.call(`/v1/health?api_key=abc`), 400, "TOKEN_IN_QUERY");
    expectError(await t.call(`/metrics?apikey=abc`), 400, "TOKEN_IN_QUERY");
    assert.equal((await t.call(`/v1/decisions?limit=5`, { headers: bearer(tok) })).status, 200);
    assert.ok(queryHasToken("/x?TOKEN=a"));
    assert.ok(queryHasToken("/x?x=%70cl_abc"), "percent-encoded value");
    assert.ok(queryHasToken("/x?%50CL_abc=1"), "percent-encoded name");
    assert.ok(queryHasToken("/x?%74oken=abc"), "percent-encoded credential name");
    expectError(
      await t.call(`/v1/decisions?x=${encodeURIComponent(tok).replace("p", "%70")}`, {
        headers: bearer(tok),
      }),
      400,
      "TOKEN_IN_QUERY",
    );
    assert.ok(!queryHasToken("/x?target=203.0.113.7&limit=2"));
  });

  test("scopes: webhook only posts alerts; read only reads; admin does everything", async () => {
    const wh = await token("webhook");
    const rd = await token("read");
    const ad = await token("admin");
    const get = (path: string, tok: string) => t.call(path, { headers: bearer(tok) });
    const status = async (p: Promise<HttpResponse>) => (await p).status;
    // webhook
    assert.equal(await status(t.post("/v1/webhooks/generic", wh, { ip: "203.0.113.10" })), 200);
    for (const p of [
      "/v1/decisions",
      "/v1/alerts",
      "/v1/rules",
      "/v1/status",
      "/v1/explain/203.0.113.10",
      "/v1/stream",
    ]) {
      expectError(await get(p, wh), 403, "SCOPE_INSUFFICIENT");
    }
    expectError(await t.post("/v1/decisions", wh, { target: "203.0.113.11" }), 403, "SCOPE_INSUFFICIENT");
    // read
    for (const p of ["/v1/decisions", "/v1/alerts", "/v1/rules", "/v1/status", "/v1/explain/203.0.113.10"]) {
      assert.equal(await status(get(p, rd)), 200, p);
    }
    expectError(await t.post("/v1/webhooks/generic", rd, { ip: "203.0.113.12" }), 403, "SCOPE_INSUFFICIENT");
    expectError(await t.post("/v1/decisions", rd, { target: "203.0.113.12" }), 403, "SCOPE_INSUFFICIENT");
    const del = await t.call("/v1/decisions/203.0.113.10", { method: "DELETE", headers: bearer(rd) });
    expectError(del, 403, "SCOPE_INSUFFICIENT");
    // admin
    assert.equal(await status(t.post("/v1/webhooks/generic", ad, { ip: "203.0.113.13" })), 200);
    assert.equal(await status(t.post("/v1/decisions", ad, { target: "203.0.113.14" })), 200);
    assert.equal(await status(get("/v1/decisions", ad)), 200);
    assert.equal(
      await status(t.call("/v1/decisions/203.0.113.14", { method: "DELETE", headers: bearer(ad) })),
      200,
    );
  });

  test("per-token source allowlist -> 403 SOURCE_NOT_ALLOWED from elsewhere", async () => {
    const tok = await token("webhook", ["127.0.0.2/32"]);
    const r = await t.post("/blockip", tok, { ip: "203.0.113.20" });
    expectError(r, 403, "SOURCE_NOT_ALLOWED");
    assert.match(r.json.error.message, /127\.0\.0\.1/);
    const ok = await call(t.url, "/blockip", {
      ca: t.ca,
      method: "POST",
      localAddress: "127.0.0.2",
      headers: { ...bearer(tok), "content-type": "application/json" },
      body: '{"ip":"203.0.113.20"}',
    });
    assert.equal(ok.status, 200, ok.text);
  });

  test("X-Forwarded-For is ignored unless the peer is a configured proxy", async () => {
    const tok = await token("webhook");
    const xff = { "x-forwarded-for": "203.0.113.99" };
    const r = await t.post("/blockip", tok, { ip: "203.0.113.99" }, xff);
    assert.equal(r.json.results[0].outcome, "banned", "the header did not make 203.0.113.99 the caller");
    const p = await startTestServer({ api: { trust_proxy: ["127.0.0.1"] } });
    try {
      const k = await p.token("webhook", ["203.0.113.0/24"]);
      const own = await p.post("/blockip", k, { ip: "203.0.113.98" }, { "x-forwarded-for": "203.0.113.98" });
      expectError(own, 422, "REFUSED_OWN_ADDRESS");
      const outside = await p.post("/blockip", k, { ip: "198.51.100.1" }, { "x-forwarded-for": "192.0.2.1" });
      expectError(outside, 403, "SOURCE_NOT_ALLOWED");
    } finally {
      await p.close();
    }
  });

  test("every state-changing request is audited with the token's name", async () => {
    const tok = (await t.tokens.create({ scopes: ["admin"], name: "ops-alice" })).token;
    issued.push(tok);
    await t.post("/v1/decisions", tok, { target: "203.0.113.30", reason: "manual" });
    await t.call("/v1/decisions/203.0.113.30", { method: "DELETE", headers: bearer(tok) });
    await t.post("/blockip", tok, { ip: "203.0.113.31" });
    const audits = t.logger.records
      .filter((r) => r.audit !== undefined && r.token === "ops-alice")
      .map((r) => r.audit);
    assert.deepEqual(audits, ["ban", "unban", "webhook"]);
    const actors = t.control.mutations
      .slice(-3)
      .map((c) => (c.op === "ban" ? c.req.actor : "actor" in c ? c.actor : undefined));
    assert.deepEqual(actors, [
      { type: "api", name: "ops-alice" },
      { type: "api", name: "ops-alice" },
      { type: "siem", name: "ops-alice" },
    ]);
  });
});

describe("rate limits", () => {
  test("per token -> 429 RATE_LIMITED with Retry-After; other tokens unaffected", async () => {
    const t = await startTestServer({ api: { rate_limit: { per_token: 3, per_source: 1000 } } });
    try {
      const a = await t.token("webhook");
      const b = await t.token("webhook");
      for (let i = 0; i < 3; i++)
        assert.equal((await t.post("/blockip", a, { ip: `203.0.113.${i + 1}` })).status, 200);
      const r = await t.post("/blockip", a, { ip: "203.0.113.9" });
      expectError(r, 429, "RATE_LIMITED");
      assert.ok(Number(r.headers["retry-after"]) >= 1);
      assert.equal(r.headers["x-ratelimit-limit"], "3");
      assert.equal((await t.post("/blockip", b, { ip: "203.0.113.9" })).status, 200);
    } finally {
      await t.close();
    }
  });

  test("per source -> 429 for any route from that address; other addresses unaffected", async () => {
    const t = await startTestServer({ api: { rate_limit: { per_source: 3 } } });
    try {
      for (let i = 0; i < 3; i++) assert.equal((await t.call("/v1/health")).status, 200);
      expectError(await t.call("/v1/health"), 429, "RATE_LIMITED");
      expectError(await t.call("/v1/decisions"), 429, "RATE_LIMITED");
      assert.equal((await t.call("/v1/health", { localAddress: "127.0.0.3" })).status, 200);
    } finally {
      await t.close();
    }
  });

  test("failed authentications -> 429 AUTH_RATE_LIMITED for the source, even with a good token afterwards", async () => {
    const t = await startTestServer({ api: { rate_limit: { auth_failures: 2 } } });
    try {
      const good = await t.token("read");
      const bad = `pcl_0123456789ab_${"y".repeat(43)}`;
      expectError(await t.call("/v1/rules", { headers: bearer(bad) }), 401, "TOKEN_INVALID");
      expectError(await t.call("/v1/rules", { headers: bearer(bad) }), 401, "TOKEN_INVALID");
      expectError(await t.call("/v1/rules", { headers: bearer(bad) }), 429, "AUTH_RATE_LIMITED");
      expectError(await t.call("/v1/rules", { headers: bearer(good) }), 429, "AUTH_RATE_LIMITED");
      assert.equal(
        (await t.call("/v1/rules", { headers: bearer(good), localAddress: "127.0.0.4" })).status,
        200,
      );
    } finally {
      await t.close();
    }
  });

  test("a flood: exactly the limit is served, the rest get 429, every served alert reached the daemon, the API stays up", async () => {
    const t = await startTestServer({ api: { rate_limit: { per_source: 50, per_token: 100_000 } } });
    try {
      const tok = await t.token("webhook");
      const rs = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          t.post("/blockip", tok, { ip: `198.18.${i >> 8}.${(i & 255) + 0}` }),
        ),
      );
      const ok = rs.filter((r) => r.status === 200);
      const limited = rs.filter((r) => r.status === 429);
      assert.equal(ok.length, 50);
      assert.equal(limited.length, 150);
      for (const r of limited) assert.equal(r.json.error.code, "RATE_LIMITED");
      const ingested = t.control.calls.filter((c) => c.op === "ingestAlert").length;
      assert.equal(ingested, 50);
      const served = new Set(ok.map((r) => (r.json.results as { target: string }[])[0]!.target));
      assert.equal(served.size, 50);
      assert.equal((await t.call("/v1/health", { localAddress: "127.0.0.5" })).status, 200);
    } finally {
      await t.close();
    }
  });
});

describe("signatures", () => {
  const SECRET = Buffer.from("webhook-signing-secret-0123456789");
  let t: TestServer;
  let tok: string;
  before(async () => {
    t = await startTestServer({
      api: { signatures: { required: true, secret_env: "UNUSED_IN_TESTS" } },
      signatureSecrets: [SECRET],
    });
    tok = await t.token("webhook");
  });
  after(() => t.close());

  const signed = (body: string, at = t.clock.now(), secret: Buffer | string = SECRET) => {
    const ts = String(Math.floor(at / 1000));
    return { "x-portcullis-timestamp": ts, "x-portcullis-signature": sign(secret, ts, body) };
  };

  test("unsigned -> 401 SIGNATURE_MISSING; signed -> 200; the same request again -> 401 SIGNATURE_REPLAYED", async () => {
    const body = '{"ip":"203.0.113.40"}';
    expectError(await t.post("/blockip", tok, body), 401, "SIGNATURE_MISSING");
    const h = signed(body);
    assert.equal((await t.post("/blockip", tok, body, h)).status, 200);
    expectError(await t.post("/blockip", tok, body, h), 401, "SIGNATURE_REPLAYED");
    assert.equal(t.control.calls.filter((c) => c.op === "ingestAlert").length, 1);
  });

  test("expired, tampered, wrong secret, malformed -> 401 with distinct codes; nothing reaches the daemon", async () => {
    const before = t.control.mutations.length;
    const body = '{"ip":"203.0.113.41"}';
    expectError(
      await t.post("/blockip", tok, body, signed(body, t.clock.now() - 6 * 60_000)),
      401,
      "SIGNATURE_EXPIRED",
    );
    expectError(
      await t.post("/blockip", tok, '{"ip":"203.0.113.42"}', signed(body)),
      401,
      "SIGNATURE_INVALID",
    );
    expectError(
      await t.post("/blockip", tok, body, signed(body, t.clock.now(), "not-the-secret-at-all")),
      401,
      "SIGNATURE_INVALID",
    );
    expectError(
      await t.post("/blockip", tok, body, {
        "x-portcullis-timestamp": "soon",
        "x-portcullis-signature": "sha256=00",
      }),
      401,
      "SIGNATURE_MALFORMED",
    );
    expectError(
      await t.post("/blockip", "pcl_0123456789ab_" + "z".repeat(43), body, signed(body)),
      401,
      "TOKEN_INVALID",
    );
    assert.equal(t.control.mutations.length, before);
  });

  test("a valid signature from a bare webhook kind path works too", async () => {
    const body = '[{"ip":"203.0.113.43"},{"ip":"203.0.113.44"}]';
    const r = await t.post("/v1/webhooks/generic", tok, body, signed(body));
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.results.length, 2);
  });

  test("optional signatures: unsigned passes, a bad signature does not", async () => {
    const s = await startTestServer({ signatureSecrets: [SECRET] });
    try {
      const k = await s.token("webhook");
      const body = '{"ip":"203.0.113.45"}';
      assert.equal((await s.post("/blockip", k, body)).status, 200);
      const bad = {
        "x-portcullis-timestamp": String(Math.floor(s.clock.now() / 1000)),
        "x-portcullis-signature": `sha256=${"0".repeat(64)}`,
      };
      expectError(await s.post("/blockip", k, body, bad), 401, "SIGNATURE_INVALID");
    } finally {
      await s.close();
    }
  });
});

describe("transport", () => {
  function tlsConnect(port: number, opts: Record<string, unknown>): Promise<TLSSocket> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: "127.0.0.1", port, servername: "localhost", ...opts }, () => resolve(s));
      s.on("error", reject);
    });
  }

  test("TLS 1.2 and 1.3 are served, TLS 1.1 is refused; the certificate is the pinned one", async () => {
    const t = await startTestServer();
    try {
      const port = t.server.port!;
      const c = await testCertificates();
      const s12 = await tlsConnect(port, { ca: t.ca, maxVersion: "TLSv1.2" });
      assert.equal(s12.getProtocol(), "TLSv1.2");
      s12.destroy();
      const s = await tlsConnect(port, { rejectUnauthorized: false });
      assert.equal(s.getProtocol(), "TLSv1.3");
      assert.equal(s.getPeerCertificate().fingerprint256, c.fingerprint);
      s.destroy();
      await assert.rejects(
        tlsConnect(port, { rejectUnauthorized: false, minVersion: "TLSv1", maxVersion: "TLSv1.1" }),
      );
      const h = await t.call("/v1/health");
      assert.match(String(h.headers["strict-transport-security"]), /max-age=/);
      assert.equal(h.headers["x-content-type-options"], "nosniff");
    } finally {
      await t.close();
    }
  });

  test("plain HTTP when configured (loopback)", async () => {
    const t = await startTestServer({ api: { plain_http: true } });
    try {
      assert.match(t.url, /^http:\/\/127\.0\.0\.1:\d+$/);
      const tok = await t.token("webhook");
      const r = await call(t.url, "/blockip", {
        method: "POST",
        headers: { ...bearer(tok), "content-type": "application/json" },
        body: '{"ip":"203.0.113.50"}',
      });
      assert.equal(r.status, 200);
    } finally {
      await t.close();
    }
  });

  test("mTLS: no client certificate or one from another CA is refused; a certificate from client_ca is accepted", async () => {
    const dir = mkdtempSync(join(tmpdir(), "portcullis-mtls-"));
    const ossl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
    const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
    try {
      writeFileSync(join(dir, "client.ext"), "extendedKeyUsage=clientAuth\n");
      for (const ca of ["ca", "rogue"]) {
        ossl(
          "req",
          "-x509",
          ...ec,
          "-keyout",
          `${ca}.key`,
          "-out",
          `${ca}.crt`,
          "-subj",
          `/CN=${ca}`,
          "-days",
          "2",
        );
        ossl(
          "req",
          "-new",
          ...ec,
          "-keyout",
          `${ca}-client.key`,
          "-out",
          `${ca}-client.csr`,
          "-subj",
          "/CN=siem",
        );
        ossl(
          "x509",
          "-req",
          "-in",
          `${ca}-client.csr`,
          "-CA",
          `${ca}.crt`,
          "-CAkey",
          `${ca}.key`,
          "-CAcreateserial",
          "-out",
          `${ca}-client.crt`,
          "-days",
          "2",
          "-extfile",
          "client.ext",
        );
      }
      const base = await testCertificates();
      const t = await startTestServer({
        certificates: { ...base, clientCa: readFileSync(join(dir, "ca.crt"), "utf8") },
      });
      try {
        await assert.rejects(t.call("/v1/health"));
        const rogue = {
          cert: readFileSync(join(dir, "rogue-client.crt"), "utf8"),
          key: readFileSync(join(dir, "rogue-client.key"), "utf8"),
        };
        await assert.rejects(t.call("/v1/health", rogue));
        const good = {
          cert: readFileSync(join(dir, "ca-client.crt"), "utf8"),
          key: readFileSync(join(dir, "ca-client.key"), "utf8"),
        };
        const r = await t.call("/v1/health", good);
        assert.equal(r.status, 200);
        expectError(await t.call("/v1/decisions", good), 401, "AUTH_REQUIRED");
      } finally {
        await t.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
