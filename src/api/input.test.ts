/**
 * The list of bad input, each against the real HTTPS server: a precise 4xx, the daemon stays up, nothing
 * is banned that should not be, nothing valid is lost.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { hitsCaller } from "./routes/webhooks.ts";
import { startTestServer, type HttpResponse, type TestServer } from "./testing.ts";

let t: TestServer;
let webhook: string;
let admin: string;

before(async () => {
  // 192.0.2.0/28 stands for "configured CIDRs"; 198.51.100.77 for "the host's own address" (the daemon adds its
  // interface addresses to the same allowlist).
  t = await startTestServer({ allow: ["192.0.2.0/28", "198.51.100.77"] });
  webhook = await t.token("webhook");
  admin = await t.token("admin");
});
after(() => t.close());

/** Posts to the generic webhook and to POST /v1/decisions. */
const hook = (body: unknown, headers?: Record<string, string>) =>
  t.post("/v1/webhooks/generic", webhook, body, headers);
const ban = (body: unknown) => t.post("/v1/decisions", admin, body);

function expectError(r: HttpResponse, status: number, code: string) {
  assert.equal(r.status, status, JSON.stringify(r.json));
  assert.equal(r.json?.error?.code, code, JSON.stringify(r.json));
  assert.equal(typeof r.json.error.message, "string");
}

/** Runs `f` and checks that the daemon was not asked to change anything. */
async function untouched(f: () => Promise<void>) {
  const before = t.control.mutations.length;
  await f();
  assert.equal(t.control.mutations.length, before, "nothing reached the daemon");
}

describe("malformed bodies", () => {
  test("not JSON -> 400 JSON_INVALID", () =>
    untouched(async () => {
      expectError(await hook("{ip: 203.0.113.7}"), 400, "JSON_INVALID");
      expectError(await hook('{"ip":"203.0.113.7"'), 400, "JSON_INVALID");
    }));

  test("wrong or missing content type -> 415 UNSUPPORTED_MEDIA_TYPE", () =>
    untouched(async () => {
      for (const ct of [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
      ]) {
        expectError(
          await hook('{"ip":"203.0.113.7"}', { "content-type": ct }),
          415,
          "UNSUPPORTED_MEDIA_TYPE",
        );
      }
      const r = await t.call("/v1/webhooks/generic", {
        method: "POST",
        headers: { authorization: `Bearer ${webhook}` },
        body: '{"ip":"203.0.113.7"}',
      });
      expectError(r, 415, "UNSUPPORTED_MEDIA_TYPE");
    }));

  test("empty body (with or without a content type, or only blanks) -> 400 BODY_EMPTY", () =>
    untouched(async () => {
      expectError(await hook(""), 400, "BODY_EMPTY");
      expectError(await hook("  \n "), 400, "BODY_EMPTY");
      const r = await t.call("/v1/webhooks/generic", {
        method: "POST",
        headers: { authorization: `Bearer ${webhook}` },
      });
      expectError(r, 400, "BODY_EMPTY");
      expectError(await ban(""), 400, "BODY_EMPTY");
    }));

  test("10 MB body -> 413 BODY_TOO_LARGE", () =>
    untouched(async () => {
      const big = JSON.stringify({ ip: "203.0.113.7", pad: "x".repeat(10 * 1024 * 1024) });
      expectError(await hook(big), 413, "BODY_TOO_LARGE");
    }));

  test("deeply nested JSON -> 400 JSON_TOO_DEEP; the limit (64) itself passes", () =>
    untouched(async () => {
      expectError(await hook("[".repeat(100_000) + "]".repeat(100_000)), 400, "JSON_TOO_DEEP");
      expectError(
        await hook(`{"ip":"203.0.113.7","x":${'{"a":'.repeat(64)}1${"}".repeat(64)}}`),
        400,
        "JSON_TOO_DEEP",
      );
      // 64 levels in all: accepted by the parser, then refused by the handler for another reason.
      const ok = await hook(`{"x":${'{"a":'.repeat(62)}1${"}".repeat(62)}}`);
      expectError(ok, 422, "PAYLOAD_INVALID");
    }));

  test("__proto__ keys -> 400 JSON_FORBIDDEN_KEY (also when escaped)", () =>
    untouched(async () => {
      expectError(await hook('{"ip":"203.0.113.7","__proto__":{"admin":true}}'), 400, "JSON_FORBIDDEN_KEY");
      expectError(
        await hook('{"ip":"203.0.113.7","\\u005f_proto__":{"admin":true}}'),
        400,
        "JSON_FORBIDDEN_KEY",
      );
    }));
});

