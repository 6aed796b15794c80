/**
 * `portcullis enforcer`: the privileged helper. It hosts the firewall responders named in its own config and
 * serves a fixed vocabulary (setup, apply, remove, list, health, and teardown when allowed) over a unix socket,
 * so the daemon can run as an unprivileged user. It never runs anything but its configured responders: a
 * request names a configured responder and carries validated addresses and integers, nothing else.
 *
 * Per connection: one hello line, then one request at a time (the socket is paused while a request runs, so a
 * client that pipelines waits its turn and one that never reads its replies stalls only itself), an idle
 * timeout, a deadline for finishing a started line, a size limit per line. A bad request gets an error reply;
 * nothing a client sends can make the server throw. Every change is logged with who asked (`who`: the peer's
 * uid is not obtainable from Node, so "socket" and the connection number; access is the socket file's mode and
 * group, see socket-file.ts).
 */
import { createServer, type Server, type Socket } from "node:net";
import { TextDecoder } from "node:util";
import { SystemClock, type Clock } from "../core/clock.ts";
import { formatDuration } from "../core/duration.ts";
import { isPortcullisError } from "../core/errors.ts";
import type { Logger } from "../core/logger.ts";
import type { PluginContext } from "../core/plugin.ts";
import { RESPONDERS } from "../responders/registry.ts";
import type { BanEntry, EntryResult, Responder } from "../responders/types.ts";
import { VERSION } from "../version.ts";
import { enforcerConfigProblem, type LoadedEnforcerConfig } from "./config.ts";
import { LineSplitter } from "./lines.ts";
import {
  errorReply,
  HELLO,
  PROTOCOL,
  validateRequest,
  type ErrorReply,
  type Hello,
  type PrefixLimits,
  type Request,
  type WireResult,
} from "./protocol.ts";
import { HostProtector } from "./protect.ts";
import { listenUnix, prepareSocketPath, removeSocketFile, resolveGroup } from "./socket-file.ts";

export interface HostedResponder {
  name: string;
  responder: Responder;
  limits: PrefixLimits;
}

export interface EnforcerOptions {
  socket: string;
  /** Group of the socket file; undefined leaves the process's own group. */
  gid?: number | undefined;
  responders: readonly HostedResponder[];
  logger: Logger;
  maxConnections?: number;
  maxMessageBytes?: number;
  maxEntries?: number;
  idleTimeoutMs?: number;
  lineTimeoutMs?: number;
  allowTeardown?: boolean;
  /** The host's interface addresses (never banned); default: os.networkInterfaces(). For tests. */
  interfaces?: () => string[];
  /** Addresses and CIDRs never banned (the config's `protect:`), besides loopback and the host's own. */
  protect?: readonly string[];
  /**
   * Longest ban applied, in ms (the config's `max_duration`): an entry without expiry or expiring later than
   * this from now is refused alone. Undefined: no limit (the config always sets one, default 3650d).
   */
  maxDurationMs?: number | undefined;
  /** The time `maxDurationMs` counts from; default the system clock. */
  clock?: Clock;
}

/** At most this many targets of a change are written into its log record (the count is always there). */
const LOGGED_TARGETS = 20;

/** Builds the hosted responders from a loaded config (nothing started, no I/O). */
export function hostedFromConfig(loaded: LoadedEnforcerConfig, ctx: PluginContext): HostedResponder[] {
  return loaded.responders.map(({ name, type, config }) => {
    const c = config as { min_prefix_v4?: number; min_prefix_v6?: number };
    return {
      name,
      responder: RESPONDERS[type]!.create(config, ctx),
      limits: { min_prefix_v4: c.min_prefix_v4 ?? 8, min_prefix_v6: c.min_prefix_v6 ?? 32 },
    };
  });
}

/**
 * Creates the server for a loaded config; `socket` overrides the config's path, `interfaces` the host's
 * addresses (tests).
 */
