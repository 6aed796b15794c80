/**
 * Shared by the daemon benchmarks (bench/ttb, bench/daemon-load): one monotonic clock for every process,
 * commands, child processes we started (stopped by pid, never by name), cleanup on failure and signals,
 * percentiles and plain tables.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { setTimeout as delay } from "node:timers/promises";

/**
 * Milliseconds on CLOCK_MONOTONIC (libuv's hrtime). The same clock in every process of the machine, whatever
 * its network namespace, so timestamps taken by the prober in the client namespace, by the nft monitor reader
 * and by the log writer can be subtracted.
 */
export function mono(): number {
  return Number(process.hrtime.bigint() / 1000n) / 1000;
}

export interface CmdResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command (argument array, no shell) and returns its output; never throws for a non-zero exit. */
export function sh(argv: readonly string[], input?: string, timeoutMs = 30_000): CmdResult {
  const r = spawnSync(argv[0]!, argv.slice(1), {
    input: input ?? "",
    encoding: "utf8",
    timeout: timeoutMs,
    maxBuffer: 64 << 20,
  });
  return {
    code: r.status ?? (r.error ? 127 : 1),
    stdout: r.stdout ?? "",
    stderr: (r.stderr ?? "") + (r.error ? String(r.error.message) : ""),
  };
}

/** Runs a command and throws with its output when it fails. */
export function must(argv: readonly string[], input?: string, timeoutMs?: number): string {
  const r = sh(argv, input, timeoutMs);
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} -> exit ${r.code}: ${(r.stderr || r.stdout).trim().slice(0, 2000)}`);
  }
  return r.stdout;
}

export function hasBinary(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0;
}

// ---------------------------------------------------------------------------------------------- cleanup

type Cleanup = () => void | Promise<void>;
const cleanups: { name: string; fn: Cleanup }[] = [];
let exiting = false;

/** Registers a cleanup; returns a function that runs it now (once) and unregisters it. */
export function onCleanup(name: string, fn: Cleanup): () => Promise<void> {
  const entry = { name, fn };
  cleanups.push(entry);
  return async () => {
    const i = cleanups.indexOf(entry);
    if (i < 0) return;
    cleanups.splice(i, 1);
    await fn();
  };
}

/** Runs every registered cleanup, newest first. Errors are printed, never thrown. */
export async function cleanupAll(): Promise<void> {
  while (cleanups.length) {
    const { name, fn } = cleanups.pop()!;
    try {
      await fn();
    } catch (e) {
      process.stderr.write(`cleanup ${name} failed: ${(e as Error).message}\n`);
    }
  }
}

let signalsInstalled = false;
/** On SIGINT/SIGTERM: clean up (stop our children, delete our namespaces), then exit. */
export function installSignalCleanup(): void {
  if (signalsInstalled) return;
  signalsInstalled = true;
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      if (exiting) return;
      exiting = true;
      process.stderr.write(`\n${sig}: cleaning up\n`);
      void cleanupAll().finally(() => process.exit(130));
    });
  }
}

// ---------------------------------------------------------------------------------------------- children

export interface Child {
  proc: ChildProcess;
  pid: number;
  name: string;
  exited: Promise<number | null>;
  /** SIGTERM, then SIGKILL after `graceMs`; only this process (by pid). */
  stop(graceMs?: number): Promise<void>;
}

/** Spawns a child we own; it is stopped by cleanupAll when still running. */
export function start(name: string, argv: readonly string[], opts: SpawnOptions = {}): Child {
  const proc = spawn(argv[0]!, argv.slice(1), { stdio: "ignore", ...opts });
  if (proc.pid === undefined) throw new Error(`${name}: could not start ${argv[0]}`);
  const pid = proc.pid;
  const exited = new Promise<number | null>((resolve) => {
    proc.once("exit", (code, signal) => resolve(code ?? (signal ? -1 : null)));
    proc.once("error", () => resolve(127));
  });
  let done = false;
  void exited.then(() => (done = true));
  const stop = async (graceMs = 10_000) => {
    if (done) return;
    proc.kill("SIGTERM");
    const t = await Promise.race([exited.then(() => "exited"), delay(graceMs).then(() => "timeout")]);
    if (t === "timeout" && !done) {
      proc.kill("SIGKILL");
      await exited;
    }
  };
  const unregister = onCleanup(name, () => stop(3000));
  void exited.then(() => unregister());
  return { proc, pid, name, exited, stop };
}

/** Polls `fn` until it returns a truthy value; throws after `ms`. */
export async function until<T>(
  what: string,
  fn: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  ms = 15_000,
  everyMs = 20,
): Promise<T> {
  const end = mono() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (mono() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await delay(everyMs);
  }
}

// ---------------------------------------------------------------------------------------------- /proc

export interface ProcSample {
  at: number;
  /** CPU seconds of the process itself (utime + stime). */
  cpu: number;
  /** CPU seconds of its waited-for children (nft, ip, ...: cutime + cstime). */
  childCpu: number;
  rssKb: number;
  hwmKb: number;
  threads: number;
}

const CLK_TCK = Number(sh(["getconf", "CLK_TCK"]).stdout.trim()) || 100;

/** CPU and memory of a process from /proc, or undefined when it is gone. */
export function procSample(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // fields after the command name (which may hold spaces) start after the last ')'
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // f[0] is field 3 (state); utime is field 14 -> f[11]
    const ticks = (i: number) => Number(f[i - 3]);
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? NaN);
    return {
      at: mono(),
      cpu: (ticks(14) + ticks(15)) / CLK_TCK,
      childCpu: (ticks(16) + ticks(17)) / CLK_TCK,
      rssKb: kb("VmRSS"),
      hwmKb: kb("VmHWM"),
      threads: kb("Threads"),
    };
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------- stats

/** Nearest-rank percentile of an ascending array. */
export function pct(sorted: readonly number[], p: number): number {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: readonly number[]): Summary {
  const s = [...values].sort((a, b) => a - b);
  return {
    n: s.length,
    min: s[0] ?? NaN,
    p50: pct(s, 50),
    p90: pct(s, 90),
    p99: pct(s, 99),
    max: s[s.length - 1] ?? NaN,
    mean: s.length ? s.reduce((a, b) => a + b, 0) / s.length : NaN,
  };
}

/** A right-aligned plain-text table (first column left-aligned). */
export function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (r: readonly string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

export const ms1 = (v: number) => (Number.isFinite(v) ? v.toFixed(1) : "-");

/** Parses `--key value` and `--flag` arguments. */
export function parseArgs(argv: readonly string[]): Map<string, string> {
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (!a.startsWith("--")) continue;
    const eq = a.indexOf("=");
    if (eq > 0) out.set(a.slice(2, eq), a.slice(eq + 1));
    else if (argv[i + 1] !== undefined && !argv[i + 1]!.startsWith("--")) out.set(a.slice(2), argv[++i]!);
    else out.set(a.slice(2), "true");
  }
  return out;
}

export function machineLine(): string {
  const load = readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
  const cores = sh(["nproc"]).stdout.trim();
  const kernel = sh(["uname", "-r"]).stdout.trim();
  return `machine: ${cores} cores, kernel ${kernel}, node ${process.version}, load average ${load}`;
}
