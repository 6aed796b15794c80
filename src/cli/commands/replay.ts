/**
 * `portcullis replay [--rules DIR] [--config FILE] [--json] FILE...`: runs the rules and the built-in policy
 * (or a daemon configuration's rules and policy) over historical logs in event time; prints the alerts and the
 * bans that would have been made, then a summary.
 */
import { stat } from "node:fs/promises";
import type { Command } from "commander";
import type { Alert } from "../../core/alert.ts";
import type { Decision } from "../../core/decision.ts";
import { formatDuration } from "../../core/duration.ts";
import { toJsonEvent } from "../../core/event.ts";
import { loadBuiltinRules } from "../../detect/builtin-snapshot.ts";
import { DetectionEngine } from "../../detect/engine.ts";
import { unreadable } from "../../io/lines.ts";
import { replay, type ReplayInput } from "../../pipeline/replay.ts";
import type { PolicyResult } from "../../policy/policy.ts";
import { Policy } from "../../policy/policy.ts";
import { Allowlist } from "../../policy/allowlist.ts";
import type { CliIO } from "../main.ts";
import { resolveModes, timeContextFor, type TimeOptions } from "../options.ts";
import { jsonLine, printable, table } from "../table.ts";
import { tuneHeapForStreaming } from "../heap.ts";

interface ReplayOptions extends Partial<TimeOptions> {
  text?: boolean;
  rules?: string[];
  config?: string;
  json?: boolean;
  mode: string[];
  allow: string[];
  alerts: boolean;
  progress: boolean;
}

const iso = (t: number) => new Date(t).toISOString();
/** A count in the summary table, with thousands separators (1,000,000). */
const count = (n: number) => n.toLocaleString("en-US");

export function alertJson(a: Alert, result?: PolicyResult): Record<string, unknown> {
  return {
    kind: "alert",
    "@timestamp": iso(a["@timestamp"]),
    id: a.id,
    rule: a.rule,
    severity: a.severity,
    group: a.group,
    ...(a.group["source.ip"] ? { source: { ip: a.group["source.ip"] } } : {}),
    count: a.count,
    ...(a.distinct !== undefined ? { distinct: a.distinct } : {}),
    first_seen: iso(a.first_seen),
    last_seen: iso(a.last_seen),
    threat: { technique: { id: a.attack } },
    origin: a.origin,
    response: a.response,
    ...(result ? { policy: { outcome: result.outcome, reason: result.reason } } : {}),
    events: a.events.map((e) => toJsonEvent(e)),
  };
}

export function decisionJson(d: Decision): Record<string, unknown> {
  return {
    kind: "decision",
    "@timestamp": iso(d["@timestamp"]),
    id: d.id,
    source: { ip: d.target },
    rule: d.rule ? { id: d.rule.id, name: d.rule.name } : undefined,
    action: d.action,
    duration: formatDuration(d.duration),
    expires: iso(d.expires),
    reason: d.reason,
    escalation: d.escalation,
    alert_id: d.alert_id,
  };
}

