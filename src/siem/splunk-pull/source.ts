/**
 * The `splunk` alert source: the Splunk story's cron job done properly. Every `interval` it runs the configured
 * search over the REST API (client.ts) on the window `earliest`..`latest` resolved against the clock
 * (window.ts), reads the attacker from the result rows with the Splunk webhook extractor's field picking and
 * address validation (../splunk/extractor.ts), and hands one Alert per new address to the sink
 * (`Control.ingestAlert`, origin `splunk`): the same policy as every SIEM alert.
 *
 * - Runs never overlap: the loop is sequential, a run ends within `timeout`, and `runOnce` called while a run
 *   is in flight joins it.
 * - A failed run (network, TLS, 401/403/400/503, timeout, a secret that cannot be read, an ingest failure)
 *   is logged with what to fix, shown by `healthcheck`, and retried after `retry_backoff`, doubling up to
 *   `retry_backoff_max`; a successful run resets the backoff.
 * - Addresses already reported from an overlapping window are not reported again (seen.ts); the set, the last
 *   run's time and window end are committed to the CheckpointStore after the run's alerts were ingested, so a
 *   restart neither re-reports them nor runs the search again before `interval` has passed.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { setTimeout as delay } from "node:timers/promises";
import type { BanOutcome } from "../../api/control.ts";
import type { Alert } from "../../core/alert.ts";
import type { Actor } from "../../core/decision.ts";
import { formatDuration } from "../../core/duration.ts";
import type { Logger } from "../../core/logger.ts";
import type { Health } from "../../core/plugin.ts";
import { checkAddress } from "../address.ts";
import { splunk } from "../splunk/extractor.ts";
import { MAX_MAX_ALERTS, type Rejected } from "../types.ts";
import { isObject, lookup, text } from "../values.ts";
import { SplunkClient, SplunkError, type SearchResults } from "./client.ts";
import type { SecretRef, SplunkPullConfig } from "./config.ts";
import { decodeCheckpoint, encodeCheckpoint, SeenSet, type Checkpoint } from "./seen.ts";
import type { AlertSink, AlertSource, AlertSourceContext, AlertSourceStats } from "./types.ts";
import { epochSeconds, normalizeSearch, relativeOffset, windowAt, type Window } from "./window.ts";

export type Sleep = (ms: number, signal: AbortSignal) => Promise<boolean>;

export interface SplunkPullOptions {
  /** Waits between runs (not job polls); resolves false when `signal` aborts. Default: a timer. */
  sleep?: Sleep;
  /** Where `{env: NAME}` secrets are read. Default: process.env. */
  env?: NodeJS.ProcessEnv;
}

export interface SplunkPullStats extends AlertSourceStats {
  /** Searches started. */
  runs: number;
  /** Alerts handed to the sink. */
  alerts: number;
  /** Addresses not handed over: already reported from an overlapping window. */
  suppressed: number;
  /** Values refused as attacker addresses (host names, ranges, the attacked host...). */
  rejected: number;
  /** Runs whose window started after the previous window ended (the time between was not searched). */
  gaps: number;
  /** Gauge: addresses remembered as reported. */
  seen: number;
  /** Saved checkpoints that were unusable or belonged to another search (started afresh). */
  checkpoint_resets: number;
}

/** What one run did. */
export interface RunReport {
  window: Window;
  sid?: string;
  rows: number;
  /** Alerts handed to the sink, with the policy's outcome. */
  ingested: { ip: string; outcome: string }[];
  suppressed: string[];
  rejected: Rejected[];
  /** Rows (or addresses) over `max_results`, not examined. */
  dropped: number;
  messages: { type: string; text: string }[];
}

const defaultSleep: Sleep = (ms, signal) =>
  delay(ms, undefined, { signal }).then(
    () => true,
    () => false,
  );

const LOGGED_REJECTS = 5;

