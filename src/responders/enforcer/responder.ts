/**
 * `enforcer` responder: the daemon's responders, run by the privileged enforcer (`portcullis enforcer`) and
 * reached over its unix socket, so the daemon itself needs no capability at all. Each instance names one
 * responder of the enforcer's config. Targets are validated here with the same function and the same prefix
 * limits the enforcer uses (both come from protocol.ts and the enforcer's hello), so an invalid entry fails
 * alone here and the enforcer only ever sees well-formed batches; the enforcer's per-entry results are passed
 * through, including its refusal of an entry that would cut off its host (only that entry fails; an older
 * enforcer that refuses the whole request for it, naming the entry, gets the others sent again).
 * `nativeExpiry` is what the enforcer reports for that responder (false until the first contact: removing an
 * expired ban that is already gone is harmless, keeping one the kernel does not expire is not).
 */
import type { Logger } from "../../core/logger.ts";
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import { checkTarget, MAX_EXPIRES, type HostedInfo, type WireEntry } from "../../enforcer/protocol.ts";
import { Serial } from "../common.ts";
import type { BanEntry, EntryResult, Responder } from "../types.ts";
import { EnforcerClient, EnforcerRefused, EnforcerUnreachable } from "./client.ts";
import { enforcerResponderConfig, type EnforcerResponderConfig } from "./config.ts";

/** Room left in a request line for everything but the entries. */
const ENVELOPE_BYTES = 512;

interface Outgoing {
  index: number;
  wire: WireEntry;
}

function wireExpires(expires: unknown): number | null {
  // as the local responders read it: a missing or NaN expiry is a ban without expiry
  if (typeof expires !== "number" || Number.isNaN(expires) || expires === Infinity) return null;
  if (expires <= 0) return 0;
  return Math.min(MAX_EXPIRES, Math.ceil(expires));
}

export class EnforcerResponder implements Responder {
  readonly type = "enforcer";
  readonly name: string;
  readonly #config: EnforcerResponderConfig;
  readonly #client: EnforcerClient;
  readonly #serial = new Serial();
  readonly #log: Logger;