export function registerReplay(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("replay")
    .description(
      "run the rules over historical logs in event time: the alerts and bans that would have been made",
    )
    .argument("<file...>", "log files (plain or .gz, any order: replayed oldest first); - for stdin")
    .option(
      "-r, --rules <path>",
      "rule file or directory instead of the built-in pack; repeatable",
      (v: string, p: string[] = []) => [...p, v],
    )
    .option(
      "-c, --config <file>",
      "the rules and policy of this daemon configuration (durations, per-rule overrides, escalation, allowlist, " +
        "ipv6_prefix) instead of the built-in ones: what that daemon would have banned",
    )
    .option("--json", "JSON lines: one object per alert and per decision (kind: alert | decision)")
    .option("--no-alerts", "print decisions only")
    .option(
      "-m, --mode <mode>",
      "parser mode override (see `parse --mode`); repeatable",
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .option(
      "--allow <cidr>",
      "never ban this address or range (loopback always is); repeatable",
      (v: string, p: string[]) => [...p, v],
      [] as string[],
    )
    .option(
      "--timezone <zone>",
      "time zone of timestamps without an offset: local, UTC or an IANA name (default: the --config's " +
        "timezone, else local)",
    )
    .option(
      "--reference-time <iso>",
      "instant that year-less dates are placed near (default: each file's modification time)",
    )
    .option("--no-progress", "no progress bar even on a terminal")
    .option(
      "--text",
      "read inputs that look binary (control characters, NUL bytes) as text anyway, like grep -a",
    )
    .action(async (files: string[], opts: ReplayOptions) => {
      tuneHeapForStreaming();
      // The YAML parser and the schema library are loaded only for rule files of the user's (the built-in
      // pack comes from its validated snapshot), the progress bar only on a terminal.
      // A daemon configuration (loaded only when asked for: it brings the plugin registries along).
      const configured = opts.config ? await daemonSettings(opts.config) : undefined;
      const rules = opts.rules?.length
        ? (await import("../../detect/load.ts")).loadRules(opts.rules)
        : (configured?.rules ?? (await loadBuiltinRules()));
      if (!rules.length) io.stderr.write("portcullis: warning: no detection rule: nothing can alert\n");
      const engine = new DetectionEngine(rules);
      let allowlist: Allowlist;
      try {
        allowlist = new Allowlist([
          { cidrs: opts.allow, why: "--allow" },
          ...(configured ? [{ cidrs: configured.allowlist, why: "configured allowlist" }] : []),
        ]);
      } catch (e) {
        throw new (await import("../../core/errors.ts")).PortcullisError(
          "USAGE",
          `--allow: ${(e as Error).message}`,
        );
      }
      // Old logs replay as enforced: the configuration's dry_run does not apply (every ban is shown).
      const policy = new Policy({ ...configured?.policy, dryRun: false, firstSequence: 0 }, allowlist);
      // The command line wins over the configuration, which wins over the defaults.
      const time: TimeOptions = {
        timezone: opts.timezone ?? configured?.timezone ?? "local",
        ...(opts.referenceTime !== undefined ? { referenceTime: opts.referenceTime } : {}),
      };
      const modes = { ...configured?.modes, ...resolveModes(opts.mode) };
      const inputs: ReplayInput[] = [];
      let totalBytes = 0;
      for (const path of files) {
        inputs.push({ path, time: await timeContextFor(path, time) });
        if (path !== "-") totalBytes += await sizeOf(path);
      }
      const bar =
        opts.progress && !opts.json && io.stderr.isTTY && totalBytes > 0
          ? (await import("../progress.ts")).progressBar(io.stderr, totalBytes)
          : undefined;
      // Alerts go to stdout; when that is a terminal too, the bar's line is erased first (and drawn again
      // below the output at the next update) so that output never lands on the bar.
      const sharesTerminal = bar !== undefined && io.stdout.isTTY === true;
      const out: string[] = [];
      const flush = async () => {
        if (!out.length) return;
        const chunk = out.join("");
        out.length = 0;
        if (sharesTerminal) bar.clear();
        if (!io.stdout.write(chunk)) await new Promise((r) => io.stdout.once("drain", r));
      };
      let summary: Awaited<ReturnType<typeof replay>>;
      const warnings: string[] = [];
      try {
        summary = await replay({
          inputs,
          engine,
          policy,
          ...(configured ? { ipv6Prefix: configured.ipv6Prefix } : {}),
          modes,
          stdin: io.stdin,
          text: opts.text === true,
          hooks: {
            onAlert(a, result) {
              if (!opts.alerts) return;
              if (opts.json) out.push(`${jsonLine(alertJson(a, result))}\n`);
              else {
                // Group values (user names, hosts) come from the logs: escaped, like every text printed.
                const who = Object.entries(a.group)
                  .map(([k, v]) => `${printable(k)}=${printable(v)}`)
                  .join(" ");
                out.push(
                  `${iso(a["@timestamp"])}  ALERT  ${a.severity.padEnd(8)} ${printable(a.rule.id)}  ${who}  (${a.count}${a.distinct !== undefined ? " distinct" : ""} events) -> ${result.outcome}\n`,
                );
              }
            },
            onDecision(d) {
              if (opts.json) out.push(`${jsonLine(decisionJson(d))}\n`);
              else
                out.push(
                  `${iso(d["@timestamp"])}  BAN    ${printable(d.target)}  for ${formatDuration(d.duration)}  by ${printable(d.rule?.id ?? d.actor.name)}\n`,
                );
            },
            onProgress(bytes) {
              bar?.update(bytes);
              return flush();
            },
            // Printed once the bar is gone (below).
            onWarning: (w) => void warnings.push(w),
          },
        });
      } finally {
        // Also after an error: the bar is erased and the terminal restored before the error is printed.
        bar?.stop();
        // What was found before the error is still shown.
        await flush();
        for (const w of warnings) io.stderr.write(`portcullis: warning: ${printable(w)}\n`);
      }
      const rate = summary.seconds > 0 ? Math.round(summary.lines / summary.seconds) : summary.lines;
      const rows: [string, string][] = [
        ["files", count(summary.files)],
        ["lines", count(summary.lines)],
        ["events", count(summary.events)],
        ["events ignored while banned", count(summary.suppressed)],
        ...(summary.rejected
          ? [["lines refused (untrustworthy address)", count(summary.rejected)] as [string, string]]
          : []),
        ...(summary.forged
          ? [["lines forged inside nginx records (unread)", count(summary.forged)] as [string, string]]
          : []),
        ["alerts", count(summary.alerts)],
        ["bans", count(summary.decisions)],
        ...Object.entries(summary.outcomes)
          .filter(([k]) => k.startsWith("refused"))
          .map(([k, v]): [string, string] => [k.replace("_", " "), count(v)]),
        ["time span", summary.first !== undefined ? `${iso(summary.first)} .. ${iso(summary.last!)}` : "-"],
        ["elapsed", `${summary.seconds.toFixed(2)} s`],
        ["lines/s", count(rate)],
      ];
      if (opts.json) {
        // Times as everywhere in the JSON output: ISO-8601 (they were epoch milliseconds here only).
        const span = {
          first: summary.first === undefined ? undefined : iso(summary.first),
          last: summary.last === undefined ? undefined : iso(summary.last),
        };
        io.stderr.write(`${jsonLine({ kind: "summary", ...summary, ...span, lines_per_second: rate })}\n`);
      } else {
        io.stdout.write(`\n${table(["replay summary", ""], rows)}\n`);
      }
      setExit(0);
    });
}

/**
 * The size of an input, for the progress bar. Its time context usually stat'ed it already, but not with
 * --reference-time: a missing file must still be "cannot read FILE" (66), not a raw ENOENT (70).
 */
async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    throw unreadable(path, e);
  }
}

/** The rules, policy settings, allowlist and IPv6 ban prefix of the daemon configuration in `file`. */
async function daemonSettings(file: string) {
  const { loadConfigFile } = await import("../../config/load.ts");
  const { REGISTRIES } = await import("../../daemon/plugins.ts");
  const { configuredRules, policyConfig } = await import("../../daemon/settings.ts");
  const c = loadConfigFile(file, REGISTRIES).raw;
  return {
    rules: configuredRules(c),
    timezone: c.timezone,
    modes: c.parsers.modes,
    policy: policyConfig(c, false),
    allowlist: c.policy.allowlist,
    ipv6Prefix: c.policy.ipv6_prefix,
  };
}
