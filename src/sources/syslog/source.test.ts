import assert from "node:assert/strict";
import { createSocket } from "node:dgram";
import { connect, type Socket } from "node:net";
import { describe, test } from "node:test";
import { ManualClock } from "../../core/clock.ts";
import type { SecurityEvent } from "../../core/event.ts";
import { memoryLogger, silentLogger } from "../../core/logger.ts";
import { Pipeline } from "../../daemon/pipeline.ts";
import type { DetectionEngine } from "../../detect/engine.ts";
import { LineFramer } from "../../framing/framer.ts";
import { Zone } from "../../framing/zone.ts";
import type { Policy } from "../../policy/policy.ts";
import { RecordingSink, sourceContext, start, waitFor } from "../testing.ts";
import type { LineSink } from "../types.ts";
import { syslogConfig } from "./config.ts";
import { SyslogSource, syslogLine, UDP_ENTRY_OVERHEAD } from "./source.ts";

const RFC3164 = "<34>Oct 11 22:14:15 mymachine su: 'su root' failed for lonvick on /dev/pts/8";
const RFC5424 =
  '<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] An event';

async function listen(
  opts: Record<string, unknown> = {},
  ctx: Parameters<typeof sourceContext>[0] = {},
  to?: LineSink,
) {
  const cfg = syslogConfig.parse({ type: "syslog", udp: ["127.0.0.1:0"], tcp: ["127.0.0.1:0"], ...opts });
  const src = new SyslogSource(cfg, sourceContext(ctx));
  const sink = new RecordingSink();
  const run = start(src, to ?? sink);
  const addr = await src.listening();
  return { src, sink, run, udpPort: addr.udp[0]?.port ?? 0, tcpPort: addr.tcp[0]?.port ?? 0 };
}

async function sendUdp(port: number, messages: (string | Buffer)[], host = "127.0.0.1"): Promise<void> {
  const sock = createSocket(host.includes(":") ? "udp6" : "udp4");
  for (let i = 0; i < messages.length; i++) {
    await new Promise<void>((resolve, reject) =>
      sock.send(messages[i]!, port, host, (e) => (e ? reject(e) : resolve())),
    );
    if (i % 20 === 19) await new Promise((r) => setImmediate(r)); // let the receiver read
  }
  sock.close();
}

function tcp(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, ...(localAddress && { localAddress }) }, () => resolve(s));
    s.on("error", reject);
  });
}

/** Waits until the server has closed `s` (its errors, such as a reset, are expected). */
async function closed(s: Socket): Promise<void> {
  s.on("error", () => {});
  await waitFor(() => s.closed, "the server to close the connection");
}

/** The daemon's pipeline (framer and parsers per stream), with a detection engine that records events. */
function pipeline(): { pipeline: Pipeline; events: SecurityEvent[] } {
  const events: SecurityEvent[] = [];
  const engine = { process: (e: SecurityEvent) => void events.push(e), sweep: () => {}, ipv6Prefixes: [64] };
  const policy = { blocking: { active: () => undefined } };
  const p = new Pipeline({
    time: { zone: new Zone("UTC"), reference: () => Date.UTC(2026, 11, 5, 17) },
    modes: {},
    engine: () => engine as unknown as DetectionEngine,
    policy: () => policy as unknown as Policy,
    ipv6Prefix: 64,
    onAlerts: () => {},
    flush: () => Promise.resolve(),
    now: () => Date.UTC(2026, 11, 5, 17),
    logger: silentLogger,
  });
  return { pipeline: p, events };
}

async function sendTcp(port: number, pieces: (string | Buffer)[]): Promise<void> {
  const s = await tcp(port);
  for (const p of pieces) {
    await new Promise<void>((resolve, reject) => s.write(p, (e) => (e ? reject(e) : resolve())));
  }
  await new Promise<void>((resolve) => s.end(resolve));
}

const octet = (m: string) => `${Buffer.byteLength(m)} ${m}`;
const framer = () => new LineFramer({ zone: new Zone("UTC"), reference: () => Date.UTC(2003, 11, 1) });

