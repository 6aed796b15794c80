import assert from "node:assert/strict";
import { test } from "node:test";
import { apiConfigSchema, apiSettings, isLoopback, parseListen, parseSize } from "./config.ts";

test("api config: on by default at 127.0.0.1:8443 over HTTPS, 1 MiB bodies, metrics from loopback", () => {
  const s = apiSettings();
  assert.equal(s.enabled, true);
  assert.deepEqual([s.host, s.port], ["127.0.0.1", 8443]);
  assert.equal(s.plainHttp, false);
  assert.equal(s.bodyLimit, 1024 * 1024);
  assert.equal(s.maxJsonDepth, 64);
  assert.deepEqual(s.metricsAllow, ["127.0.0.0/8", "::1"]);
  assert.equal(s.trustProxy, false);
  assert.equal(s.signatures.window, 300_000);
  assert.equal(s.rateLimit.window, 60_000);
});

function issues(raw: unknown): string[] {
  const r = apiConfigSchema.safeParse(raw);
  return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

test("api config: strict, and every cross-field problem is reported with its path", () => {
  assert.match(issues({ listn: "x" }).join(), /Unrecognized key/);
  assert.match(issues({ listen: "8443" }).join(), /^listen: expected address:port/);
  assert.match(issues({ listen: "example.com:8443" }).join(), /^listen:/);
  assert.match(issues({ tls: { cert: "/c.pem" } }).join(), /^tls: tls.cert and tls.key go together/);
  assert.match(
    issues({ plain_http: true, listen: "0.0.0.0:8080" }).join(),
    /^plain_http: plain HTTP on 0\.0\.0\.0/,
  );
  assert.deepEqual(
    issues({ plain_http: true, listen: "0.0.0.0:8080", allow_plain_http_on_public: true }),
    [],
  );
  assert.deepEqual(issues({ plain_http: true, listen: "[::1]:8080" }), []);
  assert.match(
    issues({ plain_http: true, tls: { client_ca: "/ca.pem" } }).join(),
    /plain_http serves no TLS/,
  );
  assert.match(
    issues({ signatures: { required: true } }).join(),
    /^signatures.required: .*needs secret_env or secret_file/,
  );
  assert.match(issues({ signatures: { secret_env: "A", secret_file: "/b" } }).join(), /not both/);
  assert.match(issues({ body_limit: "1GB" }).join(), /^body_limit:/);
  assert.match(
    issues({ metrics_allow: ["nope"] }).join(),
    /^metrics_allow.0: expected an IP address or CIDR/,
  );
  assert.match(issues({ trust_proxy: true }).join(), /^trust_proxy:/);
  assert.match(issues({ rate_limit: { window: "soon" } }).join(), /^rate_limit.window:/);
  // Timer periods: never zero (a heartbeat would spin), never past what a timer can wait (it would fire at once).
  assert.match(
    issues({ stream: { heartbeat: "0s" } }).join(),
    /^stream.heartbeat: expected a duration of at least/,
  );
  assert.match(issues({ stream: { heartbeat: "30d" } }).join(), /^stream.heartbeat: .*at most 24d/);
  assert.match(issues({ signatures: { window: 0 } }).join(), /^signatures.window: .*at least/);
  // A negative number is a problem at its path, not an exception out of validation that hides the others.
  assert.match(issues({ stream: { heartbeat: -5 }, listn: "x" }).join("\n"), /^stream.heartbeat: /m);
  assert.match(issues({ stream: { heartbeat: -5 }, listn: "x" }).join("\n"), /Unrecognized key/);
});

test("api config: values in numbers", () => {
  const s = apiSettings({
    listen: "[::]:9443",
    body_limit: "256KiB",
    rate_limit: { per_token: 10, window: "10s" },
    trust_proxy: ["10.0.0.1", "10.1.0.0/16"],
    signatures: { required: true, secret_file: "/etc/portcullis/webhook.secret", window: "2m" },
  });
  assert.deepEqual([s.host, s.port], ["::", 9443]);
  assert.equal(s.bodyLimit, 256 * 1024);
  assert.deepEqual(s.rateLimit, { perToken: 10, perSource: 6000, authFailures: 30, window: 10_000 });
  assert.deepEqual(s.trustProxy, ["10.0.0.1", "10.1.0.0/16"]);
  assert.deepEqual(s.signatures, {
    required: true,
    window: 120_000,
    secretFile: "/etc/portcullis/webhook.secret",
  });
});

test("sizes, listen addresses, loopback", () => {
  assert.equal(parseSize("1MiB"), 1048576);
  assert.equal(parseSize("1MB"), 1_000_000);
  assert.equal(parseSize("512 KiB"), 524288);
  assert.equal(parseSize(2048), 2048);
  assert.equal(parseSize("lots"), undefined);
  assert.deepEqual(parseListen("localhost:8443"), { host: "127.0.0.1", port: 8443 });
  assert.deepEqual(parseListen("[::1]:0"), { host: "::1", port: 0 });
  assert.equal(parseListen("127.0.0.1:70000"), undefined);
  assert.ok(isLoopback("127.1.2.3"));
  assert.ok(isLoopback("::1"));
  assert.ok(!isLoopback("0.0.0.0"));
  assert.ok(!isLoopback("::"));
});
