/**
 * `portcullis demo`, the engine: the real daemon in this process on the embedded defaults (built-in rules,
 * default policy, SQLite in a temporary directory), a `file` source following a live log, and the scenario
 * (scenario.ts) played into that log, accelerated. Without `enforce` the daemon runs in dry-run: every
 * decision is made and recorded as simulated. With `enforce` (root), bans go to a real nftables responder
 * inside a private server namespace, and a prober in an attacker namespace shows its connections failing once
 * the attacker is banned (netns.ts).
 *
 * Presentation is the caller's (src/cli/commands/demo.ts): this module reports through hooks and returns a
 * {@link DemoReport}. Everything it creates (namespaces, helper processes, the temporary directory unless
 * `keep`) is removed on return, on error and on SIGINT/SIGTERM.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import type { StreamEvent } from "../api/control.ts";
import { validateConfig } from "../config/load.ts";
import type { Alert } from "../core/alert.ts";
import { SystemClock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { cidrContains, parseCidr, parseIp } from "../core/ip.ts";
import type { Logger } from "../core/logger.ts";
import { Daemon } from "../daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../daemon/plugins.ts";
import { ownAddresses } from "../policy/guards.ts";
import type { PolicyOutcome } from "../policy/policy.ts";
import type { StoredDecision } from "../store/store.ts";
import {
  createNetwork,
  DEMO_NET,
  destroyNetwork,
  destroyNetworkSync,
  enforceUnavailable,
  PROBE_TARGETS,
  removeStaleNamespaces,
  startListener,
  startProber,
  type DemoNetwork,
  type Helper,
  type Probe,
} from "./netns.ts";
import { play } from "./player.ts";
import { ACTORS, scenario } from "./scenario.ts";

/** Scenario seconds per wall second by default: the hour in about 30 s. */
export const DEFAULT_SPEED = 120;
export const SCENARIO_SPAN = 3600;
const HOST = "bastion";

export interface DemoOptions {
  /** Scenario seconds per wall second (default {@link DEFAULT_SPEED}). */
  speed?: number;
  /** Real nftables in private network namespaces (root only). */
  enforce?: boolean;
  /** Keep the temporary directory (log, database) instead of removing it. */
  keep?: boolean;
  /** Daemon log records passed to `hooks.log`: debug, info, warn (default), error. */
  logLevel?: string;
  /** Where the temporary directory is made (default: the OS temp dir). */
  tmpRoot?: string;
  /** Stop early on SIGINT/SIGTERM (the CLI sets it; a second signal exits at once, after removing namespaces). */
  handleSignals?: boolean;
  /** Stop early when aborted (tests). */
  signal?: AbortSignal;
  seed?: number;
}

export interface DemoStart {
  dataDir: string;
  log: string;
  speed: number;
  /** Expected wall time of the playback (ms). */
  playMs: number;
  lines: number;
  rules: number;
  /** Epoch ms of scenario second 0 (the timestamps in the log). */
  base: number;
  enforce: boolean;
  network?: DemoNetwork & typeof DEMO_NET;
  /** Namespaces left by an earlier demo that was killed, removed now. */
  staleRemoved: string[];
  /** Scenario attackers that are addresses of this host (the policy will refuse to ban them). */
  ownAttackers: string[];
}

/** An alert as the daemon streamed it, with what the policy did. */
export interface DemoAlert {
  alert: Alert;
  outcome: PolicyOutcome;
  reason: string;
  /** Scenario second of the event that fired the rule. */
  offset: number;
}

export interface DemoBan {
  decision: StoredDecision;
  /** Scenario second of the alert behind it. */
  offset: number;
  /** Applied by at least one responder (only with enforce). */
  enforced: boolean;
}

export interface ProbeCounts {
  ok: number;
  failed: number;
  /** Failures by kind (refused, timeout, error). */
  kinds: Record<string, number>;
}

export interface ProbeSummary {
  from: string;
  to: string;
  /** The ban covering `from`, if one was made. */
  bannedAs?: string;
  /** Attempts that ended before the ban was decided. */
  before: ProbeCounts;
  /** Attempts that started after the firewall had applied it. */
  after: ProbeCounts;
}

export interface DemoProgress {
  /** Scenario seconds played. */
  offset: number;
  span: number;
  written: number;
  total: number;
  counters: { lines: number; events: number; suppressed: number; alerts: number };
  bans: number;
  /** Latest probe result per source address (enforce). */
  probes: Record<string, Probe>;
}

