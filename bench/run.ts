/**
 * `npm run bench`: throughput, CPU and peak memory of `portcullis parse` and `portcullis replay` on generated
 * auth logs (100k and 1M lines, deterministic; generator: ../shared/bench/gen_authlog.py), and the same input
 * through the peer tools that are installed (fail2ban-regex, sshguard's sshg-parser, crowdsec replay), with the
 * throughput ratio. Every command runs under /usr/bin/time for CPU and peak RSS.
 *
 * Options: --sizes 100000,1000000   --only portcullis[,sshguard,fail2ban,crowdsec]   --runs 1
 */
import { execFileSync, spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, statSync } from "node:fs";
import { join } from "node:path";
import { installedNodeFlags } from "./node-flags.ts";
import { crowdsecReplay } from "./peers/crowdsec.ts";
import { repoRoot, sharedDir } from "../test/support/shared.ts";

// `npm run bench -- --daemon [options]` (or `npm run bench:daemon`): the daemon benchmarks instead, each a child
// script printing its own tables: bench/ttb/run.ts (time to ban, vs fail2ban) and bench/daemon-load/run.ts.
if (process.argv.includes("--daemon")) {
  const rest = process.argv.slice(2).filter((a) => a !== "--daemon");
  for (const script of ["ttb", "daemon-load"]) {
    const r = spawnSync(
      process.execPath,
      ["--import", "tsx", join(repoRoot, "bench", script, "run.ts"), ...rest],
      {
        stdio: "inherit",
      },
    );
    if (r.status !== 0) process.exit(r.status ?? 1);
  }
  process.exit(0);
}

interface Measure {
  tool: string;
  task: string;
  lines: number;
  seconds: number;
  cpu: number;
  maxRssMb: number;
  note?: string;
}

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const sizes = (args.get("sizes") ?? "100000,1000000").split(",").map(Number);
// --only portcullis,sshguard: the peers to run besides Portcullis (default: every installed one).
const only = args.has("only") ? new Set(args.get("only")!.split(",")) : undefined;
const peer = (tool: string) => only === undefined || only.has(tool);
const runs = Number(args.get("runs") ?? 1);
const cache = join(repoRoot, ".bench-cache");
mkdirSync(cache, { recursive: true });
const bin = join(repoRoot, "bin", "portcullis.js");
const node = [process.execPath, ...installedNodeFlags()];
const hasTime = existsSync("/usr/bin/time");

/** Says why a peer tool is not in the table (the comparison is only as good as the peers that ran). */
function skipped(tool: string, why: string): void {
  process.stderr.write(`  ${tool}: skipped: ${why}\n`);
}

function which(cmd: string): string | undefined {
  // The name is an argument of the script, never part of it.
  const r = spawnSync("sh", ["-c", 'command -v -- "$1"', "sh", cmd], { encoding: "utf8" });
  return r.status === 0 ? r.stdout.trim() : undefined;
}

