/**
 * Test helpers for the enforcer: a raw socket client that sends exactly the bytes a test gives it (hostile
 * clients), and a responder wrapper that records every call (to prove a refused request reached nothing).
 */
import { connect, type Socket } from "node:net";
import type { Health } from "../core/plugin.ts";
import type { BanEntry, EntryResult, Responder } from "../responders/types.ts";
import { LineSplitter } from "./lines.ts";

export interface RawClient {
  /** The first line the server sent (the hello, or an error reply such as BUSY). */
  first: Record<string, unknown>;
  /** Writes bytes as they are; a string gets no newline added. */
  write(data: string | Buffer): void;
  /** Sends one request object as a line and returns the reply. */
  request(req: unknown): Promise<Record<string, unknown>>;
  /** The next line from the server, or undefined once the server closed the connection. */
  next(): Promise<Record<string, unknown> | undefined>;
  /** Resolves when the connection is closed (by either side). */
  closed: Promise<void>;
  close(): void;
  socket: Socket;
}

export function rawClient(path: string): Promise<RawClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    const lines = new LineSplitter(512 * 1024 * 1024);
    const queue: (Record<string, unknown> | undefined)[] = [];
    const waiters: ((v: Record<string, unknown> | undefined) => void)[] = [];
    let ended = false;
    const push = (v: Record<string, unknown> | undefined) => {
      const w = waiters.shift();
      if (w) w(v);
      else queue.push(v);
    };
    const closed = new Promise<void>((r) =>
      socket.once("close", () => {
        ended = true;
        while (waiters.length) waiters.shift()!(undefined);
        r();
      }),
    );
    socket.on("data", (b: Buffer) => {
      for (const l of lines.push(b)) push(JSON.parse(l.toString("utf8")) as Record<string, unknown>);
    });
    socket.once("error", (e) => {
      if (!started) reject(e);
    });
    let started = false;
    const next = (): Promise<Record<string, unknown> | undefined> => {
      if (queue.length) return Promise.resolve(queue.shift());
      if (ended) return Promise.resolve(undefined);
      return new Promise((r) => waiters.push(r));
    };
    socket.once("connect", () => {
      started = true;
      socket.on("error", () => {});
      void next().then((first) => {
        if (!first) return reject(new Error("closed before the first line"));
        resolve({
          first,
          write: (d) => void socket.write(d),
          async request(req) {
            socket.write(`${JSON.stringify(req)}\n`);
            const r = await next();
            if (!r) throw new Error("connection closed before the reply");
            return r;
          },
          next,
          closed,
          close: () => socket.destroy(),
          socket,
        });
      });
    });
  });
}

/** Wraps a responder, counting calls per operation (mutating ones in `changes`). */
export class SpyResponder implements Responder {
  readonly inner: Responder;
  readonly calls: Record<string, number> = {};
  constructor(inner: Responder) {
    this.inner = inner;
  }
  get name(): string {
    return this.inner.name;
  }
  get type(): string {
    return this.inner.type;
  }
  get nativeExpiry(): boolean {
    return this.inner.nativeExpiry;
  }
  /** Calls of setup, apply, remove and teardown. */
  get changes(): number {
    return ["setup", "apply", "remove", "teardown"].reduce((n, k) => n + (this.calls[k] ?? 0), 0);
  }
  #count(op: string): void {
    this.calls[op] = (this.calls[op] ?? 0) + 1;
  }
  setup(): Promise<void> {
    this.#count("setup");
    return this.inner.setup();
  }
  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    this.#count("apply");
    return this.inner.apply(entries);
  }
  remove(targets: readonly string[]): Promise<EntryResult[]> {
    this.#count("remove");
    return this.inner.remove(targets);
  }
  list(): Promise<BanEntry[]> {
    this.#count("list");
    return this.inner.list();
  }
  healthcheck(): Promise<Health> {
    this.#count("health");
    return this.inner.healthcheck();
  }
  teardown(): Promise<void> {
    this.#count("teardown");
    return this.inner.teardown ? this.inner.teardown() : Promise.resolve();
  }
}

/** A responder holding bans in memory: for the socket-file tests, which need no firewall. */
export class MemoryResponder implements Responder {
  readonly type = "memory";
  readonly nativeExpiry = false;
  readonly name: string;
  readonly bans = new Map<string, number>();
  constructor(name = "mem") {
    this.name = name;
  }
  setup(): Promise<void> {
    return Promise.resolve();
  }
  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    for (const e of entries) this.bans.set(e.target, e.expires);
    return Promise.resolve(entries.map((e) => ({ target: e.target, ok: true })));
  }
  remove(targets: readonly string[]): Promise<EntryResult[]> {
    for (const t of targets) this.bans.delete(t);
    return Promise.resolve(targets.map((target) => ({ target, ok: true })));
  }
  list(): Promise<BanEntry[]> {
    return Promise.resolve([...this.bans].map(([target, expires]) => ({ target, expires })));
  }
  healthcheck(): Promise<Health> {
    return Promise.resolve({ ok: true, detail: `${this.bans.size} bans in memory` });
  }
}
