/**
 * Operator commands on the local installation: `status`, `bans`, `alerts`, `ban`, `unban`, `explain`.
 * Every listing takes `--json` (JSON lines).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Command } from "commander";
import { SystemClock } from "../../core/clock.ts";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../../core/duration.ts";
import { PortcullisError } from "../../core/errors.ts";
import { explainFrom } from "../../daemon/daemon.ts";
import { fingerprintOf } from "../../api/certs.ts";
import { coveringTargets, normalizeTarget } from "../../policy/policy.ts";
import type { StoredAlert, StoredDecision } from "../../store/store.ts";
import type { CliIO } from "../main.ts";
import {
  dataDirOf,
  localConfig,
  localPolicy,
  openLocalStore,
  runningPid,
  type LocalOptions,
} from "../local.ts";
import { jsonLine, printable, printableLines, table } from "../table.ts";
import { positiveInt } from "../args.ts";
import { ApiClient, ApiError, localApi } from "../client.ts";

const iso = (t: number) => new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z");
const left = (t: number, now: number) => (t > now ? formatDuration(t - now) : "expired");

function common(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "configuration file (default /etc/portcullis/portcullis.yaml if present)")
    .option("-d, --data-dir <dir>", "state directory (overrides the config's data_dir)");
}

function whoami(): string {
  return (
    process.env.SUDO_USER ?? process.env.USER ?? process.env.LOGNAME ?? `uid ${process.getuid?.() ?? "?"}`
  );
}

/** Runs `fn` with the store; `create: false` (every command but `ban`) refuses a data directory that holds
 * no state rather than creating one. */
async function withStore<T>(
  opts: LocalOptions,
  fn: (ctx: Awaited<ReturnType<typeof open>>) => Promise<T>,
  { create = false }: { create?: boolean } = {},
): Promise<T> {
  const ctx = await open(opts, create);
  try {
    return await fn(ctx);
  } finally {
    await ctx.store.close();
  }
}

async function open(opts: LocalOptions, create: boolean) {
  const config = localConfig(opts);
  const dataDir = dataDirOf(opts, config);
  const store = await openLocalStore(dataDir, config, { create });
  return { config, dataDir, store };
}

function decisionRow(d: StoredDecision, now: number): string[] {
  const status = Object.entries(d.status)
    .map(([r, s]) => `${r}:${s}`)
    .join(" ");
  return [
    d.target,
    d.state === "active" ? left(d.expires, now) : d.state,
    d.rule?.id ?? `${d.actor.type}:${d.actor.name}`,
    d.simulated ? "simulated" : status || "-",
    d.reason.length > 60 ? `${d.reason.slice(0, 57)}...` : d.reason,
  ];
}

function alertRow(a: StoredAlert): string[] {
  return [
    iso(a["@timestamp"]),
    a.severity,
    a.rule.id,
    Object.entries(a.group)
      .map(([k, v]) => `${printable(k)}=${printable(v)}`)
      .join(" "),
    String(a.count),
    a.outcome ?? "-",
  ];
}

async function banViaApi(
  client: ApiClient,
  target: string,
  opts: { duration?: string; reason: string; json?: boolean },
  out: (s: string) => void,
  io: CliIO,
): Promise<number> {
  const duration = opts.duration ? parseDuration(opts.duration, "--duration") / 1000 : undefined;
  const r = await client.call("POST", "/v1/decisions", {
    target,
    ...(duration !== undefined ? { duration } : {}),
    reason: `${opts.reason} (by ${whoami()})`,
  });
  const result = (r.body.result ?? (r.body.error as { result?: unknown } | undefined)?.result) as
    | { target: string; outcome: string; reason: string; expires?: string }
    | undefined;
  if (!result) throw new ApiError(r.status, r.body);
  if (opts.json) out(JSON.stringify({ ...result, daemon: true }));
  else if (result.outcome === "banned")
    out(
      `banned ${printable(result.target)} until ${printable(result.expires)} (enforced by the running daemon)`,
    );
  else if (result.outcome === "already_banned" || result.outcome === "extended")
    out(`${printable(result.target)}: ${printable(result.reason)}`);
  else io.stderr.write(`portcullis: not banned: ${printable(result.reason)}\n`);
  return ["banned", "already_banned", "extended"].includes(result.outcome)
    ? 0
    : result.outcome === "refused_invalid"
      ? 64
      : 1;
}

