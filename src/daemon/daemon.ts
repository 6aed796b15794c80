/**
 * The daemon: sources -> pipeline -> detection -> policy -> store -> responders, with expiry, reconcile,
 * reload and shutdown. It implements {@link Control} for the API and the CLI.
 *
 * Ordering guarantees: a decision is committed to the store (with its audit record) before any responder is
 * asked to enforce it; expiry and revocation are committed before removal. So after a crash, the store is the
 * truth and the start-up reconcile repairs the firewalls.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type {
  BanOutcome,
  Control,
  DecisionQuery,
  AlertQuery,
  Explanation,
  RuleInfo,
  StatusReport,
  StreamEvent,
  UnbanOutcome,
  Enforcement,
  BanRequest as ControlBanRequest,
} from "../api/control.ts";
import type { LoadedConfig } from "../config/load.ts";
import { resolveApiConfig } from "../api/config.ts";
import { loadCertificates } from "../api/certs.ts";
import { createApiServer, type ApiServer } from "../api/server.ts";
import { TokenStore } from "../auth/tokens.ts";
import type { Alert } from "../core/alert.ts";
import type { Clock } from "../core/clock.ts";
import type { Actor, Decision } from "../core/decision.ts";
import { parseDuration } from "../core/duration.ts";
import { PortcullisError } from "../core/errors.ts";
import type { SecurityEvent } from "../core/event.ts";
import { ProcessExec, type Exec } from "../core/exec.ts";
import type { Logger } from "../core/logger.ts";
import type { Health } from "../core/plugin.ts";
import { DetectionEngine, ipGroupKey } from "../detect/engine.ts";
import type { CompiledRule } from "../detect/rule.ts";
import { Zone } from "../framing/zone.ts";
import { Allowlist } from "../policy/allowlist.ts";
import { BanTable } from "../policy/bans.ts";
import { ownAddresses, sessionAddresses } from "../policy/guards.ts";
import { coveringTargets, normalizeTarget, Policy, type PolicyResult } from "../policy/policy.ts";
import type { Responder } from "../responders/types.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import type { OutcomeRecord, Store, StoredDecision } from "../store/store.ts";
import type { AlertSourceDefinition } from "../siem/splunk-pull/types.ts";
import type {
  CheckpointStore,
  InstrumentedSource,
  LineSink,
  SourceDefinition,
  SourcePosition,
} from "../sources/types.ts";
import { VERSION } from "../version.ts";
import { lockStateDirectory, PID_FILE, type DirectoryLock } from "./lock.ts";
import { Metrics } from "./metrics.ts";
import { Pipeline } from "./pipeline.ts";
import { configuredRules, policyConfig } from "./settings.ts";

export { configuredRules, policyConfig } from "./settings.ts";
import { DecisionSync } from "./sync.ts";

export interface PluginFactories {
  sources: Record<string, SourceDefinition<unknown>>;
  /** Sources of alerts rather than lines (scheduled SIEM searches): they feed the policy like webhooks. */
  alertSources?: Readonly<Record<string, AlertSourceDefinition<unknown>>>;
  responders: Record<string, { create(config: never, ctx: never): Responder }>;
}

export interface DaemonOptions {
  config: LoadedConfig;
  clock: Clock;
  logger: Logger;
  plugins: PluginFactories;
  /** Overrides config.data_dir. */
  dataDir?: string;
  /** Overrides policy.dry_run. */
  dryRun?: boolean;
  /** Command runner for responders (tests and the demo prefix `ip netns exec`). */
  exec?: Exec;
  /** utmp path for admin sessions (tests). */
  utmpPath?: string;
  /** Extra allowlist entries supplied by the caller (the demo's own namespace, tests). */
  extraAllow?: string[];
}

interface Prepared {
  result: PolicyResult;
  record: OutcomeRecord;
  alert: Alert | undefined;
}

interface RunningSource {
  source: InstrumentedSource;
  /** The source's supervised run: settles once it is stopped (abort) or ends on its own. */
  run: Promise<void>;
  abort: AbortController;
  key: string;
  /** Set while the source is down after an error, until it is running again. */
  down?: { error: string; restartAt: number };
  /** A source of lines (through the pipeline, paused with it), not of alerts. */
  lines: boolean;
}

/**
 * A source whose run ends with an error (a store or sink failure, a listener lost) while the daemon is not
 * stopping is restarted after this delay, doubling per consecutive failure up to the maximum; it resumes from
 * its saved checkpoint. A source that ran for at least the maximum before failing starts over at the first.
 */
const SOURCE_RESTART_FIRST_MS = 1000;
const SOURCE_RESTART_MAX_MS = 60_000;
/**
 * A failed commit of lines (see {@link Daemon.flushDecisions}) is tried again without waiting for new lines
 * after this delay, doubling while it keeps failing (each try may wait out the store's busy timeout).
 */
const COMMIT_RETRY_FIRST_MS = 2000;
const COMMIT_RETRY_MAX_MS = 60_000;

/**
 * What a batch's push rejects with when it waited for the store (ingestion paused: see
 * {@link Daemon.flushDecisions}) and its source is stopped, or the daemon stops, before the store took the held
 * work: the batch was not read, and its lines are read again from the source's last committed (or held)
 * position, at the next start or when the source runs again.
 */
export class BatchNotReadError extends Error {
  constructor(why: string) {
    super(`batch not read: ${why}`);
    this.name = "BatchNotReadError";
  }
}

/** Checkpoint key of the detection windows (saved at shutdown and every `rules.windows_snapshot`). */
const WINDOWS_KEY = "detection.windows";
/** Checkpoint key of the time (daemon clock, epoch ms) the saved windows were taken at. */
const WINDOWS_AT_KEY = "detection.windows.at";
/** At most this many groups (addresses, users) are saved, the most recent of each rule first. */
const WINDOW_GROUPS_SAVED = 50_000;

/**
 * The API cannot listen on its configured address (`api.listen`): the port is taken, below 1024 without the
 * privilege, or the address is not this host's. The start fails with this error; `portcullis run` prints it
 * and exits with 69 (EX_UNAVAILABLE), instead of a bare `listen EADDRINUSE` from inside the server.
 */
export class ApiListenError extends PortcullisError {
  constructor(
    readonly host: string,
    readonly port: number,
    cause: unknown,
  ) {
    const code = (cause as NodeJS.ErrnoException | undefined)?.code;
    const address = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    super("UNAVAILABLE", `the API cannot listen on ${address} (api.listen): ${listenProblem(code, cause)}`, {
      cause,
    });
    this.name = "ApiListenError";
  }
}

/** Why a listen failed, in words, with what to do about it. */
function listenProblem(code: string | undefined, cause: unknown): string {
  switch (code) {
    case "EADDRINUSE":
      return "the address is already in use by another process (EADDRINUSE); stop it, or set another port";
    case "EACCES":
      return "permission denied (EACCES): ports below 1024 need root or CAP_NET_BIND_SERVICE";
    case "EADDRNOTAVAIL":
      return "the address is not one of this host's (EADDRNOTAVAIL)";
    default:
      return cause instanceof Error ? cause.message : String(cause);
  }
}