  constructor(config: EnforcerResponderConfig, ctx: PluginContext) {
    this.#config = config;
    this.name = config.name ?? "enforcer";
    this.#log = ctx.logger.child({ responder: this.name, type: this.type });
    this.#client = new EnforcerClient({
      socket: config.socket,
      connectTimeoutMs: config.connect_timeout_ms,
      requestTimeoutMs: config.timeout_ms,
      reconnect: config.reconnect,
      maxReplyBytes: config.max_reply_bytes,
      idleCloseMs: config.idle_close_ms,
      logger: this.#log,
    });
  }

  get nativeExpiry(): boolean {
    return this.#info(this.#client.hello)?.native_expiry ?? false;
  }

  #info(hello = this.#client.hello): HostedInfo | undefined {
    return hello?.responders.find((r) => r.name === this.#config.responder);
  }

  /** The enforcer's description of our responder; connects when needed. */
  async #hosted(): Promise<HostedInfo> {
    const hello = await this.#client.connect();
    const info = this.#info(hello);
    if (!info) {
      throw new EnforcerRefused(
        "UNKNOWN_RESPONDER",
        `the enforcer at ${this.#config.socket} has no responder named "${this.#config.responder}" ` +
          `(it has: ${hello.responders.map((r) => r.name).join(", ") || "none"})`,
      );
    }
    return info;
  }

  /** Sends a request for our responder; throws on an error reply or when the enforcer is unreachable. */
  async #call(verb: string, extra: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const reply = await this.#client.call({ verb, responder: this.#config.responder, ...extra });
    if (reply.ok === true) return reply;
    const err = (reply.error ?? {}) as { code?: unknown; message?: unknown };
    throw new EnforcerRefused(text(err.code, "FAILED"), text(err.message, "no message"));
  }

  setup(): Promise<void> {
    return this.#serial.run(async () => {
      await this.#hosted();
      await this.#call("setup");
    });
  }

  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.#serial.run(async () => {
      const results: EntryResult[] = entries.map((e) => ({ target: e.target, ok: false, error: "not sent" }));
      let info: HostedInfo;
      try {
        info = await this.#hosted();
      } catch (e) {
        return results.map((r) => ({ target: r.target, ok: false, error: message(e) }));
      }
      const out: Outgoing[] = [];
      entries.forEach((e, index) => {
        const t = checkTarget(e.target, info);
        if ("error" in t) results[index] = { target: e.target, ok: false, error: t.error };
        else out.push({ index, wire: { target: t.target, expires: wireExpires(e.expires) } });
      });
      await this.#send("apply", out, results, (chunk) => ({ entries: chunk.map((o) => o.wire) }));
      return results;
    });
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.#serial.run(async () => {
      const results: EntryResult[] = targets.map((target) => ({ target, ok: false, error: "not sent" }));
      const out: Outgoing[] = [];
      targets.forEach((target, index) => {
        const t = checkTarget(target);
        if ("error" in t) results[index] = { target, ok: false, error: t.error };
        else out.push({ index, wire: { target: t.target, expires: null } });
      });
      if (out.length) {
        try {
          await this.#hosted();
        } catch (e) {
          for (const o of out) results[o.index] = { target: targets[o.index]!, ok: false, error: message(e) };
          return results;
        }
      }
      await this.#send("remove", out, results, (chunk) => ({ targets: chunk.map((o) => o.wire.target) }));
      return results;
    });
  }

  /**
   * Sends `out` in requests within the enforcer's limits (entries and bytes) and fills `results` from the
   * per-entry replies. A chunk that fails as a whole (error reply, enforcer unreachable) fails its entries;
   * once the enforcer is unreachable, the chunks after it fail with the same error without further tries. An
   * apply refused whole for one entry it names (NOT_ALLOWED from an older enforcer) fails that entry and is sent
   * again without it.
   */
  async #send(
    verb: "apply" | "remove",
    out: readonly Outgoing[],
    results: EntryResult[],
    body: (chunk: readonly Outgoing[]) => Record<string, unknown>,
  ): Promise<void> {
    const hello = this.#client.hello;
    const maxEntries = Math.min(this.#config.batch_size, hello?.limits.max_entries ?? Infinity);
    const maxBytes = (hello?.limits.max_message_bytes ?? 4 * 1024 * 1024) - ENVELOPE_BYTES;
    const chunks: Outgoing[][] = [];
    let chunk: Outgoing[] = [];
    let bytes = 0;
    for (const o of out) {
      const size = o.wire.target.length + 48;
      if (chunk.length && (chunk.length >= maxEntries || bytes + size > maxBytes)) {
        chunks.push(chunk);
        chunk = [];
        bytes = 0;
      }
      chunk.push(o);
      bytes += size;
    }
    if (chunk.length) chunks.push(chunk);

    let unreachable: unknown;
    for (let c of chunks) {
      const fail = (e: unknown) => {
        for (const o of c)
          results[o.index] = { target: results[o.index]!.target, ok: false, error: message(e) };
      };
      if (unreachable !== undefined) {
        fail(unreachable);
        continue;
      }
      let reply: Record<string, unknown> | undefined;
      while (c.length) {
        try {
          reply = await this.#call(verb, body(c));
          break;
        } catch (e) {
          const refused = verb === "apply" ? refusedEntry(e, c.length) : undefined;
          if (refused) {
            // an older enforcer refuses the whole request for one entry it will not ban: that entry fails
            // alone, the others are sent again
            const o = c[refused.at]!;
            results[o.index] = { target: results[o.index]!.target, ok: false, error: refused.error };
            c = c.filter((_, i) => i !== refused.at);
            continue;
          }
          if (!(e instanceof EnforcerRefused)) unreachable = e;
          fail(e);
          break;
        }
      }
      if (reply === undefined) continue;
      const got = Array.isArray(reply.results) ? (reply.results as unknown[]) : [];
      c.forEach((o, i) => {
        const r = got[i] as { ok?: unknown; error?: unknown } | undefined;
        const target = results[o.index]!.target;
        if (got.length !== c.length || typeof r !== "object" || r === null || typeof r.ok !== "boolean")
          results[o.index] = { target, ok: false, error: "malformed reply from the enforcer" };
        else if (r.ok) results[o.index] = { target, ok: true };
        else results[o.index] = { target, ok: false, error: text(r.error, "failed") };
      });
    }
    const failed = results.filter((r) => !r.ok).length;
    this.#log.debug({ op: verb, sent: out.length, requests: chunks.length, failed }, "enforcer batch");
  }

  list(): Promise<BanEntry[]> {
    return this.#serial.run(async () => {
      await this.#hosted();
      const reply = await this.#call("list");
      const entries = Array.isArray(reply.entries) ? (reply.entries as unknown[]) : undefined;
      if (!entries) throw new EnforcerRefused("FAILED", "list: malformed reply (no entries)");
      const list: BanEntry[] = [];
      for (const e of entries) {
        const { target, expires } = (e ?? {}) as { target?: unknown; expires?: unknown };
        const t = checkTarget(target);
        if ("error" in t || !(expires === null || typeof expires === "number"))
          throw new EnforcerRefused("FAILED", `list: malformed entry ${JSON.stringify(e)?.slice(0, 100)}`);
        list.push({ target: t.target, expires: expires ?? Infinity });
      }
      return list;
    });
  }

  async healthcheck(): Promise<Health> {
    const where = `enforcer ${this.#config.socket} -> ${this.#config.responder}`;
    try {
      const info = await this.#hosted();
      const reply = await this.#call("health");
      const h = (reply.health ?? {}) as { ok?: unknown; detail?: unknown };
      return { ok: h.ok === true, detail: `${where} (${info.type}): ${text(h.detail, "no detail")}` };
    } catch (e) {
      return { ok: false, detail: `${where}: ${message(e)}` };
    }
  }

  teardown(): Promise<void> {
    return this.#serial.run(async () => {
      await this.#hosted();
      await this.#call("teardown");
    });
  }

  /** Closes the connection (the daemon's shutdown and tests; the next operation reconnects). */
  close(): void {
    this.#client.close();
  }
}

