/**
 * The daemon under load: 1,000 attacking addresses hammer it. `portcullis run` runs as a child process inside
 * its own network namespace with the real nftables responder (like bench/ttb), tailing a log file to which
 * this script appends failed SSH passwords from 1,000 addresses (round robin) mixed with benign lines, at a
 * steady rate for a while, then one burst to find the most it reads per second.
 *
 * Measured: the daemon's CPU (utime+stime from /proc/<pid>/stat; its nft children separately), memory (VmRSS
 * sampled every 250 ms and VmHWM, the kernel's peak), lines processed per second and the backlog (from the
 * file source's checkpoint in the daemon's SQLite store, committed after each batch's decisions), bans made
 * (nft monitor events; the set's element count at the end; the daemon's own counters from status.json), the
 * time from each attacker's crossing line to its address in the set, and from the last line written to every
 * line processed and every ban applied.
 *
 *   node --import tsx bench/daemon-load/run.ts [--attackers 1000] [--rate 10000] [--noise 0.5]
 *        [--seconds 30] [--burst 200000] [--impl build|tsx] [--keep]
 *
 * The circuit breaker is disabled (max_bans_per_minute: 0): with the default (120 a minute) most of the 1,000
 * attackers would be alert-only by design. Needs root, ip and nft; never touches the root namespace.
 */
