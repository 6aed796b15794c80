/**
 * The daemon's end of the enforcer socket: one connection, one request at a time, replies matched by id.
 * Connecting (and reading the hello) is retried with exponential backoff; a request whose connection broke
 * before its reply is sent again on a new connection (every verb is idempotent), within the same budget of
 * attempts. A request that timed out is not re-sent: its connection is closed (a late reply could not be
 * matched) and the error is reported. The socket is unref'd: an idle connection never keeps the process alive,
 * and it is closed after `idleCloseMs` without a request (a responder dropped by a config reload does not hold
 * one of the enforcer's connection slots for long).
 */
import { connect, type Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "../../core/logger.ts";
import { Serial } from "../common.ts";
import { LineSplitter } from "../../enforcer/lines.ts";
import { parseHello, type Hello } from "../../enforcer/protocol.ts";

export interface ClientOptions {
  socket: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  reconnect: { attempts: number; initial_delay_ms: number; max_delay_ms: number };
  maxReplyBytes: number;
  idleCloseMs: number;
  logger: Logger;
}

/** The enforcer could not be reached, refused the connection, or broke it. */
export class EnforcerUnreachable extends Error {
  readonly code = "ENFORCER_UNREACHABLE";
  /** Retrying cannot help (permission denied, a peer that is not an enforcer). */
  readonly final: boolean;
  constructor(message: string, final = false, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "EnforcerUnreachable";
    this.final = final;
  }
}

/** The enforcer answered with an error reply. */
export class EnforcerRefused extends Error {
  readonly code: string;
  /** The enforcer's own message. */
  readonly detail: string;
  constructor(code: string, message: string) {
    super(`enforcer refused (${code}): ${message}`);
    this.name = "EnforcerRefused";
    this.code = code;
    this.detail = message;
  }
}

type Reply = Record<string, unknown>;

/** One open connection whose hello has been read. */
class Link {
  readonly hello: Hello;
  readonly #socket: Socket;
  readonly #lines: LineSplitter;
  readonly #idleMs: number;
  #waiting: { resolve: (v: Reply) => void; reject: (e: Error) => void } | undefined;
  #dead: Error | undefined;
  #idle: NodeJS.Timeout | undefined;

  private constructor(socket: Socket, lines: LineSplitter, hello: Hello, idleMs: number) {
    this.#socket = socket;
    this.#lines = lines;
    this.hello = hello;
    this.#idleMs = idleMs;
    this.#armIdle();
    socket.on("data", (b: Buffer) => this.#onData(b));
    socket.on("close", () => this.#fail(new EnforcerUnreachable("the enforcer closed the connection")));
    socket.on("error", (e) => this.#fail(new EnforcerUnreachable(`connection error: ${e.message}`)));
  }

  get alive(): boolean {
    return this.#dead === undefined && !this.#socket.destroyed;
  }

  /** Closes the connection after a while without requests; the timer never keeps the process alive. */
  #armIdle(): void {
    clearTimeout(this.#idle);
    this.#idle = setTimeout(() => this.close(), this.#idleMs);
    this.#idle.unref();
  }

  static open(path: string, timeoutMs: number, maxReplyBytes: number, idleMs: number): Promise<Link> {
    return new Promise((resolve, reject) => {
      const socket = connect(path);
      const lines = new LineSplitter(maxReplyBytes);
      const fail = (e: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(e);
      };
      const timer = setTimeout(
        () => fail(new EnforcerUnreachable(`no hello from ${path} within ${timeoutMs} ms`)),
        timeoutMs,
      );
      socket.once("error", (e: NodeJS.ErrnoException) => {
        const final = e.code === "EACCES" || e.code === "EPERM";
        fail(
          new EnforcerUnreachable(
            final
              ? `permission denied on ${path}: the daemon's user must be in the socket's group (see docs/deploy.md)`
              : `cannot connect to ${path}: ${e.code ?? e.message}`,
            final,
            { cause: e },
          ),
        );
      });
      socket.once("close", () =>
        fail(new EnforcerUnreachable(`${path} closed the connection before its hello`)),
      );
      const onData = (b: Buffer) => {
        const got = lines.push(b);
        const first = got[0];
        if (lines.overflow) return fail(new EnforcerUnreachable(`${path}: hello too long`, true));
        if (first === undefined) return;
        // the server says nothing after its hello until asked: anything more is not the protocol
        if (got.length > 1 || lines.pending > 0)
          return fail(new EnforcerUnreachable(`${path}: unexpected data after the hello`, true));
        let value: unknown;
        try {
          value = JSON.parse(first.toString("utf8"));
        } catch {
          return fail(
            new EnforcerUnreachable(`${path} is not a portcullis enforcer (hello is not JSON)`, true),
          );
        }
        const refusal = (value as { error?: { code?: unknown; message?: unknown } } | null)?.error;
        if (refusal) return fail(new EnforcerUnreachable(`${path}: ${String(refusal.message)}`));
        const hello = parseHello(value);
        if (!hello)
          return fail(
            new EnforcerUnreachable(`${path} is not a portcullis enforcer speaking protocol 1`, true),
          );
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.unref();
        resolve(new Link(socket, lines, hello, idleMs));
      };
      socket.on("data", onData);
    });
  }

  /** Sends one request and resolves with its reply (error replies included). */
  request(req: Reply & { id: number }, timeoutMs: number): Promise<Reply> {
    if (!this.alive) return Promise.reject(this.#dead ?? new EnforcerUnreachable("connection closed"));
    clearTimeout(this.#idle);
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting = undefined;
        this.close();
        reject(new Error(`no reply from the enforcer within ${timeoutMs} ms (${String(req.verb)})`));
      }, timeoutMs);
      this.#waiting = {
        resolve: (v) => {
          clearTimeout(timer);
          this.#armIdle();
          if (v.id !== req.id) {
            this.#fail(new EnforcerUnreachable(`reply id ${String(v.id)} for request ${req.id}`));
            return reject(new EnforcerUnreachable("reply out of order; connection closed"));
          }
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.#socket.write(`${JSON.stringify(req)}\n`);
    });
  }

  close(): void {
    this.#fail(new EnforcerUnreachable("connection closed"));
  }

  #onData(b: Buffer): void {
    const lines = this.#lines.push(b);
    if (this.#lines.overflow) return this.#fail(new EnforcerUnreachable("reply longer than max_reply_bytes"));
    for (const l of lines) {
      const w = this.#waiting;
      this.#waiting = undefined;
      let value: unknown;
      try {
        value = JSON.parse(l.toString("utf8"));
      } catch {
        value = undefined;
      }
      if (!w) return this.#fail(new EnforcerUnreachable("unsolicited data from the enforcer"));
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        w.reject(new EnforcerUnreachable("reply is not a JSON object"));
        return this.#fail(new EnforcerUnreachable("reply is not a JSON object"));
      }
      w.resolve(value as Reply);
    }
  }

  #fail(e: Error): void {
    this.#dead ??= e;
    clearTimeout(this.#idle);
    this.#socket.destroy();
    const w = this.#waiting;
    this.#waiting = undefined;
    w?.reject(e);
  }
}

export class EnforcerClient {
  readonly #o: ClientOptions;
  /** One request at a time on the one connection (the protocol answers in order, one at a time). */
  readonly #serial = new Serial();
  #link: Link | undefined;
  #nextId = 1;
  /** The last hello received (undefined before the first connection). */
  hello: Hello | undefined;

  constructor(opts: ClientOptions) {
    this.#o = opts;
  }

  /** Connects if needed and returns the hello. */
  connect(): Promise<Hello> {
    return this.#serial.run(() => this.#retrying((link) => Promise.resolve(link.hello), "connect"));
  }

  /** Sends `req` and returns the reply (`ok: false` replies included); throws when the enforcer is unreachable. */
  call(req: Reply): Promise<Reply> {
    return this.#serial.run(() =>
      this.#retrying(
        (link) => link.request({ ...req, id: this.#nextId++ }, this.#o.requestTimeoutMs),
        String(req.verb),
      ),
    );
  }

  close(): void {
    this.#link?.close();
    this.#link = undefined;
  }

  async #retrying<T>(fn: (link: Link) => Promise<T>, what: string): Promise<T> {
    const { attempts, initial_delay_ms, max_delay_ms } = this.#o.reconnect;
    let wait = initial_delay_ms;
    for (let attempt = 1; ; attempt++) {
      try {
        if (!this.#link?.alive) {
          this.#link = undefined;
          const o = this.#o;
          this.#link = await Link.open(o.socket, o.connectTimeoutMs, o.maxReplyBytes, o.idleCloseMs);
          this.hello = this.#link.hello;
        }
        return await fn(this.#link);
      } catch (e) {
        if (!(e instanceof EnforcerUnreachable) || e.final || attempt >= this.#o.reconnect.attempts) throw e;
        const ms = Math.min(max_delay_ms, wait);
        this.#o.logger.warn(
          { socket: this.#o.socket, op: what, attempt, of: attempts, err: e.message, retry_in_ms: ms },
          "enforcer unreachable, retrying",
        );
        await delay(Math.round(ms / 2 + (Math.random() * ms) / 2));
        wait = Math.max(1, wait * 2);
      }
    }
  }
}
