/**
 * The `syslog` source: a receiver other hosts' rsyslog / syslog-ng forward to, over UDP and TCP. Messages
 * are handed over as lines, one message each, in a shape the framer reads as syslog only (see
 * {@link syslogLine}: RFC 3164, RFC 5424, plain); each batch carries the sender's address as `peer`
 * (canonical IP), from which the pipeline sets `log.source.address` and `host.name` (the hostname the
 * message claims goes to `log.syslog.hostname`).
 *
 * Only senders in the `allow` list are heard (default: loopback), so an open port cannot be used to inject
 * forged lines; others are rejected and counted. Back-pressure: TCP connections are read only as fast as the
 * pipeline takes their messages (the sender's socket buffer fills and it waits, as rsyslog's queue expects);
 * UDP cannot wait, so datagrams go through a bounded queue and are dropped, and counted, when it is full.
 * Batches from all listeners go to the sink one at a time, in arrival order. TCP connections are capped in
 * total and per sender, and closed when idle (slow or silent connections cannot hold every slot).
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { PortcullisError } from "../../core/errors.ts";
import { canonicalIp, CidrSet, splitHostPort } from "../../core/ip.ts";
import type { Logger } from "../../core/logger.ts";
import type { Health } from "../../core/plugin.ts";
import { charBoundary } from "../splitter.ts";
import type { Clock } from "../../core/clock.ts";
import type { InstrumentedSource, LineSink, SourceBatch, SourceContext, SourceStats } from "../types.ts";
import { Waker } from "../waker.ts";
import type { SyslogConfig } from "./config.ts";
import { TcpDeframer } from "./deframer.ts";

export interface SyslogStats extends SourceStats {
  /** Datagrams and connections from senders outside `allow`. */
  rejected: number;
  /** Connections closed at once because `max_connections` (or `max_connections_per_peer`) were open. */
  rejected_connections: number;
  /** Connections closed because they sent nothing for `idle_timeout`. */
  idle_closed: number;
  /** Messages cut to max_message_bytes. */
  truncated: number;
  /** Open TCP connections (a gauge). */
  connections: number;
  connections_total: number;
  /**
   * What the UDP queue holds, as charged against `udp_queue_bytes` (a gauge): the datagrams' bytes plus
   * {@link UDP_ENTRY_OVERHEAD} per message.
   */
  udp_queue_bytes: number;
}

export interface Listening {
  udp: AddressInfo[];
  tcp: AddressInfo[];
}

interface Queued {
  peer: string;
  line: string;
  /**
   * Bytes this entry added to `udp_queue_bytes` (the datagram's size, as counted on arrival, plus
   * {@link UDP_ENTRY_OVERHEAD}). Subtracted as is when it leaves the queue: recomputing it from `line` would
   * not match, as invalid UTF-8 decodes to U+FFFD (3 bytes per bad byte), and the gauge would fall faster
   * than the queue empties, so the bound would no longer hold.
   */
  bytes: number;
}

/** A consumed queue slot: the entry is released at once, not when the array is next compacted. */
const TAKEN: Queued = { peer: "", line: "", bytes: 0 };

/**
 * What one queued datagram costs besides its bytes, charged against `udp_queue_bytes`: the entry object,
 * the string's header and the array slot (measured at about 90 bytes on Node 20 / x64), rounded up. Without
 * it a flood of 1-byte datagrams held about 90 times `udp_queue_bytes` of heap.
 */
export const UDP_ENTRY_OVERHEAD = 128;

/** Senders whose rejection was logged (bounded, so a scan cannot grow it without limit). */
const MAX_LOGGED_REJECTS = 1000;
/** At most one "connection refused" warning per this period (the counter stays exact). */
const REFUSAL_LOG_INTERVAL_MS = 60_000;

/** An open TCP connection. */
interface Conn {
  peer: string;
  done: Promise<void>;
  /** Clock time of the last bytes read (or of the accept, or of the end of the last push). */
  lastActive: number;
  /** A push of its messages is pending: the connection is not read meanwhile, which is not idleness. */
  busy: boolean;
  /** Closed by {@link SyslogSource.closeIdle}. */
  idle: boolean;
}

