/**
 * Helpers shared by the local firewall responders: the config fields every responder has (netns, retry,
 * timeouts, prefix limits), running commands with bounded retries, validating targets, and isolating the bad
 * entries of a failed batch. Nothing here builds a shell string.
 */
import { setTimeout as delay } from "node:timers/promises";
import { z } from "zod";
import type { Exec, ExecResult } from "../core/exec.ts";
import { parseCidr, type Cidr, type IpFamily } from "../core/ip.ts";
import type { Logger } from "../core/logger.ts";
import type { BanEntry, EntryResult } from "./types.ts";

// ---------------------------------------------------------------------------------------------- config

export const netnsName = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, "a network namespace name (letters, digits, _ . -)")
  .describe(
    "Run every command inside this network namespace (`ip netns exec <netns> ...`); used by tests and the demo",
  );

export const executable = z
  .string()
  .min(1)
  .regex(/^[^\0\n]+$/, "an executable name or absolute path")
  .describe("Executable name (looked up in PATH) or absolute path");

export const retrySchema = z
  .strictObject({
    attempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(4)
      .describe("Tries per command for transient failures (the first try included)"),
    initial_delay_ms: z
      .number()
      .int()
      .min(0)
      .max(60_000)
      .default(100)
      .describe("Delay before the second try; doubled for each further try"),
    max_delay_ms: z
      .number()
      .int()
      .min(0)
      .max(300_000)
      .default(2_000)
      .describe("Cap on the delay between two tries"),
  })
  .prefault({})
  .describe(
    "Bounded retries with exponential backoff (and jitter) for transient failures only, such as the xtables " +
      "lock held by another program (exit code 4) or a command that timed out",
  );
export type RetryPolicy = z.infer<typeof retrySchema>;

/** Fields every local responder accepts (spread into each strict schema). */
export const commonFields = {
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, "lower-case letters, digits, _ and -")
    .optional()
    .describe("Instance name, used in decision statuses and logs (default: the type)"),
  netns: netnsName.optional(),
  ip_path: executable.default("ip").describe("The iproute2 `ip` executable (only used with `netns`)"),
  timeout_ms: z
    .number()
    .int()
    .min(100)
    .max(600_000)
    .default(60_000)
    .describe("A command running longer than this is killed (and counts as a transient failure)"),
  retry: retrySchema,
  min_prefix_v4: z
    .number()
    .int()
    .min(0)
    .max(32)
    .default(8)
    .describe("Shortest IPv4 prefix accepted as a target; shorter ones are rejected per entry (safety)"),
  min_prefix_v6: z
    .number()
    .int()
    .min(0)
    .max(128)
    .default(32)
    .describe("Shortest IPv6 prefix accepted as a target; shorter ones are rejected per entry (safety)"),
};

export interface CommonConfig {
  name?: string | undefined;
  netns?: string | undefined;
  ip_path: string;
  timeout_ms: number;
  retry: RetryPolicy;
  min_prefix_v4: number;
  min_prefix_v6: number;
}

// ---------------------------------------------------------------------------------------------- errors

/** A command of a responder failed (after its retries). */
export class ResponderError extends Error {
  readonly code = "RESPONDER_FAILED";
  readonly argv: readonly string[];
  readonly exitCode: number;
  constructor(message: string, argv: readonly string[], exitCode: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ResponderError";
    this.argv = argv;
    this.exitCode = exitCode;
  }
}

/** The useful part of a failed command's output: `Error:` lines when there are some, else the first lines. */
export function errorText(r: ExecResult): string {
  const text = `${r.stderr}\n${r.stdout}`;
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l.length > 0);
  const errors = lines.filter((l) => /error|fail|invalid|not |cannot|can't|unknown/i.test(l));
  const picked = (errors.length ? errors : lines).slice(0, 3).join("; ");
  return (picked || `exit code ${r.code}`).slice(0, 500);
}

// ---------------------------------------------------------------------------------------------- commands

/**
 * Transient failures worth retrying: another program holds the xtables lock (iptables exit code 4), a
 * resource is temporarily unavailable, or the command was killed by its timeout.
 */
export function isTransient(r: ExecResult): boolean {
  const text = `${r.stderr}\n${r.stdout}`;
  if (/xtables lock|holding the xtables|resource temporarily unavailable|try again/i.test(text)) return true;
  if (/interrupted system call|no buffer space available/i.test(text)) return true;
  return /killed by SIG/.test(r.stderr);
}

/** Runs a responder's commands: inside `netns` when configured, with the bounded retry policy. */
export class CommandRunner {
  readonly #exec: Exec;
  readonly #prefix: readonly string[];
  readonly #retry: RetryPolicy;
  readonly #timeoutMs: number;
  readonly #logger: Logger;
  readonly #transient: (r: ExecResult) => boolean;
  /** Commands run so far (retries included), for tests and metrics. */
  calls = 0;