export class Daemon implements Control {
  readonly #o: DaemonOptions;
  #config: LoadedConfig;
  readonly #log: Logger;
  readonly #clock: Clock;
  readonly telemetry = new Metrics();
  store!: Store;
  #rules: CompiledRule[] = [];
  #engine!: DetectionEngine;
  #policy!: Policy;
  readonly #bans = new BanTable();
  #allowlist!: Allowlist;
  #sync!: DecisionSync;
  #pipeline!: Pipeline;
  #sources: RunningSource[] = [];
  #responders: Responder[] = [];
  #responderKey = "";
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #listeners = new Set<(e: StreamEvent) => void>();
  #started = 0;
  #dataDir: string;
  /** The state directory's lock (one daemon per directory), held from start to the end of stop. */
  #lock: DirectoryLock | undefined;
  #stopping = false;
  /** Serialises decisions so de-duplication and escalation see each other's effects. */
  #decide: Promise<unknown> = Promise.resolve();
  tlsFingerprint: string | undefined;
  #api: ApiServer | undefined;
  #tokens: TokenStore | undefined;
  /** Base URL of the API once it listens (`https://127.0.0.1:8443`). */
  apiUrl: string | undefined;

  constructor(o: DaemonOptions) {
    this.#o = o;
    this.#config = o.config;
    this.#log = o.logger;
    this.#clock = o.clock;
    this.#dataDir = o.dataDir ?? o.config.raw.data_dir;
  }

  get dataDir(): string {
    return this.#dataDir;
  }

  get dryRun(): boolean {
    return this.#o.dryRun ?? this.#config.raw.policy.dry_run;
  }

  get ipv6Prefix(): number {
    return this.#config.raw.policy.ipv6_prefix;
  }

  get policy(): Policy {
    return this.#policy;
  }

  get engine(): DetectionEngine {
    return this.#engine;
  }

  get pipeline(): Pipeline {
    return this.#pipeline;
  }

  get sync(): DecisionSync {
    return this.#sync;
  }

  // ---- lifecycle ------------------------------------------------------------------------------------------

  async start(): Promise<void> {
    try {
      await this.#start();
    } catch (e) {
      await this.#abandonStart();
      throw e;
    }
  }

