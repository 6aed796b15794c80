/**
 * Time to ban: from appending the log line that crosses the threshold (the 5th failed SSH password of a fresh
 * address) to (1) the address being in the nftables set and (2) a TCP connection from that address being
 * refused. Portcullis (`portcullis run` as a child process inside a server namespace, nftables responder)
 * and, when installed, fail2ban-server 1.0.2 in the same namespaces with the same lines: its default backend
 * (`auto`, which is pyinotify when python3-pyinotify is installed) and `polling`.
 *
 * Per trial: 4 failure lines for a fresh address, a random pause, the prober in the client namespace starts
 * connecting from that address (each connection must succeed), then the 5th line is appended and timed.
 * (1) is when `nft monitor` in the server namespace reports the element; (2) when the prober's connect gets
 * ECONNREFUSED (the `reject` verdict's ICMP port unreachable). All timestamps are CLOCK_MONOTONIC.
 *
 *   node --import tsx bench/ttb/run.ts [--trials 200] [--warmup 3] [--gap-ms 20-1000] [--pause-ms 20-2000]
 *        [--probe-interval-ms 1] [--tools portcullis,fail2ban-auto,fail2ban-polling] [--f2b-trials N]
 *        [--breakdown-trials 100] [--impl build|tsx] [--seed 1] [--keep]
 *
 * With Portcullis, a second pass (--breakdown-trials) runs a fresh daemon with a tracing preload (see
 * daemon.ts withTrace) and splits the time to ban into inotify wake-up, detection and decision, and the nft
 * process; the headline numbers come from the untraced pass.
 *
 * Needs root (network namespaces), ip, nft; fail2ban is optional. Never touches the root namespace's
 * firewall; our namespaces are deleted at the end, also on failure or Ctrl-C, and the root ruleset is checked.
 */
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { repoRoot } from "../../test/support/shared.ts";
import { failedPassword } from "./authlog.ts";
import {
  cleanupAll,
  installSignalCleanup,
  machineLine,
  mono,
  ms1,
  onCleanup,
  parseArgs,
  procSample,
  start,
  summarize,
  table,
  type Child,
} from "./common.ts";
import { portcullisCli, startDaemon, withTrace, type Impl } from "./daemon.ts";
import { fail2banSkipReason, fail2banVersion, hasPyinotify, startFail2ban } from "./fail2ban.ts";
import { startMonitor, type NftMonitor } from "./monitor.ts";
import {
  addClientAddresses,
  createNet,
  inNs,
  NET,
  netnsSkipReason,
  rootReport,
  rootSnapshot,
  type Net,
} from "./netns.ts";
import { mulberry32 } from "../../src/core/random.ts";

export interface TtbOptions {
  trials: number;
  /** Trials for fail2ban's polling backend (each takes about a second). */
  f2bTrials: number;
  warmup: number;
  /** Pause between the 4 failure lines and the crossing line: uniform in [min, max] ms. */
  gapMs: [number, number];
  /**
   * Pause between trials: uniform in [min, max] ms. Random, so the crossing line lands at a random phase of
   * the tools' internal timers (fail2ban's action thread and poller wake at growing intervals, 0.2 s to 0.8 s,
   * restarted by each ban: a fixed schedule would always hit the same phase).
   */
  pauseMs: [number, number];
  seed: number;
  /** Pause between two connection attempts of the prober. */
  probeIntervalMs: number;
  /** Trials of the breakdown pass (Portcullis with the tracing preload; 0: none). */
  breakdownTrials: number;
  /** Longest wait for a ban before the trial counts as missed. */
  timeoutMs: number;
  tools: string[];
  impl: Impl;
  keep: boolean;
  log: (s: string) => void;
}

export interface ToolResult {
  tool: string;
  detail: string;
  ban: number[];
  refused: number[];
  missed: number;
  attempts: number[];
  cpuSeconds: number;
  childCpuSeconds: number;
  rssMb: number;
  wallSeconds: number;
  /** Counted trials: when the crossing line was written and when the address was in the set (monotonic ms). */
  trials: { t0: number; inSet: number }[];
}

