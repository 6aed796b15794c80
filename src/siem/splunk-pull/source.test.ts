/**
 * The `splunk` alert source against a fake Splunk. Splunk cannot run here; this fake implements the documented
 * REST contract (../shared/contracts/splunk.md, see fake-splunk.ts): HTTPS with a self-signed certificate made
 * for the test, auth headers, form parameters (`count=0`, `output_mode=json`), string values, the documented
 * errors, and slowness. Time is a ManualClock; waits between runs go through an injected `sleep` that records
 * what the source asked for, so no assertion depends on how long anything took.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, before, describe, test } from "node:test";
import type { BanOutcome } from "../../api/control.ts";
import type { Alert } from "../../core/alert.ts";
import { ManualClock } from "../../core/clock.ts";
import type { Actor } from "../../core/decision.ts";
import { ProcessExec } from "../../core/exec.ts";
import { memoryLogger } from "../../core/logger.ts";
import type { CheckpointStore } from "../../sources/types.ts";
import type { SplunkError } from "./client.ts";
import { splunkPullConfig } from "./config.ts";
import { FakeSplunk } from "./fake-splunk.ts";
import { splunkPull } from "./index.ts";
import { SplunkPullSource, type Sleep } from "./source.ts";
import type { AlertSink } from "./types.ts";

const T0 = Date.UTC(2026, 10, 23, 12, 0, 0);
const MIN = 60_000;
const root = mkdtempSync(join(tmpdir(), "portcullis-splunk-pull-"));
const caFile = join(root, "ca.pem");
after(() => rmSync(root, { recursive: true, force: true }));

class Checkpoints implements CheckpointStore {
  readonly map = new Map<string, string>();
  get(key: string) {
    return Promise.resolve(this.map.get(key));
  }
  set(key: string, value: string) {
    this.map.set(key, value);
    return Promise.resolve();
  }
}

/** The daemon's side: records what it was given, answers like the policy would. */
class Sink implements AlertSink {
  readonly alerts: Alert[] = [];
  readonly actors: Actor[] = [];
  failOn: string | undefined;
  ingestAlert(alert: Alert, actor: Actor): Promise<BanOutcome> {
    const ip = alert.group["source.ip"]!;
    if (ip === this.failOn) return Promise.reject(new Error("store unavailable"));
    this.alerts.push(alert);
    this.actors.push(actor);
    return Promise.resolve({
      outcome: "banned",
      target: ip,
      reason: `${alert.rule.name}: ${alert.count} events`,
    });
  }
  get ips(): string[] {
    return this.alerts.map((a) => a.group["source.ip"]!);
  }
}

/** A `sleep` that records each wait and returns at once, unless `onWait` says to block it until the stop. */
class Sleeps {
  readonly waits: number[] = [];
  /** Called with the wait's number (from 1); true blocks that wait until the run is stopped. */
  onWait: (n: number) => boolean = () => false;
  readonly sleep: Sleep = async (ms, signal) => {
    this.waits.push(ms);
    if (this.onWait(this.waits.length) && !signal.aborted) {
      await new Promise((r) => signal.addEventListener("abort", r, { once: true }));
    }
    await new Promise((r) => setImmediate(r));
    return !signal.aborted;
  };
}