  async #start(): Promise<void> {
    this.#started = this.#clock.now();
    mkdirSync(this.#dataDir, { recursive: true, mode: 0o750 });
    // Before anything else is opened: a second daemon on the same directory is refused here (it would make
    // every decision twice, and its stop would remove the first one's pid file).
    this.#lock = lockStateDirectory(this.#dataDir, this.#log);
    const c = this.#config.raw;
    this.store = await openSqliteStore(c.store.path ?? join(this.#dataDir, "portcullis.db"), {
      durability: c.store.durability,
      clock: () => this.#clock.now(),
    });
    this.#buildRulesAndPolicy(undefined);
    await this.#warmBans();
    await this.#restoreWindows();
    await this.#buildResponders();
    this.#pipeline = new Pipeline({
      time: { zone: new Zone(c.timezone), reference: () => this.#clock.now() },
      modes: c.parsers.modes,
      engine: () => this.#engine,
      policy: () => this.#policy,
      ipv6Prefix: c.policy.ipv6_prefix,
      onAlerts: (alerts) => this.#onAlerts(alerts),
      flush: (positions) => this.flushDecisions(positions),
      admit: (signal) => this.#admit(signal),
      now: () => this.#clock.now(),
      logger: this.#log,
      metrics: this.telemetry,
    });
    await this.#refreshGuards();
    await this.#startApi();
    this.#startSources();
    this.#every(1000, () => this.#expire());
    this.#every(2000, () => this.#syncExternal());
    this.#every(1000, () => this.#retryCommit());
    this.#every(parseDuration(c.reconcile_interval), () => this.#sync.reconcileAll());
    this.#every(10_000, () => this.#refreshGuards());
    this.#every(5000, () => this.#writeStatus());
    // Windows changed by lines read just before a quiet spell are saved too (a batch saves them when due).
    this.#every(this.#windowsEvery, async () => {
      if (this.#windowsDue()) await this.flushDecisions();
    });
    this.#every(3_600_000, () => this.#retention());
    this.#writePid();
    await this.#writeStatus();
    this.#log.info(
      {
        version: VERSION,
        dataDir: this.#dataDir,
        rules: this.#rules.length,
        sources: this.#sources.map((s) => s.source.name),
        responders: this.#responders.map((r) => r.name),
        dryRun: this.dryRun,
      },
      "portcullis started",
    );
  }

  /**
   * Undoes a start that failed part way (the API's port taken, a responder that cannot be built): whatever it
   * opened is closed and the state directory's lock released, so that the process can report the error and
   * exit, or start again, without holding the directory or the store. A start refused at the lock (another
   * daemon holds the directory) opened nothing: nothing is touched then. Afterwards {@link stop} is a no-op.
   */
  async #abandonStart(): Promise<void> {
    const lock = this.#lock;
    if (!lock) return;
    this.#lock = undefined;
    try {
      for (const t of this.#timers.splice(0)) clearInterval(t);
      await this.#stopSources(this.#sources);
      this.#sources = [];
      await this.#api?.close().catch(() => undefined);
      this.#api = undefined;
      this.apiUrl = undefined;
      await this.#tokens?.flush().catch(() => undefined);
      await this.#sync?.idle();
      this.#removePid();
      await this.store?.close();
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, "cleaning up after the failed start failed");
    } finally {
      // Last, and whatever happened above: the next start must not be refused by this one.
      lock.release();
    }
  }

  async stop(): Promise<void> {
    // Not started (or refused: another daemon holds the directory): nothing here is ours to close or remove.
    if (this.#stopping || !this.#lock) return;
    this.#stopping = true;
    for (const t of this.#timers) clearInterval(t);
    // Batches waiting for the store (ingestion paused) are turned away unread, so that every source can stop.
    this.#turnAwayWaiting("the daemon is stopping");
    await this.#stopSources(this.#sources);
    this.#sources = [];
    await this.#decide.catch(() => undefined);
    await this.#saveWindows();
    if (this.#uncommittedWork) {
      // The store refused the held work to the end: it is lost with this process. Nothing of it was enforced
      // (a decision is enforced only once committed), and its lines are behind no committed position: they are
      // read, and decided, again at the next start.
      this.#log.error(
        this.#heldCounts(),
        "stopping with work the store never took: the outcomes of lines read since its last successful " +
          "commit are lost; those lines are read again at the next start (their positions were not committed)",
      );
    }
    await this.#api?.close().catch(() => undefined);
    await this.#tokens?.flush().catch(() => undefined);
    await this.#sync?.idle();
    await this.#writeStatus(false);
    this.#removePid();
    await this.store?.close();
    this.#lock.release();
    this.#log.info({}, "portcullis stopped");
  }

  /** SIGHUP: new config and rules, keeping windows of unchanged rules, bans and sources' positions. */
  async reload(config: LoadedConfig): Promise<void> {
    const before = this.#config;
    this.#config = config;
    try {
      this.#buildRulesAndPolicy(this.#engine);
    } catch (e) {
      this.#config = before;
      throw e;
    }
    if (JSON.stringify(before.raw.parsers.modes) !== JSON.stringify(config.raw.parsers.modes)) {
      this.#pipeline.resetStreams(config.raw.parsers.modes);
    }
    await this.#buildResponders();
    const keep = new Set(config.sources.map((s) => JSON.stringify(s)));
    const stale = this.#sources.filter((s) => !keep.has(s.key));
    if (stale.length) {
      await this.#stopSources(stale);
      this.#sources = this.#sources.filter((s) => !stale.includes(s));
    }
    this.#startSources();
    await this.store.audit([
      {
        at: this.#clock.now(),
        actor: { type: "cli", name: "reload" },
        action: "config_reload",
        detail: { file: config.file, rules: this.#rules.length },
      },
    ]);
    this.#log.info({ rules: this.#rules.length }, "configuration reloaded");
  }

  /**
   * The HTTPS API (on by default): webhooks, decisions, stream, metrics. The CLI on this host reaches it with
   * an admin token kept in <data_dir>/cli.token (mode 0600), created on first start.
   */
  async #startApi(): Promise<void> {
    const s = resolveApiConfig(this.#config.raw.api);
    if (!s.enabled) return;
    const certificates = s.plainHttp
      ? undefined
      : await loadCertificates({
          dataDir: this.#dataDir,
          ...(s.tls.cert ? { cert: s.tls.cert } : {}),
          ...(s.tls.key ? { key: s.tls.key } : {}),
          ...(s.tls.clientCa ? { clientCa: s.tls.clientCa } : {}),
          listenHost: s.host,
          clock: this.#clock,
          logger: this.#log,
        });
    this.#tokens = new TokenStore(this.store.db, this.#clock, {
      onError: (e) => this.#log.warn({ error: String(e) }, "token last_used_at"),
    });
    await ensureCliToken(this.#tokens, this.#dataDir);
    this.#api = await createApiServer({
      control: this,
      tokens: this.#tokens,
      config: s,
      logger: this.#log,
      clock: this.#clock,
      ...(certificates ? { certificates } : {}),
    });
    try {
      this.apiUrl = await this.#api.listen();
    } catch (e) {
      throw new ApiListenError(s.host, s.port, e);
    }
    this.tlsFingerprint = certificates?.fingerprint;
    this.#log.info({ url: this.apiUrl, fingerprint: this.tlsFingerprint }, "API listening");
  }

  #every(ms: number, fn: () => Promise<void>): void {
    let busy = false;
    const t = setInterval(() => {
      if (busy || this.#stopping) return;
      busy = true;
      fn()
        .catch((e: unknown) => this.#log.error({ err: (e as Error).message }, "periodic task failed"))
        .finally(() => {
          busy = false;
        });
    }, ms);
    t.unref();
    this.#timers.push(t);
  }

  #buildRulesAndPolicy(previous: DetectionEngine | undefined): void {
    const c = this.#config.raw;
    const rules = configuredRules(c);
    this.#rules = rules;
    this.#engine = new DetectionEngine(rules, previous);
    this.#windowsEvery = parseDuration(c.rules.windows_snapshot);
    const before = this.#allowlist;
    this.#allowlist = new Allowlist([
      { cidrs: c.policy.allowlist, why: "configured allowlist" },
      { cidrs: this.#o.extraAllow ?? [], why: "daemon allowlist" },
    ]);
    // A reload keeps protecting the logged-in admins' addresses while they are read again (asynchronously).
    if (before) this.#allowlist.inheritDynamic(before);
    this.#policy = new Policy(policyConfig(c, this.dryRun), this.#allowlist, this.#bans);
    this.#policy.onBreakerOpen = (at) => {
      this.telemetry.breaker.inc();
      this.#log.warn(
        { at: new Date(at).toISOString(), limit: c.policy.circuit_breaker.max_bans_per_minute },
        "CIRCUIT BREAKER OPEN: too many new bans per minute; alerting only until the rate drops",
      );
    };
    void this.#refreshGuards();
  }

  async #refreshGuards(): Promise<void> {
    const c = this.#config.raw.policy;
    if (!this.#allowlist) return;
    if (c.allow_own_addresses) this.#allowlist.setDynamic("own", ownAddresses(), "own interface address");
    else this.#allowlist.setDynamic("own", [], "");
    if (c.allow_admin_sessions) {
      this.#allowlist.setDynamic("sessions", await sessionAddresses(this.#o.utmpPath), "logged-in session");
    } else this.#allowlist.setDynamic("sessions", [], "");
  }

  async #warmBans(): Promise<void> {
    const now = this.#clock.now();
    await loadBans(this.store, this.#bans, now, parseDuration(this.#config.raw.policy.escalation.lookback));
    this.#seenUntil = now;
  }

  /**
   * Builds the responders, and unless in dry run sets them up and reconciles them with the store. A reload
   * rebuilds them when their configuration changed or when dry run was turned on or off: a daemon started in
   * dry run never set its responders up, and must do so (and enforce the bans in force) once it enforces.
   */
  async #buildResponders(): Promise<void> {
    const key = JSON.stringify({ responders: this.#config.responders, dryRun: this.dryRun });
    if (key === this.#responderKey && this.#sync) return;
    this.#responderKey = key;
    const ctx = {
      clock: this.#clock,
      logger: this.#log.child({ stage: "responder" }),
      dataDir: this.#dataDir,
      exec: this.#o.exec ?? new ProcessExec(),
    };
    this.#responders = this.#config.responders.map(({ type, config }) => {
      const def = this.#o.plugins.responders[type];
      if (!def) throw new PortcullisError("UNKNOWN_PLUGIN", `unknown responder type "${type}"`);
      return def.create(config as never, ctx as never);
    });
    await this.#sync?.idle();
    this.#sync = new DecisionSync({
      responders: this.#responders,
      store: this.store,
      clock: this.#clock,
      logger: this.#log,
      metrics: this.telemetry,
    });
    if (!this.dryRun) {
      await this.#sync.setup();
      await this.#sync.reconcileAll();
    }
  }

  #startSources(): void {
    const running = new Set(this.#sources.map((s) => s.key));
    for (const entry of this.#config.sources) {
      const key = JSON.stringify(entry);
      if (running.has(key)) continue;
      const ctx = {
        clock: this.#clock,
        logger: this.#log.child({ stage: "source", source: entry.type }),
        dataDir: this.#dataDir,
        exec: new ProcessExec(),
        checkpoints: this.#checkpoints,
      };
      const abort = new AbortController();
      const alertDef = this.#o.plugins.alertSources?.[entry.type];
      if (alertDef) {
        const source = alertDef.create(entry.config, ctx);
        const supervised: RunningSource = {
          source: source as unknown as InstrumentedSource,
          run: Promise.resolve(),
          abort,
          key,
          lines: false,
        };
        supervised.run = this.#supervise(supervised, () => source.run(this, abort.signal), "alert source");
        this.#sources.push(supervised);
        continue;
      }
      const def = this.#o.plugins.sources[entry.type];
      if (!def) throw new PortcullisError("UNKNOWN_PLUGIN", `unknown source type "${entry.type}"`);
      const source = def.create(entry.config, ctx);
      const supervised: RunningSource = { source, run: Promise.resolve(), abort, key, lines: true };
      // The source's batches carry its signal: a batch waiting for the store ({@link #admit}) is turned away
      // when the source is stopped (shutdown, a reload that drops it), so its run can end.
      const sink: LineSink = { push: (batch) => this.#pipeline.push(batch, abort.signal) };
      supervised.run = this.#supervise(supervised, () => source.run(sink, abort.signal), "source");
      this.#sources.push(supervised);
    }
  }

  /**
   * Runs a source and restarts it, with backoff, whenever its run ends with an error while it is not being
   * stopped: one failed push (the store briefly full or locked) must not end a source for good while the rest
   * of the daemon looks healthy. Meanwhile `down` makes status report it as not running. The entry stays in
   * the list (a reload does not start a second copy of it; stopping it cancels the pending restart).
   */
  async #supervise(entry: RunningSource, run: () => Promise<void>, what: string): Promise<void> {
    const signal = entry.abort.signal;
    const name = entry.source.name;
    let delay = SOURCE_RESTART_FIRST_MS;
    for (;;) {
      const began = this.#clock.now();
      try {
        await run();
        return;
      } catch (e) {
        const err = (e as Error).message;
        if (signal.aborted || this.#stopping) {
          if (e instanceof BatchNotReadError) {
            // Stopped while it waited for the store: nothing went wrong with the source itself.
            this.#log.info(
              { source: name },
              `${what} stopped while ingestion was paused; ` +
                "its unread lines are read from its last committed position",
            );
          } else this.#log.error({ source: name, err }, `${what} stopped with an error`);
          return;
        }
        if (this.#clock.now() - began >= SOURCE_RESTART_MAX_MS) delay = SOURCE_RESTART_FIRST_MS;
        entry.down = { error: err, restartAt: this.#clock.now() + delay };
        this.#log.error(
          { source: name, err, restart_in_ms: delay },
          `${what} stopped with an error; restarting it from its saved position`,
        );
        const waited = await sleep(delay, true, { signal }).catch(() => false);
        if (!waited) return;
        entry.down = undefined;
        this.#log.info({ source: name }, `restarting ${what}`);
        delay = Math.min(delay * 2, SOURCE_RESTART_MAX_MS);
      }
    }
  }

  /**
   * Detection windows survive a clean restart: saved at shutdown, after the sources have stopped and their last
   * batch is processed, in one transaction with the positions and decisions of every batch not committed yet
   * (see {@link flushDecisions}), so the saved windows hold exactly the lines before the saved positions. If
   * that commit fails nothing is saved: the windows of the last snapshot stay, with the positions committed
   * after it, and the next start reads the uncommitted lines again (counted once). While running the windows
   * are also saved every `rules.windows_snapshot` with a batch, so a crash loses only what was counted since
   * the last snapshot.
   */
  async #saveWindows(): Promise<void> {
    if (!this.store || !this.#engine || !this.#pipeline) return;
    const saved = { rules: 0, groups: 0 };
    try {
      await this.#flushLines([], true, saved);
      this.#log.info(saved, "detection windows saved");
    } catch (e) {
      this.#log.error(
        { err: (e as Error).message },
        "detection windows could not be saved; the lines after the last committed positions are read again " +
          "at the next start",
      );
    }
  }

  #windowsSavedAt = 0;
  /** The pipeline's event count when the windows were last saved: unchanged windows are not saved again. */
  #windowsEvents = 0;

  #windowsDue(): boolean {
    return (
      this.#clock.now() - this.#windowsSavedAt >= this.#windowsEvery &&
      (this.#pipeline?.counters.events ?? 0) !== this.#windowsEvents
    );
  }

  /** `rules.windows_snapshot` in ms (set with the rules: read on every batch). */
  #windowsEvery = 0;

  /** The windows as positions to commit (their state, and when it was taken); counts them into `saved`. */
  #windowsPositions(saved?: { rules: number; groups: number }): SourcePosition[] {
    const at = this.#clock.now();
    this.#windowsSavedAt = at;
    this.#windowsEvents = this.#pipeline?.counters.events ?? 0;
    const state = this.#engine.saveState(WINDOW_GROUPS_SAVED);
    if (saved) {
      saved.rules = state.rules.length;
      saved.groups = state.rules.reduce((n, r) => n + r.groups.length, 0);
    }
    return [
      { key: WINDOWS_KEY, value: JSON.stringify(state) },
      { key: WINDOWS_AT_KEY, value: String(at) },
    ];
  }

  /**
   * Restores the last saved windows: from a clean stop, they hold exactly the lines before the saved positions;
   * after a crash, the lines up to the last snapshot (those read after it are not counted again: they are past
   * the positions saved with later batches). A ban decided after the snapshot had already consumed its
   * address's counts (the engine forgets a source when it is banned): those groups are dropped again.
   */
  async #restoreWindows(): Promise<void> {
    const saved = await this.store.checkpoints.get(WINDOWS_KEY);
    if (!saved) return;
    let state: unknown;
    try {
      state = JSON.parse(saved);
    } catch {
      this.#log.warn({}, "saved detection windows are unreadable; starting with empty windows");
      return;
    }
    const restored = this.#engine.restoreState(state);
    const at = Number(await this.store.checkpoints.get(WINDOWS_AT_KEY));
    let forgotten = 0;
    if (Number.isFinite(at) && at > 0) {
      for (const d of await this.store.changedSince(at - 1)) {
        // An unban made since resets every banning rule, as the unban itself does (see unban below).
        this.#engine.forgetSource(d.target, d.state === "revoked" ? undefined : d.rule?.id);
        forgotten++;
      }
    }
    this.#windowsSavedAt = this.#clock.now();
    this.#log.info({ ...restored, forgotten }, "detection windows restored");
  }

  async #stopSources(list: RunningSource[]): Promise<void> {
    for (const s of list) s.abort.abort();
    await Promise.all(list.map((s) => s.run));
  }

  // ---- decisions ------------------------------------------------------------------------------------------

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.#decide.then(fn, fn);
    this.#decide = p.catch(() => undefined);
    return p;
  }

  /**
   * Alerts from the live pipeline: decided at once, synchronously (the in-memory ban view changes before the
   * next event is looked at, as in replay), and queued; {@link flushDecisions} commits the queue in one
   * transaction and only then hands the new bans to the responders.
   */
  #onAlerts(alerts: Alert[]): void {
    for (let i = 0; i < alerts.length; i++) {
      const alert = alerts[i]!;
      const p = this.#prepare(alert, { type: "rule", name: alert.rule.id }, this.#clock.now());
      this.#pending.push(p);
      if (p.result.decision && this.#policy.inForce(p.result.decision)) {
        // Repeat-offender rules count bans: feed the ban back as an event (it may add alerts to this loop).
        const ban: SecurityEvent = {
          "@timestamp": alert["@timestamp"],
          event: {
            dataset: "portcullis",
            action: "portcullis_ban",
            outcome: "failure",
            reason: p.result.decision.reason,
          },
          source: { ip: p.result.decision.target },
          rule: { id: alert.rule.id, name: alert.rule.name },
        };
        this.#engine.process(ban, alerts);
      }
    }
  }

  /** Outcomes of the lines processed since the last call of {@link flushDecisions}. */
  readonly #pending: Prepared[] = [];
  /** Outcomes of lines whose commit failed, in order: committed first by the next commit of lines. */
  #failed: Prepared[] = [];
  /**
   * Positions (by checkpoint key) of batches the pipeline processed, so their lines are counted in the windows
   * and decided in memory, but whose commit failed. Every later commit of lines includes them, and a source
   * restarted meanwhile resumes from them ({@link #checkpoints}): those lines are never read, and counted, a
   * second time (reading them again from the committed position would count them twice and ban early).
   */
  readonly #uncommitted = new Map<string, string>();

  /** The sources' positions: a position not committed yet (see {@link #uncommitted}) wins over the stored one. */
  readonly #checkpoints: CheckpointStore = {
    get: async (key) => this.#uncommitted.get(key) ?? (await this.store.checkpoints.get(key)),
    set: (key, value) => this.store.checkpoints.set(key, value),
  };

  /**
   * Commits queued decisions with the source positions of the lines that made them (one transaction), then
   * enforces them. Called at the end of each line batch (the queue then holds exactly that batch's outcomes:
   * a batch is processed synchronously up to this call).
   *
   * When the commit fails (the database locked or full) its lines stay processed: their decisions are kept for
   * the next commit and their positions are where the source resumes, so the windows, which counted them, stay
   * consistent with the positions that will be committed. The next commit of lines (a batch, the periodic
   * retry, the shutdown) writes them all together.
   *
   * That held work is bounded (`store.max_held_outcomes`): once that many outcomes are held, ingestion is
   * paused (see {@link #admit}) until a commit takes them; the sources' logs are the buffer meanwhile.
   */
  async flushDecisions(positions: readonly SourcePosition[] = []): Promise<void> {
    await this.#flushLines(positions, this.#windowsDue());
  }

  get #uncommittedWork(): boolean {
    return this.#failed.length > 0 || this.#uncommitted.size > 0;
  }

  async #flushLines(
    positions: readonly SourcePosition[],
    saveWindows: boolean,
    saved?: { rules: number; groups: number },
  ): Promise<void> {
    if (!this.#pending.length && !positions.length && !saveWindows && !this.#uncommittedWork) return;
    const batch = this.#pending.splice(0);
    // The windows as they are now hold exactly the lines processed so far (a batch is processed synchronously
    // up to this call): this batch's and those of earlier batches, whose commits are queued before this one
    // and whose positions, if those commits fail, are in #uncommitted and written with this one.
    const windows = saveWindows ? this.#windowsPositions(saved) : [];
    await this.#serial(async () => {
      for (const p of positions) this.#uncommitted.set(p.key, p.value);
      let items: Prepared[];
      try {
        items = await this.#writeAfterHeld(batch, windows);
      } catch (e) {
        // Nothing was written (one transaction). The decisions are already in effect in memory: events of an
        // address just banned are suppressed, so they are kept for the next commit, or they are lost.
        this.#failed.push(...batch);
        this.#heldChanged(e);
        if (windows.length) {
          // The snapshot was not saved: take it again with the next commit.
          this.#windowsSavedAt = 0;
          this.#windowsEvents = -1;
        }
        throw e;
      }
      await this.#committed(items);
    });
  }

  /**
   * Writes the held work (the outcomes and positions of lines whose commit failed: {@link #failed},
   * {@link #uncommitted}) and then `batch`, in one transaction, and returns everything written, in that order,
   * for {@link #committed}. Every commit of outcomes goes through here, so nothing is written ahead of a held
   * decision it depends on (an extension of a held ban would otherwise update no row, and be lost when the
   * held ban is written later with its first expiry). Runs inside {@link #serial}. When the write fails,
   * nothing is written: the held work stays held, and `batch` is left to the caller.
   */
  async #writeAfterHeld(batch: Prepared[], extra: readonly SourcePosition[] = []): Promise<Prepared[]> {
    const items = [...this.#failed, ...batch];
    const held = [...this.#uncommitted].map(([key, value]) => ({ key, value }));
    await this.store.recordOutcomes(
      items.map((i) => i.record),
      [...held, ...extra],
    );
    this.#failed = [];
    for (const p of held) if (this.#uncommitted.get(p.key) === p.value) this.#uncommitted.delete(p.key);
    this.#heldChanged();
    return items;
  }

  // ---- back-pressure while the store cannot be written ------------------------------------------------------
  //
  // Held work (#failed: one entry per alert of a line read, with its decision and a bounded sample of
  // events) would otherwise grow with every alert for as long as the store refuses commits. At
  // `store.max_held_outcomes` ingestion is paused: a batch pushed meanwhile waits, unread, in Pipeline.push (its
  // promise does not resolve), so a file or journald source stops reading and its position stays where the
  // committed (or held) one is: the log itself is the buffer and nothing is lost. The syslog source cannot make
  // a UDP sender wait: its own bounded queue fills and drops, counted, as when the daemon is slow; TCP
  // senders are not read.
  //
  // Only new batches wait: a batch being read when the cap is reached is read and held as before (the cap may
  // be passed by at most one batch per source: each source has one push at a time). Held work is written only
  // by a commit (the retry every 2 s to 60 s, the next manual ban or unban, a SIEM alert); the first that
  // succeeds takes all of it and ends the pause. Manual operations are not paused: a ban still fails with the
  // store's error, an unban still ends a held ban where it is held. A stopping source's waiting batch, or every
  // one when the daemon stops, is turned away with BatchNotReadError: not read, so its lines are read again
  // from the last committed (or held) position. A reload that changes the cap takes effect at the next
  // failed commit; a pause ends only with a successful one.

  /** Set while ingestion is paused: since when, and the store's last error. */
  #paused: { since: number; error: string } | undefined;
  /** Batches waiting for the pause to end. */
  readonly #waiting = new Set<{ resolve: () => void; reject: (e: Error) => void; detach: () => void }>();

  /** The held outcomes and bans (not ended by an unban meanwhile), and the positions held with them. */
  #heldCounts(): { held_outcomes: number; held_bans: number; held_positions: number } {
    let bans = 0;
    for (const p of this.#failed) if (p.record.decision && !p.record.decision.revoked) bans++;
    return { held_outcomes: this.#failed.length, held_bans: bans, held_positions: this.#uncommitted.size };
  }

  /**
   * After held work grew (`error`: the store's refusal) or was written: keeps the gauge, and pauses ingestion
   * at the cap or resumes it once nothing is held.
   */
  #heldChanged(error?: unknown): void {
    this.telemetry.heldOutcomes.set(this.#failed.length);
    if (error === undefined) {
      if (this.#paused && !this.#failed.length) this.#resume();
      return;
    }
    const message = (error as Error).message;
    if (this.#paused) {
      this.#paused.error = message;
      return;
    }
    const cap = this.#config.raw.store.max_held_outcomes;
    if (this.#stopping || this.#failed.length < cap) return;
    this.#paused = { since: this.#clock.now(), error: message };
    this.telemetry.ingestionPaused.set(1);
    this.telemetry.ingestionPauses.inc();
    this.#log.warn(
      { err: message, ...this.#heldCounts(), max_held_outcomes: cap },
      "ingestion paused: the store cannot be written and the work held for it reached " +
        "store.max_held_outcomes; sources are not read until a retry commits it",
    );
  }

  #resume(): void {
    const paused = this.#paused!;
    this.#paused = undefined;
    this.telemetry.ingestionPaused.set(0);
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    this.#log.info(
      { paused_ms: this.#clock.now() - paused.since, waiting_batches: waiting.length },
      "ingestion resumed: the store took the held work",
    );
    for (const w of waiting) {
      w.detach();
      w.resolve();
    }
  }

  /** The pipeline's gate ({@link PipelineOptions.admit}): while paused, a batch waits for {@link #resume}. */
  #admit(signal: AbortSignal | undefined): Promise<void> | undefined {
    if (!this.#paused) return undefined;
    if (this.#stopping) return Promise.reject(new BatchNotReadError("the daemon is stopping"));
    if (signal?.aborted) return Promise.reject(new BatchNotReadError("its source is stopping"));
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        this.#waiting.delete(w);
        reject(new BatchNotReadError("its source is stopping while ingestion is paused"));
      };
      const w = { resolve, reject, detach: () => signal?.removeEventListener("abort", onAbort) };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#waiting.add(w);
    });
  }

  /** Rejects every waiting batch (unread). */
  #turnAwayWaiting(why: string): void {
    const waiting = [...this.#waiting];
    this.#waiting.clear();
    for (const w of waiting) {
      w.detach();
      w.reject(new BatchNotReadError(`${why} while ingestion is paused`));
    }
  }

  /**
   * Commits the held work now, inside {@link #serial} (an unban that ended held bans writes them at once). A
   * failure is logged, not thrown: the work stays held, for the next commit of lines or the retry.
   */
  async #commitHeld(why: string): Promise<void> {
    if (!this.#uncommittedWork) return;
    let items: Prepared[];
    try {
      items = await this.#writeAfterHeld([]);
    } catch (e) {
      this.#log.warn(
        { err: (e as Error).message },
        `${why}: the decisions whose commit had failed could not be committed first; they stay held`,
      );
      return;
    }
    await this.#committed(items);
  }

  /**
   * Ends, where they are held (see {@link #failed}), the decisions on `target` (only those of `origin`, when
   * given) that are not committed yet: the held work then writes them revoked by `actor`, with the unban's audit
   * record after the ban's, and they are never enforced. Without this, the retry would write them active and
   * enforce a ban the operator had lifted. Returns them as {@link Store.revoke} returns the decisions it ends.
   */
  #revokeHeld(
    target: string,
    actor: Actor,
    reason: string,
    now: number,
    origin: string | undefined,
  ): StoredDecision[] {
    const by = `${actor.type}:${actor.name}`;
    const ended: StoredDecision[] = [];
    for (const { record } of this.#failed) {
      const held = record.decision;
      if (!held || held.revoked || held.d.target !== target) continue;
      if (origin !== undefined && held.d.origin !== origin) continue;
      record.decision = { ...held, responders: [], revoked: { at: now, by } };
      record.audit.push({
        at: now,
        actor,
        action: "unban",
        target,
        decisionId: held.d.id,
        detail: { reason },
      });
      ended.push({ ...held.d, state: "revoked", status: {}, ended_at: now, ended_by: by });
    }
    return ended;
  }

  #retryDelay = COMMIT_RETRY_FIRST_MS;
  #retryAt = 0;

  /** Retries a failed commit of lines, so its decisions are enforced without waiting for new lines. */
  async #retryCommit(): Promise<void> {
    const now = this.#clock.now();
    if (!this.#uncommittedWork) {
      this.#retryDelay = COMMIT_RETRY_FIRST_MS;
      this.#retryAt = now + this.#retryDelay;
      return;
    }
    if (now < this.#retryAt) return;
    try {
      await this.flushDecisions();
      this.#retryDelay = COMMIT_RETRY_FIRST_MS;
      this.#log.info({}, "the lines whose commit had failed are committed");
    } catch (e) {
      this.#retryDelay = Math.min(this.#retryDelay * 2, COMMIT_RETRY_MAX_MS);
      this.#log.warn(
        { err: (e as Error).message, retry_in_ms: this.#retryDelay },
        "committing processed lines failed again",
      );
    }
    this.#retryAt = this.#clock.now() + this.#retryDelay;
  }

  /** Applies the policy to a SIEM or API alert, records it and starts enforcement; resolves with the outcome. */
  async #handleAlert(alert: Alert, actor: Actor): Promise<BanOutcome> {
    await this.flushDecisions();
    return this.#serial(() => this.#decideAndCommit(this.#prepare(alert, actor, this.#clock.now())));
  }

  /**
   * Commits one prepared outcome of a SIEM, API or CLI request, after the held work (see
   * {@link #writeAfterHeld}: it may extend a held ban). When the store refuses the write the policy's in-memory
   * change is taken back before the error reaches the caller (who is told to retry): otherwise the retry would be
   * answered "already banned" by a ban that is neither recorded nor enforced. The held work stays held.
   */
  async #decideAndCommit(p: Prepared): Promise<BanOutcome> {
    // The policy that decided (a reload during the write replaces it; both share the ban table).
    const policy = this.#policy;
    let items: Prepared[];
    try {
      items = await this.#writeAfterHeld([p]);
    } catch (e) {
      policy.undo(p.result);
      this.telemetry.activeBans.set(this.#bans.size);
      throw e;
    }
    const outcomes = await this.#committed(items);
    return outcomes[outcomes.length - 1]!;
  }

  /** The policy's decision on an alert and everything to record about it; in-memory effects happen here. */
  #prepare(alert: Alert | undefined, actor: Actor, now: number, given?: PolicyResult): Prepared {
    if (alert) this.telemetry.alerts.inc({ rule: alert.rule.id, origin: alert.origin });
    const result = given ?? this.#policy.onAlert(alert!, now);
    this.telemetry.outcomes.inc({ outcome: result.outcome });
    const base = {
      at: now,
      actor,
      ...(result.target ? { target: result.target } : {}),
      ...(alert ? { alertId: alert.id } : {}),
    };
    const record: OutcomeRecord = { audit: [] };
    if (alert) record.alert = { alert, result };
    switch (result.outcome) {
      case "banned": {
        const d = result.decision!;
        record.audit.push({
          ...base,
          action: d.simulated ? "ban_simulated" : "ban",
          decisionId: d.id,
          detail: { reason: d.reason, duration: d.duration, escalation: d.escalation, origin: d.origin },
        });
        record.decision = { d, responders: d.simulated ? [] : this.#sync.names };
        // Counting starts afresh for a banned address; a shadow rule's simulated ban leaves the counts alone.
        if (this.#policy.inForce(d)) this.#engine.forgetSource(d.target, d.rule?.id);
        this.telemetry.activeBans.set(this.#bans.size);
        break;
      }
      case "extended":
        record.extend = { id: result.decisionId!, expires: result.expires! };
        record.audit.push({
          ...base,
          action: "extend",
          decisionId: result.decisionId,
          detail: { expires: result.expires, reason: result.reason },
        });
        break;
      case "alert_only":
        break;
      case "already_banned":
        // One ban, one audit record: a second report of a banned address (Kibana, then Splunk, then the
        // native rule) changes nothing; it is kept as an alert linked to the decision, not as audit.
        break;
      default:
        record.audit.push({
          ...base,
          action: "refuse",
          decisionId: result.decisionId,
          detail: { outcome: result.outcome, reason: result.reason },
        });
    }
    return { result, record, alert };
  }

  /** Enforces and announces outcomes just committed. */
  async #committed(items: Prepared[]): Promise<BanOutcome[]> {
    const toApply: Decision[] = [];
    const outcomes: BanOutcome[] = [];
    const announce: StreamEvent[] = [];
    for (const { result, record, alert } of items) {
      let decision: StoredDecision | undefined;
      if (record.decision?.revoked) {
        // Unbanned while it was held (see #revokeHeld): written ended, never enforced; the unban announced it.
        const { d, revoked } = record.decision;
        decision = { ...d, state: "revoked", status: {}, ended_at: revoked.at, ended_by: revoked.by };
      } else if (record.decision) {
        const d = record.decision.d;
        decision = {
          ...d,
          state: "active",
          status: Object.fromEntries(record.decision.responders.map((n) => [n, "pending" as const])),
        };
        if (!d.simulated) toApply.push(d);
      } else if (record.extend) {
        decision = await this.store.getDecision(record.extend.id);
        if (decision && decision.state !== "active") {
          // The decision ended (expired, revoked) before its extension was written: the ban is not in force,
          // so it must not stay in memory either (its events would be ignored while nothing blocks them).
          const held = this.#bans.active(decision.target, this.#clock.now());
          if (held?.decisionId === decision.id) this.#bans.remove(decision.target);
          decision = undefined;
        } else if (decision && !decision.simulated) toApply.push(decision);
      }
      if (alert) {
        announce.push({
          kind: "alert",
          data: { ...alert, policy: { outcome: result.outcome, reason: result.reason } },
        });
      }
      if (decision?.state === "active" && result.outcome === "banned") {
        announce.push({ kind: "decision", data: decision });
      }
      const out: BanOutcome = { outcome: result.outcome, reason: result.reason };
      if (result.target !== undefined) out.target = result.target;
      if (result.expires !== undefined) out.expires = result.expires;
      if (result.decisionId !== undefined) out.decisionId = result.decisionId;
      if (decision) out.decision = decision;
      outcomes.push(out);
    }
    // The responders get the decisions before anyone hears of them (a listener may wait for them to be applied).
    if (toApply.length) void this.#sync.applyNow(toApply);
    for (const e of announce) this.#emit(e);
    return outcomes;
  }

  #seenUntil = 0;

  /**
   * Decisions made or ended by other processes (the CLI without a daemon connection, API replicas): bring the
   * in-memory ban view up to date, then enforce what is pending and remove what ended.
   */
  async #syncExternal(): Promise<void> {
    const since = this.#seenUntil;
    this.#seenUntil = this.#clock.now() - 5000; // overlap: writers' clocks and commit order
    for (const d of await this.store.changedSince(since)) {
      // Another process (the CLI without a daemon) decided with a narrower view (e.g. no logged-in sessions
      // when it ran): the daemon's allowlist has the last word before anything is enforced.
      const allowed = d.state === "active" ? this.#allowlist?.match(d.target) : undefined;
      if (allowed) {
        await this.store.revoke(
          d.target,
          { type: "rule", name: "portcullis" },
          `refused: ${d.target} is allowlisted (${allowed.why}: ${allowed.cidr})`,
          this.#clock.now(),
        );
        this.#log.warn({ target: d.target, why: allowed.why }, "refused a ban made elsewhere: allowlisted");
        continue;
      }
      if (d.state === "active" && !this.#bans.active(d.target, this.#clock.now())) {
        const inForce = this.#policy.inForce(d);
        this.#bans.set(
          {
            target: d.target,
            decisionId: d.id,
            expires: d.expires,
            escalation: d.escalation,
            simulated: d.simulated,
          },
          d["@timestamp"],
          inForce,
        );
        if (inForce) this.#engine.forgetSource(d.target, d.rule?.id);
      } else if (
        d.state !== "active" &&
        this.#bans.active(d.target, this.#clock.now())?.decisionId === d.id
      ) {
        this.#bans.remove(d.target);
      }
    }
    this.telemetry.activeBans.set(this.#bans.size);
    await this.#sync.syncPending();
  }

  async #expire(): Promise<void> {
    const now = this.#clock.now();
    // A ban extended in memory (a new alert) whose commit has not landed yet is not ended under it.
    const expired = await this.store.expireDue(now, (d) => {
      const held = this.#bans.active(d.target, now);
      return held !== undefined && held.decisionId === d.id;
    });
    this.#bans.expire(now);
    if (expired.length) {
      this.telemetry.activeBans.set(this.#bans.size);
      const full = await Promise.all(expired.map((d) => this.store.getDecision(d.id)));
      await this.#sync.removeEnded(full.filter((d): d is StoredDecision => d !== undefined));
    }
  }

  async #retention(): Promise<void> {
    const r = this.#config.raw.store.retention;
    await this.store.applyRetention(this.#clock.now(), {
      decisions: parseDuration(r.decisions),
      alerts: parseDuration(r.alerts),
      audit: parseDuration(r.audit),
    });
  }

  #emit(e: StreamEvent): void {
    for (const l of this.#listeners) {
      try {
        l(e);
      } catch (err) {
        this.#log.warn({ err: (err as Error).message }, "stream listener failed");
      }
    }
  }

  // ---- status files ---------------------------------------------------------------------------------------

  #writePid(): void {
    writeFileSync(join(this.#dataDir, PID_FILE), `${process.pid}\n`);
  }

  /** Removes the pid file if it is this daemon's (the lock makes it so; checked anyway). */
  #removePid(): void {
    const path = join(this.#dataDir, PID_FILE);
    try {
      if (readFileSync(path, "utf8").trim() !== String(process.pid)) return;
    } catch {
      return;
    }
    rmSync(path, { force: true });
  }

  async #writeStatus(running = true): Promise<void> {
    try {
      const s = await this.status();
      const path = join(this.#dataDir, "status.json");
      writeFileSync(`${path}.tmp`, JSON.stringify({ ...s, running }, null, 2));
      renameSync(`${path}.tmp`, path);
    } catch (e) {
      this.#log.warn({ err: (e as Error).message }, "writing status.json failed");
    }
  }

  // ---- Control ----------------------------------------------------------------------------------------------

  async status(): Promise<StatusReport> {
    const health = async (h: () => Promise<Health>): Promise<Health> => {
      try {
        return await h();
      } catch (e) {
        return { ok: false, detail: (e as Error).message };
      }
    };
    for (const r of this.#engine.stats()) {
      this.telemetry.trackedKeys.set({ rule: r.id }, r.keys);
      this.telemetry.evictions.set({ rule: r.id }, r.evictions);
    }
    const paused = this.#paused;
    const pausedDetail = paused
      ? `not read: ingestion paused since ${new Date(paused.since).toISOString()}, the store cannot be ` +
        `written (${paused.error}); ${this.#failed.length} outcome(s) of lines already read are held until a ` +
        `commit succeeds (next try in ${Math.max(0, Math.ceil((this.#retryAt - this.#clock.now()) / 1000))} s)`
      : undefined;
    const report: StatusReport = {
      version: VERSION,
      pid: process.pid,
      started: this.#started,
      now: this.#clock.now(),
      dryRun: this.dryRun,
      activeBans: this.#bans.size,
      sources: await Promise.all(
        this.#sources.map(async ({ source, down, lines }) => {
          let h: Health = down
            ? {
                ok: false,
                detail:
                  `not running: stopped with an error (${down.error}); ` +
                  `restarting in ${Math.max(0, Math.ceil((down.restartAt - this.#clock.now()) / 1000))} s`,
              }
            : await health(() => source.healthcheck());
          if (pausedDetail && lines) h = { ok: false, detail: `${pausedDetail}; ${h.detail}` };
          return {
            name: source.name,
            type: source.type,
            ok: h.ok,
            detail: h.detail,
            stats: { ...source.stats() },
          };
        }),
      ),
      responders: await Promise.all(
        this.#responders.map(async (r) => {
          const h = await health(() => r.healthcheck());
          return { name: r.name, type: r.type, ok: h.ok, detail: h.detail };
        }),
      ),
      rules: this.#rules.filter((r) => r.spec.enabled).length,
      counters: {
        ...this.#pipeline.counters,
        ...this.#policy.counts,
        held_outcomes: this.#failed.length,
        ingestion_paused: paused ? 1 : 0,
      },
      ...(this.tlsFingerprint ? { tlsFingerprint: this.tlsFingerprint } : {}),
      ...(this.apiUrl ? { apiUrl: this.apiUrl } : {}),
    };
    // Health as gauges, for alerting on a source that stopped following its log. Reset first: a source or
    // responder a reload removed must not linger with its last value.
    this.telemetry.sourceUp.reset();
    for (const s of report.sources)
      this.telemetry.sourceUp.set({ source: s.name, type: s.type }, s.ok ? 1 : 0);
    this.telemetry.responderUp.reset();
    for (const r of report.responders) {
      this.telemetry.responderUp.set({ responder: r.name, type: r.type }, r.ok ? 1 : 0);
    }
    return report;
  }

  listDecisions(q: DecisionQuery): Promise<StoredDecision[]> {
    return this.store.listDecisions(q);
  }

  listAlerts(q: AlertQuery) {
    return this.store.listAlerts(q);
  }

  listRules(): RuleInfo[] {
    return this.#rules.map((r) => ({
      id: r.id,
      name: r.name,
      type: r.spec.type,
      enabled: r.spec.enabled,
      response: this.#config.raw.policy.rules[r.id]?.response ?? r.spec.response,
      ...(r.spec.description ? { description: r.spec.description } : {}),
      attack: r.spec.attack,
    }));
  }

  ban(req: ControlBanRequest): Promise<BanOutcome> {
    // The policy sees the held bans (they are in memory); the commit writes them first (#decideAndCommit), so an
    // extension of one is written after it, not lost.
    return this.#serial(async () => {
      const now = this.#clock.now();
      const result = this.#policy.ban(
        {
          target: req.target,
          ...(req.duration !== undefined ? { duration: req.duration } : {}),
          reason: req.reason ?? `manual ban by ${req.actor.type} ${req.actor.name}`,
          actor: req.actor,
          origin: req.origin,
        },
        now,
      );
      return this.#decideAndCommit(this.#prepare(undefined, req.actor, now, result));
    });
  }

  unban(
    target: string,
    actor: Actor,
    reason = "manual unban",
    opts: { origin?: string } = {},
  ): Promise<UnbanOutcome> {
    return this.#serial(async () => {
      const t = normalizeTarget(target);
      if (!t) throw new PortcullisError("INVALID_IP", `not an IP address or CIDR: ${target}`);
      const now = this.#clock.now();
      const origin = opts.origin;
      // Unbanning an address also lifts the range bans that block it (IPv6 attackers are banned per /64). A
      // SIEM hook's unban (`origin`) ends only that origin's decisions on the address itself or on the prefix
      // range ingestAlert banned its IPv6 attacker under: never an operator's range nor a native rule's ban.
      const targets =
        origin === undefined
          ? coveringTargets(
              t,
              this.#bans.list().map((b) => b.target),
            )
          : [...new Set([t, t.indexOf("/") < 0 ? ipGroupKey(t, this.ipv6Prefix) : t])];
      const revoked: StoredDecision[] = [];
      for (const target of targets) {
        const ended = await this.store.revoke(
          target,
          actor,
          reason,
          now,
          origin !== undefined ? { origin } : {},
        );
        // A ban decided from lines whose commit failed is not in the store yet: it is ended where it is held, so
        // that no later commit of the held work writes it active and enforces it.
        ended.push(...this.#revokeHeld(target, actor, reason, now, origin));
        revoked.push(...ended);
        if (origin !== undefined) {
          // The ban in force stays unless it is one of the decisions just ended (another origin's, say).
          const held = this.#bans.active(target, now);
          if (!held || !ended.some((d) => d.id === held.decisionId)) continue;
        }
        this.#bans.remove(target);
        this.#engine.forgetSource(target);
      }
      this.telemetry.activeBans.set(this.#bans.size);
      // The held work, with the bans just ended in it, is written now if the store takes it (the unban's audit
      // records with it); if not, by the next commit or the retry, as it would have been.
      await this.#commitHeld("unban");
      if (revoked.length) {
        const full = await Promise.all(revoked.map((d) => this.store.getDecision(d.id)));
        await this.#sync.removeEnded(full.filter((d): d is StoredDecision => d !== undefined));
        for (const d of revoked) this.#emit({ kind: "decision", data: d });
      }
      return { target: t, revoked: revoked.length };
    });
  }

  async explain(target: string): Promise<Explanation> {
    const t = normalizeTarget(target);
    if (!t) throw new PortcullisError("INVALID_IP", `not an IP address or CIDR: ${target}`);
    return explainFrom(
      this.store,
      t,
      this.#allowlist,
      this.#bans.list().map((b) => b.target),
    );
  }

  ingestAlert(alert: Alert, actor: Actor): Promise<BanOutcome> {
    // A SIEM's IPv6 attacker is banned per prefix, like a native detection: both land on the same decision.
    const ip = alert.group["source.ip"];
    if (ip !== undefined && ip.indexOf(":") >= 0 && ip.indexOf("/") < 0) {
      alert.group = { ...alert.group, "source.ip": ipGroupKey(ip, this.#config.raw.policy.ipv6_prefix) };
    }
    return this.#handleAlert(alert, actor);
  }

  async enforcement(decisionId: string, waitMs: number): Promise<Enforcement> {
    const end = performance.now() + Math.max(0, waitMs);
    for (;;) {
      const d = await this.store.getDecision(decisionId);
      if (!d)
        return { state: "failed", failed: [{ responder: "-", error: "no such decision" }], pending: [] };
      const e = enforcementOf(d);
      if (e.state !== "pending" || performance.now() >= end) {
        if (e.failed.length) {
          const audit = await this.store.auditFor(d.target, 50);
          for (const f of e.failed) {
            const rec = audit.find(
              (a) =>
                a.decisionId === d.id && a.action === "apply_failed" && a.detail?.responder === f.responder,
            );
            if (typeof rec?.detail?.error === "string") f.error = rec.detail.error;
          }
        }
        return e;
      }
      await sleep(20);
    }
  }

  subscribe(listener: (e: StreamEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * The Prometheus text. The gauges read from health checks and the engine (sources and responders up,
   * tracked keys, evictions) are refreshed first, as `status` does: a scrape must not see the values of the
   * last time someone ran `portcullis status`.
   */
  async metrics(): Promise<string> {
    await this.status();
    return this.telemetry.text();
  }
}

/** How a stored decision stands on its responders (see {@link Control.enforcement}). */
export function enforcementOf(d: StoredDecision): Enforcement {
  if (d.simulated) return { state: "simulated", failed: [], pending: [] };
  const failed: Enforcement["failed"] = [];
  const pending: string[] = [];
  for (const [responder, st] of Object.entries(d.status)) {
    if (st === "failed") failed.push({ responder, error: "failed" });
    else if (st === "pending") pending.push(responder);
  }
  // A decision that ended meanwhile (revoked, expired) is not pending: nothing more will be applied.
  const state = failed.length ? "failed" : pending.length && d.state === "active" ? "pending" : "applied";
  return { state, failed, pending: state === "pending" ? pending : [] };
}

/** The CLI's local admin token: created once, kept in <data_dir>/cli.token readable by root only. */
async function ensureCliToken(tokens: TokenStore, dataDir: string): Promise<void> {
  const path = join(dataDir, "cli.token");
  if (existsSync(path)) {
    const secret = readFileSync(path, "utf8").trim();
    const v = await tokens.verify(secret).catch(() => undefined);
    if (v?.ok && v.token.scopes.includes("admin")) return;
  }
  const created = await tokens.create({
    name: "local-cli",
    scopes: ["admin"],
    allow: ["127.0.0.0/8", "::1/128"],
  });
  writeFileSync(`${path}.tmp`, `${created.token}\n`, { mode: 0o600 });
  renameSync(`${path}.tmp`, path);
}

/**
 * Fills `bans` from the store: the active decisions, and the earlier bans within `lookback` (escalation history
 * survives restarts), each ban once. Used by the daemon at start and by the CLI without a daemon.
 */
export async function loadBans(store: Store, bans: BanTable, now: number, lookback: number): Promise<void> {
  const seen = new Set<string>();
  for (const d of await store.activeDecisions(now)) {
    // A real ban that replaced a shadow rule's simulated one stays the one in memory.
    const known = bans.active(d.target, now);
    if (d.simulated && known !== undefined && !known.simulated) continue;
    // A simulated ban is active (a dry-run daemon keeps showing it) but no earlier offence: the store's
    // history below leaves simulated bans out too.
    bans.set(
      {
        target: d.target,
        decisionId: d.id,
        expires: d.expires,
        escalation: d.escalation,
        simulated: d.simulated,
      },
      d["@timestamp"],
      !d.simulated,
    );
    seen.add(`${d.target} ${d["@timestamp"]}`);
  }
  for (const h of await store.banHistory(now - lookback)) {
    if (!seen.has(`${h.target} ${h.at}`)) bans.remember(h.target, h.at);
  }
}

/** The explain trail from a store (used by the daemon and by the CLI when no daemon runs). */
export async function explainFrom(
  store: Store,
  target: string,
  allowlist?: Allowlist,
  banned: Iterable<string> = [],
): Promise<Explanation> {
  // An address's trail includes the range bans that block it (an IPv6 address is banned per /64).
  const targets = coveringTargets(target, banned);
  const decisions = [];
  const alerts = [];
  const audit = [];
  for (const t of targets) {
    decisions.push(...(await store.decisionsFor(t)));
    alerts.push(...(await store.listAlerts({ sourceIp: t, limit: 50 })));
    audit.push(...(await store.auditFor(t)));
  }
  if (targets.length > 1) {
    // Newest first, as the store lists them.
    decisions.sort((a, b) => b["@timestamp"] - a["@timestamp"]);
    audit.sort((a, b) => b.id - a.id);
  }
  const e: Explanation = { target, decisions, alerts, audit };
  const allowed = allowlist?.match(target);
  if (allowed) e.allowlisted = allowed;
  return e;
}

export type { Decision };