/** Where Portcullis' time to ban goes (the breakdown pass, with the tracing preload). */
export interface Breakdown {
  n: number;
  wake: number[];
  decide: number[];
  /** wake -> the last file read before the decision's first SQL statement (stat, identity checks, read). */
  read: number[];
  /** that read -> the first SQL statement (framing, parsing, detection, policy). */
  detect: number[];
  /** first SQL statement -> spawn called for nft (the decision's SQLite writes and audit, the responder's preparation). */
  record: number[];
  /** the spawn call itself (fork + exec of nft, synchronous in libuv). */
  spawnCall: number[];
  /** time inside SQLite statements in that last step. */
  sql: number[];
  /** nft started -> the element event (nft's start-up, parse, netlink commit). */
  nft: number[];
  /** nft started -> its exit seen by the daemon (the whole process lifetime). */
  nftExit: number[];
  total: number[];
}

const helper = join(repoRoot, "bench", "ttb", "helper.ts");
const tsxHelper = (...args: string[]) => [process.execPath, "--import", "tsx", helper, ...args];

/** The prober in the client namespace (helper.ts probe). */
class Prober {
  readonly #child: Child;
  readonly #waiters = new Map<string, (msg: Record<string, unknown>) => void>();
  readonly #ready: Promise<void>;