export async function enforcerFromConfig(
  loaded: LoadedEnforcerConfig,
  ctx: PluginContext,
  overrides: { socket?: string | undefined; interfaces?: () => string[] } = {},
): Promise<EnforcerServer> {
  const c = loaded.raw;
  return new EnforcerServer({
    socket: overrides.socket ?? c.socket,
    // a group missing on this host is the config's problem: said with the file:line of `group:`
    gid: await resolveGroup(c.group, ctx.exec).catch((e: unknown) => {
      throw isPortcullisError(e) && e.code === "CONFIG_INVALID"
        ? enforcerConfigProblem(loaded, ["group"], e.message)
        : e;
    }),
    responders: hostedFromConfig(loaded, ctx),
    logger: ctx.logger,
    maxConnections: c.max_connections,
    maxMessageBytes: c.max_message_bytes,
    maxEntries: c.max_entries,
    idleTimeoutMs: c.idle_timeout_ms,
    lineTimeoutMs: c.line_timeout_ms,
    allowTeardown: c.allow_teardown,
    protect: c.protect,
    maxDurationMs: c.max_duration,
    clock: ctx.clock,
    ...(overrides.interfaces ? { interfaces: overrides.interfaces } : {}),
  });
}

export class EnforcerServer {
  readonly socket: string;
  readonly #o: Required<Omit<EnforcerOptions, "gid" | "interfaces" | "protect" | "maxDurationMs">> & {
    gid: number | undefined;
    maxDurationMs: number | undefined;
  };
  readonly #byName = new Map<string, HostedResponder>();
  readonly #limitsByName = new Map<string, PrefixLimits>();
  readonly #protector: HostProtector;
  readonly #protect: readonly string[];
  readonly #log: Logger;
  readonly #conns = new Set<Connection>();
  #server: Server | undefined;
  #ino: number | undefined;
  #nextId = 1;
  #closing = false;

  constructor(opts: EnforcerOptions) {
    this.#o = {
      maxConnections: 16,
      maxMessageBytes: 4 * 1024 * 1024,
      maxEntries: 50_000,
      idleTimeoutMs: 900_000,
      lineTimeoutMs: 30_000,
      allowTeardown: false,
      clock: SystemClock,
      ...opts,
      gid: opts.gid,
      maxDurationMs: opts.maxDurationMs,
    };
    this.socket = opts.socket;
    this.#protect = [...(opts.protect ?? [])];
    this.#protector = new HostProtector(opts.interfaces, this.#protect);
    this.#log = opts.logger.child({ component: "enforcer" });
    for (const h of opts.responders) {
      this.#byName.set(h.name, h);
      this.#limitsByName.set(h.name, h.limits);
    }
  }

  /** Connections open now. */
  get connections(): number {
    return this.#conns.size;
  }

  hello(): Hello {
    return {
      hello: HELLO,
      protocol: PROTOCOL,
      version: VERSION,
      limits: { max_message_bytes: this.#o.maxMessageBytes, max_entries: this.#o.maxEntries },
      responders: [...this.#byName.values()].map((h) => ({
        name: h.name,
        type: h.responder.type,
        native_expiry: h.responder.nativeExpiry,
        ...h.limits,
      })),
    };
  }

  async start(): Promise<void> {
    await prepareSocketPath(this.socket, this.#o.gid);
    const server = createServer({ allowHalfOpen: false }, (s) => this.#accept(s));
    server.on("error", (e) => this.#log.error({ err: e.message }, "socket server error"));
    this.#ino = await listenUnix(server, this.socket, this.#o.gid);
    this.#server = server;
    this.#log.info(
      {
        socket: this.socket,
        mode: "0660",
        gid: this.#o.gid ?? null,
        responders: [...this.#byName.values()].map((h) => `${h.name} (${h.responder.type})`),
        teardown: this.#o.allowTeardown,
        protect: this.#protect,
        max_duration: this.#o.maxDurationMs === undefined ? null : formatDuration(this.#o.maxDurationMs),
      },
      "enforcer listening",
    );
  }

  /** Stops accepting, lets running requests finish, closes every connection, removes the socket file. */
  async stop(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const closed = new Promise<void>((resolve) =>
      this.#server ? this.#server.close(() => resolve()) : resolve(),
    );
    await Promise.all([...this.#conns].map((c) => c.shutdown()));
    await closed;
    removeSocketFile(this.socket, this.#ino);
    this.#log.info({ socket: this.socket }, "enforcer stopped");
  }

  #accept(socket: Socket): void {
    const id = this.#nextId++;
    socket.on("error", () => socket.destroy());
    if (this.#closing || this.#conns.size >= this.#o.maxConnections) {
      this.#log.warn({ conn: id, open: this.#conns.size }, "connection refused: too many connections");
      const busy = errorReply(null, "BUSY", `too many connections (at most ${this.#o.maxConnections})`);
      socket.end(line(busy), () => socket.destroy());
      return;
    }
    const conn = new Connection(id, socket, this);
    this.#conns.add(conn);
    socket.once("close", () => this.#conns.delete(conn));
    conn.begin();
  }

  get limits() {
    return this.#o;
  }

  get log(): Logger {
    return this.#log;
  }

  validate(value: unknown): Request | ErrorReply {
    return validateRequest(value, {
      responders: this.#limitsByName,
      maxEntries: this.#o.maxEntries,
      protectedBy: this.#protector.check,
      expiryRefused: this.#expiryRefused,
    });
  }

  /** Why an entry expiring at `expires` (Infinity: never) is longer than `max_duration` allows, or undefined. */
  readonly #expiryRefused = (expires: number): string | undefined => {
    const max = this.#o.maxDurationMs;
    if (max === undefined) return undefined;
    if (!Number.isFinite(expires))
      return `a ban without expiry (the enforcer's max_duration is ${formatDuration(max)})`;
    if (expires - this.#o.clock.now() <= max) return undefined;
    return (
      `expires ${new Date(expires).toISOString()}, beyond the enforcer's max_duration ` +
      `(${formatDuration(max)} from now)`
    );
  };

  /** Runs a validated request; never throws. */
  async execute(req: Request, conn: number): Promise<object> {
    const hosted = this.#byName.get(req.responder)!;
    const r = hosted.responder;
    const who = { who: "socket", conn, verb: req.verb, responder: req.responder };
    try {
      switch (req.verb) {
        case "health": {
          const health = await r.healthcheck();
          return { id: req.id, ok: true, health, native_expiry: r.nativeExpiry };
        }
        case "list": {
          const entries = (await r.list()).map((e) => ({
            target: e.target,
            expires: Number.isFinite(e.expires) ? Math.round(e.expires) : null,
          }));
          this.#log.debug({ ...who, entries: entries.length }, "list");
          return { id: req.id, ok: true, entries };
        }
        case "setup": {
          await r.setup();
          this.#log.info(who, "setup done");
          return { id: req.id, ok: true };
        }
        case "teardown": {
          if (!this.#o.allowTeardown) {
            this.#log.warn(who, "teardown refused (allow_teardown is off)");
            return errorReply(req.id, "NOT_ALLOWED", "teardown is not allowed by the enforcer's config");
          }
          if (!r.teardown) return errorReply(req.id, "NOT_ALLOWED", `${req.responder} has no teardown`);
          await r.teardown();
          this.#log.warn(who, "teardown done: every ban of this responder is lifted");
          return { id: req.id, ok: true };
        }
        case "apply": {
          // entries refused alone (too wide, the host's own address, protected, too long) fail here; the others
          // are applied
          const run = req.entries.filter((e) => e.refused === undefined);
          const entries: BanEntry[] = run.map((e) => ({ target: e.target, expires: e.expires }));
          const applied = passThrough(
            run.map((e) => e.sent),
            entries.map((e) => e.target),
            entries.length ? await r.apply(entries) : [],
          );
          let next = 0;
          const results: WireResult[] = req.entries.map((e) =>
            e.refused === undefined ? applied[next++]! : { target: e.sent, ok: false, error: e.refused },
          );
          const refused = req.entries.filter((e) => e.refused !== undefined);
          if (refused.length) {
            this.#log.warn(
              {
                ...who,
                count: refused.length,
                refused: refused.slice(0, LOGGED_TARGETS).map((e) => `${e.target}: ${e.refused}`),
              },
              "entries refused",
            );
          }
          this.#logChange(who, results, (i) => {
            const exp = req.entries[i]!.expires;
            return `${req.entries[i]!.target} until ${Number.isFinite(exp) ? new Date(exp).toISOString() : "never"}`;
          });
          return { id: req.id, ok: true, results };
        }
        case "remove": {
          const targets = req.targets.map((t) => t.target);
          const results = passThrough(
            req.targets.map((t) => t.sent),
            targets,
            targets.length ? await r.remove(targets) : [],
          );
          this.#logChange(who, results, (i) => req.targets[i]!.target);
          return { id: req.id, ok: true, results };
        }
      }
    } catch (e) {
      const message = String((e as Error)?.message ?? e).slice(0, 500);
      this.#log.error({ ...who, err: message }, "responder operation failed");
      return errorReply(req.id, "FAILED", message);
    }
  }

  #logChange(who: object, results: WireResult[], describe: (i: number) => string): void {
    const ok = results.filter((r) => r.ok).length;
    const failures = results
      .map((r, i) => (r.ok ? undefined : { target: describe(i), error: r.error }))
      .filter((x) => x !== undefined)
      .slice(0, LOGGED_TARGETS);
    this.#log.info(
      {
        ...who,
        count: results.length,
        ok,
        failed: results.length - ok,
        targets: results.slice(0, LOGGED_TARGETS).map((_, i) => describe(i)),
        ...(failures.length ? { failures } : {}),
      },
      "firewall change",
    );
  }
}