/** Runs argv with stdin from a file (optional), stdout to /dev/null; returns wall/CPU/peak RSS. */
function measure(
  argv: string[],
  stdinFile?: string,
): { seconds: number; cpu: number; maxRssMb: number; status: number; stderr: string } {
  const timeArgs = hasTime ? ["/usr/bin/time", "-f", "BENCH %e %U %S %M", ...argv] : argv;
  const started = performance.now();
  const fd = stdinFile ? openSync(stdinFile, "r") : undefined;
  const r = spawnSync(timeArgs[0]!, timeArgs.slice(1), {
    stdio: [fd ?? "ignore", "ignore", "pipe"],
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (fd !== undefined) closeSync(fd);
  const wall = (performance.now() - started) / 1000;
  const m = /BENCH ([\d.]+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stderr ?? "");
  return {
    seconds: m ? Number(m[1]) : wall,
    cpu: m ? Number(m[2]) + Number(m[3]) : NaN,
    maxRssMb: m ? Number(m[4]) / 1024 : NaN,
    status: r.status ?? 1,
    stderr: r.stderr ?? "",
  };
}

function best(argv: string[], stdinFile?: string) {
  let b: ReturnType<typeof measure> | undefined;
  for (let i = 0; i < runs; i++) {
    const m = measure(argv, stdinFile);
    if (m.status !== 0) throw new Error(`${argv.join(" ")} failed (${m.status}):\n${m.stderr.slice(-2000)}`);
    if (!b || m.seconds < b.seconds) b = m;
  }
  return b!;
}

function generate(lines: number): string {
  const out = join(cache, `auth-${lines}.log`);
  if (existsSync(out) && existsSync(`${out}.truth.json`)) return out;
  const shared = sharedDir();
  if (!shared) throw new Error("../shared/bench/gen_authlog.py not found (set PORTCULLIS_SHARED)");
  process.stderr.write(`generating ${lines} lines -> ${out}\n`);
  execFileSync("python3", [
    join(shared, "bench", "gen_authlog.py"),
    "--lines",
    String(lines),
    "--seed",
    "1",
    "--out",
    out,
  ]);
  return out;
}

const results: Measure[] = [];
const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

for (const lines of sizes) {
  const file = generate(lines);
  const mb = statSync(file).size / 1048576;
  process.stderr.write(`\n== ${fmt(lines)} lines (${mb.toFixed(1)} MB) ==\n`);
  const run = (tool: string, task: string, argv: string[], stdinFile?: string, note?: string) => {
    process.stderr.write(`  ${tool} ${task} ... `);
    const m = best(argv, stdinFile);
    const r: Measure = {
      tool,
      task,
      lines,
      seconds: m.seconds,
      cpu: m.cpu,
      maxRssMb: m.maxRssMb,
      ...(note ? { note } : {}),
    };
    results.push(r);
    process.stderr.write(`${fmt(lines / m.seconds)} lines/s, ${m.maxRssMb.toFixed(0)} MB\n`);
    return r;
  };
  const tz = ["--timezone", "UTC", "--reference-time", "2026-12-31T00:00:00Z"];
  run("portcullis", "replay", [...node, bin, "replay", "--json", "--no-progress", ...tz, file]);
  run("portcullis", "parse", [...node, bin, "parse", ...tz, file]);
  if (peer("fail2ban")) {
    const f2b = which("fail2ban-regex");
    if (f2b) run("fail2ban", "fail2ban-regex sshd", [f2b, file, "sshd"]);
    else skipped("fail2ban", "fail2ban-regex not found (apt-get install fail2ban)");
  }
  if (peer("sshguard")) {
    const sshg = "/usr/libexec/sshguard/sshg-parser";
    if (existsSync(sshg)) run("sshguard", "sshg-parser < file", [sshg], file);
    else skipped("sshguard", `${sshg} not found (apt-get install sshguard)`);
  }
  const cs = peer("crowdsec") ? crowdsecReplay(file) : undefined;
  if (cs) run("crowdsec", "crowdsec replay", cs.argv, undefined, cs.note);
}

// Report.
const rows = results.map((r) => {
  const ours = results.find((x) => x.tool === "portcullis" && x.task === "replay" && x.lines === r.lines)!;
  const ratio = r.tool === "portcullis" ? "" : `${(r.seconds / ours.seconds).toFixed(1)}x`;
  return [
    fmt(r.lines),
    `${r.tool} ${r.task}`,
    fmt(r.lines / r.seconds),
    r.cpu.toFixed(2),
    r.maxRssMb.toFixed(0),
    ratio,
  ];
});
const header = ["lines", "tool", "lines/s", "cpu s", "peak MB", "replay faster by"];
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => c.padStart(widths[i]!)).join("  ");
console.log(
  `\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}\n${rows.map(line).join("\n")}`,
);
console.log(
  `\nmachine: ${process.platform} ${process.arch}, node ${process.version}, ${(await import("node:os")).cpus().length} cores`,
);