export interface DemoReport {
  dataDir: string;
  kept: boolean;
  enforce: boolean;
  interrupted: boolean;
  speed: number;
  /** Wall time of the playback and the drain after it. */
  seconds: number;
  written: number;
  total: number;
  counters: { lines: number; events: number; suppressed: number; alerts: number };
  alerts: DemoAlert[];
  bans: DemoBan[];
  /** Alerts the policy refused to act on (allowlisted, too wide, circuit breaker). */
  refused: DemoAlert[];
  probes?: ProbeSummary[];
  network?: DemoNetwork;
}

export interface DemoHooks {
  start?(s: DemoStart): void;
  alert?(a: DemoAlert): void;
  ban?(b: DemoBan): void;
  /** Every probe attempt; `changed` when its result differs from the previous one from the same address. */
  probe?(p: Probe, changed: boolean, offset: number): void;
  /** About every 200 ms during playback. */
  progress?(p: DemoProgress): void;
  /** Daemon log records at or above the chosen level, and the demo's own notes. */
  log?(level: string, msg: string, fields: Record<string, unknown>): void;
}

const LEVELS = ["debug", "info", "warn", "error"];

function hookLogger(hooks: DemoHooks, level: string): Logger {
  const min = LEVELS.indexOf(level);
  if (min < 0) throw new PortcullisError("USAGE", `--log-level: expected one of ${LEVELS.join(", ")}`);
  const make = (bindings: Record<string, unknown>): Logger => {
    const at = (l: string) => (obj: object, msg?: string) => {
      if (LEVELS.indexOf(l) >= min) hooks.log?.(l, msg ?? "", { ...bindings, ...obj });
    };
    return {
      debug: at("debug"),
      info: at("info"),
      warn: at("warn"),
      error: at("error"),
      child: (b) => make({ ...bindings, ...b }),
    };
  };
  return make({});
}

async function until(what: () => boolean, ms: number, signal?: AbortSignal): Promise<boolean> {
  const end = performance.now() + ms;
  while (!what()) {
    if (performance.now() > end || signal?.aborted) return false;
    await delay(25);
  }
  return true;
}

function covers(target: string, address: string): boolean {
  const c = parseCidr(target);
  const ip = parseIp(address);
  return c !== undefined && ip !== undefined && cidrContains(c, ip);
}

const emptyCounts = (): ProbeCounts => ({ ok: 0, failed: 0, kinds: {} });