/**
 * The responder's results, in request order, with the target text the client sent. A responder returns one
 * result per entry in input order; anything else is matched by target, and a missing result is a failure.
 */
function passThrough(
  sent: readonly string[],
  given: readonly string[],
  results: EntryResult[],
): WireResult[] {
  const byTarget = new Map(results.map((r) => [r.target, r]));
  return sent.map((text, i) => {
    const r =
      results.length === sent.length && results[i]?.target === given[i]
        ? results[i]
        : byTarget.get(given[i]!);
    if (!r) return { target: text, ok: false, error: "the responder returned no result for this entry" };
    return r.ok ? { target: text, ok: true } : { target: text, ok: false, error: r.error ?? "failed" };
  });
}

function line(reply: object): string {
  return `${JSON.stringify(reply)}\n`;
}

/** One client: hello, then request lines answered one at a time. */
class Connection {
  readonly #id: number;
  readonly #socket: Socket;
  readonly #server: EnforcerServer;
  readonly #lines: LineSplitter;
  readonly #queue: Buffer[] = [];
  readonly #decoder = new TextDecoder("utf-8", { fatal: true });
  #busy = false;
  /** Set once the connection is being closed: nothing more is read or answered. */
  #ending = false;
  #lineTimer: NodeJS.Timeout | undefined;
  #closed: Promise<void>;
  #requests = 0;