import Database from "better-sqlite3";
import {
  closeSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { benign, failedPassword } from "../ttb/authlog.ts";
import {
  cleanupAll,
  installSignalCleanup,
  machineLine,
  mono,
  ms1,
  onCleanup,
  parseArgs,
  procSample,
  summarize,
  table,
  type ProcSample,
} from "../ttb/common.ts";
import { portcullisCli, startDaemon, type Impl } from "../ttb/daemon.ts";
import { startMonitor } from "../ttb/monitor.ts";
import { createNet, inNs, netnsSkipReason, rootReport, rootSnapshot, type Net } from "../ttb/netns.ts";

export interface LoadOptions {
  attackers: number;
  /** Lines per second appended during the steady phase. */
  rate: number;
  /** Fraction of benign lines. */
  noise: number;
  seconds: number;
  /** Lines appended at once after the steady phase (0: no burst). */
  burst: number;
  impl: Impl;
  keep: boolean;
  log: (s: string) => void;
}

interface Sample extends ProcSample {
  processedBytes: number;
  processedLines: number;
  writtenBytes: number;
  writtenLines: number;
  bans: number;
}

export interface LoadResult {
  opts: Omit<LoadOptions, "log">;
  idle: { rssMb: number; hwmMb: number; cpuPct: number };
  steady: {
    seconds: number;
    linesWritten: number;
    linesProcessed: number;
    cpuPct: number;
    childCpuPct: number;
    usPerLine: number;
    rssMedianMb: number;
    rssMaxMb: number;
    maxBacklogLines: number;
  };
  drain: { allProcessedMs: number; allBannedMs: number; lastCrossingToAllBannedMs: number };
  banLatency: ReturnType<typeof summarize>;
  bansInSet: number;
  burst?: { lines: number; seconds: number; linesPerSecond: number; cpuPct: number; rssMaxMb: number };
  after: { rssMb: number; hwmMb: number };
  counters: Record<string, number>;
  /** The first seconds of the steady phase, per 500 ms. */
  timeline: { t: number; written: number; processed: number; bans: number; cpuPct: number; rssMb: number }[];
}

/** Lines processed so far, from the file source's checkpoint (committed after each batch). */
function checkpointReader(dbFile: string, logFile: string): () => { bytes: number; lines: number } {
  let db: Database.Database | undefined;
  return () => {
    try {
      db ??= new Database(dbFile, { readonly: true, fileMustExist: true });
      const rows = db.prepare("select value from checkpoints").all() as { value: string }[];
      for (const r of rows) {
        const v = JSON.parse(r.value) as { files?: { path: string; offset: number; line?: number }[] };
        const f = v.files?.find((x) => x.path === logFile);
        if (f) return { bytes: f.offset, lines: f.line !== undefined ? f.line - 1 : NaN };
      }
    } catch {
      // not there yet, or busy: report nothing new
    }
    return { bytes: 0, lines: 0 };
  };
}

export async function runDaemonLoad(opts: LoadOptions): Promise<LoadResult | undefined> {
  const skip = netnsSkipReason();
  if (skip) {
    opts.log(`daemon load benchmark skipped: ${skip}`);
    return undefined;
  }
  installSignalCleanup();
  const before = rootSnapshot();
  const cli = portcullisCli(opts.impl, opts.log);
  const dir = mkdtempSync(join(tmpdir(), "pcl-load-"));
  const dropDir = onCleanup("load temp dir", () => {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  });
  let net: Net | undefined;
  let result: LoadResult | undefined;
  try {
    net = createNet("load", false);
    const ns = net.server;
    const monitor = await startMonitor(ns, (argv, input) => void inNs(ns, argv, input));
    const logFile = join(dir, "auth.log");
    closeSync(openSync(logFile, "w"));
    mkdirSync(join(dir, "daemon"), { recursive: true });
    const d = await startDaemon({ ns, dir: join(dir, "daemon"), logFile, cli });
    opts.log(`daemon pid ${d.pid} in ${ns}`);
    const processed = checkpointReader(join(d.dataDir, "portcullis.db"), logFile);
    const fd = openSync(logFile, "a");
    let writtenBytes = 0;
    let writtenLines = 0;
    const samples: Sample[] = [];
    const sample = (): Sample | undefined => {
      const p = procSample(d.pid);
      if (!p) return undefined;
      const c = processed();
      const s = {
        ...p,
        processedBytes: c.bytes,
        processedLines: c.lines,
        writtenBytes,
        writtenLines,
        bans: monitor.added.size,
      };
      samples.push(s);
      return s;
    };
    const sampler = setInterval(sample, 250);
    try {
      // idle baseline
      const idle0 = sample()!;
      await delay(3000);
      const idle = sample()!;

      // steady phase: attackers round robin, benign noise, `rate` lines a second in 10 ms ticks
      const attackers = Array.from(
        { length: opts.attackers },
        (_, i) => `10.88.${Math.floor(i / 250)}.${1 + (i % 250)}`,
      );
      const counts = new Array<number>(opts.attackers).fill(0);
      const crossedAt = new Map<string, number>();
      let attack = 0;
      let noise = 0;
      let acc = 0;
      const t0 = mono();
      const s0 = sample()!;
      const end = t0 + opts.seconds * 1000;
      opts.log(
        `steady phase: ${opts.rate} lines/s for ${opts.seconds} s, ${opts.attackers} attackers, ${Math.round(opts.noise * 100)}% benign`,
      );
      for (let now = mono(); now < end; now = mono()) {
        const due = Math.floor(((now - t0) / 1000) * opts.rate) - writtenLines;
        if (due > 0) {
          const parts: string[] = [];
          const crossing: string[] = [];
          for (let k = 0; k < due; k++) {
            acc += opts.noise;
            if (acc >= 1) {
              acc -= 1;
              parts.push(benign(noise++));
            } else {
              const i = attack++ % opts.attackers;
              const ip = attackers[i]!;
              parts.push(
                failedPassword(
                  ip,
                  3000 + (attack % 5000),
                  20_000 + (attack % 40_000),
                  attack % 3 ? "root" : `user${attack % 97}`,
                ),
              );
              if (++counts[i]! === 5) crossing.push(ip);
            }
          }
          const text = parts.join("");
          writeSync(fd, text);
          const at = mono();
          for (const ip of crossing) crossedAt.set(ip, at);
          writtenBytes += Buffer.byteLength(text);
          writtenLines += due;
        }
        await delay(10);
      }
      const lastLineAt = mono();
      const s1 = sample()!;
      opts.log(`steady phase done: ${writtenLines} lines; waiting for the daemon to catch up`);

      // drain: every line processed and every attacker banned
      let allProcessedAt = NaN;
      let allBannedAt = NaN;
      const drainEnd = mono() + 120_000;
      while (mono() < drainEnd && (Number.isNaN(allProcessedAt) || Number.isNaN(allBannedAt))) {
        const c = processed();
        if (Number.isNaN(allProcessedAt) && c.bytes >= writtenBytes) allProcessedAt = mono();
        if (Number.isNaN(allBannedAt) && attackers.every((a) => monitor.added.has(a))) {
          allBannedAt = Math.max(...attackers.map((a) => monitor.added.get(a)!.at));
        }
        await delay(20);
      }
      if (Number.isNaN(allBannedAt)) {
        opts.log(
          `  only ${attackers.filter((a) => monitor.added.has(a)).length}/${attackers.length} attackers banned`,
        );
      }
      const lastCrossing = Math.max(...crossedAt.values());
      const latencies = attackers.flatMap((a) => {
        const c = crossedAt.get(a);
        const b = monitor.added.get(a);
        return c !== undefined && b ? [b.at - c] : [];
      });

      // steady after the load
      await delay(5000);
      const after = sample()!;

      // burst: as fast as the daemon reads
      let burst: LoadResult["burst"];
      if (opts.burst > 0) {
        const parts: string[] = [];
        for (let k = 0; k < opts.burst; k++) {
          acc += opts.noise;
          if (acc >= 1) {
            acc -= 1;
            parts.push(benign(noise++));
          } else {
            const i = attack++ % opts.attackers;
            parts.push(failedPassword(attackers[i]!, 3000 + (attack % 5000), 20_000 + (attack % 40_000)));
          }
        }
        const text = parts.join("");
        const b0 = sample()!;
        const tb = mono();
        writeSync(fd, text);
        writtenBytes += Buffer.byteLength(text);
        writtenLines += opts.burst;
        opts.log(
          `burst: ${opts.burst} lines (${(Buffer.byteLength(text) / 1048576).toFixed(1)} MB) appended at once`,
        );
        let doneAt = NaN;
        const burstEnd = mono() + 300_000;
        while (mono() < burstEnd) {
          if (processed().bytes >= writtenBytes) {
            doneAt = mono();
            break;
          }
          await delay(10);
        }
        const b1 = sample()!;
        const secs = (doneAt - tb) / 1000;
        const during = samples.filter((x) => x.at >= tb && x.at <= b1.at);
        burst = {
          lines: opts.burst,
          seconds: secs,
          linesPerSecond: opts.burst / secs,
          cpuPct: ((b1.cpu - b0.cpu) / ((b1.at - b0.at) / 1000)) * 100,
          rssMaxMb: Math.max(...during.map((x) => x.rssKb)) / 1024,
        };
      }

      const steadySamples = samples.filter((x) => x.at >= t0 && x.at <= lastLineAt);
      const secondHalf = steadySamples.filter((x) => x.at >= t0 + (lastLineAt - t0) / 2);
      const wall = (s1.at - s0.at) / 1000;
      const linesDuring = s1.processedLines - s0.processedLines;
      const setJson = inNs(ns, ["nft", "-j", "list", "set", "inet", "portcullis", "ban4"]).stdout;
      const bansInSet = countElements(setJson);
      const last = sample()!;
      await d.stop();
      const statusFile = join(d.dataDir, "status.json");
      const status = existsSync(statusFile)
        ? (JSON.parse(readFileSync(statusFile, "utf8")) as { counters?: Record<string, number> })
        : {};
      result = {
        opts: { ...opts, log: undefined } as unknown as LoadResult["opts"],
        idle: {
          rssMb: idle.rssKb / 1024,
          hwmMb: idle.hwmKb / 1024,
          cpuPct: ((idle.cpu - idle0.cpu) / ((idle.at - idle0.at) / 1000)) * 100,
        },
        steady: {
          seconds: wall,
          linesWritten: s1.writtenLines - s0.writtenLines,
          linesProcessed: linesDuring,
          cpuPct: ((s1.cpu - s0.cpu) / wall) * 100,
          childCpuPct: ((s1.childCpu - s0.childCpu) / wall) * 100,
          usPerLine: ((s1.cpu - s0.cpu) / Math.max(1, linesDuring)) * 1e6,
          rssMedianMb: summarize(secondHalf.map((x) => x.rssKb / 1024)).p50,
          rssMaxMb: Math.max(...steadySamples.map((x) => x.rssKb)) / 1024,
          maxBacklogLines: Math.max(
            0,
            ...steadySamples.map((x) =>
              Number.isNaN(x.processedLines) ? 0 : x.writtenLines - x.processedLines,
            ),
          ),
        },
        drain: {
          allProcessedMs: allProcessedAt - lastLineAt,
          allBannedMs: allBannedAt - lastLineAt,
          lastCrossingToAllBannedMs: allBannedAt - lastCrossing,
        },
        banLatency: summarize(latencies),
        bansInSet,
        ...(burst ? { burst } : {}),
        after: { rssMb: after.rssKb / 1024, hwmMb: last.hwmKb / 1024 },
        counters: status.counters ?? {},
        timeline: timeline(samples, t0, 5000, 500),
      };
    } finally {
      clearInterval(sampler);
      closeSync(fd);
      await monitor.stop();
    }
  } finally {
    await cleanupAll();
    await net?.destroy();
    await dropDir();
  }
  if (result) report(result);
  opts.log(rootReport(before, net ? [net.server] : []));
  return result;
}

/** Per-step view of the samples from `t0` for `spanMs`: cumulative lines and bans, CPU and RSS in the step. */
function timeline(
  samples: readonly Sample[],
  t0: number,
  spanMs: number,
  stepMs: number,
): LoadResult["timeline"] {
  const out: LoadResult["timeline"] = [];
  const at = (t: number) =>
    samples.reduce<Sample | undefined>((best, x) => (x.at <= t ? x : best), undefined);
  for (let t = stepMs; t <= spanMs; t += stepMs) {
    const a = at(t0 + t - stepMs);
    const b = at(t0 + t);
    if (!a || !b || b === a) continue;
    out.push({
      t: t / 1000,
      written: b.writtenLines,
      processed: b.processedLines,
      bans: b.bans,
      cpuPct: ((b.cpu - a.cpu) / ((b.at - a.at) / 1000)) * 100,
      rssMb: b.rssKb / 1024,
    });
  }
  return out;
}

/** Elements in `nft -j list set` output. */
function countElements(json: string): number {
  try {
    const doc = JSON.parse(json) as { nftables?: { set?: { elem?: unknown[] } }[] };
    return doc.nftables?.find((o) => o.set)?.set?.elem?.length ?? 0;
  } catch {
    return NaN;
  }
}

function report(r: LoadResult): void {
  const f0 = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString("en-US") : "-");
  const f1 = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : "-");
  const s = r.steady;
  console.log(
    `\nDaemon under load: ${r.opts.attackers} attackers, ${f0(r.opts.rate)} lines/s offered for ${r.opts.seconds} s, ${Math.round(r.opts.noise * 100)}% benign lines`,
  );
  console.log(
    table(
      ["measure", "value"],
      [
        ["lines written (steady phase)", f0(s.linesWritten)],
        ["lines processed during it", f0(s.linesProcessed)],
        ["processed lines/s (steady)", f0(s.linesProcessed / s.seconds)],
        ["largest backlog (lines)", f0(s.maxBacklogLines)],
        ["daemon CPU idle before, % of one core", f1(r.idle.cpuPct)],
        ["daemon CPU, % of one core", f1(s.cpuPct)],
        ["  + nft children, % of one core", f1(s.childCpuPct)],
        ["CPU per line (µs)", f1(s.usPerLine)],
        ["RSS idle before (MB)", f1(r.idle.rssMb)],
        ["RSS steady, median 2nd half (MB)", f1(s.rssMedianMb)],
        ["RSS max during steady (MB)", f1(s.rssMaxMb)],
        ["RSS 5 s after the load (MB)", f1(r.after.rssMb)],
        ["peak RSS, VmHWM, whole run (MB)", f1(r.after.hwmMb)],
        ["bans in the nftables set", f0(r.bansInSet)],
        ["crossing line -> in set, p50 (ms)", ms1(r.banLatency.p50)],
        ["crossing line -> in set, p99 (ms)", ms1(r.banLatency.p99)],
        ["crossing line -> in set, max (ms)", ms1(r.banLatency.max)],
        ["last line -> all lines processed (ms)", ms1(r.drain.allProcessedMs)],
        ["last line -> all bans applied (ms)", ms1(r.drain.allBannedMs)],
        ["last crossing line -> all bans applied (ms)", ms1(r.drain.lastCrossingToAllBannedMs)],
        ...(r.burst
          ? [
              [`burst: ${f0(r.burst.lines)} lines appended at once, read in (s)`, r.burst.seconds.toFixed(2)],
              ["burst: lines/s", f0(r.burst.linesPerSecond)],
              ["burst: daemon CPU, % of one core", f1(r.burst.cpuPct)],
              ["burst: RSS max (MB)", f1(r.burst.rssMaxMb)],
            ]
          : []),
        ...Object.entries(r.counters).map(([k, v]) => [`daemon counter ${k}`, f0(v)]),
      ],
    ),
  );
  console.log(
    "\nThe first seconds of the steady phase (cumulative lines and bans; CPU and RSS in each step)",
  );
  console.log(
    table(
      ["t (s)", "lines written", "lines processed", "bans in set", "cpu %", "rss MB"],
      r.timeline.map((x) => [
        x.t.toFixed(1),
        f0(x.written),
        f0(x.processed),
        f0(x.bans),
        f1(x.cpuPct),
        f1(x.rssMb),
      ]),
    ),
  );
  console.log(
    "(negative 'last line ->' times: everything was already done before the last line was written; attackers cross the threshold within the first seconds and are suppressed afterwards)",
  );
  console.log(`\n${machineLine()}`);
}

function optionsFromArgs(argv: readonly string[]): LoadOptions {
  const a = parseArgs(argv);
  return {
    attackers: Number(a.get("attackers") ?? 1000),
    rate: Number(a.get("rate") ?? 10_000),
    noise: Number(a.get("noise") ?? 0.5),
    seconds: Number(a.get("seconds") ?? 30),
    burst: Number(a.get("burst") ?? 200_000),
    impl: (a.get("impl") ?? "build") as Impl,
    keep: a.has("keep"),
    log: (s) => process.stderr.write(`${s}\n`),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  runDaemonLoad(optionsFromArgs(process.argv.slice(2))).then(
    () => process.exit(0),
    async (e: unknown) => {
      process.stderr.write(`daemon load benchmark failed: ${(e as Error).stack ?? String(e)}\n`);
      await cleanupAll();
      process.exit(1);
    },
  );
}