  constructor(ns: string) {
    this.#child = start(
      "prober",
      ["ip", "netns", "exec", ns, ...tsxHelper("probe", NET.server, String(NET.port))],
      {
        stdio: ["pipe", "pipe", "inherit"],
        cwd: repoRoot,
      },
    );
    let ready: () => void = () => {};
    this.#ready = new Promise((r) => (ready = r));
    createInterface({ input: this.#child.proc.stdout! }).on("line", (line) => {
      const msg = JSON.parse(line) as Record<string, unknown>;
      if (msg.op === "ready") return ready();
      const key = `${String(msg.id)}:${msg.op === "armed" ? "armed" : "done"}`;
      const w = this.#waiters.get(key);
      if (w) {
        this.#waiters.delete(key);
        w(msg);
      } else if (msg.op === "error" || msg.op === "timeout") {
        // an error before "armed" resolves the armed waiter too
        this.#waiters.get(`${String(msg.id)}:armed`)?.(msg);
      }
    });
  }

  ready(): Promise<void> {
    return Promise.race([
      this.#ready,
      delay(30_000).then(() => {
        throw new Error("the prober did not start");
      }),
    ]);
  }

  /** Starts the connect loop from `addr`; resolves once a first connection was accepted. */
  arm(id: number, addr: string, intervalMs: number, timeoutMs: number) {
    const armed = new Promise<Record<string, unknown>>((r) => this.#waiters.set(`${id}:armed`, r));
    const done = new Promise<Record<string, unknown>>((r) => this.#waiters.set(`${id}:done`, r));
    this.#child.proc.stdin!.write(`${JSON.stringify({ op: "arm", id, addr, intervalMs, timeoutMs })}\n`);
    return { armed, done };
  }

  stop(): Promise<void> {
    this.#child.proc.stdin!.end();
    return this.#child.stop(3000);
  }
}

/** Addresses for one tool: 10.77.<base + i/250>.<1 + i%250>. */
function address(base: number, i: number): string {
  return `10.77.${base + Math.floor(i / 250)}.${1 + (i % 250)}`;
}

async function runTrials(o: {
  name: string;
  detail: string;
  pid: number;
  base: number;
  n: number;
  warmup: number;
  logFile: string;
  monitor: NftMonitor;
  prober: Prober;
  opts: TtbOptions;
}): Promise<ToolResult> {
  const { opts } = o;
  const rand = mulberry32(opts.seed + o.base);
  const uniform = ([lo, hi]: [number, number]) => lo + rand() * (hi - lo);
  const fd = openSync(o.logFile, "a");
  const res: ToolResult = {
    tool: o.name,
    detail: o.detail,
    ban: [],
    refused: [],
    missed: 0,
    attempts: [],
    cpuSeconds: 0,
    childCpuSeconds: 0,
    rssMb: 0,
    wallSeconds: 0,
    trials: [],
  };
  let cpu0 = procSample(o.pid);
  const wall0 = mono();
  try {
    for (let i = 0; i < o.warmup + o.n; i++) {
      if (i === o.warmup) cpu0 = procSample(o.pid);
      const addr = address(o.base, i);
      const pid = 10_000 + i;
      for (let k = 0; k < 4; k++) writeSync(fd, failedPassword(addr, pid, 40_000 + k));
      await delay(uniform(opts.gapMs));
      const id = o.base * 10_000 + i;
      const { armed, done } = o.prober.arm(id, addr, opts.probeIntervalMs, opts.timeoutMs);
      const a = await armed;
      if (a.op !== "armed") throw new Error(`prober from ${addr}: ${JSON.stringify(a)}`);
      const t0 = mono();
      writeSync(fd, failedPassword(addr, pid, 40_004));
      const [ban, ref] = await Promise.all([o.monitor.wait(addr, opts.timeoutMs), done]);
      const warm = i < o.warmup;
      if (!ban || ref.op !== "refused") {
        if (!warm) res.missed++;
        opts.log(
          `  ${o.name}: trial ${i} (${addr}) ${ban ? "" : "no ban "}${ref.op !== "refused" ? JSON.stringify(ref) : ""}`,
        );
      } else if (!warm) {
        res.ban.push(ban.at - t0);
        res.refused.push((ref.at as number) - t0);
        res.attempts.push(ref.attempts as number);
        res.trials.push({ t0, inSet: ban.at });
      }
      if ((i + 1) % 50 === 0) opts.log(`  ${o.name}: ${i + 1 - o.warmup}/${o.n} trials`);
      await delay(uniform(opts.pauseMs));
    }
  } finally {
    closeSync(fd);
  }
  const cpu1 = procSample(o.pid);
  res.wallSeconds = (mono() - wall0) / 1000;
  if (cpu0 && cpu1) {
    res.cpuSeconds = cpu1.cpu - cpu0.cpu;
    res.childCpuSeconds = cpu1.childCpu - cpu0.childCpu;
    res.rssMb = cpu1.rssKb / 1024;
  }
  return res;
}

/**
 * The floor of the responder step: how long spawning `nft -f -` with one `add element` takes from a Node
 * process inside the server namespace (what the nftables responder does per batch), on a scratch table.
 */
async function nftSpawnFloor(ns: string, n: number): Promise<number[]> {
  const child = start("nft spawn probe", ["ip", "netns", "exec", ns, ...tsxHelper("nftcost", String(n))], {
    stdio: ["ignore", "pipe", "inherit"],
    cwd: repoRoot,
  });
  let out = "";
  child.proc.stdout!.on("data", (b: Buffer) => (out += b.toString()));
  await child.exited;
  return JSON.parse(out.trim() || "[]") as number[];
}

/**
 * Splits each traced trial: crossing line written -> inotify wakes the daemon (fs.watch listener) -> the
 * responder starts `nft` (read, parse, detect, decide, SQLite commit) -> the element is in the set (nft's
 * start-up and netlink commit, seen by the monitor; nft exits a few ms later); `total` is written -> in the set.
 */
function breakdown(trace: string, trials: ToolResult["trials"], logName: string): Breakdown {
  const events = readFileSync(trace, "utf8")
    .split("\n")
    .filter(Boolean)
    .map(
      (l) =>
        JSON.parse(l) as {
          at: number;
          ev: string;
          name?: string;
          cmd?: string;
          pid?: number;
          bytes?: number;
          dur?: number;
        },
    );
  const out: Breakdown = {
    n: 0,
    wake: [],
    decide: [],
    read: [],
    detect: [],
    record: [],
    spawnCall: [],
    sql: [],
    nft: [],
    nftExit: [],
    total: [],
  };
  for (const t of trials) {
    const wake = events.find((e) => e.ev === "watch" && e.name === logName && e.at >= t.t0);
    const spawn = events.find((e) => e.ev === "spawn" && e.cmd === "nft" && e.at >= t.t0);
    const exit = spawn && events.find((e) => e.ev === "exit" && e.pid === spawn.pid && e.at >= spawn.at);
    if (!wake || !spawn || !exit || spawn.at > t.inSet + 1000) continue;
    out.n++;
    out.wake.push(wake.at - t.t0);
    out.decide.push(spawn.at - wake.at);
    const between = events.filter((e) => e.at >= wake.at && e.at <= spawn.at);
    const firstSql = between.find((e) => e.ev === "sql");
    const lastRead =
      firstSql && between.filter((e) => e.ev === "read" && e.at <= firstSql.at && e.bytes).pop();
    if (firstSql && lastRead) {
      out.read.push(lastRead.at - wake.at);
      out.detect.push(firstSql.at - lastRead.at);
      const call = between.filter((e) => e.ev === "spawncall" && e.cmd === "nft").pop();
      out.record.push((call?.at ?? spawn.at) - firstSql.at);
      if (call) out.spawnCall.push(spawn.at - call.at);
      out.sql.push(
        between.filter((e) => e.ev === "sql" && e.at >= firstSql.at).reduce((a, e) => a + (e.dur ?? 0), 0),
      );
    }
    out.nft.push(t.inSet - spawn.at);
    out.nftExit.push(exit.at - spawn.at);
    out.total.push(t.inSet - t.t0);
  }
  return out;
}

export async function runTtb(opts: TtbOptions): Promise<ToolResult[]> {
  const skip = netnsSkipReason();
  if (skip) {
    opts.log(`time-to-ban benchmark skipped: ${skip}`);
    return [];
  }
  installSignalCleanup();
  const before = rootSnapshot();
  const results: ToolResult[] = [];
  const cli = opts.tools.includes("portcullis") ? portcullisCli(opts.impl, opts.log) : [];
  const dir = mkdtempSync(join(tmpdir(), "pcl-ttb-"));
  const dropDir = onCleanup("ttb temp dir", () => {
    if (!opts.keep) rmSync(dir, { recursive: true, force: true });
  });
  let net: Net | undefined;
  let floor: number[] = [];
  let split: Breakdown | undefined;
  try {
    net = createNet("ttb");
    const plan = opts.tools.map((tool, k) => ({
      tool,
      base: 1 + k * 20,
      n: tool === "fail2ban-polling" ? opts.f2bTrials : opts.trials,
    }));
    const traceBase = 1 + plan.length * 20;
    const all = plan.flatMap((p) => Array.from({ length: opts.warmup + p.n }, (_, i) => address(p.base, i)));
    if (opts.tools.includes("portcullis") && opts.breakdownTrials > 0) {
      all.push(
        ...Array.from({ length: opts.warmup + opts.breakdownTrials }, (_, i) => address(traceBase, i)),
      );
    }
    addClientAddresses(net, all);
    const listener = start(
      "listener",
      ["ip", "netns", "exec", net.server, ...tsxHelper("listen", NET.server, String(NET.port))],
      {
        stdio: ["ignore", "pipe", "inherit"],
        cwd: repoRoot,
      },
    );
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("listener did not start")), 30_000);
      createInterface({ input: listener.proc.stdout! }).once("line", () => {
        clearTimeout(t);
        resolve();
      });
    });
    const prober = new Prober(net.client!);
    await prober.ready();
    const ns = net.server;
    const monitor = await startMonitor(ns, (argv, input) => void inNs(ns, argv, input));
    opts.log(
      `namespaces ${net.server} / ${net.client}, ${all.length} client addresses, listener ${NET.server}:${NET.port}`,
    );

    for (const p of plan) {
      const toolDir = join(dir, p.tool);
      mkdirSync(toolDir, { recursive: true });
      const logFile = join(toolDir, "auth.log");
      closeSync(openSync(logFile, "w"));
      if (p.tool === "portcullis") {
        const d = await startDaemon({ ns, dir: toolDir, logFile, cli });
        opts.log(`portcullis: daemon pid ${d.pid} in ${ns}; ${opts.warmup} warm-up + ${p.n} trials`);
        try {
          results.push(
            await runTrials({
              name: "portcullis",
              detail: `run, file source (inotify), nftables responder (${opts.impl === "build" ? "compiled" : "tsx"})`,
              pid: d.pid,
              base: p.base,
              n: p.n,
              warmup: opts.warmup,
              logFile,
              monitor,
              prober,
              opts,
            }),
          );
        } finally {
          await d.stop();
        }
        floor = await nftSpawnFloor(ns, 100);
        if (opts.breakdownTrials > 0) {
          // the breakdown pass: a fresh daemon with the tracing preload, its own log and addresses
          inNs(ns, ["nft", "flush", "ruleset"]);
          const traceDir = join(dir, "portcullis-trace");
          mkdirSync(traceDir, { recursive: true });
          const traceLog = join(traceDir, "auth.log");
          closeSync(openSync(traceLog, "w"));
          // outside the watched directory (a trace write there would wake the watcher, which writes a trace...)
          const trace = join(dir, "portcullis-trace.jsonl");
          const td = await startDaemon({ ns, dir: traceDir, logFile: traceLog, cli: withTrace(cli), trace });
          opts.log(`portcullis breakdown pass (tracing preload): ${opts.breakdownTrials} trials`);
          try {
            const r = await runTrials({
              name: "portcullis (traced)",
              detail: "",
              pid: td.pid,
              base: traceBase,
              n: opts.breakdownTrials,
              warmup: opts.warmup,
              logFile: traceLog,
              monitor,
              prober,
              opts,
            });
            split = breakdown(trace, r.trials, "auth.log");
          } finally {
            await td.stop();
          }
        }
      } else if (p.tool.startsWith("fail2ban-")) {
        const why = fail2banSkipReason();
        if (why) {
          opts.log(`${p.tool}: skipped (${why})`);
          continue;
        }
        const backend = p.tool.slice("fail2ban-".length);
        const f = await startFail2ban({ ns, dir: toolDir, logFile, backend });
        opts.log(
          `${p.tool}: fail2ban-server pid ${f.pid} in ${ns}, backend ${backend} -> ${f.backend}; ${opts.warmup} warm-up + ${p.n} trials`,
        );
        try {
          results.push(
            await runTrials({
              name: `fail2ban (${backend})`,
              detail: `fail2ban-server ${fail2banVersion()}, backend ${f.backend}, nftables-multiport`,
              pid: f.pid,
              base: p.base,
              n: p.n,
              warmup: opts.warmup,
              logFile,
              monitor,
              prober,
              opts,
            }),
          );
        } finally {
          await f.stop();
        }
      } else {
        throw new Error(`unknown tool ${p.tool}`);
      }
      inNs(ns, ["nft", "flush", "ruleset"]);
    }
    await monitor.stop();
    await prober.stop();
    await listener.stop(3000);
  } finally {
    await cleanupAll();
    await net?.destroy();
    await dropDir();
  }

  report(results, floor, split, opts);
  opts.log(rootReport(before, net ? [net.server, net.client!] : []));
  return results;
}