export async function runDemo(opts: DemoOptions = {}, hooks: DemoHooks = {}): Promise<DemoReport> {
  const speed = opts.speed ?? DEFAULT_SPEED;
  if (!(speed > 0) || !Number.isFinite(speed)) {
    throw new PortcullisError("USAGE", "--speed: expected a positive number");
  }
  const enforce = opts.enforce === true;
  if (enforce) {
    const why = enforceUnavailable();
    if (why) {
      throw new PortcullisError(
        "USAGE",
        `demo --enforce cannot run here: ${why}. Without --enforce the demo runs in dry-run (no privileges needed).`,
      );
    }
  }
  const logger = hookLogger(hooks, opts.logLevel ?? "warn");
  const abort = new AbortController();
  const onOuterAbort = () => abort.abort();
  opts.signal?.addEventListener("abort", onOuterAbort);

  const dir = mkdtempSync(join(opts.tmpRoot ?? tmpdir(), "portcullis-demo-"));
  const log = join(dir, "auth.log");
  writeFileSync(log, "");
  const lines = scenario(opts.seed ?? 1, SCENARIO_SPAN);

  let net: DemoNetwork | undefined;
  let listener: Helper | undefined;
  let prober: Helper | undefined;
  let daemon: Daemon | undefined;
  let unsubscribe: (() => void) | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const onExit = () => {
    if (net) destroyNetworkSync(net);
  };
  const onSignal = () => {
    if (abort.signal.aborted) {
      onExit(); // second signal: leave now, but never leave namespaces behind
      process.exit(130);
    }
    abort.abort();
  };
  if (opts.handleSignals) {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  process.on("exit", onExit);

  const alerts: DemoAlert[] = [];
  const offsets = new Map<string, number>(); // alert id -> scenario second
  const banned: { target: string; decided: number; applied?: number }[] = [];
  const applying: Promise<void>[] = [];
  const probes: Probe[] = [];
  const latest: Record<string, Probe> = {};
  let base = 0;
  let playStarted = 0;
  let written = 0;
  let report: DemoReport | undefined;
  const offsetNow = () => (playStarted ? ((performance.now() - playStarted) / 1000) * speed : 0);

  try {
    let staleRemoved: string[] = [];
    if (enforce) {
      staleRemoved = await removeStaleNamespaces();
      net = await createNetwork();
      listener = await startListener(net);
    }
    const config = validateConfig(
      {
        data_dir: dir,
        timezone: "UTC",
        sources: [{ type: "file", name: "demo", paths: [log], start: "beginning", poll_interval: "100ms" }],
        policy: { allow_admin_sessions: false },
        // No API: the demo must not take (or collide on) port 8443 of a real installation.
        api: { enabled: false },
        responders: net ? [{ type: "nftables", netns: net.server, hooks: ["input"], verdict: "reject" }] : [],
      },
      "(demo)",
      REGISTRIES,
    );
    daemon = new Daemon({
      config,
      clock: SystemClock,
      logger,
      plugins: FACTORIES,
      dryRun: !enforce,
      // the server's own addresses, like a real host's interfaces
      extraAllow: net ? [DEMO_NET.serverV4, DEMO_NET.serverV6] : [],
    });
    await daemon.start();
    const d = daemon;
    if (enforce) {
      const bad = (await d.status()).responders.filter((r) => !r.ok);
      if (bad.length) {
        throw new PortcullisError(
          "INTERNAL",
          `the firewall in the demo namespace is not usable: ${bad.map((r) => `${r.name}: ${r.detail}`).join("; ")}`,
        );
      }
    }

    unsubscribe = d.subscribe((e: StreamEvent) => {
      if (e.kind === "alert") {
        const data = e.data as Alert & { policy: { outcome: PolicyOutcome; reason: string } };
        const { policy, ...alert } = data;
        const a: DemoAlert = {
          alert,
          outcome: policy.outcome,
          reason: policy.reason,
          offset: Math.round((alert["@timestamp"] - base) / 1000),
        };
        offsets.set(alert.id, a.offset);
        alerts.push(a);
        hooks.alert?.(a);
        return;
      }
      const decision = e.data as StoredDecision;
      if (decision.state !== "active") return;
      const offset = offsets.get(decision.alert_id ?? "") ?? Math.round(offsetNow());
      if (decision.simulated) {
        banned.push({ target: decision.target, decided: decision["@timestamp"] });
        hooks.ban?.({ decision, offset, enforced: false });
        return;
      }
      const entry: (typeof banned)[number] = { target: decision.target, decided: decision["@timestamp"] };
      banned.push(entry);
      // The responders were handed the decision before it was streamed: once they are idle, it is applied.
      applying.push(
        (async () => {
          await d.sync.idle();
          const now = await d.store.getDecision(decision.id);
          entry.applied = SystemClock.now();
          const status = now?.status ?? decision.status;
          const enforced = Object.values(status).some((s) => s === "applied");
          hooks.ban?.({ decision: now ?? decision, offset, enforced });
        })().catch((err: unknown) =>
          logger.error({ target: decision.target, err: (err as Error).message }, "ban status unavailable"),
        ),
      );
    });

    const own = new Set(ownAddresses());
    // Scenario second 0 (the log's timestamps); under --enforce, playback starts after the probes' pre-roll.
    base = Math.floor(SystemClock.now() / 1000) * 1000;
    hooks.start?.({
      dataDir: dir,
      log,
      speed,
      playMs: ((lines.at(-1)?.at ?? 0) / speed) * 1000,
      lines: lines.length,
      rules: d.listRules().filter((r) => r.enabled).length,
      base,
      enforce,
      ...(net ? { network: { ...net, ...DEMO_NET } } : {}),
      staleRemoved,
      ownAttackers: Object.values(ACTORS).filter((a) => a !== ACTORS.local && own.has(a)),
    });

    if (net) {
      let ready = false;
      prober = startProber(net, (p) => {
        probes.push(p);
        const changed = latest[p.from]?.result !== p.result;
        latest[p.from] = p;
        if (ready) hooks.probe?.(p, changed, Math.max(0, Math.round(offsetNow())));
      });
      // Both connections must work before the attack starts (and a few attempts show it).
      const up = await until(
        () =>
          PROBE_TARGETS.every(
            (t) => probes.filter((p) => p.from === t.from && p.result === "ok").length >= 3,
          ),
        10_000,
        abort.signal,
      );
      if (!up && !abort.signal.aborted) {
        const last = PROBE_TARGETS.map((t) => `${t.from}: ${latest[t.from]?.code || "no answer"}`).join(", ");
        throw new PortcullisError(
          "INTERNAL",
          `the attacker namespace cannot reach the listener in the server namespace (${last})`,
        );
      }
      ready = true;
      for (const t of PROBE_TARGETS) {
        const p = latest[t.from];
        if (p) hooks.probe?.(p, true, 0);
      }
    }

    const progress = (): DemoProgress => ({
      offset: Math.min(SCENARIO_SPAN, offsetNow()),
      span: SCENARIO_SPAN,
      written,
      total: lines.length,
      counters: { ...d.pipeline.counters },
      bans: banned.length,
      probes: { ...latest },
    });
    ticker = setInterval(() => hooks.progress?.(progress()), 200);
    ticker.unref();
    playStarted = performance.now();
    written = await play({
      lines,
      path: log,
      base,
      host: HOST,
      speed,
      signal: abort.signal,
      onWrite: (n) => (written = n),
    });

    // Drain: every line read, every alert decided and streamed, every ban applied.
    if (!abort.signal.aborted) {
      const read = await until(() => d.pipeline.counters.lines >= written, 20_000, abort.signal);
      if (!read && !abort.signal.aborted) {
        logger.warn({ written, read: d.pipeline.counters.lines }, "the daemon has not read every line yet");
      }
      await until(() => alerts.length >= d.pipeline.counters.alerts, 10_000, abort.signal);
      await Promise.all(applying);
      await d.sync.idle();
    }
    // Enforce: a few attempts after each ban that covers a probing address.
    if (net && !abort.signal.aborted) {
      await until(
        () =>
          PROBE_TARGETS.every((t) => {
            const ban = banned.find((b) => covers(b.target, t.from));
            if (ban?.applied === undefined) return true;
            return probes.filter((p) => p.from === t.from && p.start > ban.applied!).length >= 3;
          }),
        5_000,
        abort.signal,
      );
    }
    clearInterval(ticker);
    hooks.progress?.(progress());

    const decisions = await d.listDecisions({ limit: 10_000 });
    const enforcedOf = (x: StoredDecision) => Object.values(x.status).some((s) => s === "applied");
    report = {
      dataDir: dir,
      kept: opts.keep === true,
      enforce,
      interrupted: abort.signal.aborted,
      speed,
      seconds: (performance.now() - playStarted) / 1000,
      written,
      total: lines.length,
      counters: { ...d.pipeline.counters },
      alerts,
      bans: decisions
        .sort((a, b) => a["@timestamp"] - b["@timestamp"])
        .map((x) => ({ decision: x, offset: offsets.get(x.alert_id ?? "") ?? 0, enforced: enforcedOf(x) })),
      refused: alerts.filter((a) => a.outcome.startsWith("refused")),
      ...(net ? { network: net, probes: summarizeProbes(probes, banned) } : {}),
    };
  } finally {
    if (ticker) clearInterval(ticker);
    unsubscribe?.();
    await prober?.stop();
    try {
      await daemon?.stop();
    } catch (e) {
      logger.error({ err: (e as Error).message }, "daemon shutdown failed");
    }
    await listener?.stop();
    if (net) await destroyNetwork(net);
    process.removeListener("exit", onExit);
    process.removeListener("SIGINT", onSignal);
    process.removeListener("SIGTERM", onSignal);
    opts.signal?.removeEventListener("abort", onOuterAbort);
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  }
  if (!report) throw new PortcullisError("INTERNAL", "the demo ended without a report");
  return report;
}

function summarizeProbes(
  probes: readonly Probe[],
  banned: readonly { target: string; decided: number; applied?: number }[],
): ProbeSummary[] {
  return PROBE_TARGETS.map((t) => {
    const ban = banned.find((b) => covers(b.target, t.from));
    const s: ProbeSummary = { from: t.from, to: t.to, before: emptyCounts(), after: emptyCounts() };
    if (ban) s.bannedAs = ban.target;
    for (const p of probes) {
      if (p.from !== t.from) continue;
      // Attempts in flight while the ban was being applied count in neither column.
      const phase =
        !ban || p.end < ban.decided
          ? s.before
          : ban.applied !== undefined && p.start > ban.applied
            ? s.after
            : undefined;
      if (!phase) continue;
      if (p.result === "ok") phase.ok++;
      else {
        phase.failed++;
        phase.kinds[p.result] = (phase.kinds[p.result] ?? 0) + 1;
      }
    }
    return s;
  });
}
