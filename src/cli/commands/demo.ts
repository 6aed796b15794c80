/**
 * `portcullis demo [--enforce] [--speed N | --duration D] [--keep] [--json]`: the zero-config showcase. An hour
 * of a bastion host under attack (src/demo/scenario.ts) is written to a live log in about 30 s, and the real
 * daemon (file source, parsers, built-in rules, policy, SQLite in a temporary directory) handles it as it
 * comes. Dry-run by default; as root, `--enforce` bans with real nftables inside a private network namespace
 * and shows an attacker namespace's connections start failing.
 *
 * Output: one line per alert, ban and probe change on stdout, a redrawn status line on stderr when it is a
 * terminal (quarter-way progress lines otherwise), then summary tables. `--json`: JSON lines (kind: demo,
 * alert, decision, probe, log, summary) and nothing else.
 */
import type { Command } from "commander";
import { formatDuration, parseDuration } from "../../core/duration.ts";
import { PortcullisError } from "../../core/errors.ts";
import { DEFAULT_SPEED, runDemo, SCENARIO_SPAN, type DemoHooks, type DemoReport } from "../../demo/run.ts";
import { DEMO_NET, type Probe } from "../../demo/netns.ts";
import type { CliIO } from "../main.ts";
import { table } from "../table.ts";
import { alertJson, decisionJson } from "./replay.ts";

interface DemoCliOptions {
  speed?: string;
  duration?: string;
  enforce?: boolean;
  keep?: boolean;
  json?: boolean;
  progress: boolean;
  logLevel: string;
}