function report(
  results: ToolResult[],
  floor: number[],
  split: Breakdown | undefined,
  opts: TtbOptions,
): void {
  const row = (r: ToolResult, v: number[]) => {
    const s = summarize(v);
    return [r.tool, String(s.n), ms1(s.p50), ms1(s.p90), ms1(s.p99), ms1(s.max), String(r.missed)];
  };
  const h = ["tool", "trials", "p50 ms", "p90 ms", "p99 ms", "max ms", "missed"];
  console.log("\nTime to ban: crossing line appended -> address in the nftables set (nft monitor)");
  console.log(
    table(
      h,
      results.map((r) => row(r, r.ban)),
    ),
  );
  console.log("\nTime to refusal: crossing line appended -> TCP connect from that address refused");
  console.log(
    table(
      h,
      results.map((r) => row(r, r.refused)),
    ),
  );
  console.log(
    `(the prober connects every ~${opts.probeIntervalMs} ms + connect time, so refusal resolution is about that)`,
  );
  console.log("\nThe tools during the trials (process only; nft and action shells are children)");
  console.log(
    table(
      ["tool", "wall s", "cpu s", "children cpu s", "rss MB", "detail"],
      results.map((r) => [
        r.tool,
        r.wallSeconds.toFixed(1),
        r.cpuSeconds.toFixed(2),
        r.childCpuSeconds.toFixed(2),
        r.rssMb.toFixed(0),
        r.detail,
      ]),
    ),
  );
  if (floor.length) {
    const s = summarize(floor);
    console.log(
      `\nFloor of the responder step: spawning \`nft -f -\` (one add element) from Node in the namespace: p50 ${ms1(s.p50)} ms, p99 ${ms1(s.p99)} ms (n=${s.n})`,
    );
  }
  if (split?.n) {
    const h2 = ["step", "p50 ms", "p90 ms", "p99 ms", "max ms"];
    const r = (name: string, v: number[]) => {
      const x = summarize(v);
      return [name, ms1(x.p50), ms1(x.p90), ms1(x.p99), ms1(x.max)];
    };
    console.log(
      `\nWhere Portcullis' time to ban goes (separate pass with a tracing preload, ${split.n} trials)`,
    );
    console.log(
      table(h2, [
        r("line written -> inotify wakes the daemon", split.wake),
        r("wake -> nft started (read, parse, detect, decide, SQLite)", split.decide),
        ...(split.read.length
          ? [
              r("  wake -> file read done (stat, identity check, read)", split.read),
              r("  read -> first SQL statement (frame, parse, detect, policy)", split.detect),
              r("  first SQL -> spawn(nft) called (decision + audit in SQLite, ...)", split.record),
              r("    of which inside SQLite statements", split.sql),
              r("  the spawn call (fork + exec of nft; blocks the daemon)", split.spawnCall),
            ]
          : []),
        r("spawn returned -> in the set (nft start-up, parse, netlink commit)", split.nft),
        r("total: line written -> in the set", split.total),
        r("(nft started -> its exit seen by the daemon)", split.nftExit),
      ]),
    );
  }
  console.log(
    `schedule: 4 failure lines, pause U[${opts.gapMs.join(", ")}] ms, crossing line; next trial after U[${opts.pauseMs.join(", ")}] ms; ${opts.warmup} warm-up trials per tool not counted; seed ${opts.seed}`,
  );
  console.log(`\n${machineLine()}`);
}