export class SplunkPullSource implements AlertSource {
  readonly type = "splunk";
  readonly name: string;
  readonly #cfg: SplunkPullConfig;
  readonly #ctx: AlertSourceContext;
  readonly #log: Logger;
  readonly #key: string;
  readonly #sleep: Sleep;
  readonly #env: NodeJS.ProcessEnv;
  readonly #fp: string;
  readonly #earliest: number;
  readonly #latest: number;
  readonly #actor: Actor;
  #seen: SeenSet;
  #loaded = false;
  #lastRan: number | undefined;
  #lastLatest: number | undefined;
  #inflight: Promise<RunReport> | undefined;
  #running = false;
  #lastOk: { at: number; report: RunReport } | undefined;
  #lastError: { at: number; message: string; kind: string } | undefined;
  #nextAttempt: number | undefined;
  #warnedSecretMode = false;
  readonly #stats: SplunkPullStats = {
    lines: 0,
    bytes: 0,
    drops: 0,
    rotations: 0,
    errors: 0,
    runs: 0,
    alerts: 0,
    suppressed: 0,
    rejected: 0,
    gaps: 0,
    seen: 0,
    checkpoint_resets: 0,
  };

  constructor(cfg: SplunkPullConfig, ctx: AlertSourceContext, opts: SplunkPullOptions = {}) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.name = cfg.name ?? "splunk";
    this.#log = ctx.logger.child({ source: this.name, type: this.type });
    this.#key = `splunk:${this.name}`;
    this.#sleep = opts.sleep ?? defaultSleep;
    this.#env = opts.env ?? process.env;
    this.#earliest = offset(cfg.earliest);
    this.#latest = offset(cfg.latest);
    this.#actor = { type: "siem", name: this.name };
    this.#seen = new SeenSet(cfg.max_seen);
    this.#fp = createHash("sha256")
      .update(
        JSON.stringify([
          cfg.url,
          cfg.namespace ?? null,
          normalizeSearch(cfg.search),
          cfg.earliest,
          cfg.latest,
          cfg.ip_fields,
        ]),
      )
      .digest("hex")
      .slice(0, 16);
  }

  stats(): SplunkPullStats {
    return { ...this.#stats, seen: this.#seen.size };
  }

  healthcheck(): Promise<Health> {
    const c = this.#cfg;
    const tls = c.tls.insecure_skip_verify ? "; TLS verification DISABLED (tls.insecure_skip_verify)" : "";
    const iso = (t: number) => new Date(t).toISOString();
    const next = () =>
      this.#nextAttempt === undefined
        ? ""
        : `; next run in ${formatDuration(Math.max(0, this.#nextAttempt - this.#ctx.clock.now()))}`;
    const err = this.#lastError;
    if (err) {
      return Promise.resolve({
        ok: false,
        detail: `last run at ${iso(err.at)} failed: ${err.message}${next()}${tls}`,
      });
    }
    const ok = this.#lastOk;
    if (!ok) {
      const what = `${c.url}: no run yet (every ${formatDuration(c.interval)}, window ${c.earliest}..${c.latest})`;
      return Promise.resolve({ ok: true, detail: `${what}${next()}${tls}` });
    }
    const r = ok.report;
    return Promise.resolve({
      ok: true,
      detail:
        `last run at ${iso(ok.at)}: ${r.rows} rows, ${r.ingested.length} alerts, ${r.suppressed.length} already ` +
        `reported, ${r.rejected.length} values refused${r.dropped ? `, ${r.dropped} over max_results` : ""}` +
        `${next()}${tls}`,
    });
  }

  async run(sink: AlertSink, signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error(`source ${this.name} is already running`);
    this.#running = true;
    try {
      if (this.#cfg.tls.insecure_skip_verify) {
        this.#log.warn(
          { url: this.#cfg.url },
          "TLS VERIFICATION IS DISABLED for Splunk (tls.insecure_skip_verify): anyone on the path can read the " +
            "credentials and forge results that ban addresses; set tls.ca_file instead",
        );
      }
      let wait = await this.#firstWait();
      let backoff = this.#cfg.retry_backoff;
      while (!signal.aborted) {
        this.#nextAttempt = this.#ctx.clock.now() + wait;
        if (wait > 0 && !(await this.#sleep(wait, signal))) break;
        this.#nextAttempt = undefined;
        const started = this.#ctx.clock.now();
        try {
          await this.runOnce(sink, signal);
          backoff = this.#cfg.retry_backoff;
          wait = Math.max(0, this.#cfg.interval - (this.#ctx.clock.now() - started));
        } catch (e) {
          if (signal.aborted) break;
          this.#log.warn({ err: (e as Error).message, retryMs: backoff }, "Splunk run failed; retrying");
          wait = backoff;
          backoff = Math.min(backoff * 2, this.#cfg.retry_backoff_max);
        }
      }
    } finally {
      this.#nextAttempt = undefined;
      this.#running = false;
    }
  }

  /**
   * One run: search, extract, hand new addresses to the sink, commit. Rejects with the run's error (also kept
   * for `healthcheck`). Called while a run is in flight, returns that run (runs never overlap).
   */
  runOnce(sink: AlertSink, signal: AbortSignal = new AbortController().signal): Promise<RunReport> {
    if (this.#inflight) return this.#inflight;
    const p = this.#runOnce(sink, signal).finally(() => {
      this.#inflight = undefined;
    });
    this.#inflight = p;
    return p;
  }

  /** Before the first run: what is left of `interval` since the last committed run (0 without one). */
  async #firstWait(): Promise<number> {
    try {
      await this.#load();
    } catch {
      return 0; // the first run retries the load and reports the error
    }
    if (this.#lastRan === undefined) return 0;
    const left = this.#lastRan + this.#cfg.interval - this.#ctx.clock.now();
    return Math.min(Math.max(0, left), this.#cfg.interval);
  }

  async #runOnce(sink: AlertSink, signal: AbortSignal): Promise<RunReport> {
    const now = this.#ctx.clock.now();
    this.#stats.runs++;
    try {
      await this.#load();
      const window = windowAt(now, this.#earliest, this.#latest);
      const res = await this.#search(window, signal);
      if (this.#lastLatest !== undefined && window.earliest > this.#lastLatest) {
        this.#stats.gaps++;
        this.#log.warn(
          {
            from: new Date(this.#lastLatest).toISOString(),
            to: new Date(window.earliest).toISOString(),
          },
          "the time between the previous window and this one was not searched (stopped or failing for longer " +
            "than the window); search it by hand if it matters",
        );
      }
      const report = await this.#deliver(res, window, now, sink);
      await this.#commit(now, window);
      this.#lastOk = { at: now, report };
      this.#lastError = undefined;
      return report;
    } catch (e) {
      if (signal.aborted) throw e;
      this.#stats.errors++;
      const message = e instanceof Error ? e.message : String(e);
      this.#lastError = { at: now, message, kind: e instanceof SplunkError ? e.kind : "internal" };
      this.#log.error({ kind: this.#lastError.kind, err: message }, "Splunk search run failed");
      throw e;
    }
  }

  async #load(): Promise<void> {
    if (this.#loaded) return;
    const text = await this.#ctx.checkpoints.get(this.#key);
    this.#loaded = true;
    if (text === undefined) return;
    const d = decodeCheckpoint(text);
    if (!d.ok) {
      this.#stats.checkpoint_resets++;
      this.#log.error({ key: this.#key, reason: d.reason }, "unusable Splunk checkpoint; starting afresh");
      return;
    }
    if (d.value.fp !== this.#fp) {
      this.#stats.checkpoint_resets++;
      this.#log.info(
        { key: this.#key },
        "the search or its window changed; addresses it reported are forgotten",
      );
      return;
    }
    this.#seen = new SeenSet(this.#cfg.max_seen, d.value.seen);
    this.#lastRan = d.value.ran;
    this.#lastLatest = d.value.latest;
  }

  async #commit(now: number, window: Window): Promise<void> {
    const evicted = this.#seen.prune(window.earliest);
    if (evicted) this.#log.warn({ evicted, max_seen: this.#cfg.max_seen }, "seen-set full; oldest forgotten");
    this.#lastRan = now;
    this.#lastLatest = window.latest;
    await this.#saveSeen();
  }

  async #saveSeen(): Promise<void> {
    const c: Checkpoint = { v: 1, fp: this.#fp, seen: this.#seen.entries() };
    if (this.#lastRan !== undefined) c.ran = this.#lastRan;
    if (this.#lastLatest !== undefined) c.latest = this.#lastLatest;
    await this.#ctx.checkpoints.set(this.#key, encodeCheckpoint(c));
  }

  async #search(window: Window, signal: AbortSignal): Promise<SearchResults> {
    const c = this.#cfg;
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), c.timeout);
    const both = AbortSignal.any([signal, timeout.signal]);
    try {
      const client = new SplunkClient({
        url: c.url,
        namespace: c.namespace,
        authorization: await this.#authorization(),
        ca: c.tls.ca_file === undefined ? undefined : await this.#readCa(c.tls.ca_file),
        insecure: c.tls.insecure_skip_verify,
        maxBytes: c.max_response_bytes,
        pollInterval: c.poll_interval,
        sleep: defaultSleep,
      });
      const res = await client.search(
        {
          search: normalizeSearch(c.search),
          earliest: epochSeconds(window.earliest),
          latest: epochSeconds(window.latest),
          mode: c.exec_mode,
          jobTtl: Math.ceil(c.timeout / 1000) + 60,
        },
        both,
      );
      this.#stats.bytes += res.bytes;
      return res;
    } catch (e) {
      if (timeout.signal.aborted && !signal.aborted) {
        throw new SplunkError(
          "timeout",
          `the search did not finish within ${formatDuration(c.timeout)} (timeout)` +
            (c.exec_mode === "normal" ? "; its job was deleted" : ""),
          { cause: e },
        );
      }
      if (e instanceof SplunkError && e.kind === "auth") {
        throw new SplunkError("auth", `${e.message} (${describeAuth(c)})`, { status: 401, cause: e });
      }
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  async #deliver(res: SearchResults, window: Window, now: number, sink: AlertSink): Promise<RunReport> {
    const c = this.#cfg;
    this.#stats.lines += res.rows.length;
    for (const m of res.messages) {
      if (m.type === "ERROR" || m.type === "WARN") {
        this.#log.warn({ type: m.type, text: m.text }, "message from Splunk with the results");
      }
    }
    const rows = res.rows.slice(0, c.max_results);
    let dropped = res.rows.length - rows.length;
    const sid = res.sid ?? `${this.name}@${epochSeconds(window.latest)}`;
    const { alerts, rejected, over } = this.#extract(rows, sid, now);
    dropped += over;
    if (dropped) {
      this.#stats.drops += dropped;
      this.#log.warn(
        { rows: res.rows.length, max_results: c.max_results, dropped },
        "more results than max_results: the rest were not examined; narrow the search or raise max_results",
      );
    }
    this.#stats.rejected += rejected.length;
    if (rejected.length) {
      this.#log.warn(
        {
          refused: rejected.length,
          first: rejected.slice(0, LOGGED_REJECTS).map((r) => `${r.path}: ${r.reason}`),
        },
        "result values refused as attacker addresses",
      );
    }
    const report: RunReport = {
      window,
      ...(res.sid !== undefined ? { sid: res.sid } : {}),
      rows: res.rows.length,
      ingested: [],
      suppressed: [],
      rejected,
      dropped,
      messages: res.messages,
    };
    for (const alert of alerts) {
      const ip = alert.group["source.ip"]!;
      if (this.#seen.suppresses(ip, window.earliest)) {
        this.#stats.suppressed++;
        report.suppressed.push(ip);
        continue;
      }
      let outcome: BanOutcome;
      try {
        outcome = await sink.ingestAlert(alert, this.#actor);
      } catch (e) {
        // keep what was handed over, so the retry does not report it twice
        await this.#saveSeen().catch(() => undefined);
        throw new Error(`the daemon could not ingest the alert about ${ip}: ${(e as Error).message}`, {
          cause: e,
        });
      }
      this.#seen.add(ip, window.latest);
      this.#stats.alerts++;
      report.ingested.push({ ip, outcome: outcome.outcome });
      this.#log.info(
        { ip, rule: alert.rule.id, outcome: outcome.outcome, reason: outcome.reason },
        "Splunk alert",
      );
    }
    return report;
  }

  /**
   * Alerts from result rows, one per address, through the webhook extractor: each row is one body with its
   * own rule (so rows naming one address are merged, and an address any row gives as the attacked host or
   * reporting device is refused in every row). The reason field is kept from the first row naming the address.
   */
  #extract(
    rows: unknown[],
    sid: string,
    now: number,
  ): { alerts: Alert[]; rejected: Rejected[]; over: number } {
    const c = this.#cfg;
    if (rows.length === 0) return { alerts: [], rejected: [], over: 0 };
    const bodies = rows.map((row) => {
      const rule = (c.rule_field ? text(row, [c.rule_field], 128) : undefined) ?? c.rule ?? this.name;
      const normalized =
        isObject(row) && c.count_field !== "count" ? { ...row, count: lookup(row, c.count_field) } : row;
      return { search_name: rule, sid, results: [normalized] };
    });
    const r = splunk.extract(bodies, { now, ipFields: c.ip_fields, maxAlerts: MAX_MAX_ALERTS });
    const rejected = r.rejected.map((x) => ({
      ...x,
      path: x.path.replace(/^\[(\d+)\]\.results\[0\]/, "results[$1]"),
    }));
    const alerts = r.alerts.slice(0, c.max_results);
    if (c.reason_field) {
      const reasons = this.#reasons(rows, c.reason_field);
      for (const a of alerts) {
        const reason = reasons.get(a.group["source.ip"]!);
        if (reason !== undefined && a.events[0]) a.events[0].event.reason = reason;
      }
    }
    return { alerts, rejected, over: r.alerts.length - alerts.length };
  }

  /** Address -> the reason given by the first row naming it. */
  #reasons(rows: unknown[], field: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const row of rows) {
      const reason = text(row, [field], 300);
      if (reason === undefined) continue;
      for (const f of this.#cfg.ip_fields) {
        const v = lookup(row, f);
        for (const x of Array.isArray(v) ? v : [v]) {
          const a = checkAddress(x);
          if (a.ok && !out.has(a.ip)) out.set(a.ip, reason);
        }
      }
    }
    return out;
  }

  async #authorization(): Promise<string> {
    const a = this.#cfg.auth;
    if (a.type === "token") return `Bearer ${await this.#secret(a.token, "auth.token")}`;
    const password = await this.#secret(a.password, "auth.password");
    return `Basic ${Buffer.from(`${a.username}:${password}`).toString("base64")}`;
  }

  async #secret(ref: SecretRef, where: string): Promise<string> {
    let v: string;
    if ("env" in ref) {
      const e = this.#env[ref.env];
      if (e === undefined || e === "") {
        throw new SplunkError("secret", `${where}: environment variable ${ref.env} is not set`);
      }
      v = e;
    } else {
      try {
        v = await readFile(ref.file, "utf8");
        const mode = (await stat(ref.file)).mode;
        if (mode & 0o077 && !this.#warnedSecretMode) {
          this.#warnedSecretMode = true;
          this.#log.warn(
            { file: ref.file, mode: (mode & 0o777).toString(8) },
            `${where}: file readable by others`,
          );
        }
      } catch (e) {
        throw new SplunkError("secret", `${where}: cannot read ${ref.file}: ${(e as Error).message}`, {
          cause: e,
        });
      }
    }
    v = v.replace(/\r?\n$/, "");
    if (!v.trim()) throw new SplunkError("secret", `${where}: empty`);
    if (/[\r\n\0]/.test(v)) throw new SplunkError("secret", `${where}: contains a line break or NUL`);
    return v;
  }

  async #readCa(file: string): Promise<string> {
    try {
      return await readFile(file, "utf8");
    } catch (e) {
      throw new SplunkError("tls", `tls.ca_file: cannot read ${file}: ${(e as Error).message}`, { cause: e });
    }
  }
}

function offset(spec: string): number {
  const r = relativeOffset(spec);
  if (!r.ok)
    throw new Error(`invalid relative time "${spec}" (the schema should have refused it): ${r.reason}`);
  return r.ms;
}

function describeAuth(c: SplunkPullConfig): string {
  const where = (r: SecretRef) => ("env" in r ? `env ${r.env}` : `file ${r.file}`);
  return c.auth.type === "token"
    ? `auth: token from ${where(c.auth.token)}`
    : `auth: user ${c.auth.username}, password from ${where(c.auth.password)}`;
}