type Out = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** `+MM:SS` into the scenario hour. */
function clock(offset: number): string {
  const s = Math.max(0, Math.round(offset));
  return `+${String(Math.floor(s / 60)).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
}

function who(group: Record<string, string>): string {
  return (
    group["source.ip"] ??
    Object.entries(group)
      .map(([k, v]) => `${k}=${v}`)
      .join(" ")
  );
}

const OUTCOME: Record<string, string> = {
  banned: "ban",
  extended: "ban extended",
  already_banned: "already banned",
  alert_only: "alert only",
  refused_allowlisted: "refused",
  refused_too_wide: "refused",
  refused_circuit_breaker: "refused",
  refused_invalid: "refused",
};

function probeText(p: Probe): string {
  return p.result === "ok"
    ? "OK: connected, banner received"
    : `${p.result.toUpperCase()} (${p.code}): the attacker is cut off`;
}

function hostPort(ip: string): string {
  return ip.includes(":") ? `[${ip}]:${DEMO_NET.port}` : `${ip}:${DEMO_NET.port}`;
}

/** One status line on a terminal, redrawn in place; lines written elsewhere clear it first. */
class StatusLine {
  #shown = false;
  #text = "";
  constructor(readonly stream: Out) {}
  draw(text: string): void {
    const width = Math.max(20, (this.stream.columns || 100) - 1);
    this.#text = text.length > width ? `${text.slice(0, width - 1)}…` : text;
    this.stream.write(`\r\x1b[2K${this.#text}`);
    this.#shown = true;
  }
  clear(): void {
    if (this.#shown) this.stream.write("\r\x1b[2K");
    this.#shown = false;
  }
  redraw(): void {
    if (this.#text) this.draw(this.#text);
  }
}

function textHooks(io: CliIO, opts: DemoCliOptions): { hooks: DemoHooks; done(): void } {
  const out = io.stdout as Out;
  const status = opts.progress && (io.stderr as Out).isTTY ? new StatusLine(io.stderr) : undefined;
  const print = (s: string) => {
    status?.clear();
    out.write(`${s}\n`);
    status?.redraw();
  };
  let quarter = 0;
  let enforceNs = "";
  const hooks: DemoHooks = {
    start(s) {
      const secs = Math.round(s.playMs / 1000);
      print(
        `portcullis demo: one hour of an SSH bastion under attack, played live in about ${secs} s (speed x${Number(s.speed.toFixed(1))})`,
      );
      print(`  log       ${s.log}  (${s.lines} lines, written as the attacks happen)`);
      print(
        `  pipeline  file source -> parsers -> ${s.rules} built-in rules -> policy -> SQLite in ${s.dataDir}`,
      );
      if (s.network) {
        enforceNs = s.network.server;
        print(`  firewall  real nftables (table inet portcullis) in network namespace ${s.network.server}`);
        print(
          `  network   attacker namespace ${s.network.attacker} (${s.network.attackerV4}, ${s.network.attackerV6}) connects to ` +
            `${s.network.serverV4}:${s.network.port} and [${s.network.serverV6}]:${s.network.port} every 0.5 s`,
        );
      } else {
        print("  firewall  dry-run: every ban is decided and recorded as simulated");
        print("            (as root, --enforce uses real nftables in a private network namespace)");
      }
      if (s.staleRemoved.length)
        print(`  note      removed namespaces of an earlier demo: ${s.staleRemoved.join(", ")}`);
      for (const a of s.ownAttackers) {
        print(`  note      ${a} is an address of this host: the policy will refuse to ban it`);
      }
      print("");
    },
    alert(a) {
      const x = a.alert;
      const count =
        x.distinct !== undefined ? `${x.distinct} distinct` : `${x.count} event${x.count === 1 ? "" : "s"}`;
      const outcome = OUTCOME[a.outcome] ?? a.outcome;
      const why = a.outcome.startsWith("refused") ? `: ${a.reason}` : "";
      print(
        `  ${clock(a.offset)}  ALERT  ${x.severity.padEnd(8)}  ${x.rule.id.padEnd(25)}  ${who(x.group).padEnd(22)}  ${count.padEnd(11)}  -> ${outcome}${why}`,
      );
      const cmd = x.events.at(-1)?.process?.command_line;
      if (x.rule.type === "match" && cmd) print(`                 command: ${cmd}`);
    },
    ban(b) {
      const d = b.decision;
      const how = d.simulated
        ? "simulated (dry-run)"
        : b.enforced
          ? `ENFORCED (nftables in ${enforceNs})`
          : `NOT enforced: ${JSON.stringify(d.status)}`;
      print(
        `  ${clock(b.offset)}  BAN    ${d.target.padEnd(22)}  for ${formatDuration(d.duration).padEnd(5)}  ${(d.rule?.id ?? d.actor.name).padEnd(25)}  ${how}`,
      );
    },
    probe(p, changed, offset) {
      if (changed) print(`  ${clock(offset)}  PROBE  ${p.from} -> ${hostPort(p.to)}  ${probeText(p)}`);
    },
    progress(p) {
      const pct = Math.min(100, Math.floor((p.offset / p.span) * 100));
      if (status) {
        const bar = "#".repeat(Math.floor(pct / 6.25)).padEnd(16, ".");
        const probes = Object.values(p.probes)
          .map((x) => `${x.from.includes(":") ? "v6" : "v4"} ${x.result.toUpperCase()}`)
          .join(" ");
        status.draw(
          `  ${clock(p.offset)} [${bar}] ${String(pct).padStart(3)}%  alerts ${p.counters.alerts}  bans ${p.bans}` +
            `  events ${p.counters.events}  lines ${p.written}/${p.total}${probes ? `  | attacker ${probes}` : ""}`,
        );
      } else if (pct >= (quarter + 1) * 25 && quarter < 3) {
        quarter = Math.floor(pct / 25);
        print(
          `  ${clock(p.offset)}  ...    ${quarter * 25}% played: ${p.written}/${p.total} lines, ${p.counters.events} events, ${p.counters.alerts} alerts, ${p.bans} bans`,
        );
      }
    },
    log(level, msg, fields) {
      const { app: _a, ...rest } = fields;
      print(
        `  ${level.toUpperCase()}  ${msg} ${Object.keys(rest).length ? JSON.stringify(rest) : ""}`.trimEnd(),
      );
    },
  };
  return { hooks, done: () => status?.clear() };
}

function jsonHooks(io: CliIO): DemoHooks {
  const emit = (o: Record<string, unknown>) => io.stdout.write(`${JSON.stringify(o)}\n`);
  return {
    start(s) {
      emit({
        kind: "demo",
        data_dir: s.dataDir,
        log: s.log,
        lines: s.lines,
        speed: s.speed,
        play_seconds: Math.round(s.playMs / 100) / 10,
        rules: s.rules,
        scenario_start: new Date(s.base).toISOString(),
        mode: s.enforce ? "enforce" : "dry-run",
        ...(s.network ? { network: s.network } : {}),
        stale_namespaces_removed: s.staleRemoved,
        own_attackers: s.ownAttackers,
      });
    },
    alert(a) {
      emit({ ...alertJson(a.alert, { outcome: a.outcome, reason: a.reason }), offset: a.offset });
    },
    ban(b) {
      emit({
        ...decisionJson(b.decision),
        offset: b.offset,
        simulated: b.decision.simulated,
        enforced: b.enforced,
        status: b.decision.status,
      });
    },
    probe(p, changed, offset) {
      if (changed) emit({ kind: "probe", offset, ...p });
    },
    log(level, msg, fields) {
      emit({ kind: "log", level, msg, ...fields });
    },
  };
}

function summaryText(r: DemoReport): string {
  const out: string[] = [];
  const mode = r.enforce ? "enforce (nftables in a namespace)" : "dry-run";
  out.push(
    table(
      [`demo summary${r.interrupted ? " (interrupted)" : ""}`, ""],
      [
        ["mode", mode],
        [
          "played",
          `${r.written}/${r.total} lines in ${r.seconds.toFixed(1)} s (speed x${Number(r.speed.toFixed(1))})`,
        ],
        ["events", String(r.counters.events)],
        ["events ignored while banned", String(r.counters.suppressed)],
        ["alerts", String(r.alerts.length)],
        [
          "bans",
          `${r.bans.length} (${r.bans.filter((b) => b.enforced).length} enforced, ${r.bans.filter((b) => b.decision.simulated).length} simulated)`,
        ],
        ["refused", String(r.refused.length)],
      ],
    ),
  );
  const byRule = new Map<string, { n: number; sev: Set<string>; outcomes: Map<string, number> }>();
  for (const a of r.alerts) {
    const e = byRule.get(a.alert.rule.id) ?? { n: 0, sev: new Set(), outcomes: new Map() };
    e.n++;
    e.sev.add(a.alert.severity);
    const o = OUTCOME[a.outcome] ?? a.outcome;
    e.outcomes.set(o, (e.outcomes.get(o) ?? 0) + 1);
    byRule.set(a.alert.rule.id, e);
  }
  if (byRule.size) {
    out.push(
      table(
        ["alerts by rule", "alerts", "severity", "outcome"],
        [...byRule].map(([id, e]) => [
          id,
          String(e.n),
          [...e.sev].join(", "),
          [...e.outcomes].map(([o, n]) => `${o} ${n}`).join(", "),
        ]),
      ),
    );
  }
  if (r.bans.length) {
    out.push(
      table(
        ["bans", "rule", "duration", "at", "firewall"],
        r.bans.map((b) => [
          b.decision.target,
          b.decision.rule?.id ?? b.decision.actor.name,
          formatDuration(b.decision.duration),
          clock(b.offset),
          b.decision.simulated
            ? "simulated"
            : b.enforced
              ? "enforced (nftables)"
              : `not enforced: ${Object.entries(b.decision.status)
                  .map(([k, v]) => `${k} ${v}`)
                  .join(", ")}`,
        ]),
      ),
    );
  }
  if (r.refused.length) {
    out.push(
      table(
        ["refused", "rule", "reason"],
        r.refused.map((a) => [who(a.alert.group), a.alert.rule.id, a.reason]),
      ),
    );
  }
  if (r.probes) {
    const counts = (c: { ok: number; failed: number; kinds: Record<string, number> }) =>
      [`${c.ok} ok`, ...Object.entries(c.kinds).map(([k, n]) => `${n} ${k}`)].join(", ");
    out.push(
      table(
        ["probes (attacker ns -> server ns)", "banned as", "before the ban", "after the ban"],
        r.probes.map((p) => [
          `${p.from} -> ${p.to}`,
          p.bannedAs ?? "-",
          counts(p.before),
          p.bannedAs ? counts(p.after) : "-",
        ]),
      ),
    );
  }
  return out.join("\n\n");
}

function explore(r: DemoReport): string {
  if (!r.kept) return "The temporary data directory was removed (--keep keeps it to explore with the CLI).";
  const ip = r.bans[0]?.decision.target ?? "203.0.113.23";
  return [
    `Kept ${r.dataDir}:`,
    `  portcullis bans -d ${r.dataDir}`,
    `  portcullis alerts -d ${r.dataDir}`,
    `  portcullis explain ${ip} -d ${r.dataDir}`,
  ].join("\n");
}

function number(v: string, what: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0)
    throw new PortcullisError("USAGE", `${what}: expected a positive number, got "${v}"`);
  return n;
}

export function registerDemo(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("demo")
    .description(
      "zero-config showcase: an hour of simulated attacks written to a live log in ~30 s, the whole pipeline " +
        "on it, the firewall in dry-run (or, as root with --enforce, real nftables in a private network namespace)",
    )
    .option(
      "--enforce",
      "as root: ban with real nftables inside a private network namespace, and show an attacker namespace's connections failing",
    )
    .option(
      "--speed <n>",
      `scenario seconds per second (default ${DEFAULT_SPEED}: the hour in about ${Math.round(SCENARIO_SPAN / DEFAULT_SPEED)} s)`,
    )
    .option("--duration <d>", "play the hour in this time instead of setting --speed, e.g. 20s, 1m")
    .option("--keep", "keep the temporary data directory (log, database) and print its path")
    .option("--json", "JSON lines (kind: demo, alert, decision, probe, log, summary) instead of text")
    .option("--no-progress", "no live status line even on a terminal")
    .option("--log-level <level>", "daemon log records shown: debug, info, warn or error", "warn")
    .action(async (opts: DemoCliOptions) => {
      if (opts.speed !== undefined && opts.duration !== undefined) {
        throw new PortcullisError("USAGE", "--speed and --duration: give one of them");
      }
      let speed = DEFAULT_SPEED;
      if (opts.speed !== undefined) speed = number(opts.speed, "--speed");
      if (opts.duration !== undefined) {
        let ms: number;
        try {
          ms = parseDuration(opts.duration, "--duration");
        } catch (e) {
          throw new PortcullisError("USAGE", (e as Error).message);
        }
        if (ms <= 0) throw new PortcullisError("USAGE", "--duration: expected more than 0");
        speed = SCENARIO_SPAN / (ms / 1000);
      }
      const text = opts.json ? undefined : textHooks(io, opts);
      let report: DemoReport;
      try {
        report = await runDemo(
          { speed, enforce: opts.enforce, keep: opts.keep, logLevel: opts.logLevel, handleSignals: true },
          text ? text.hooks : jsonHooks(io),
        );
      } finally {
        text?.done();
      }
      if (opts.json) {
        io.stdout.write(
          `${JSON.stringify({
            kind: "summary",
            mode: report.enforce ? "enforce" : "dry-run",
            interrupted: report.interrupted,
            seconds: Math.round(report.seconds * 10) / 10,
            speed: report.speed,
            lines: { written: report.written, total: report.total },
            counters: report.counters,
            alerts_by_rule: report.alerts.reduce<Record<string, number>>((m, a) => {
              m[a.alert.rule.id] = (m[a.alert.rule.id] ?? 0) + 1;
              return m;
            }, {}),
            bans: report.bans.map((b) => ({
              target: b.decision.target,
              rule: b.decision.rule?.id,
              duration: formatDuration(b.decision.duration),
              offset: b.offset,
              simulated: b.decision.simulated,
              enforced: b.enforced,
              status: b.decision.status,
            })),
            refused: report.refused.map((a) => ({
              target: who(a.alert.group),
              rule: a.alert.rule.id,
              reason: a.reason,
            })),
            ...(report.probes ? { probes: report.probes } : {}),
            data_dir: report.kept ? report.dataDir : null,
          })}\n`,
        );
      } else {
        io.stdout.write(`\n${summaryText(report)}\n\n${explore(report)}\n`);
      }
      setExit(report.interrupted ? 130 : 0);
    });
}