describe("syslog source (real sockets on loopback)", () => {
  test("UDP: RFC 3164 and RFC 5424 messages, with the sender as peer", async () => {
    const { src, sink, run, udpPort } = await listen();
    await sendUdp(udpPort, [RFC3164 + "\n", RFC5424]);
    await waitFor(() => sink.lines.length === 2, "two datagrams");
    await run.stop();
    assert.deepEqual(sink.lines, [RFC3164, RFC5424]);
    assert.ok(sink.batches.every((b) => b.peer === "127.0.0.1" && b.stream === "syslog:127.0.0.1"));
    const f1 = framer().frame(sink.lines[0]!)!;
    assert.equal(f1.program, "su");
    assert.equal(f1.host, "mymachine");
    const f2 = framer().frame(sink.lines[1]!)!;
    assert.equal(f2.format, "rfc5424");
    assert.equal(f2.program, "evntslog");
    assert.equal(f2.message, "An event");
    assert.equal(src.stats().lines, 2);
  });

  test("UDP over IPv6 loopback: the peer is ::1", async () => {
    const { sink, run, udpPort } = await listen({ udp: ["[::1]:0"], tcp: [] });
    await sendUdp(udpPort, [RFC3164], "::1");
    await waitFor(() => sink.lines.length === 1, "datagram");
    await run.stop();
    assert.equal(sink.batches[0]!.peer, "::1");
  });

  test("TCP octet counting: frames split anywhere, several per write", async () => {
    const { sink, run, tcpPort } = await listen();
    const all = octet(RFC5424) + octet(RFC3164) + octet("<13>multi\nline");
    const bytes = Buffer.from(all);
    await sendTcp(tcpPort, [bytes.subarray(0, 5), bytes.subarray(5, 90), bytes.subarray(90)]);
    await waitFor(
      () => sink.lines.length === 3,
      "three frames",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(sink.lines, [RFC5424, RFC3164, "<13>multi\nline"]);
    assert.equal(sink.batches[0]!.peer, "127.0.0.1");
  });

  test("TCP newline framing (rsyslog's default), CRLF and NUL, concurrent with an octet-counted connection", async () => {
    const { sink, run, tcpPort } = await listen();
    await Promise.all([
      sendTcp(tcpPort, [`${RFC3164}\n<13>second\r\n<13>thi`, "rd\0<13>last without newline"]),
      sendTcp(tcpPort, [octet("<13>octet a"), octet("<13>octet b")]),
    ]);
    await waitFor(
      () => sink.lines.length === 6,
      "all messages",
      () => sink.lines,
    );
    await run.stop();
    const got = [...sink.lines].sort();
    assert.deepEqual(
      got,
      [RFC3164, "<13>second", "<13>third", "<13>last without newline", "<13>octet a", "<13>octet b"].sort(),
    );
  });

  test("a flood over TCP with a slow pipeline: the sender is slowed down, nothing is lost", async () => {
    const { src, sink, run, tcpPort } = await listen({ batch_lines: 200 });
    sink.block();
    const count = 20_000;
    const msgs = Array.from(
      { length: count },
      (_, i) => `<38>Oct 11 22:14:15 h sshd[1]: Failed password ${i}`,
    );
    const sending = sendTcp(tcpPort, [msgs.join("\n") + "\n"]);
    await waitFor(() => sink.calls === 1, "blocked on a push");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.calls, 1, "no second push while the first is pending");
    sink.release();
    await sending;
    await waitFor(
      () => sink.lines.length === count,
      "everything",
      () => sink.lines.length,
    );
    await run.stop();
    assert.deepEqual(sink.lines, msgs);
    assert.equal(src.stats().drops, 0);
  });

  test("a flood over UDP with a blocked pipeline: the bounded queue drops and counts, never silently", async () => {
    const { src, sink, run, udpPort } = await listen({ udp_queue_bytes: 65536, tcp: [] });
    sink.block();
    const msgs = Array.from(
      { length: 3000 },
      (_, i) => `<38>Oct 11 22:14:15 h sshd[1]: Failed password ${i}`,
    );
    await sendUdp(udpPort, msgs);
    await waitFor(
      () => src.stats().drops > 0,
      "drops counted",
      () => src.stats(),
    );
    sink.release();
    await waitFor(() => src.stats().udp_queue_bytes === 0, "queue drained");
    await run.stop();
    const s = src.stats();
    // The kernel may drop some datagrams before we see them; everything we saw is delivered or counted.
    assert.equal(sink.lines.length, s.lines);
    assert.ok(sink.lines.length > 0);
    assert.ok(sink.lines.length + s.drops <= msgs.length);
    const idx = sink.lines.map((l) => Number(l.split(" ").at(-1)));
    assert.deepEqual(
      idx,
      [...idx].sort((a, b) => a - b),
      "in order, no duplicates",
    );
    assert.equal(new Set(idx).size, idx.length);
  });

  test("UDP queue gauge: a datagram leaves the queue with the bytes it brought, even invalid UTF-8", async () => {
    // Each 0xff decodes to U+FFFD (3 bytes in UTF-8): counting the decoded line on the way out would make
    // the gauge fall about 3x faster than the queue empties, and the udp_queue_bytes bound would not hold.
    const { src, sink, run, udpPort } = await listen({ tcp: [], batch_lines: 1 });
    sink.block();
    try {
      const msg = Buffer.concat([Buffer.from("<34>"), Buffer.alloc(96, 0xff)]);
      await sendUdp(udpPort, [msg, msg, msg, msg, msg]);
      await waitFor(
        () => src.stats().bytes === 500 && sink.calls === 1,
        "five datagrams seen, first push blocked",
        () => src.stats(),
      );
      assert.equal(src.stats().udp_queue_bytes, 5 * (100 + UDP_ENTRY_OVERHEAD));
      // Let exactly one push through: the gauge must fall by exactly what that datagram was charged.
      sink.release();
      sink.block();
      await waitFor(
        () => sink.lines.length === 1 && sink.calls === 2,
        "one delivered, second push blocked",
        () => sink.calls,
      );
      assert.equal(src.stats().udp_queue_bytes, 4 * (100 + UDP_ENTRY_OVERHEAD));
      sink.release();
      await waitFor(() => sink.lines.length === 5, "all delivered");
      assert.equal(src.stats().udp_queue_bytes, 0);
    } finally {
      sink.release();
      await run.stop();
    }
  });

  test("UDP messages still queued at stop are counted as drops, never lost silently", async () => {
    const { src, sink, run, udpPort } = await listen({ tcp: [] });
    sink.block();
    const msgs = Array.from({ length: 50 }, (_, i) => `<34>Oct 11 22:14:15 h sshd[1]: msg ${i}`);
    const total = msgs.reduce((n, m) => n + Buffer.byteLength(m), 0);
    await sendUdp(udpPort, msgs);
    await waitFor(
      () => src.stats().bytes === total && sink.calls === 1,
      "all datagrams seen, a push blocked",
      () => src.stats(),
    );
    assert.ok(src.stats().udp_queue_bytes > 0);
    const stopping = run.stop();
    sink.release();
    await stopping;
    const s = src.stats();
    assert.ok(s.drops > 0, "the rest of the queue is counted");
    assert.equal(sink.lines.length + s.drops, msgs.length, "every message delivered or counted");
    assert.equal(s.udp_queue_bytes, 0);
  });

  test("after a run ended by a sink error (TCP), the source can run again and delivers", async () => {
    const cfg = syslogConfig.parse({ type: "syslog", udp: [], tcp: ["127.0.0.1:0"] });
    const src = new SyslogSource(cfg, sourceContext());
    const failing = { push: () => Promise.reject(new Error("store full")) };
    const first = start(src, failing);
    await sendTcp((await src.listening()).tcp[0]!.port, ["<13>lost\n"]);
    await assert.rejects(first.done, /store full/);
    const sink = new RecordingSink();
    const second = start(src, sink);
    await sendTcp((await src.listening()).tcp[0]!.port, ["<13>delivered\n"]);
    await waitFor(
      () => sink.lines.length === 1,
      "the second run's message",
      () => sink.lines,
    );
    await second.stop();
    assert.deepEqual(sink.lines, ["<13>delivered"]);
  });

  test("oversized messages keep their head and are counted (UDP and TCP)", async () => {
    const { src, sink, run, udpPort, tcpPort } = await listen({ max_message_bytes: 1024 });
    const big = "<13>" + "y".repeat(4000);
    await sendUdp(udpPort, [big]);
    await waitFor(() => sink.lines.length === 1, "udp");
    await sendTcp(tcpPort, [octet(big) + octet("<13>after")]);
    await waitFor(
      () => sink.lines.length === 3,
      "tcp",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(sink.lines, [big.slice(0, 1024), big.slice(0, 1024), "<13>after"]);
    assert.equal(src.stats().truncated, 2);
  });

  test("senders outside `allow` are rejected and counted; nothing of theirs gets through", async () => {
    const { src, sink, run, udpPort, tcpPort } = await listen({ allow: ["192.0.2.0/24"] });
    await sendUdp(udpPort, ["<13>forged: Accepted password for root from 203.0.113.9"]);
    const s = await tcp(tcpPort);
    const closed = new Promise((r) => s.on("close", r));
    s.on("error", () => {});
    s.write("<13>forged\n");
    await closed;
    await waitFor(
      () => src.stats().rejected === 2,
      "rejections counted",
      () => src.stats(),
    );
    await run.stop();
    assert.deepEqual(sink.lines, []);
  });

  test("max_connections: a connection beyond it is closed and counted", async () => {
    const { src, sink, run, tcpPort } = await listen({ max_connections: 1 });
    const first = await tcp(tcpPort);
    first.write("<13>one\n");
    await waitFor(() => sink.lines.length === 1, "first connection works");
    const second = await tcp(tcpPort);
    second.on("error", () => {});
    await new Promise((r) => second.on("close", r));
    assert.equal(src.stats().rejected_connections, 1);
    first.end("<13>two\n");
    await waitFor(() => sink.lines.length === 2, "first connection still works");
    await run.stop();
  });

  test("a malformed octet-counting header closes the connection (counted); others continue", async () => {
    const { src, sink, run, tcpPort } = await listen();
    const s = await tcp(tcpPort);
    s.on("error", () => {});
    const closed = new Promise((r) => s.on("close", r));
    s.write(octet("<13>good") + "12x garbage");
    await closed;
    await sendTcp(tcpPort, ["<13>other\n"]);
    await waitFor(
      () => sink.lines.length === 2,
      "messages",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(sink.lines, ["<13>good", "<13>other"]);
    assert.equal(src.stats().errors, 1);
  });

  test("a port in use is a clear error from run", async () => {
    const a = await listen({ udp: [] });
    const cfg = syslogConfig.parse({ type: "syslog", udp: [], tcp: [`127.0.0.1:${a.tcpPort}`] });
    const b = new SyslogSource(cfg, sourceContext());
    await assert.rejects(
      b.run(new RecordingSink(), new AbortController().signal),
      /cannot listen on tcp .*EADDRINUSE/,
    );
    await a.run.stop();
  });

  test("a sender cannot switch its stream into journalctl export mode, nor be read as journal JSON", async () => {
    // `__CURSOR=x` then a bare field name (a binary export field) used to put the stream `syslog:<peer>` into
    // export mode, then into "drop everything": the sender's later messages, over UDP and TCP, gave nothing.
    const { pipeline: p, events } = pipeline();
    const { src, run, udpPort, tcpPort } = await listen({}, {}, p);
    const failure = (n: number) =>
      `<38>Dec  5 16:20:0${n} h sshd[1]: Failed password for root from 198.51.100.9 port ${1000 + n} ssh2`;
    const json = JSON.stringify({
      MESSAGE: "Failed password for root from 198.51.100.7 port 1 ssh2",
      SYSLOG_IDENTIFIER: "sshd",
      _EXE: "/usr/sbin/sshd",
      __REALTIME_TIMESTAMP: "1796487600000000",
    });
    try {
      await sendUdp(udpPort, [json, "__CURSOR=x", "BINARYFIELD", ...[0, 1, 2, 3].map(failure)]);
      await waitFor(
        () => p.counters.lines === 7,
        "the UDP messages framed",
        () => p.counters,
      );
      await sendTcp(tcpPort, [
        ["\ufeff__CURSOR=y", "__REALTIME_TIMESTAMP=1", "BINARY2", ...[4, 5, 6, 7].map(failure)].join("\n") +
          "\n",
      ]);
      await waitFor(
        () => p.counters.lines === 14,
        "the TCP messages framed",
        () => p.counters,
      );
    } finally {
      await run.stop();
    }
    assert.equal(src.stats().lines, 14);
    // Eight failures, none lost; the JSON document is a plain message, not a trusted journal entry.
    assert.deepEqual(
      events.map((e) => [e.source?.ip, e.host?.name]),
      Array.from({ length: 8 }, () => ["198.51.100.9", "127.0.0.1"]),
    );
  });

  test("syslogLine: messages starting with <, a letter or a digit are unchanged; others get <13>", () => {
    for (const m of [
      RFC3164,
      RFC5424,
      "hello",
      "Dec  5 16:20:00 h sshd[1]: x",
      "2026-12-05T16:20:00Z h p: m",
    ]) {
      assert.equal(syslogLine(m), m);
    }
    assert.equal(syslogLine("<>x"), "<>x");
    assert.equal(syslogLine("__CURSOR=x"), "<13>__CURSOR=x");
    assert.equal(syslogLine('{"MESSAGE":"m"}'), '<13>{"MESSAGE":"m"}');
    assert.equal(syslogLine("@4000000000000000ffffffff x"), "<13>@4000000000000000ffffffff x");
    assert.equal(syslogLine("\ufeff\ufeff<13>a"), "<13>a");
    assert.equal(syslogLine("\ufeff__REALTIME_TIMESTAMP=1"), "<13>__REALTIME_TIMESTAMP=1");
    assert.equal(syslogLine(" x"), "<13> x");
    assert.equal(syslogLine(""), "<13>");
    // One framer for the whole sequence (as the pipeline keeps per stream): every message is framed, alone.
    const f = framer();
    const hostile = [
      "__CURSOR=x",
      "BINARYFIELD",
      "\ufeff__CURSOR=y",
      "MESSAGE",
      "",
      "X=1",
      "{}",
      "<13>a",
      "b",
    ];
    for (const m of hostile) {
      const frame = f.frame(syslogLine(m));
      assert.ok(frame, m);
      assert.ok(frame.format === "syslog" || frame.format === "plain" || frame.format === "journal", m);
    }
    assert.equal(f.unreadAfterBinary, 0);
  });

  test("idle_timeout: a connection that sends nothing is closed and counted; one waiting for the pipeline is not", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 5));
    const { src, sink, run, tcpPort } = await listen({ udp: [], idle_timeout: "1m" }, { clock });
    try {
      const a = await tcp(tcpPort);
      const b = await tcp(tcpPort);
      b.write("<13>unterminated");
      a.write("<13>one\n");
      await waitFor(
        () => sink.lines.length === 1 && src.stats().bytes === 24,
        "a's message delivered, b's bytes read",
        () => [sink.lines, src.stats()],
      );
      clock.advanceBy(59_000);
      assert.equal(src.closeIdle(), 0);
      a.write("<13>two\n");
      await waitFor(() => sink.lines.length === 2, "a's second message");
      clock.advanceBy(1_000);
      src.closeIdle();
      await closed(b);
      assert.equal(src.stats().idle_closed, 1);
      // Closed like a close by the sender: its last message, without LF, is delivered.
      await waitFor(
        () => sink.lines.length === 3,
        "b's unterminated message",
        () => sink.lines,
      );
      assert.equal(src.stats().connections, 1);
      // A connection whose push is pending is not read meanwhile: that is not idleness.
      sink.block();
      a.write("<13>three\n");
      await waitFor(() => sink.calls === 4, "a's push blocked");
      clock.advanceBy(120_000);
      assert.equal(src.closeIdle(), 0);
      sink.release();
      await waitFor(() => sink.lines.length === 4, "a's third message");
      clock.advanceBy(60_000);
      src.closeIdle();
      await closed(a);
      assert.equal(src.stats().idle_closed, 2);
      assert.deepEqual(sink.lines, ["<13>one", "<13>two", "<13>unterminated", "<13>three"]);
    } finally {
      sink.release();
      await run.stop();
    }
  });

  test("max_connections_per_peer: one sender cannot take every slot; other senders still connect", async () => {
    const { src, sink, run, tcpPort } = await listen({ udp: [], max_connections_per_peer: 2 });
    try {
      const a = await tcp(tcpPort);
      await tcp(tcpPort);
      await waitFor(() => src.stats().connections === 2, "two connections");
      await closed(await tcp(tcpPort));
      assert.equal(src.stats().rejected_connections, 1);
      const other = await tcp(tcpPort, "127.0.0.2");
      other.write("<13>other sender\n");
      await waitFor(() => sink.lines.length === 1, "the other sender's message");
      assert.equal(sink.batches[0]!.peer, "127.0.0.2");
      // A slot of the first sender freed: it may connect again.
      a.end("<13>a\n");
      await waitFor(() => src.stats().connections === 2, "a closed");
      const again = await tcp(tcpPort);
      again.write("<13>again\n");
      await waitFor(() => sink.lines.length === 3, "the new connection's message");
      assert.equal(src.stats().rejected_connections, 1);
    } finally {
      await run.stop();
    }
  });

  test("refused connections are all counted, but logged at most once a minute", async () => {
    const clock = new ManualClock(Date.UTC(2026, 11, 5));
    const logger = memoryLogger();
    const { src, run, tcpPort } = await listen({ udp: [], max_connections: 1 }, { clock, logger });
    const warnings = () => logger.records.filter((r) => r.msg?.startsWith("too many syslog connections"));
    try {
      await tcp(tcpPort);
      await waitFor(() => src.stats().connections === 1, "one connection");
      for (let i = 0; i < 5; i++) await closed(await tcp(tcpPort));
      assert.equal(src.stats().rejected_connections, 5);
      assert.equal(warnings().length, 1);
      clock.advanceBy(60_000);
      await closed(await tcp(tcpPort));
      assert.equal(src.stats().rejected_connections, 6);
      assert.equal(warnings().length, 2);
      assert.equal(warnings()[1]!.refused_unlogged, 4);
    } finally {
      await run.stop();
    }
  });

  test("UDP queue: each queued message is charged its overhead, so small datagrams cannot exceed the bound", async () => {
    // 1-byte datagrams: counting only payload bytes let 65536 of them in (about 90 bytes of heap each).
    const { src, sink, run, udpPort } = await listen({ tcp: [], udp_queue_bytes: 65536, batch_lines: 1 });
    sink.block();
    try {
      await sendUdp(
        udpPort,
        Array.from({ length: 1500 }, () => "x"),
      );
      await waitFor(
        () => src.stats().drops > 0,
        "drops counted",
        () => src.stats(),
      );
      const s = src.stats();
      const queued = s.bytes - s.drops; // one byte per datagram; the one in the blocked push still counts
      assert.equal(s.udp_queue_bytes, queued * (1 + UDP_ENTRY_OVERHEAD));
      assert.ok(s.udp_queue_bytes <= 65536);
      sink.release();
      await waitFor(() => src.stats().udp_queue_bytes === 0, "queue drained");
      const t = src.stats();
      assert.equal(sink.lines.length + t.drops, t.bytes, "every datagram seen is delivered or counted");
      assert.ok(sink.lines.every((l) => l === "x"));
    } finally {
      sink.release();
      await run.stop();
    }
  });

  test("config: listen addresses and CIDRs are validated; unknown keys rejected", () => {
    assert.equal(syslogConfig.safeParse({ type: "syslog", udp: ["localhost:514"] }).success, false);
    assert.equal(syslogConfig.safeParse({ type: "syslog", allow: ["10.0.0.0/33"] }).success, false);
    assert.equal(syslogConfig.safeParse({ type: "syslog", port: 514 }).success, false);
    assert.equal(syslogConfig.safeParse({ type: "syslog", udp: [], tcp: [] }).success, false);
    const d = syslogConfig.parse({ type: "syslog" });
    assert.deepEqual(
      [d.udp, d.tcp, d.allow],
      [["127.0.0.1:5514"], ["127.0.0.1:5514"], ["127.0.0.0/8", "::1/128"]],
    );
  });
});