  constructor(opts: {
    exec: Exec;
    config: Pick<CommonConfig, "netns" | "ip_path" | "retry" | "timeout_ms">;
    logger: Logger;
    transient?: (r: ExecResult) => boolean;
  }) {
    this.#exec = opts.exec;
    const c = opts.config;
    this.#prefix = c.netns ? [c.ip_path, "netns", "exec", c.netns] : [];
    this.#retry = c.retry;
    this.#timeoutMs = c.timeout_ms;
    this.#logger = opts.logger;
    this.#transient = opts.transient ?? isTransient;
  }

  /** Runs `argv` (stdin `input`); retries transient failures; never throws for a non-zero exit. */
  async run(argv: readonly string[], input?: string): Promise<ExecResult> {
    const full = [...this.#prefix, ...argv];
    let wait = this.#retry.initial_delay_ms;
    for (let attempt = 1; ; attempt++) {
      this.calls++;
      const r = await this.#exec.run(full, input, { timeoutMs: this.#timeoutMs });
      if (r.code === 0 || attempt >= this.#retry.attempts || !this.#transient(r)) return r;
      const ms = Math.min(this.#retry.max_delay_ms, wait);
      this.#logger.warn(
        { argv: argv.slice(0, 4), attempt, code: r.code, error: errorText(r), retry_in_ms: ms },
        "transient failure, retrying",
      );
      // Equal jitter: half fixed, half random, so competing writers do not retry in lock-step.
      await delay(Math.round(ms / 2 + (Math.random() * ms) / 2));
      wait = Math.max(1, wait * 2);
    }
  }

  /** Like {@link run}, but throws a {@link ResponderError} on failure. */
  async check(argv: readonly string[], input?: string): Promise<ExecResult> {
    const r = await this.run(argv, input);
    if (r.code !== 0) throw new ResponderError(`${argv.join(" ")}: ${errorText(r)}`, argv, r.code);
    return r;
  }
}

// ---------------------------------------------------------------------------------------------- targets

export interface Target {
  /** Canonical text: an address, or `base/len` for a prefix shorter than the address length. */
  key: string;
  family: IpFamily;
  /** True for a prefix (`10.0.0.0/8`), false for a single address. */
  prefix: boolean;
  cidr: Cidr;
}

/** Validates a target (address or CIDR, any accepted spelling); returns the error text when it is not one. */
export function parseTarget(
  text: string,
  limits: Pick<CommonConfig, "min_prefix_v4" | "min_prefix_v6">,
): Target | string {
  if (typeof text !== "string" || text.length === 0 || text.length > 64) return "not an IP address or CIDR";
  const cidr = parseCidr(text.trim());
  if (!cidr) return `not an IP address or CIDR: ${JSON.stringify(text.slice(0, 64))}`;
  const min = cidr.family === 4 ? limits.min_prefix_v4 : limits.min_prefix_v6;
  if (cidr.prefix < min) return `prefix /${cidr.prefix} is shorter than the configured minimum /${min}`;
  const max = cidr.family === 4 ? 32 : 128;
  return { key: cidr.text, family: cidr.family, prefix: cidr.prefix < max, cidr };
}

/** One distinct target of a batch, with the indexes of the input entries it stands for. */
export interface Item extends Target {
  /** Epoch ms; Infinity for a ban without expiry. For removals: Infinity. */
  expires: number;
  indexes: number[];
}

export interface Prepared {
  items: Item[];
  results: EntryResult[];
}

/**
 * Validates and de-duplicates a batch: invalid targets fail in their own result; targets that are already
 * expired at `now` are skipped with an ok result (nothing to enforce); duplicates keep the latest expiry.
 */
export function prepareEntries(
  entries: readonly BanEntry[],
  now: number,
  limits: Pick<CommonConfig, "min_prefix_v4" | "min_prefix_v6">,
  accept?: (t: Target) => string | undefined,
): Prepared {
  const results: EntryResult[] = [];
  const byKey = new Map<string, Item>();
  entries.forEach((e, i) => {
    results.push({ target: e.target, ok: true });
    const t = parseTarget(e.target, limits);
    const refusal = typeof t === "string" ? t : accept?.(t);
    if (typeof t === "string" || refusal) {
      results[i] = { target: e.target, ok: false, error: refusal ?? (t as string) };
      return;
    }
    const expires = typeof e.expires === "number" && !Number.isNaN(e.expires) ? e.expires : Infinity;
    if (expires <= now) return;
    const seen = byKey.get(t.key);
    if (seen) {
      seen.indexes.push(i);
      seen.expires = Math.max(seen.expires, expires);
    } else byKey.set(t.key, { ...t, expires, indexes: [i] });
  });
  return { items: [...byKey.values()], results };
}

/**
 * Like {@link prepareEntries} for removals. The prefix minimums do not apply: removing a short prefix that
 * someone else added is allowed.
 */
export function prepareTargets(
  targets: readonly string[],
  accept?: (t: Target) => string | undefined,
): Prepared {
  return prepareEntries(
    targets.map((t) => ({ target: t, expires: Infinity })),
    -Infinity,
    { min_prefix_v4: 0, min_prefix_v6: 0 },
    accept,
  );
}

/**
 * Prefixes indexed by family and length, to find the ones strictly wider than a target that contain it with a
 * few map lookups (one per prefix length present) instead of a scan: reconcile and apply check up to 100k targets.
 */
export class PrefixIndex<V> {
  /** `family * 256 + length` -> canonical text -> value. */
  readonly #byLength = new Map<number, Map<string, V>>();

  add(c: Cidr, value: V): void {
    const k = c.family * 256 + c.prefix;
    let m = this.#byLength.get(k);
    if (!m) this.#byLength.set(k, (m = new Map<string, V>()));
    m.set(c.text, value);
  }

  /** Values of the indexed prefixes strictly wider than `c` that contain it. */
  covering(c: Cidr): V[] {
    const out: V[] = [];
    const base = c.text.split("/")[0]!;
    for (const [k, m] of this.#byLength) {
      const family = k >> 8;
      const length = k & 255;
      if (family !== c.family || length >= c.prefix) continue;
      const key = parseCidr(`${base}/${length}`)?.text;
      const v = key === undefined ? undefined : m.get(key);
      if (v !== undefined) out.push(v);
    }
    return out;
  }
}

/** Marks the entries behind failed items. */
export function applyFailures(prepared: Prepared, failures: Map<Item, string>): EntryResult[] {
  for (const [item, error] of failures) {
    for (const i of item.indexes)
      prepared.results[i] = { target: prepared.results[i]!.target, ok: false, error };
  }
  return prepared.results;
}

/** Fails every valid entry of a batch with one error (a systemic failure, e.g. the binary is missing). */
export function failEntries(prepared: Prepared, e: unknown): EntryResult[] {
  const error = e instanceof Error ? e.message : String(e);
  for (const item of prepared.items) {
    for (const i of item.indexes)
      prepared.results[i] = { target: prepared.results[i]!.target, ok: false, error };
  }
  return prepared.results;
}

/** Milliseconds left until `expires`, at least 1; undefined for a ban without expiry. */
export function remainingMs(expires: number, now: number): number | undefined {
  if (!Number.isFinite(expires)) return undefined;
  return Math.max(1, Math.ceil(expires - now));
}

// ---------------------------------------------------------------------------------------------- batches

/** What running one chunk of a batch gave: undefined for success, an error, or an error for everything. */
export type ChunkOutcome = undefined | string | { all: string };

/**
 * What a batch command gave, as {@link isolate} wants it: undefined on success; an error for the whole chunk
 * when no split can fix it (the executable could not run: exit 126/127, or the output matches `systemic`,
 * e.g. no permission or no namespace); else the error, so the chunk is split.
 */
export function chunkOutcome(r: ExecResult, systemic?: RegExp): ChunkOutcome {
  if (r.code === 0) return undefined;
  const error = errorText(r);
  return r.code === 126 || r.code === 127 || systemic?.test(error) ? { all: error } : error;
}

/**
 * Runs `items` as one batch; when the batch fails, splits it in halves until the entries that fail are
 * isolated (each failing entry gets its error, the others are applied). The backend operations must be
 * idempotent, since a half may be re-run. A `{ all }` outcome (e.g. the binary is missing) fails every entry
 * of the chunk at once, and so does reaching `maxCalls`, so a systemic failure costs a bounded number of
 * commands, never one per entry.
 */
export async function isolate<T>(
  items: readonly T[],
  run: (chunk: readonly T[]) => Promise<ChunkOutcome>,
  maxCalls = 200,
): Promise<Map<T, string>> {
  const failures = new Map<T, string>();
  const stack: (readonly T[])[] = items.length ? [items] : [];
  let calls = 0;
  let last = "";
  while (stack.length) {
    const chunk = stack.pop()!;
    if (calls >= maxCalls) {
      // budget spent: what is left fails with the last error rather than costing one command per entry
      for (const it of chunk) failures.set(it, `not attempted after repeated failures: ${last}`);
      continue;
    }
    calls++;
    const outcome = await run(chunk);
    if (outcome === undefined) continue;
    const whole = typeof outcome === "object";
    const message = whole ? outcome.all : outcome;
    last = message;
    if (whole || chunk.length === 1 || calls >= maxCalls) {
      for (const it of chunk) failures.set(it, message);
      continue;
    }
    const mid = Math.ceil(chunk.length / 2);
    stack.push(chunk.slice(mid), chunk.slice(0, mid));
  }
  return failures;
}

/** Serialises a responder's operations (one change at a time per enforcement point). */
export class Serial {
  #tail: Promise<unknown> = Promise.resolve();
  run<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#tail.then(fn, fn);
    this.#tail = next.catch(() => undefined);
    return next;
  }
}

/** Groups items by a key, keeping the order of first appearance. */
export function groupBy<T, K>(items: readonly T[], key: (t: T) => K): Map<K, T[]> {
  const out = new Map<K, T[]>();
  for (const it of items) {
    const k = key(it);
    const list = out.get(k);
    if (list) list.push(it);
    else out.set(k, [it]);
  }
  return out;
}