export function registerAdmin(program: Command, io: CliIO, setExit: (code: number) => void): void {
  // Text for the operator's terminal: every value from logs and senders is escaped where it is put in a line
  // (`printable`, so that it cannot start a line of its own either); this is the last guard for the rest.
  const out = (s: string) => io.stdout.write(printableLines(s.endsWith("\n") ? s : `${s}\n`));
  const outJson = (v: unknown) => io.stdout.write(`${jsonLine(v)}\n`);

  common(program.command("status").description("is the daemon running, what is it doing"))
    .option("--json", "one JSON object")
    .action(async (opts: LocalOptions & { json?: boolean }) => {
      await withStore(opts, async ({ dataDir, store }) => {
        const pid = runningPid(dataDir);
        let report: Record<string, unknown> | undefined;
        try {
          report = JSON.parse(readFileSync(join(dataDir, "status.json"), "utf8")) as Record<string, unknown>;
        } catch {
          report = undefined;
        }
        const now = SystemClock.now();
        const active = await store.activeDecisions(now);
        const alerts24h = (await store.listAlerts({ since: now - 86_400_000, limit: 100_000 })).length;
        // The generated certificate's fingerprint, also while the daemon is stopped (to set up a connector).
        let certFingerprint: string | undefined;
        try {
          certFingerprint = fingerprintOf(readFileSync(join(dataDir, "tls", "api.crt"), "utf8"));
        } catch {
          certFingerprint = undefined;
        }
        const summary = {
          running: pid !== undefined,
          pid,
          dataDir,
          activeBans: active.length,
          alerts24h,
          ...(certFingerprint ? { tlsFingerprint: certFingerprint } : {}),
          daemon: pid ? report : undefined,
        };
        if (opts.json) return outJson(summary);
        out(`portcullis ${pid ? `running (pid ${pid})` : "not running"}   data: ${dataDir}`);
        out(`active bans: ${active.length}   alerts in the last 24h: ${alerts24h}`);
        if (!pid && certFingerprint)
          out(`API certificate SHA-256: ${certFingerprint} (${join(dataDir, "tls", "api.crt")})`);
        if (pid && report) {
          const r = report as {
            dryRun?: boolean;
            rules?: number;
            tlsFingerprint?: string;
            sources?: {
              name: string;
              type: string;
              ok: boolean;
              detail: string;
              stats: Record<string, number>;
            }[];
            responders?: { name: string; type: string; ok: boolean; detail: string }[];
            counters?: Record<string, number>;
          };
          if (r.dryRun) out("DRY RUN: decisions are recorded, nothing is enforced");
          const api = (report as { apiUrl?: string }).apiUrl;
          if (api) out(`API: ${api}`);
          if (r.tlsFingerprint) out(`API certificate SHA-256: ${r.tlsFingerprint}`);
          out(`rules: ${r.rules ?? "?"}`);
          const rows = [
            ...(r.sources ?? []).map((s) => [
              "source",
              s.name,
              s.ok ? "ok" : "FAIL",
              `${s.stats.lines ?? 0} lines`,
              s.detail,
            ]),
            ...(r.responders ?? []).map((x) => ["responder", x.name, x.ok ? "ok" : "FAIL", "", x.detail]),
          ];
          if (rows.length) out(table(["kind", "name", "health", "", "detail"], rows));
          if (r.counters)
            out(
              `counters: ${Object.entries(r.counters)
                .filter(([, v]) => v)
                .map(([k, v]) => `${k}=${v}`)
                .join(" ")}`,
            );
        }
      });
      setExit(0);
    });

  common(program.command("bans").description("decisions in force (or --all)"))
    .option("--json", "JSON lines")
    .option("--all", "include expired and revoked decisions")
    .option("--limit <n>", "with --all: the most recent N (1-1000000)", positiveInt(1_000_000), 1000)
    .action(async (opts: LocalOptions & { json?: boolean; all?: boolean; limit: number }) => {
      await withStore(opts, async ({ store }) => {
        const now = SystemClock.now();
        const list = opts.all
          ? await store.listDecisions({ limit: opts.limit })
          : await store.activeDecisions(now);
        if (opts.json) {
          for (const d of list)
            outJson({ ...d, "@timestamp": iso(d["@timestamp"]), expires: iso(d.expires) });
          return;
        }
        if (!list.length) return out(opts.all ? "no decisions" : "no active bans");
        out(
          table(
            ["target", opts.all ? "expires/state" : "expires in", "by", "status", "reason"],
            list.map((d) => decisionRow(d, now)),
          ),
        );
      });
      setExit(0);
    });

  common(program.command("alerts").description("recent alerts"))
    .option("--json", "JSON lines")
    .option("--limit <n>", "most recent N (1-1000)", positiveInt(1000), 50)
    .option("--ip <address>", "only alerts about this address (or IPv6 /64 group)")
    .option("--rule <id>", "only this rule's alerts")
    .action(async (opts: LocalOptions & { json?: boolean; limit: number; ip?: string; rule?: string }) => {
      const ip = opts.ip === undefined ? undefined : normalizeTarget(opts.ip);
      if (opts.ip !== undefined && !ip)
        throw new PortcullisError("USAGE", `--ip: not an IP address or CIDR: ${printable(opts.ip)}`);
      await withStore(opts, async ({ store, dataDir }) => {
        const api = localApi(dataDir);
        const q = new URLSearchParams({ limit: String(opts.limit) });
        if (ip) q.set("source_ip", ip);
        if (opts.rule) q.set("rule_id", opts.rule);
        const list = api
          ? await new ApiClient(api).alerts(q.toString())
          : await store.listAlerts({
              limit: opts.limit,
              ...(ip ? { sourceIp: ip } : {}),
              ...(opts.rule ? { ruleId: opts.rule } : {}),
            });
        if (opts.json) {
          for (const a of list)
            outJson({
              ...a,
              "@timestamp": iso(a["@timestamp"]),
              first_seen: iso(a.first_seen),
              last_seen: iso(a.last_seen),
            });
          return;
        }
        if (!list.length) return out("no alerts");
        out(table(["time", "severity", "rule", "group", "count", "outcome"], list.map(alertRow)));
      });
      setExit(0);
    });

  common(program.command("ban").description("ban an address or range by hand (recorded with your name)"))
    .argument("<target>", "IP address or CIDR")
    .option("--duration <d>", "e.g. 1h, 2d (default: the policy's default duration)")
    .option("--reason <text>", "why", "manual ban")
    .option("--json", "one JSON object")
    .action(
      async (target: string, opts: LocalOptions & { duration?: string; reason: string; json?: boolean }) => {
        if (opts.duration !== undefined && !(parseDuration(opts.duration, "--duration") > 0)) {
          throw new PortcullisError("USAGE", `--duration must be more than 0 (got ${opts.duration})`);
        }
        if (opts.duration !== undefined && parseDuration(opts.duration, "--duration") > MAX_DURATION_MS) {
          throw new PortcullisError("USAGE", `--duration must be at most 3650d (got ${opts.duration})`);
        }
        const code = await withStore(
          opts,
          async ({ config, store, dataDir }) => {
            const api = localApi(dataDir);
            if (api) return banViaApi(new ApiClient(api), target, opts, out, io);
            const policy = await localPolicy(config, store);
            const now = SystemClock.now();
            const actor = { type: "cli" as const, name: whoami() };
            const duration = opts.duration ? parseDuration(opts.duration, "--duration") : undefined;
            const r = policy.ban(
              {
                target,
                ...(duration !== undefined ? { duration } : {}),
                reason: opts.reason,
                actor,
                origin: "cli",
              },
              now,
            );
            if (r.decision) {
              const names = r.decision.simulated
                ? []
                : config.responders.map((x) => (x.config as { name?: string }).name ?? x.type);
              await store.insertDecision(r.decision, names, [
                {
                  at: now,
                  actor,
                  action: "ban",
                  target: r.decision.target,
                  decisionId: r.decision.id,
                  detail: { reason: opts.reason, duration: r.decision.duration },
                },
              ]);
            } else if (r.outcome === "extended") {
              // Recorded as the daemon records it: the next start (and its firewall) gets the later expiry.
              await store.extendDecision(r.decisionId!, r.expires!, {
                at: now,
                actor,
                action: "extend",
                target: r.target!,
                decisionId: r.decisionId!,
                detail: { expires: r.expires, reason: r.reason },
              });
            } else if (r.outcome.startsWith("refused")) {
              await store.audit([
                {
                  at: now,
                  actor,
                  action: "refuse",
                  ...(r.target ? { target: r.target } : {}),
                  detail: { outcome: r.outcome, reason: r.reason },
                },
              ]);
            }
            const running = runningPid(dataDir) !== undefined;
            if (opts.json)
              outJson({
                outcome: r.outcome,
                target: r.target,
                reason: r.reason,
                expires: r.expires ? iso(r.expires) : undefined,
                daemon: running,
              });
            else if (r.outcome === "banned") {
              out(
                `banned ${r.target} until ${iso(r.expires!)}${running ? " (the daemon enforces it within seconds)" : " (the daemon is not running: enforced at its next start)"}`,
              );
            } else if (r.outcome === "already_banned" || r.outcome === "extended")
              out(`${printable(r.target)}: ${printable(r.reason)}`);
            else io.stderr.write(`portcullis: not banned: ${printable(r.reason)}\n`);
            return r.outcome === "banned" || r.outcome === "already_banned" || r.outcome === "extended"
              ? 0
              : r.outcome === "refused_invalid"
                ? 64
                : 1;
          },
          { create: true },
        );
        setExit(code);
      },
    );

  common(
    program
      .command("unban")
      .description(
        "lift the bans of an address (also the range bans holding it) or of a range, recorded with your name",
      ),
  )
    .argument("<target>", "IP address or CIDR")
    .option("--reason <text>", "why", "manual unban")
    .option("--json", "one JSON object")
    .action(async (target: string, opts: LocalOptions & { reason: string; json?: boolean }) => {
      const t = normalizeTarget(target);
      if (!t) throw new PortcullisError("USAGE", `not an IP address or CIDR: ${target}`);
      const n = await withStore(opts, async ({ store, dataDir }) => {
        const api = localApi(dataDir);
        if (api) {
          const r = await new ApiClient(api).call(
            "DELETE",
            `/v1/decisions/${encodeURIComponent(t)}?reason=${encodeURIComponent(`${opts.reason} (by ${whoami()})`)}`,
          );
          if (r.status === 404) return 0;
          if (r.status !== 200) throw new ApiError(r.status, r.body);
          return Number(r.body.revoked ?? 0);
        }
        let n = 0;
        for (const target of coveringTargets(t, await store.activeRanges())) {
          n += (await store.revoke(target, { type: "cli", name: whoami() }, opts.reason, SystemClock.now()))
            .length;
        }
        return n;
      });
      if (opts.json) outJson({ target: t, revoked: n });
      else out(n ? `unbanned ${t} (${n} decision${n > 1 ? "s" : ""} revoked)` : `${t} was not banned`);
      setExit(0);
    });

  common(
    program
      .command("explain")
      .description("why an address is (or was) banned: events, rule, policy, responders"),
  )
    .argument("<target>", "IP address or CIDR")
    .option("--json", "one JSON object")
    .action(async (target: string, opts: LocalOptions & { json?: boolean }) => {
      const t = normalizeTarget(target);
      if (!t) throw new PortcullisError("USAGE", `not an IP address or CIDR: ${target}`);
      await withStore(opts, async ({ config, store, dataDir }) => {
        const api = localApi(dataDir);
        const e = api
          ? { target: t, ...(await new ApiClient(api).explain(t)) }
          : await explainFrom(
              store,
              t,
              (await localPolicy(config, store)).allowlist,
              await store.activeRanges(),
            );
        if (opts.json) return outJson(e);
        const now = SystemClock.now();
        out(`${t}`);
        if (e.allowlisted)
          out(
            `  allowlisted: ${printable(e.allowlisted.why)} (${printable(e.allowlisted.cidr)}): never banned`,
          );
        if (!e.decisions.length && !e.alerts.length && !e.audit.length)
          return out("  nothing recorded about this address");
        out("\ndecisions");
        for (const d of e.decisions) {
          out(
            `  ${iso(d["@timestamp"])}  ${d.state.padEnd(7)} ${d.simulated ? "(simulated) " : ""}for ${formatDuration(d.duration)}${d.state === "active" ? ` (${left(d.expires, now)} left)` : ""}  by ${printable(d.rule?.id ?? `${d.actor.type}:${d.actor.name}`)}${d.escalation ? `  escalation ${d.escalation}` : ""}`,
          );
          out(`      reason: ${printable(d.reason)}`);
          const st = Object.entries(d.status)
            .map(([r, s]) => `${printable(r)}=${printable(s)}`)
            .join(" ");
          if (st) out(`      responders: ${st}`);
        }
        if (e.alerts.length) out("\nalerts and their events");
        for (const a of e.alerts) {
          out(
            `  ${iso(a["@timestamp"])}  ${printable(a.severity)}  ${printable(a.rule.id)} (${printable(a.rule.type)})  ${a.count} events ${iso(a.first_seen)} .. ${iso(a.last_seen)}  ATT&CK ${printable(a.attack.join(",")) || "-"}`,
          );
          out(`      policy: ${printable(a.outcome ?? "-")}: ${printable(a.outcome_reason ?? "")}`);
          for (const ev of a.events) {
            const log = (ev.log as { file?: { path?: string; line?: number } } | undefined)?.file;
            const text =
              typeof ev.message === "string"
                ? ev.message
                : ((ev.event as { action?: string } | undefined)?.action ?? "");
            out(
              `      ${printable(ev["@timestamp"])}  ${printable(text)}${log?.path ? `  (${printable(log.path)}:${printable(log.line)})` : ""}`,
            );
          }
        }
        out("\naudit trail");
        for (const r of [...e.audit].reverse()) {
          out(
            `  ${iso(r.at)}  ${printable(r.action).padEnd(12)} ${printable(`${r.actor.type}:${r.actor.name}`)}  ${Object.keys(r.detail ?? {}).length ? jsonLine(r.detail) : ""}`,
          );
        }
      });
      setExit(0);
    });
}