describe("the ip field", () => {
  test("missing, not a string, an array, null; a body that is not an object -> 422 PAYLOAD_INVALID", () =>
    untouched(async () => {
      for (const body of [
        {},
        { reason: "x" },
        { ip: 3405803783 },
        { ip: ["203.0.113.7"] },
        { ip: null },
        { ip: { v: 1 } },
        '"203.0.113.7"',
        42,
        [],
        [{ ip: "203.0.113.7" }, { ip: 1 }],
      ]) {
        expectError(await hook(body), 422, "PAYLOAD_INVALID");
      }
      const arr = await hook({ ip: ["203.0.113.7"] });
      assert.match(arr.json.error.message, /^ip: expected a string, got an array$/);
      const missing = await hook({ reason: "x" });
      assert.equal(missing.json.error.message, "ip: required");
      for (const body of [
        {},
        { target: 1 },
        { target: ["203.0.113.7"] },
        { target: "203.0.113.7", extra: 1 },
      ]) {
        expectError(await ban(body), 422, "VALIDATION_FAILED");
      }
    }));

  const invalid = [
    "999.1.1.1",
    "1.2.3.4; rm -rf /",
    "example.com",
    "localhost",
    "",
    "1.2.3",
    "::ffff:999.1.1.1",
    "1.2.3.4\n5.6.7.8",
    "${jndi:ldap://x}",
  ];
  for (const ip of invalid) {
    test(`${JSON.stringify(ip)} -> 422 INVALID_IP, never reaching the daemon`, () =>
      untouched(async () => {
        const r = await hook({ ip });
        expectError(r, 422, "INVALID_IP");
        assert.equal(r.json.results[0].outcome, "refused_invalid");
        const d = await ban({ target: ip });
        expectError(d, 422, "INVALID_IP");
        assert.equal(d.json.result.outcome, "refused_invalid");
      }));
  }

  test("0.0.0.0/0 and ::/0 -> 422 (webhook: not a single address; decisions: too wide), never reaching the daemon", () =>
    untouched(async () => {
      for (const ip of ["0.0.0.0/0", "::/0", "203.0.113.0/24"])
        expectError(await hook({ ip }), 422, "INVALID_IP");
      for (const target of ["0.0.0.0/0", "::/0"]) {
        const r = await ban({ target });
        expectError(r, 422, "REFUSED_TOO_WIDE");
        assert.equal(r.json.result.outcome, "refused_too_wide");
      }
    }));

  test("a range wider than the policy allows -> the daemon refuses -> 422 REFUSED_TOO_WIDE", async () => {
    const r = await ban({ target: "10.0.0.0/8" });
    expectError(r, 422, "REFUSED_TOO_WIDE");
    assert.match(r.json.error.message, /wider than the allowed \/16/);
    assert.equal(t.control.policy.bans.active("10.0.0.0/8", t.clock.now()), undefined);
  });

  test("allowlisted addresses (loopback, the host's own, configured CIDRs) -> 422 REFUSED_ALLOWLISTED", async () => {
    for (const ip of ["127.0.0.9", "::1", "198.51.100.77", "192.0.2.5"]) {
      const r = await hook({ ip });
      expectError(r, 422, "REFUSED_ALLOWLISTED");
      assert.equal(r.json.results[0].outcome, "refused_allowlisted");
      assert.match(r.json.results[0].reason, /allowlisted/);
    }
    const r = await ban({ target: "192.0.2.0/24" });
    expectError(r, 422, "REFUSED_ALLOWLISTED");
    assert.equal(
      t.control.decisions.filter(
        (d) => d.state === "active" && /^(127|192\.0\.2\.|198\.51\.100\.77|::1)/.test(d.target),
      ).length,
      0,
    );
  });

  test("the caller's own address (any spelling) -> 422 REFUSED_OWN_ADDRESS, never reaching the daemon", () =>
    untouched(async () => {
      for (const ip of ["127.0.0.1", "::ffff:127.0.0.1", "127.000.000.001"]) {
        const r = await hook({ ip });
        expectError(r, 422, "REFUSED_OWN_ADDRESS");
        assert.equal(r.json.results[0].target, "127.0.0.1");
      }
      expectError(await ban({ target: "127.0.0.0/30" }), 422, "REFUSED_OWN_ADDRESS");
    }));

  test("addresses that never name one host (unspecified, broadcast, multicast) -> refused on every kind", () =>
    untouched(async () => {
      for (const ip of ["0.0.0.0", "255.255.255.255", "224.0.0.1", "::", "ff02::1"]) {
        for (const path of ["/v1/webhooks/generic", "/blockip", "/v1/webhooks/hook"]) {
          const r = await t.post(path, webhook, { ip, origin: "ossim" });
          expectError(r, 422, "INVALID_IP");
          assert.equal(r.json.results[0].outcome, "refused_invalid", `${path} ${ip}`);
        }
      }
    }));

  test("an IPv6 alert is refused when the range it would ban (policy.ipv6_prefix) holds the caller", () => {
    assert.equal(hitsCaller("2001:db8:1:3::9", "2001:db8:1:2::5"), false);
    assert.equal(hitsCaller("2001:db8:1:3::9", "2001:db8:1:2::5", 48), true);
    assert.equal(hitsCaller("2001:db8:1:2::9", "2001:db8:1:2::5", 128), true, "never narrower than a /64");
    assert.equal(hitsCaller("203.0.113.9", "203.0.113.5", 48), false);
  });

  test("documentation ranges are bannable like any public address", async () => {
    for (const ip of ["192.0.2.200", "198.51.100.1", "203.0.113.1", "2001:db8::1"]) {
      const r = await hook({ ip, reason: "test range" });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.json.results[0].outcome, "banned");
    }
    const r = await ban({ target: "2001:db8:1::/48", duration: "1h" });
    assert.equal(r.json.result.outcome, "banned");
  });

  test("invalid duration -> 422", () =>
    untouched(async () => {
      for (const duration of [0, -5, "forever", "400d", [1]]) {
        expectError(await hook({ ip: "203.0.113.50", duration }), 422, "PAYLOAD_INVALID");
      }
      expectError(await ban({ target: "203.0.113.50", duration: "forever" }), 422, "VALIDATION_FAILED");
    }));
});

