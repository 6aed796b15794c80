import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { splunkPullConfig } from "./config.ts";
import { normalizeSearch, relativeOffset, windowAt } from "./window.ts";

const base = {
  type: "splunk",
  url: "https://splunk.example.com",
  auth: { type: "token", token: { env: "SPLUNK_TOKEN" } },
  search: "index=auth action=failure | stats count by src_ip | where count>=20",
};

const issues = (o: Record<string, unknown>) => {
  const r = splunkPullConfig.safeParse({ ...base, ...o });
  assert.equal(r.success, false, `expected ${JSON.stringify(o)} to be refused`);
  return r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("\n");
};

describe("splunk source config", () => {
  test("defaults: port 8089, a 15-minute window every 5 minutes, the webhook's attacker fields, TLS verified", () => {
    const c = splunkPullConfig.parse(base);
    assert.equal(c.url, "https://splunk.example.com:8089");
    assert.equal(c.earliest, "-15m");
    assert.equal(c.latest, "now");
    assert.equal(c.interval, 300_000);
    assert.equal(c.timeout, 120_000);
    assert.equal(c.exec_mode, "oneshot");
    assert.deepEqual(c.ip_fields, ["src", "src_ip", "source.ip", "clientip"]);
    assert.equal(c.count_field, "count");
    assert.equal(c.tls.insecure_skip_verify, false);
    assert.equal(c.max_results, 1000);
    assert.equal(
      splunkPullConfig.parse({ ...base, url: "https://10.0.0.5:9089/" }).url,
      "https://10.0.0.5:9089",
    );
  });

  test("basic auth with the password from a file; token from a file", () => {
    const c = splunkPullConfig.parse({
      ...base,
      auth: { type: "basic", username: "svc_portcullis", password: { file: "/etc/portcullis/splunk.pw" } },
    });
    assert.equal(c.auth.type, "basic");
    assert.ok(
      splunkPullConfig.safeParse({ ...base, auth: { type: "token", token: { file: "/run/t" } } }).success,
    );
  });

  test("secrets are never inline; only env or file references", () => {
    assert.match(issues({ auth: { type: "token", token: "eyJhbGciOi..." } }), /auth\.token/);
    assert.match(issues({ auth: { type: "basic", username: "u", password: "hunter2" } }), /auth\.password/);
    assert.match(issues({ auth: { type: "token", token: { env: "X", value: "y" } } }), /auth\.token/);
    assert.match(issues({ auth: { type: "token", token: { file: "relative/t" } } }), /absolute/);
    assert.match(issues({ auth: { type: "session" } }), /auth\.type/);
  });

  test("the URL: https only, no credentials, no query", () => {
    assert.match(issues({ url: "http://splunk:8089" }), /HTTPS/);
    assert.match(issues({ url: "https://admin:changeme@splunk:8089" }), /no credentials in the URL/);
    assert.match(issues({ url: "https://splunk:8089/?x=1" }), /no query/);
    assert.match(issues({ url: "splunk:8089" }), /url/);
  });

  test("windows: relative offsets only, earliest before latest", () => {
    assert.match(issues({ earliest: "-1h@h" }), /snapping/);
    assert.match(issues({ earliest: "-1mon" }), /expected `now` or a past offset/);
    assert.match(issues({ earliest: "2026-11-23T10:00:00Z" }), /expected `now`/);
    assert.match(issues({ earliest: "-5m", latest: "-10m" }), /earliest must be before latest/);
    assert.match(issues({ earliest: "now" }), /earliest must be before latest/);
    assert.ok(splunkPullConfig.safeParse({ ...base, earliest: "-2hours", latest: "-1m" }).success);
  });

  test("strict: unknown keys, forbidden attacker fields, bad durations, limits", () => {
    assert.match(issues({ index: "auth" }), /index|Unrecognized/i);
    assert.match(issues({ ip_fields: ["dest"] }), /never the attacker/);
    assert.match(issues({ ip_fields: ["host.ip"] }), /never the attacker/);
    assert.match(issues({ ip_fields: [] }), /ip_fields/);
    assert.match(issues({ interval: "soon" }), /duration/);
    assert.match(issues({ interval: "10ms" }), /interval: at least 1000 ms/);
    assert.match(issues({ max_results: 0 }), /max_results/);
    assert.match(issues({ max_results: 100_000 }), /max_results/);
    assert.match(issues({ retry_backoff: "1m", retry_backoff_max: "10s" }), /retry_backoff/);
    assert.match(issues({ tls: { verify: false } }), /tls/);
    assert.match(issues({ type: "splunk-pull" }), /type/);
  });
});

describe("search windows and SPL", () => {
  test("relative offsets", () => {
    assert.deepEqual(relativeOffset("now"), { ok: true, ms: 0 });
    assert.deepEqual(relativeOffset("-15m"), { ok: true, ms: -900_000 });
    assert.deepEqual(relativeOffset("-90s"), { ok: true, ms: -90_000 });
    assert.deepEqual(relativeOffset("-2h"), { ok: true, ms: -7_200_000 });
    assert.deepEqual(relativeOffset("-1d"), { ok: true, ms: -86_400_000 });
    assert.deepEqual(relativeOffset("-3minutes"), { ok: true, ms: -180_000 });
    assert.equal(relativeOffset("+5m").ok, false);
    assert.equal(relativeOffset("-5q").ok, false);
    assert.equal(relativeOffset("").ok, false);
  });

  test("a window is on whole seconds; latest exclusive", () => {
    const now = Date.UTC(2026, 10, 23, 12, 0, 0, 750);
    assert.deepEqual(windowAt(now, -900_000, 0), { earliest: now - 750 - 900_000, latest: now - 750 });
  });

  test("SPL gets `search ` unless it starts with a generating command", () => {
    assert.equal(normalizeSearch("index=auth action=failure"), "search index=auth action=failure");
    assert.equal(normalizeSearch("  search index=auth"), "search index=auth");
    assert.equal(normalizeSearch("SEARCH index=auth"), "SEARCH index=auth");
    assert.equal(
      normalizeSearch("| tstats count where index=auth by src"),
      "| tstats count where index=auth by src",
    );
    assert.equal(normalizeSearch("searchtxn t"), "search searchtxn t");
  });
});