  constructor(id: number, socket: Socket, server: EnforcerServer) {
    this.#id = id;
    this.#socket = socket;
    this.#server = server;
    this.#lines = new LineSplitter(server.limits.maxMessageBytes);
    this.#closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  begin(): void {
    const s = this.#socket;
    this.#server.log.debug({ conn: this.#id }, "connection opened");
    s.setTimeout(this.#server.limits.idleTimeoutMs);
    s.on("timeout", () => {
      this.#server.log.debug({ conn: this.#id }, "idle connection closed");
      s.destroy();
    });
    s.on("data", (b: Buffer) => this.#onData(b));
    s.once("close", () => {
      clearTimeout(this.#lineTimer);
      this.#server.log.debug({ conn: this.#id, requests: this.#requests }, "connection closed");
    });
    s.write(line(this.#server.hello()));
  }

  /** Closes the connection once the running request (if any) has answered. */
  async shutdown(): Promise<void> {
    this.#ending = true;
    this.#queue.length = 0;
    if (!this.#busy) this.#socket.destroy();
    await this.#closed;
  }

  /** Sends a last error reply, reads nothing more, and closes the connection once it is written. */
  #endWith(reply: ErrorReply): void {
    this.#ending = true;
    this.#queue.length = 0;
    clearTimeout(this.#lineTimer);
    this.#socket.pause();
    this.#socket.end(line(reply), () => this.#socket.destroy());
  }

  #onData(b: Buffer): void {
    if (this.#ending) return;
    const lines = this.#lines.push(b);
    for (const l of lines) this.#queue.push(l);
    if (this.#lines.overflow) {
      const max = this.#server.limits.maxMessageBytes;
      this.#server.log.warn(
        { conn: this.#id, max_message_bytes: max },
        "request too large; connection closed",
      );
      this.#endWith(errorReply(null, "TOO_LARGE", `request line longer than ${max} bytes`));
      return;
    }
    if (!this.#busy) this.#armLineTimer();
    void this.#drain();
  }

  /** The deadline for finishing a started line runs only while no request of this connection is running. */
  #armLineTimer(): void {
    if (this.#lines.pending === 0 || this.#busy) {
      clearTimeout(this.#lineTimer);
      this.#lineTimer = undefined;
    } else if (!this.#lineTimer) {
      this.#lineTimer = setTimeout(() => {
        this.#server.log.warn({ conn: this.#id }, "request line not finished in time; connection closed");
        this.#endWith(errorReply(null, "BAD_REQUEST", "request line not finished in time"));
      }, this.#server.limits.lineTimeoutMs);
    }
  }

  async #drain(): Promise<void> {
    if (this.#busy || !this.#queue.length) return;
    this.#busy = true;
    this.#armLineTimer();
    this.#socket.pause();
    this.#socket.setTimeout(0);
    try {
      while (this.#queue.length && !this.#socket.destroyed && !this.#ending) {
        const raw = this.#queue.shift()!;
        const reply = await this.#answer(raw);
        if (reply === undefined || this.#socket.destroyed) continue;
        if (!this.#socket.write(line(reply))) {
          // a client that does not read its replies gets the idle timeout, then is dropped
          await new Promise<void>((resolve) => {
            const timer = setTimeout(() => {
              this.#server.log.warn(
                { conn: this.#id },
                "client does not read its replies; connection closed",
              );
              this.#socket.destroy();
            }, this.#server.limits.idleTimeoutMs);
            const done = () => {
              clearTimeout(timer);
              this.#socket.off("drain", done);
              this.#socket.off("close", done);
              resolve();
            };
            this.#socket.once("drain", done);
            this.#socket.once("close", done);
          });
        }
      }
    } finally {
      this.#busy = false;
      if (this.#ending) {
        // shutdown() waited for this request's reply: let it be written, then close
        if (!this.#socket.destroyed) this.#socket.end(() => this.#socket.destroy());
      } else if (!this.#socket.destroyed) {
        this.#socket.setTimeout(this.#server.limits.idleTimeoutMs);
        this.#armLineTimer();
        this.#socket.resume();
      }
    }
  }

  async #answer(raw: Buffer): Promise<object | undefined> {
    let text: string;
    try {
      text = this.#decoder.decode(raw).trim();
    } catch {
      return this.#refuse(errorReply(null, "BAD_REQUEST", "not UTF-8"));
    }
    if (!text) return undefined;
    this.#requests++;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.#refuse(errorReply(null, "BAD_REQUEST", "not JSON"));
    }
    const req = this.#server.validate(value);
    if ("ok" in req) return this.#refuse(req);
    return this.#server.execute(req, this.#id);
  }

  #refuse(reply: ErrorReply): ErrorReply {
    this.#server.log.warn(
      { who: "socket", conn: this.#id, code: reply.error.code, err: reply.error.message },
      "request refused",
    );
    return reply;
  }
}