describe("what happened, per address", () => {
  test("banned, then already banned with its expiry", async () => {
    const first = await hook({ ip: "203.0.113.60", reason: "ssh brute force", duration: 600 });
    assert.equal(first.status, 200);
    assert.equal(first.json.results[0].outcome, "banned");
    const expires = first.json.results[0].expires;
    assert.equal(expires, new Date(t.clock.now() + 600_000).toISOString());
    const again = await t.post("/blockip", webhook, { ip: "203.0.113.60" });
    assert.equal(again.status, 200);
    assert.deepEqual(
      { outcome: again.json.results[0].outcome, expires: again.json.results[0].expires },
      { outcome: "already_banned", expires },
    );
  });

  test("a batch: valid addresses are banned even when others in it are refused (200, one result each)", async () => {
    const r = await hook([
      { ip: "203.0.113.70" },
      { ip: "999.1.1.1" },
      { ip: "127.0.0.1" },
      { ip: "192.0.2.3" },
      { ip: "203.0.113.71" },
    ]);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(
      (r.json.results as { outcome: string }[]).map((x) => x.outcome),
      ["banned", "refused_invalid", "refused_own_address", "refused_allowlisted", "banned"],
    );
    const sent = t.control.calls
      .filter((c) => c.op === "ingestAlert")
      .map((c) => (c.op === "ingestAlert" ? c.alert.group["source.ip"] : ""));
    assert.ok(sent.includes("203.0.113.70") && sent.includes("203.0.113.71") && sent.includes("192.0.2.3"));
    assert.ok(!sent.includes("999.1.1.1") && !sent.includes("127.0.0.1"));
  });

  test("more than 1000 alerts in one request -> 413 TOO_MANY_ALERTS, none processed", () =>
    untouched(async () => {
      const many = Array.from({ length: 1001 }, (_, i) => ({ ip: `198.18.${i >> 8}.${i & 255}` }));
      expectError(await hook(many), 413, "TOO_MANY_ALERTS");
    }));

  test("unknown webhook kind -> 404 UNKNOWN_WEBHOOK_KIND", () =>
    untouched(async () => {
      const r = await t.post("/v1/webhooks/nosuch", webhook, { ip: "203.0.113.7" });
      expectError(r, 404, "UNKNOWN_WEBHOOK_KIND");
      expectError(
        await t.post("/v1/webhooks/__proto__", webhook, { ip: "203.0.113.7" }),
        404,
        "UNKNOWN_WEBHOOK_KIND",
      );
    }));

  test("a failing daemon -> 503 UNAVAILABLE with Retry-After; the retry succeeds (nothing valid is lost)", async () => {
    t.control.failing = true;
    const r = await hook({ ip: "203.0.113.80" });
    expectError(r, 503, "UNAVAILABLE");
    assert.equal(r.headers["retry-after"], "5");
    assert.equal(r.json.results[0].outcome, "failed");
    const d = await ban({ target: "203.0.113.81" });
    expectError(d, 503, "UNAVAILABLE");
    t.control.failing = false;
    const retry = await hook({ ip: "203.0.113.80" });
    assert.equal(retry.status, 200);
    assert.equal(retry.json.results[0].outcome, "banned");
  });

  test("the API is still up and only valid, non-allowlisted addresses were banned", async () => {
    const h = await t.call("/v1/health");
    assert.equal(h.status, 200);
    const banned = t.control.decisions.filter((d) => d.state === "active").map((d) => d.target);
    for (const target of banned) {
      assert.ok(
        !/^(127\.|0\.0\.0\.0|::$|::1$|192\.0\.2\.([0-9]|1[0-5])$|198\.51\.100\.77$|10\.)/.test(target),
        target,
      );
    }
  });
});

describe("circuit breaker", () => {
  test("refused_circuit_breaker -> 503 CIRCUIT_BREAKER_OPEN with Retry-After; accepted ones in the batch are kept", async () => {
    const s = await startTestServer({ policy: { maxBansPerMinute: 1 } });
    try {
      const tok = await s.token("webhook");
      const first = await s.post("/blockip", tok, { ip: "203.0.113.1" });
      assert.equal(first.status, 200);
      const r = await s.post("/blockip", tok, [{ ip: "203.0.113.1" }, { ip: "203.0.113.2" }]);
      expectError(r, 503, "CIRCUIT_BREAKER_OPEN");
      assert.equal(r.headers["retry-after"], "60");
      assert.deepEqual(
        (r.json.results as { outcome: string }[]).map((x) => x.outcome),
        ["already_banned", "refused_circuit_breaker"],
      );
    } finally {
      await s.close();
    }
  });
});
