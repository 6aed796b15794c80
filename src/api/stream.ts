/**
 * `GET /v1/stream`: Server-Sent Events of new alerts and decisions.
 *
 * - One subscription to the daemon while at least one client is connected; each event is serialised once.
 * - Frames: `id: <n>`, `event: alert|decision`, `data: <json>`; a `: heartbeat` comment when idle, so proxies
 *   and clients see a live connection.
 * - Backpressure: a client whose unsent output exceeds `maxBuffered` bytes is disconnected (memory stays bounded
 *   whatever the client does; it reconnects and reads the lists to catch up).
 * - Shutdown: {@link StreamHub.closeAll} sends `event: shutdown` and ends every stream, so the server can close.
 */
import type { ServerResponse } from "node:http";
import type { Control, StreamEvent } from "./control.ts";
import type { ApiMetrics } from "./metrics.ts";
import { present } from "./present.ts";

export interface StreamOptions {
  heartbeat: number;
  maxClients: number;
  /** Unsent bytes allowed per client. Default 1 MiB. */
  maxBuffered?: number;
}

export class StreamHub {
  readonly #control: Control;
  readonly #opts: Required<StreamOptions>;
  readonly #metrics: ApiMetrics | undefined;
  readonly #clients = new Set<ServerResponse>();
  #unsubscribe: (() => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #seq = 0;
  #closed = false;

  constructor(control: Control, opts: StreamOptions, metrics?: ApiMetrics) {
    this.#control = control;
    this.#opts = { maxBuffered: 1024 * 1024, ...opts };
    this.#metrics = metrics;
  }

  get size(): number {
    return this.#clients.size;
  }

  /** Whether one more client may connect. */
  get full(): boolean {
    return this.#closed || this.#clients.size >= this.#opts.maxClients;
  }

  /** Takes over a raw response (headers not sent yet) and streams to it until either side closes. */
  open(res: ServerResponse, headers: Record<string, string>): void {
    res.writeHead(200, {
      ...headers,
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-store",
      "x-accel-buffering": "no",
    });
    res.write(`retry: 5000\n: connected\n\n`);
    this.#clients.add(res);
    this.#metrics?.streamClients.set(this.#clients.size);
    res.on("close", () => this.#remove(res));
    if (!this.#unsubscribe) this.#unsubscribe = this.#control.subscribe((e) => this.#broadcast(e));
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#heartbeat(), this.#opts.heartbeat);
      this.#timer.unref();
    }
  }

  #remove(res: ServerResponse): void {
    if (!this.#clients.delete(res)) return;
    this.#metrics?.streamClients.set(this.#clients.size);
    if (!this.#clients.size) this.#idle();
  }

  #idle(): void {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #write(res: ServerResponse, frame: string): void {
    if (res.writableLength + frame.length > this.#opts.maxBuffered) {
      this.#metrics?.streamDropped.inc();
      this.#remove(res);
      res.destroy();
      return;
    }
    res.write(frame);
  }

  #broadcast(e: StreamEvent): void {
    const data = JSON.stringify(e.data && typeof e.data === "object" ? present(e.data) : e.data);
    const frame = `id: ${++this.#seq}\nevent: ${e.kind}\ndata: ${data}\n\n`;
    for (const res of [...this.#clients]) this.#write(res, frame);
  }

  #heartbeat(): void {
    for (const res of [...this.#clients]) this.#write(res, ": heartbeat\n\n");
  }

  /**
   * Ends every stream (server shutdown) and waits until each connection is closed, at most `grace` ms, so the
   * `shutdown` event reaches the clients before the server destroys idle connections. No client may connect
   * afterwards.
   */
  async closeAll(grace = 2000): Promise<void> {
    this.#closed = true;
    const closing: Promise<void>[] = [];
    for (const res of [...this.#clients]) {
      this.#clients.delete(res);
      const socket = res.socket;
      if (socket && !socket.destroyed) {
        closing.push(
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              socket.destroy();
              resolve();
            }, grace);
            timer.unref();
            socket.once("close", () => {
              clearTimeout(timer);
              resolve();
            });
          }),
        );
      }
      // A graceful end: the last frame, then FIN once it is flushed.
      res.end("event: shutdown\ndata: {}\n\n", () => socket?.end());
    }
    this.#metrics?.streamClients.set(0);
    this.#idle();
    await Promise.all(closing);
  }
}
