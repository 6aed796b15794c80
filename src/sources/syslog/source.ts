/**
 * The `syslog` source: a receiver other hosts' rsyslog / syslog-ng forward to, over UDP and TCP. Messages
 * are handed over as lines, untouched (the framer reads `<PRI>` RFC 3164 and RFC 5424); each batch carries
 * the sender's address as `peer` (canonical IP), from which the pipeline sets `log.source.address` and
 * `host.name` (the hostname the message claims goes to `log.syslog.hostname`).
 *
 * Only senders in the `allow` list are heard (default: loopback), so an open port cannot be used to inject
 * forged lines; others are rejected and counted. Back-pressure: TCP connections are read only as fast as the
 * pipeline takes their messages (the sender's socket buffer fills and it waits, as rsyslog's queue expects);
 * UDP cannot wait, so datagrams go through a bounded queue and are dropped, and counted, when it is full.
 * Batches from all listeners go to the sink one at a time, in arrival order.
 */
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { createServer, type AddressInfo, type Server, type Socket } from "node:net";
import { PortcullisError } from "../../core/errors.ts";
import { canonicalIp, CidrSet, splitHostPort } from "../../core/ip.ts";
import type { Logger } from "../../core/logger.ts";
import type { Health } from "../../core/plugin.ts";
import { charBoundary } from "../splitter.ts";
import type { InstrumentedSource, LineSink, SourceBatch, SourceContext, SourceStats } from "../types.ts";
import { Waker } from "../waker.ts";
import type { SyslogConfig } from "./config.ts";
import { TcpDeframer } from "./deframer.ts";

export interface SyslogStats extends SourceStats {
  /** Datagrams and connections from senders outside `allow`. */
  rejected: number;
  /** Connections closed because `max_connections` were open. */
  rejected_connections: number;
  /** Messages cut to max_message_bytes. */
  truncated: number;
  /** Open TCP connections (a gauge). */
  connections: number;
  connections_total: number;
  /** Bytes waiting in the UDP queue (a gauge). */
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
   * Bytes this entry added to `udp_queue_bytes` (the datagram's size, as counted on arrival). Subtracted as
   * is when it leaves the queue: recomputing it from `line` would not match, as invalid UTF-8 decodes to
   * U+FFFD (3 bytes per bad byte), and the gauge would fall faster than the queue empties, so the bound
   * would no longer hold.
   */
  bytes: number;
}

/** Senders whose rejection was logged (bounded, so a scan cannot grow it without limit). */
const MAX_LOGGED_REJECTS = 1000;

export class SyslogSource implements InstrumentedSource {
  readonly type = "syslog";
  readonly name: string;
  readonly #cfg: SyslogConfig;
  readonly #log: Logger;
  readonly #allow: CidrSet;
  readonly #udp: UdpSocket[] = [];
  readonly #tcp: Server[] = [];
  readonly #conns = new Map<Socket, Promise<void>>();
  readonly #queue: Queued[] = [];
  #queueHead = 0;
  readonly #waker = new Waker();
  readonly #loggedRejects = new Set<string>();
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
    truncated: 0,
    connections: 0,
    connections_total: 0,
    udp_queue_bytes: 0,
  };

  constructor(cfg: SyslogConfig, ctx: SourceContext) {
    this.#cfg = cfg;
    this.name = cfg.name ?? "syslog";
    this.#log = ctx.logger.child({ source: this.name, type: this.type });
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
    try {
      await this.#listen();
      this.#ready.resolve(this.#listening!);
      await this.#pump(signal);
    } catch (e) {
      const err = e instanceof SinkFailed ? e.cause : e;
      this.#ready.reject(err);
      throw err as Error;
    } finally {
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
    await Promise.allSettled([...this.#conns.values(), ...closing]);
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
    const peer = this.#allowed(address);
    if (!peer) return;
    let end = msg.length;
    while (end > 0 && (msg[end - 1] === 0x0a || msg[end - 1] === 0x0d || msg[end - 1] === 0x00)) end--;
    if (end === 0) return;
    if (end > this.#cfg.max_message_bytes) {
      end = charBoundary(msg.subarray(0, this.#cfg.max_message_bytes));
      this.#stats.truncated++;
    }
    if (this.#stats.udp_queue_bytes + end > this.#cfg.udp_queue_bytes) {
      this.#stats.drops++;
      return;
    }
    this.#queue.push({ peer, line: msg.toString("utf8", 0, end), bytes: end });
    this.#stats.udp_queue_bytes += end;
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
        const q = this.#queue[this.#queueHead++]!;
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
    if (this.#conns.size >= this.#cfg.max_connections) {
      this.#stats.rejected_connections++;
      this.#log.warn(
        { peer, max: this.#cfg.max_connections },
        "too many syslog connections; closing a new one",
      );
      sock.destroy();
      return;
    }
    this.#stats.connections_total++;
    sock.setKeepAlive(true, 60_000);
    const done = this.#read(sock, peer).finally(() => this.#conns.delete(sock));
    this.#conns.set(sock, done);
  }

  async #read(sock: Socket, peer: string): Promise<void> {
    const deframer = new TcpDeframer(this.#cfg.max_message_bytes);
    let truncated = 0;
    const count = () => {
      this.#stats.truncated += deframer.truncated - truncated;
      truncated = deframer.truncated;
    };
    try {
      for await (const chunk of sock) {
        const buf = chunk as Buffer;
        this.#stats.bytes += buf.length;
        const msgs = deframer.push(buf);
        count();
        if (msgs.length) await this.#pushAll(peer, msgs);
        if (deframer.error) break;
      }
      const last = deframer.end();
      count();
      if (last) await this.#pushAll(peer, [last]);
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