/** A string field of a reply, or `fallback` when it is missing or not a string. */
function text(v: unknown, fallback: string): string {
  return typeof v === "string" ? v : fallback;
}

/**
 * The entry an older enforcer refused a whole apply request of `count` entries for (NOT_ALLOWED naming one
 * entry: "apply: entries[N].target: X would cut off ..."), or undefined for any other error.
 */
function refusedEntry(e: unknown, count: number): { at: number; error: string } | undefined {
  if (!(e instanceof EnforcerRefused) || e.code !== "NOT_ALLOWED") return undefined;
  const m = /^apply: entries\[(\d+)\]\.target: (.+)$/s.exec(e.detail);
  const at = m ? Number(m[1]) : -1;
  if (!m || !Number.isSafeInteger(at) || at < 0 || at >= count) return undefined;
  return { at, error: `not allowed: ${m[2]!}` };
}

function message(e: unknown): string {
  if (e instanceof EnforcerUnreachable || e instanceof EnforcerRefused) return e.message;
  return e instanceof Error ? e.message : String(e);
}

export const enforcer = {
  type: "enforcer",
  description:
    "The privileged enforcer's responders over its unix socket (JSON lines, fixed verbs, validated " +
    "arguments), so the daemon runs as an unprivileged user",
  schema: enforcerResponderConfig,
  create: (config: EnforcerResponderConfig, ctx: PluginContext): Responder =>
    new EnforcerResponder(config, ctx),
} satisfies PluginDefinition<EnforcerResponderConfig, Responder>;
