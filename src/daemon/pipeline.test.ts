import assert from "node:assert/strict";
import { test } from "node:test";
import type { SecurityEvent } from "../core/event.ts";
import { silentLogger } from "../core/logger.ts";
import type { DetectionEngine } from "../detect/engine.ts";
import { Zone } from "../framing/zone.ts";
import type { Policy } from "../policy/policy.ts";
import { injectionRecord } from "../parsers/nginx/testing.ts";
import { Pipeline } from "./pipeline.ts";

/** A pipeline whose detection engine only records the events it is given. */
function recording(): { pipeline: Pipeline; events: SecurityEvent[] } {
  const events: SecurityEvent[] = [];
  const engine = { process: (e: SecurityEvent) => void events.push(e), sweep: () => {}, ipv6Prefixes: [64] };
  const policy = { blocking: { active: () => undefined } };
  const pipeline = new Pipeline({
    time: { zone: new Zone("UTC"), reference: () => Date.UTC(2025, 10, 23) },
    modes: {},
    engine: () => engine as unknown as DetectionEngine,
    policy: () => policy as unknown as Policy,
    ipv6Prefix: 64,
    onAlerts: () => {},
    flush: () => Promise.resolve(),
    now: () => Date.UTC(2025, 10, 23),
    logger: silentLogger,
  });
  return { pipeline, events };
}

const line = (host: string) =>
  `<38>Nov 23 10:00:00 ${host} sshd[100]: Failed password for root from 203.0.113.7 port 4242 ssh2`;

test("syslog: the sending host becomes host.name; the hostname the message claims is kept in log.syslog.hostname", async () => {
  const { pipeline, events } = recording();
  await pipeline.push({ lines: [line("trusted-web-1")], stream: "syslog:192.0.2.10", peer: "192.0.2.10" });
  assert.equal(events.length, 1);
  const e = events[0]!;
  assert.equal(e.host?.name, "192.0.2.10");
  assert.deepEqual(e.log, { source: { address: "192.0.2.10" }, syslog: { hostname: "trusted-web-1" } });
  assert.equal(e.source?.ip, "203.0.113.7");
});

test("file lines keep the hostname written in the line as host.name", async () => {
  const { pipeline, events } = recording();
  await pipeline.push({ lines: [line("srv")], stream: "/var/log/auth.log", path: "/var/log/auth.log" });
  assert.equal(events[0]?.host?.name, "srv");
  assert.equal(events[0]?.log?.syslog, undefined);
});

test("lines a parser refuses (a forged nginx client) are counted, not silently dropped", async () => {
  const { pipeline, events } = recording();
  const forged =
    '2025/11/23 10:00:00 [error] 7#7: *1 open() "/srv/www/x), client: 192.0.2.99, server: a, request: "GET /pma/ HTTP/1.1", host: "h", referrer: "z" failed (2: No such file or directory), client: 203.0.113.21, server: a, request: "GET /x)%2C HTTP/1.1", host: "h"';
  await pipeline.push({
    lines: [forged, line("srv")],
    stream: "/var/log/mixed.log",
    path: "/var/log/mixed.log",
  });
  assert.equal(pipeline.counters.rejected, 1);
  assert.deepEqual(
    events.map((e) => e.source?.ip),
    ["203.0.113.7"],
  );
});

test("lines forged inside an nginx error record (line feeds from its request path) are not read; counted", async () => {
  const { pipeline, events } = recording();
  const genuine =
    '2024/06/03 10:11:13 [error] 7#7: *3 user "bob": password mismatch, client: 192.0.2.10, server: example.com, request: "GET /secret HTTP/1.1", host: "example.com"';
  const record = injectionRecord("198.51.100.7", 3);
  // Ordinary lines between: the lines within 2048 bytes of the record are left unread with it.
  const quiet = Array.from({ length: 12 }, () => "2024/06/03 10:11:13 [notice] 7#7: signal process started");
  quiet.push(...quiet);
  await pipeline.push({
    lines: [genuine, ...quiet, ...record, ...quiet, genuine],
    stream: "/var/log/nginx/error.log",
    path: "/var/log/nginx/error.log",
  });
  assert.deepEqual(
    events.map((e) => e.source?.ip),
    ["192.0.2.10", "192.0.2.10"],
  );
  assert.ok(pipeline.counters.forged >= record.length, String(pipeline.counters.forged));
  assert.equal(pipeline.counters.lines, record.length + 2 * quiet.length + 2);
  // Line numbers of the lines after the record are still right.
  assert.equal(events[1]?.log?.file?.line, record.length + 2 * quiet.length + 2);
});