/** "20-1000" -> [20, 1000]; "50" -> [50, 50]. */
function range(v: string): [number, number] {
  const [lo, hi] = v.split("-").map(Number);
  return [lo!, hi ?? lo!];
}

function optionsFromArgs(argv: readonly string[]): TtbOptions {
  const a = parseArgs(argv);
  const trials = Number(a.get("trials") ?? 200);
  const f2bDefault = hasPyinotify() ? ["fail2ban-auto", "fail2ban-polling"] : ["fail2ban-auto"];
  return {
    trials,
    f2bTrials: Number(a.get("f2b-trials") ?? Math.min(trials, 100)),
    warmup: Number(a.get("warmup") ?? 3),
    gapMs: range(a.get("gap-ms") ?? "20-1000"),
    pauseMs: range(a.get("pause-ms") ?? "20-2000"),
    seed: Number(a.get("seed") ?? 1),
    probeIntervalMs: Number(a.get("probe-interval-ms") ?? 1),
    breakdownTrials: Number(a.get("breakdown-trials") ?? 100),
    timeoutMs: Number(a.get("timeout-ms") ?? 20_000),
    tools: (a.get("tools") ?? ["portcullis", ...f2bDefault].join(",")).split(",").filter(Boolean),
    impl: (a.get("impl") ?? "build") as Impl,
    keep: a.has("keep"),
    log: (s) => process.stderr.write(`${s}\n`),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const opts = optionsFromArgs(process.argv.slice(2));
  runTtb(opts).then(
    () => process.exit(0),
    async (e: unknown) => {
      process.stderr.write(`time-to-ban benchmark failed: ${(e as Error).stack ?? String(e)}\n`);
      await cleanupAll();
      process.exit(1);
    },
  );
}