/**
 * A network message as the line handed to the framer, which must read it as a syslog message only: RFC 3164
 * or RFC 5424 after a `<PRI>`, a classic or ISO-8601 timestamp, `host prog[pid]:`, or a plain line. Never as
 * `journalctl -o export`, a multi-line format whose state would carry over to the sender's next messages
 * (`__CURSOR=x` then a bare field name made the framer drop everything after), nor as a journal or ECS JSON
 * document, whose trusted fields (`_EXE`, ...) a remote sender would write itself. The framer picks those
 * formats by the first character (`_`, `{`; also `@` for TAI64N, and U+FEFF, which it skips), never after a
 * `<`, a letter or a digit. So leading byte-order marks are removed, and a message that starts with any other
 * character gets `<13>` (user.notice) in front, as RFC 3164 (section 4.3.3) tells a relay to do with a
 * message without a PRI; others are unchanged. Every datagram or TCP frame is one message, framed alone.
 */
export function syslogLine(msg: string): string {
  let i = 0;
  while (msg.charCodeAt(i) === 0xfeff) i++;
  const m = i ? msg.slice(i) : msg;
  const c = m.charCodeAt(0);
  const plain = c === 60 /* < */ || (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  return plain ? m : `<13>${m}`;
}

export class SyslogSource implements InstrumentedSource {
  readonly type = "syslog";
  readonly name: string;
  readonly #cfg: SyslogConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly #allow: CidrSet;
  readonly #udp: UdpSocket[] = [];
  readonly #tcp: Server[] = [];
  readonly #conns = new Map<Socket, Conn>();
  /** Open connections per sender. */
  readonly #perPeer = new Map<string, number>();
  readonly #queue: Queued[] = [];
  #queueHead = 0;
  readonly #waker = new Waker();
  readonly #loggedRejects = new Set<string>();
  /** When a refused connection was last logged, and how many were refused without a log since. */
  readonly #refusals = { loggedAt: -Infinity, unlogged: 0 };
  /** The last sender's address string, reused by queued datagrams from the same sender. */
  #lastPeer = "";
  #chain: Promise<void> = Promise.resolve();
  #sink: LineSink | undefined;
  #sinkError: unknown;
  #running = false;
  #listening: Listening | undefined;
  #ready: { promise: Promise<Listening>; resolve: (l: Listening) => void; reject: (e: unknown) => void };
  readonly #stats: SyslogStats = {
    lines: 0,
    bytes: 0,
    drops: 0,
    rotations: 0,
    errors: 0,
    rejected: 0,
    rejected_connections: 0,
    idle_closed: 0,
    truncated: 0,
    connections: 0,
    connections_total: 0,
    udp_queue_bytes: 0,
  };

  constructor(cfg: SyslogConfig, ctx: SourceContext) {
    this.#cfg = cfg;
    this.name = cfg.name ?? "syslog";
    this.#log = ctx.logger.child({ source: this.name, type: this.type });
    this.#clock = ctx.clock;
    this.#allow = new CidrSet(cfg.allow);
    this.#ready = deferred();
  }

  stats(): SyslogStats {
    return { ...this.#stats, connections: this.#conns.size };
  }

  /** Resolves with the bound addresses once `run` listens (ports chosen by the system when 0 was asked). */
  listening(): Promise<Listening> {
    return this.#ready.promise;
  }

  healthcheck(): Promise<Health> {
    const want = [...this.#cfg.udp.map((a) => `udp ${a}`), ...this.#cfg.tcp.map((a) => `tcp ${a}`)];
    if (!this.#listening) {
      return Promise.resolve({
        ok: !this.#running,
        detail: `not listening (configured: ${want.join(", ")})`,
      });
    }
    const addr = (p: string, a: AddressInfo) =>
      `${p} ${a.family === "IPv6" ? `[${a.address}]` : a.address}:${a.port}`;
    const on = [
      ...this.#listening.udp.map((a) => addr("udp", a)),
      ...this.#listening.tcp.map((a) => addr("tcp", a)),
    ];
    return Promise.resolve({
      ok: true,
      detail: `listening on ${on.join(", ")}; ${this.#conns.size} connection(s); ${this.#stats.rejected} rejected`,
    });
  }

  async run(sink: LineSink, signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error(`source ${this.name} is already running`);
    this.#running = true;
    this.#sink = sink;
    // A sink error belongs to the run it ended: the daemon runs a failed source again, and that run must not
    // end at once with the old error.
    this.#sinkError = undefined;
    this.#ready = deferred();
    this.#ready.promise.catch(() => {});
    // Scheduling only (how often to look); idleness is measured with the injected clock.
    const sweep = Math.min(Math.max(this.#cfg.idle_timeout / 4, 1000), 30_000);
    const idleTimer = setInterval(() => this.closeIdle(), sweep);
    idleTimer.unref();
    try {
      await this.#listen();
      this.#ready.resolve(this.#listening!);
      await this.#pump(signal);
    } catch (e) {
      const err = e instanceof SinkFailed ? e.cause : e;
      this.#ready.reject(err);
      throw err as Error;
    } finally {
      clearInterval(idleTimer);
      await this.#close();
      this.#discardQueue();
      this.#running = false;
      this.#listening = undefined;
    }
    if (this.#sinkError !== undefined) throw this.#sinkError as Error;
  }

  // ---- listeners ------------------------------------------------------------------------------------------

  async #listen(): Promise<void> {
    const listening: Listening = { udp: [], tcp: [] };
    for (const a of this.#cfg.udp) {
      const { ip, port } = splitHostPort(a)!;
      const sock = createSocket({ type: ip.includes(":") ? "udp6" : "udp4" });
      sock.on("message", (msg, rinfo) => this.#onDatagram(msg, rinfo.address));
      sock.on("error", (e) => {
        this.#stats.errors++;
        this.#log.warn({ err: e.message }, "udp socket error");
      });
      await bind(`udp ${a}`, (done) => {
        sock.once("error", done);
        sock.bind({ address: ip, port, exclusive: true }, () => {
          sock.off("error", done);
          done();
        });
      });
      if (this.#cfg.udp_receive_buffer) sock.setRecvBufferSize(this.#cfg.udp_receive_buffer);
      this.#udp.push(sock);
      listening.udp.push(sock.address());
    }
    for (const a of this.#cfg.tcp) {
      const { ip, port } = splitHostPort(a)!;
      const server = createServer((s) => this.#onConnection(s));
      server.on("error", (e) => {
        this.#stats.errors++;
        this.#log.warn({ err: e.message }, "tcp listener error");
      });
      await bind(`tcp ${a}`, (done) => {
        server.once("error", done);
        server.listen({ host: ip, port, exclusive: true }, () => {
          server.off("error", done);
          done();
        });
      });
      this.#tcp.push(server);
      listening.tcp.push(server.address() as AddressInfo);
    }
    this.#listening = listening;
    this.#log.info({ udp: this.#cfg.udp, tcp: this.#cfg.tcp }, "listening for syslog");
  }

  async #close(): Promise<void> {
    for (const s of this.#udp) s.close();
    this.#udp.length = 0;
    const closing = this.#tcp.map((s) => new Promise<void>((r) => s.close(() => r())));
    this.#tcp.length = 0;
    for (const c of this.#conns.keys()) c.destroy();
    await Promise.allSettled([...[...this.#conns.values()].map((c) => c.done), ...closing]);
  }

  #allowed(address: string | undefined): string | undefined {
    const peer = address === undefined ? undefined : canonicalIp(address);
    if (peer && this.#allow.has(peer)) return peer;
    this.#stats.rejected++;
    const who = peer ?? String(address);
    if (this.#loggedRejects.size < MAX_LOGGED_REJECTS && !this.#loggedRejects.has(who)) {
      this.#loggedRejects.add(who);
      this.#log.warn({ peer: who }, "syslog from a sender outside `allow` rejected (logged once per sender)");
    }
    return undefined;
  }

  // ---- UDP ------------------------------------------------------------------------------------------------

  #onDatagram(msg: Buffer, address: string): void {
    this.#stats.bytes += msg.length;
    let peer = this.#allowed(address);
    if (!peer) return;
    let end = msg.length;
    while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0x00)) end--;
    if (end === 0) return;
    if (end > this.#cfg.max_message_bytes) {
      end = charBoundary(msg.subarray(0, this.#cfg.max_message_bytes));
      this.#stats.truncated++;
    }
    const cost = end + UDP_ENTRY_OVERHEAD;
    if (this.#stats.udp_queue_bytes + cost > this.#cfg.udp_queue_bytes) {
      this.#stats.drops++;
      return;
    }
    if (peer === this.#lastPeer) peer = this.#lastPeer;
    else this.#lastPeer = peer;
    this.#queue.push({ peer, line: syslogLine(msg.toString("utf8", 0, end)), bytes: cost });
    this.#stats.udp_queue_bytes += cost;
    this.#waker.wake();
  }

  /** Hands queued datagrams over, in arrival order, one batch per run of messages from one sender. */
  async #pump(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.#sinkError === undefined) {
      if (this.#queueHead >= this.#queue.length) {
        this.#queue.length = 0;
        this.#queueHead = 0;
        await this.#waker.wait(60_000, signal);
        continue;
      }
      const first = this.#queue[this.#queueHead]!;
      const lines: string[] = [];
      let bytes = 0;
      while (
        this.#queueHead < this.#queue.length &&
        lines.length < this.#cfg.batch_lines &&
        this.#queue[this.#queueHead]!.peer === first.peer
      ) {
        const q = this.#queue[this.#queueHead]!;
        this.#queue[this.#queueHead++] = TAKEN;
        lines.push(q.line);
        bytes += q.bytes;
      }
      if (this.#queueHead > 4096 && this.#queueHead * 2 > this.#queue.length) {
        this.#queue.splice(0, this.#queueHead);
        this.#queueHead = 0;
      }
      try {
        await this.#push(first.peer, lines);
      } finally {
        this.#stats.udp_queue_bytes = Math.max(0, this.#stats.udp_queue_bytes - bytes);
      }
    }
  }

  /**
   * Counts what is still queued when `run` ends (stop, reload, a failed sink) as drops and empties the queue.
   * Delivering it would mean waiting for a pipeline that is shutting down; letting it vanish would break the
   * rule that a source never drops silently (and would leave the gauge, and the entries, for the next run).
   * Runs after the sockets are closed, so nothing is added behind it.
   */
  #discardQueue(): void {
    const left = this.#queue.length - this.#queueHead;
    if (left > 0) {
      this.#stats.drops += left;
      this.#log.warn(
        { dropped: left },
        "syslog source stopped with UDP messages still queued; counted as drops",
      );
    }
    this.#queue.length = 0;
    this.#queueHead = 0;
    this.#stats.udp_queue_bytes = 0;
  }

  // ---- TCP ------------------------------------------------------------------------------------------------

  #onConnection(sock: Socket): void {
    const peer = this.#allowed(sock.remoteAddress);
    if (!peer) {
      sock.destroy();
      return;
    }
    const fromPeer = this.#perPeer.get(peer) ?? 0;
    if (this.#conns.size >= this.#cfg.max_connections || fromPeer >= this.#cfg.max_connections_per_peer) {
      this.#refused(peer, fromPeer);
      sock.destroy();
      return;
    }
    this.#stats.connections_total++;
    this.#perPeer.set(peer, fromPeer + 1);
    sock.setKeepAlive(true, 60_000);
    const conn: Conn = {
      peer,
      done: Promise.resolve(),
      lastActive: this.#clock.now(),
      busy: false,
      idle: false,
    };
    conn.done = this.#read(sock, conn).finally(() => {
      this.#conns.delete(sock);
      const n = (this.#perPeer.get(peer) ?? 1) - 1;
      if (n > 0) this.#perPeer.set(peer, n);
      else this.#perPeer.delete(peer);
    });
    this.#conns.set(sock, conn);
  }

  /** Counts a refused connection; logs at most one warning per REFUSAL_LOG_INTERVAL_MS, with the count since. */
  #refused(peer: string, fromPeer: number): void {
    this.#stats.rejected_connections++;
    const r = this.#refusals;
    const now = this.#clock.now();
    if (now - r.loggedAt < REFUSAL_LOG_INTERVAL_MS) {
      r.unlogged++;
      return;
    }
    this.#log.warn(
      {
        peer,
        connections: this.#conns.size,
        from_peer: fromPeer,
        max: this.#cfg.max_connections,
        max_per_peer: this.#cfg.max_connections_per_peer,
        refused_unlogged: r.unlogged,
      },
      "too many syslog connections; closing new ones (logged at most once a minute, all counted in rejected_connections)",
    );
    r.loggedAt = now;
    r.unlogged = 0;
  }

  /**
   * Closes the connections that have sent nothing for `idle_timeout` (by the injected clock), as if their
   * senders had closed them; a connection waiting for the pipeline is not idle. Run periodically by `run`;
   * returns how many were closed.
   */
  closeIdle(): number {
    const now = this.#clock.now();
    let closed = 0;
    for (const [sock, c] of this.#conns) {
      if (c.busy || c.idle || now - c.lastActive < this.#cfg.idle_timeout) continue;
      c.idle = true;
      closed++;
      this.#stats.idle_closed++;
      this.#log.debug({ peer: c.peer, idleMs: now - c.lastActive }, "idle syslog connection closed");
      sock.destroy();
    }
    return closed;
  }

  async #read(sock: Socket, conn: Conn): Promise<void> {
    const peer = conn.peer;
    const deframer = new TcpDeframer(this.#cfg.max_message_bytes);
    let truncated = 0;
    const count = () => {
      this.#stats.truncated += deframer.truncated - truncated;
      truncated = deframer.truncated;
    };
    const deliver = async (msgs: string[]) => {
      conn.busy = true;
      try {
        await this.#pushAll(peer, msgs.map(syslogLine));
      } finally {
        conn.busy = false;
        conn.lastActive = this.#clock.now();
      }
    };
    try {
      try {
        for await (const chunk of sock) {
          const buf = chunk as Buffer;
          conn.lastActive = this.#clock.now();
          this.#stats.bytes += buf.length;
          const msgs = deframer.push(buf);
          count();
          if (msgs.length) await deliver(msgs);
          if (deframer.error) break;
        }
      } catch (e) {
        // Closed for idleness: ends like a close by the sender (a last unterminated message is delivered).
        if (!conn.idle) throw e;
      }
      const last = deframer.end();
      count();
      if (last) await deliver([last]);
      if (deframer.error) {
        this.#stats.errors++;
        this.#log.warn({ peer, err: deframer.error.message }, "syslog framing error; connection closed");
      }
    } catch (e) {
      if (e instanceof SinkFailed) {
        this.#sinkError = e.cause;
        this.#waker.wake();
      } else if (this.#running && sock.readable) {
        this.#stats.errors++;
        this.#log.debug({ peer, err: (e as Error).message }, "syslog connection error");
      }
    } finally {
      sock.destroy();
    }
  }

  async #pushAll(peer: string, msgs: string[]): Promise<void> {
    for (let i = 0; i < msgs.length; i += this.#cfg.batch_lines) {
      await this.#push(
        peer,
        msgs.length <= this.#cfg.batch_lines ? msgs : msgs.slice(i, i + this.#cfg.batch_lines),
      );
    }
  }

  /** Sends one batch after the ones already on their way (one push at a time, in order). */
  #push(peer: string, lines: string[]): Promise<void> {
    const batch: SourceBatch = { lines, stream: `syslog:${peer}`, peer };
    this.#stats.lines += lines.length;
    const sink = this.#sink!;
    const p = this.#chain.then(() => sink.push(batch));
    this.#chain = p.then(
      () => {},
      () => {},
    );
    return p.catch((e: unknown) => {
      throw new SinkFailed("sink failed", { cause: e });
    });
  }
}

class SinkFailed extends Error {}

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

function bind(what: string, start: (done: (e?: Error) => void) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    start((e?: Error) => {
      if (!e) return resolve();
      const code = (e as NodeJS.ErrnoException).code;
      const hint =
        code === "EACCES"
          ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
          : code === "EADDRINUSE"
            ? " (address in use: another syslog daemon?)"
            : "";
      reject(
        new PortcullisError("INPUT_UNREADABLE", `cannot listen on ${what}: ${code ?? e.message}${hint}`, {
          cause: e,
        }),
      );
    });
  });
}