async function waitFor(cond: () => boolean, what: string, show?: () => unknown): Promise<void> {
  const t0 = performance.now();
  while (!cond()) {
    if (performance.now() - t0 > 15_000)
      throw new Error(`gave up waiting for ${what}: ${JSON.stringify(show?.())}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

let fake: FakeSplunk;
before(async () => {
  fake = await FakeSplunk.start();
  writeFileSync(caFile, fake.ca);
});
after(() => fake.close());
afterEach(() => {
  fake.requests.length = 0;
  fake.maxConcurrent = 0;
  fake.rows = () => [];
  fake.messages = [];
  fake.release();
});

interface Made {
  source: SplunkPullSource;
  clock: ManualClock;
  checkpoints: Checkpoints;
  log: ReturnType<typeof memoryLogger>;
  sleeps: Sleeps;
  env: Record<string, string>;
}

function make(
  o: Record<string, unknown> = {},
  shared: { checkpoints?: Checkpoints; clock?: ManualClock; env?: Record<string, string> } = {},
): Made {
  const cfg = splunkPullConfig.parse({
    type: "splunk",
    url: fake.url,
    auth: { type: "token", token: { env: "SPLUNK_TOKEN" } },
    search: "index=auth action=failure | stats count by src_ip | where count>=20",
    tls: { ca_file: caFile },
    rule: "Brute force sources",
    ...o,
  });
  const clock = shared.clock ?? new ManualClock(T0);
  const checkpoints = shared.checkpoints ?? new Checkpoints();
  const log = memoryLogger();
  const sleeps = new Sleeps();
  const env = shared.env ?? { SPLUNK_TOKEN: fake.token };
  const source = new SplunkPullSource(
    cfg,
    { clock, logger: log, dataDir: root, exec: new ProcessExec(), checkpoints },
    { sleep: sleeps.sleep, env },
  );
  return { source, clock, checkpoints, log, sleeps, env };
}

/** Runs `run` until `cond`, then stops it. */
async function runUntil(m: Made, sink: AlertSink, cond: () => boolean, what: string): Promise<void> {
  const ac = new AbortController();
  const done = m.source.run(sink, ac.signal);
  try {
    await waitFor(cond, what, () => ({ waits: m.sleeps.waits, stats: m.source.stats() }));
  } finally {
    ac.abort();
    await done;
  }
}

describe("splunk source: a search's results become alerts", () => {
  test("the request follows the contract: Bearer token, form, count=0, output_mode=json, absolute window", async () => {
    const m = make();
    await m.source.runOnce(new Sink());
    assert.equal(fake.searches.length, 1);
    const r = fake.searches[0]!;
    assert.equal(r.path, "/services/search/jobs");
    assert.equal(r.authorization, `Bearer ${fake.token}`);
    assert.match(r.contentType!, /^application\/x-www-form-urlencoded/);
    assert.equal(
      r.params.search,
      "search index=auth action=failure | stats count by src_ip | where count>=20",
    );
    assert.equal(r.params.exec_mode, "oneshot");
    assert.equal(r.params.output_mode, "json");
    assert.equal(r.params.count, "0");
    assert.equal(r.params.earliest_time, String((T0 - 15 * MIN) / 1000));
    assert.equal(r.params.latest_time, String(T0 / 1000));
  });

  test("addresses from string values become alerts for the policy; host names, ranges, dest refused", async () => {
    fake.rows = () => [
      { src_ip: "203.0.113.77", count: 57, users: ["root", "admin", "oracle"] },
      { src_ip: "198.51.100.9", count: "23", users: "ubuntu" },
      { src_ip: ["2001:db8::7", "192.0.2.10"], count: "30" },
      { src_ip: "bastion.example.com", count: "99" },
      { src_ip: "198.51.100.0/24", count: "40" },
      { src_ip: "127.0.0.1", count: "40" },
      { dest: "192.0.2.254", count: "40" },
      { src_ip: "203.0.113.77", count: "3" },
      { src_ip: "192.0.2.254", count: "50" },
    ];
    const m = make();
    const sink = new Sink();
    const report = await m.source.runOnce(sink);
    assert.deepEqual(sink.ips, ["203.0.113.77", "198.51.100.9", "2001:db8::7", "192.0.2.10"]);
    const a = sink.alerts[0]!;
    assert.equal(a.origin, "splunk");
    assert.equal(a.rule.id, "splunk:Brute force sources");
    assert.equal(a.rule.name, "Brute force sources");
    assert.equal(a.response, "ban");
    assert.equal(a.count, 60, "57 (sent as a string) + 3 from the second row naming it");
    assert.equal(sink.alerts[1]!.count, 23);
    assert.match(a.id, /^splunk:splunk@\d+:203\.0\.113\.77$/);
    assert.deepEqual(sink.actors[0], { type: "siem", name: "splunk" });
    const why = report.rejected.map((r) => `${r.path}: ${r.reason}`).join("\n");
    assert.match(why, /results\[3\]\.src_ip: a host name/);
    assert.match(why, /results\[4\]\.src_ip: a range/);
    assert.match(why, /results\[5\]\.src_ip: a loopback address/);
    assert.match(why, /results\[6\]: no attacker address/);
    assert.match(
      why,
      /results\[8\]\.src_ip: the payload's own attacked host's .*\(dest\), never the attacker/,
    );
    const s = m.source.stats();
    assert.equal(s.lines, 9);
    assert.equal(s.alerts, 4);
    assert.equal(s.rejected, 5);
    assert.ok(s.bytes > 100);
    const health = await m.source.healthcheck();
    assert.equal(health.ok, true);
    assert.match(health.detail, /9 rows, 4 alerts, 0 already reported, 5 values refused/);
  });

  test("configured fields: attacker, count, reason and rule per row", async () => {
    fake.rows = () => [
      { attacker: "203.0.113.5", failures: "12", why: "password spraying", rule: "Spray" },
      { attacker: "203.0.113.6", failures: "7", src_ip: "198.51.100.1" },
    ];
    const m = make({
      ip_fields: ["attacker"],
      count_field: "failures",
      reason_field: "why",
      rule_field: "rule",
    });
    const sink = new Sink();
    await m.source.runOnce(sink);
    assert.deepEqual(sink.ips, ["203.0.113.5", "203.0.113.6"]);
    assert.equal(sink.alerts[0]!.count, 12);
    assert.equal(sink.alerts[0]!.rule.id, "splunk:Spray");
    assert.equal(sink.alerts[0]!.events[0]!.event.reason, "password spraying");
    assert.equal(sink.alerts[1]!.rule.id, "splunk:Brute force sources");
    assert.equal(sink.alerts[1]!.count, 7);
  });

  test("more rows than max_results: the rest are counted as drops, not examined", async () => {
    fake.rows = () => Array.from({ length: 150 }, (_, i) => ({ src_ip: `198.51.100.${i + 1}` }));
    const m = make({ max_results: 120 });
    const sink = new Sink();
    const r = await m.source.runOnce(sink);
    assert.equal(sink.alerts.length, 120, "count=0 was sent: Splunk's default page of 100 would cut earlier");
    assert.equal(r.dropped, 30);
    assert.equal(m.source.stats().drops, 30);
    assert.ok(m.log.records.some((x) => x.level === "warn" && /max_results/.test(x.msg ?? "")));
  });

  test("results messages are logged; no rows is a successful, empty run", async () => {
    fake.messages = [{ type: "WARN", text: "Search filters out all events" }];
    const m = make();
    const r = await m.source.runOnce(new Sink());
    assert.equal(r.rows, 0);
    assert.deepEqual(r.messages, [{ type: "WARN", text: "Search filters out all events" }]);
    assert.ok(m.log.records.some((x) => x.text === "Search filters out all events"));
    assert.equal((await m.source.healthcheck()).ok, true);
  });

  test("basic auth, a namespace, and the token read from a file", async () => {
    const pw = join(root, "splunk.pw");
    writeFileSync(pw, `${fake.basic.password}\n`);
    chmodSync(pw, 0o600);
    const m = make({
      auth: { type: "basic", username: fake.basic.user, password: { file: pw } },
      namespace: { owner: "nobody", app: "search" },
    });
    await m.source.runOnce(new Sink());
    const r = fake.searches[0]!;
    assert.equal(r.path, "/servicesNS/nobody/search/search/jobs");
    assert.equal(r.authorization, `Basic ${Buffer.from("portcullis:s3cret").toString("base64")}`);
    assert.ok(!m.log.records.some((x) => /readable by others/.test(x.msg ?? "")));
  });

  test("exec_mode normal: create, poll, read /results with count=0, delete the job", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.9" }];
    const m = make({ exec_mode: "normal", poll_interval: "10ms" });
    const sink = new Sink();
    const r = await m.source.runOnce(sink);
    assert.deepEqual(sink.ips, ["203.0.113.9"]);
    assert.ok(r.sid);
    assert.match(sink.alerts[0]!.id, new RegExp(`^splunk:${r.sid.replace(".", "\\.")}:203`));
    const calls = fake.requests.map((x) => `${x.method} ${x.path.replace(r.sid!, "SID")}`);
    assert.deepEqual(calls, [
      "POST /services/search/jobs",
      "GET /services/search/jobs/SID",
      "GET /services/search/jobs/SID",
      "GET /services/search/jobs/SID/results",
      "DELETE /services/search/jobs/SID",
    ]);
    assert.equal(fake.requests[0]!.params.exec_mode, "normal");
    assert.ok(Number(fake.requests[0]!.params.timeout) > 0, "the job's ttl is set explicitly");
    assert.equal(fake.requests[3]!.params.count, "0");
    assert.equal(fake.requests[3]!.params.output_mode, "json");
    assert.equal(fake.jobs.get(r.sid)!.deleted, true);
  });
});

describe("splunk source: each occurrence reported once, across runs and restarts", () => {
  test("overlapping windows do not report an address twice; a disjoint window does", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.7" }];
    const m = make();
    const sink = new Sink();
    await m.source.runOnce(sink);
    m.clock.advanceBy(5 * MIN);
    const second = await m.source.runOnce(sink);
    assert.deepEqual(second.suppressed, ["203.0.113.7"]);
    m.clock.advanceBy(9 * MIN);
    await m.source.runOnce(sink);
    assert.equal(
      sink.alerts.length,
      1,
      "window starting 1 minute before the first one ended: same occurrence",
    );
    m.clock.advanceBy(1 * MIN);
    await m.source.runOnce(sink);
    assert.equal(sink.alerts.length, 2, "window starting where the reported one ended: a new occurrence");
    assert.equal(m.source.stats().suppressed, 2);
    assert.match((await m.source.healthcheck()).detail, /1 alerts, 0 already reported/);
  });

  test("a new instance on the same checkpoint store remembers what was reported and when it last ran", async () => {
    fake.rows = (p) =>
      Number(p.latest_time) * 1000 < T0 + 5 * MIN
        ? [{ src_ip: "203.0.113.7" }]
        : [{ src_ip: "203.0.113.7" }, { src_ip: "198.51.100.20" }];
    const checkpoints = new Checkpoints();
    const clock = new ManualClock(T0);
    const first = make({}, { checkpoints, clock });
    const sink1 = new Sink();
    await first.source.runOnce(sink1);
    assert.deepEqual(sink1.ips, ["203.0.113.7"]);
    const saved = JSON.parse(checkpoints.map.get("splunk:splunk")!);
    assert.equal(saved.latest, T0);
    assert.deepEqual(saved.seen, [["203.0.113.7", T0]]);

    clock.advanceBy(2 * MIN); // the daemon restarts 2 minutes later
    const second = make({}, { checkpoints, clock });
    const sink2 = new Sink();
    second.sleeps.onWait = (n) => n >= 2;
    await runUntil(second, sink2, () => second.sleeps.waits.length === 2, "one run after the restart");
    assert.equal(second.source.stats().runs, 1);
    assert.equal(second.sleeps.waits[0], 3 * MIN, "the first run waits for what is left of the interval");
    // the run happened "at" T0+2m on the manual clock: its window overlaps the first one
    assert.deepEqual(sink2.ips, [], "203.0.113.7 not reported again");
    clock.advanceBy(3 * MIN);
    await second.source.runOnce(sink2);
    assert.deepEqual(sink2.ips, ["198.51.100.20"]);
    assert.equal(second.source.stats().suppressed, 2);
  });

  test("another search starts afresh; an unusable checkpoint is reported and replaced", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.7" }];
    const checkpoints = new Checkpoints();
    await make({}, { checkpoints }).source.runOnce(new Sink());
    const other = make({ search: "index=web status=401 | stats count by clientip" }, { checkpoints });
    const sink = new Sink();
    await other.source.runOnce(sink);
    assert.deepEqual(sink.ips, ["203.0.113.7"]);
    assert.equal(other.source.stats().checkpoint_resets, 1);

    checkpoints.map.set("splunk:splunk", "{not json");
    const broken = make({}, { checkpoints });
    const sink2 = new Sink();
    await broken.source.runOnce(sink2);
    assert.deepEqual(sink2.ips, ["203.0.113.7"]);
    assert.ok(
      broken.log.records.some((x) => x.level === "error" && /unusable Splunk checkpoint/.test(x.msg!)),
    );
    assert.equal(JSON.parse(checkpoints.map.get("splunk:splunk")!).v, 1);
  });

  test("a failed ingest is retried without reporting twice what was already handed over", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.1" }, { src_ip: "203.0.113.2" }, { src_ip: "203.0.113.3" }];
    const checkpoints = new Checkpoints();
    const m = make({}, { checkpoints });
    const sink = new Sink();
    sink.failOn = "203.0.113.2";
    await assert.rejects(
      m.source.runOnce(sink),
      /could not ingest the alert about 203\.0\.113\.2: store unavailable/,
    );
    assert.deepEqual(sink.ips, ["203.0.113.1"]);
    assert.equal((await m.source.healthcheck()).ok, false);
    sink.failOn = undefined;
    const again = make({}, { checkpoints }); // even after a restart
    await again.source.runOnce(sink);
    assert.deepEqual(sink.ips, ["203.0.113.1", "203.0.113.2", "203.0.113.3"]);
  });

  test("a gap (stopped longer than the window) is counted and logged", async () => {
    const checkpoints = new Checkpoints();
    const clock = new ManualClock(T0);
    await make({}, { checkpoints, clock }).source.runOnce(new Sink());
    clock.advanceBy(60 * MIN);
    const m = make({}, { checkpoints, clock });
    await m.source.runOnce(new Sink());
    assert.equal(m.source.stats().gaps, 1);
    assert.ok(m.log.records.some((x) => x.level === "warn" && /was not searched/.test(x.msg!)));
  });
});

describe("splunk source: failures are clear, retried with backoff, and never overlap", () => {
  test("401: a clear error in healthcheck, backoff doubling to its limit, reset after success", async () => {
    const m = make({ retry_backoff: "1s", retry_backoff_max: "4s" }, { env: { SPLUNK_TOKEN: "expired" } });
    fake.rows = () => [{ src_ip: "203.0.113.50" }];
    const sink = new Sink();
    m.sleeps.onWait = (n) => n >= 4;
    await runUntil(m, sink, () => m.sleeps.waits.length === 4, "four failed runs");
    assert.deepEqual(m.sleeps.waits, [1000, 2000, 4000, 4000]);
    assert.equal(m.source.stats().errors, 4);
    const h = await m.source.healthcheck();
    assert.equal(h.ok, false);
    assert.match(
      h.detail,
      /failed: Splunk refused the credentials \(HTTP 401 .*call not properly authenticated\)/,
    );
    assert.match(h.detail, /auth: token from env SPLUNK_TOKEN/);
    assert.ok(m.log.records.some((x) => x.level === "error" && x.kind === "auth"));
    assert.deepEqual(sink.ips, []);

    // restarted; the operator fixes the token during the second wait: it is read again at the next run
    m.sleeps.waits.length = 0;
    m.sleeps.onWait = (n) => {
      if (n === 2) m.env.SPLUNK_TOKEN = fake.token;
      return n >= 3;
    };
    await runUntil(m, sink, () => m.sleeps.waits.length === 3, "a good run");
    assert.deepEqual(m.sleeps.waits, [1000, 2000, 5 * MIN], "after a success: the interval, backoff reset");
    assert.deepEqual(sink.ips, ["203.0.113.50"]);
    assert.equal((await m.source.healthcheck()).ok, true);
  });

  test("400, 403 and 503 are told apart, with what to do", async () => {
    const m = make();
    const expect = async (status: number, text: string, kind: string, message: RegExp) => {
      fake.fail({ status, text });
      await assert.rejects(m.source.runOnce(new Sink()), (e: SplunkError) => {
        assert.equal(e.kind, kind);
        assert.match(e.message, message);
        return true;
      });
      assert.match((await m.source.healthcheck()).detail, message);
    };
    await expect(
      400,
      "Error in 'search' command: Unable to parse",
      "bad_search",
      /rejected the search.*Unable to parse/,
    );
    await expect(403, "You do not have the capability", "forbidden", /lacks a capability.*`search`/);
    await expect(503, "The maximum number of concurrent historical searches", "busy", /concurrency quota/);
    assert.equal(m.source.stats().errors, 3);
  });

  test("SPL not starting with a generating command would be a 400: `search ` is prepended", async () => {
    const m = make({ search: "  index=auth sourcetype=linux_secure failed" });
    await m.source.runOnce(new Sink());
    assert.equal(fake.searches[0]!.params.search, "search index=auth sourcetype=linux_secure failed");
  });

  test("a missing secret is an error naming where it was looked for", async () => {
    const m = make({}, { env: {} });
    await assert.rejects(
      m.source.runOnce(new Sink()),
      /auth\.token: environment variable SPLUNK_TOKEN is not set/,
    );
    assert.equal(fake.requests.length, 0);
  });

  test("no overlapping runs: a slow search holds the loop; runOnce meanwhile joins it", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.8" }];
    fake.hold();
    const m = make({ interval: "1s" });
    const sink = new Sink();
    const ac = new AbortController();
    const done = m.source.run(sink, ac.signal);
    await waitFor(() => fake.searches.length === 1, "the first search to arrive");
    const joined = m.source.runOnce(sink);
    await new Promise((r) => setTimeout(r, 50)); // give a wrongly started second run the chance to show up
    assert.equal(fake.searches.length, 1);
    fake.release();
    const report = await joined;
    assert.deepEqual(
      report.ingested.map((x) => x.ip),
      ["203.0.113.8"],
    );
    await waitFor(() => m.source.stats().runs >= 3, "more runs");
    ac.abort();
    await done;
    assert.equal(fake.maxConcurrent, 1);
    assert.equal(sink.alerts.length, 1, "joined, not run twice; later runs saw it as already reported");
    await assert.rejects(
      Promise.all([m.source.run(sink, ac.signal), m.source.run(sink, ac.signal)]),
      /already running/,
    );
  });

  test("timeout: a hung oneshot fails the run with a timeout error", async () => {
    fake.hold();
    const m = make({ timeout: "100ms" });
    await assert.rejects(m.source.runOnce(new Sink()), (e: SplunkError) => e.kind === "timeout");
    assert.match((await m.source.healthcheck()).detail, /did not finish within 100ms/);
  });

  test("timeout of a normal job: the job is deleted (its concurrency slot freed)", async () => {
    fake.pollsUntilDone = 1_000_000;
    try {
      const m = make({ exec_mode: "normal", poll_interval: "10ms", timeout: "150ms" });
      await assert.rejects(m.source.runOnce(new Sink()), /did not finish within 150ms.*job was deleted/);
      const [job] = [...fake.jobs.values()].slice(-1);
      assert.equal(job!.deleted, true);
      assert.equal(fake.requests.at(-1)!.method, "DELETE");
    } finally {
      fake.pollsUntilDone = 1;
    }
  });

  test("stopping during a run returns promptly without recording a failure", async () => {
    fake.hold();
    const m = make();
    const ac = new AbortController();
    const done = m.source.run(new Sink(), ac.signal);
    await waitFor(() => fake.searches.length === 1, "the search to arrive");
    ac.abort();
    await done;
    assert.equal(m.source.stats().errors, 0);
    assert.equal((await m.source.healthcheck()).ok, true);
  });
});

describe("splunk source: TLS", () => {
  test("the self-signed certificate is refused without ca_file, with a hint", async () => {
    const m = make({ tls: {} });
    await assert.rejects(m.source.runOnce(new Sink()), (e: SplunkError) => {
      assert.equal(e.kind, "tls");
      assert.match(e.message, /set tls\.ca_file/);
      return true;
    });
  });

  test("insecure_skip_verify works but is loud: warned at start and shown in healthcheck", async () => {
    fake.rows = () => [{ src_ip: "203.0.113.60" }];
    const m = make({ tls: { insecure_skip_verify: true } });
    const sink = new Sink();
    await runUntil(m, sink, () => sink.alerts.length === 1, "one alert");
    assert.ok(m.log.records.some((x) => x.level === "warn" && /TLS VERIFICATION IS DISABLED/.test(x.msg!)));
    assert.match((await m.source.healthcheck()).detail, /TLS verification DISABLED/);
  });

  test("a wrong base path is a 404 saying what to check", async () => {
    const m = make({ url: `${fake.url}/en-US` });
    await assert.rejects(m.source.runOnce(new Sink()), /not found \(HTTP 404.*check url, namespace/);
  });
});

test("the plugin definition: type, description, strict schema, create without side effects", async () => {
  assert.equal(splunkPull.type, "splunk");
  assert.ok(splunkPull.description.length > 10);
  const cfg = splunkPull.schema.parse({
    type: "splunk",
    url: "https://splunk.example.com",
    auth: { type: "token", token: { env: "SPLUNK_TOKEN" } },
    search: "index=auth",
  });
  const src = splunkPull.create(cfg, {
    clock: new ManualClock(T0),
    logger: memoryLogger(),
    dataDir: root,
    exec: new ProcessExec(),
    checkpoints: new Checkpoints(),
  });
  assert.equal(src.name, "splunk");
  const h = await src.healthcheck();
  assert.equal(h.ok, true);
  assert.match(h.detail, /no run yet \(every 5m, window -15m\.\.now\)/);
  assert.deepEqual(Object.keys(src.stats()).slice(0, 5), ["lines", "bytes", "drops", "rotations", "errors"]);
});
