/**
 * The Portcullis daemon as a child process inside the server namespace: `ip netns exec <ns> node <cli> run
 * --config <file>`, so its nftables responder runs plain `nft` against that namespace only (the real thing:
 * the CLI, file source with inotify, pipeline, SQLite store, nftables responder).
 *
 * The CLI runs compiled JavaScript, as installed (`bin/portcullis.js` runs dist/, with the node options of its
 * `#!` line): the benchmark compiles the current src/ with tsconfig.build.json into its own folder
 * (.bench-cache/daemon/dist, rebuilt when a source file is newer), so it never writes the shared dist/ that
 * other work uses. `--impl tsx` runs the sources through tsx instead (adds tsx's loader thread to the memory
 * figures).
 */
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { stringify } from "yaml";
import { repoRoot } from "../../test/support/shared.ts";
import { installedNodeFlags } from "../node-flags.ts";
import { sh, start, until, type Child } from "./common.ts";
import { inNs } from "./netns.ts";

export type Impl = "build" | "tsx";

const cacheDir = join(repoRoot, ".bench-cache", "daemon");

function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestMtime(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/**
 * The argv prefix that runs the Portcullis CLI (`... run --config X` is appended). Compiles src/ into the
 * benchmark's own folder when needed (tsc emits even when other files in the tree have type errors; those are
 * reported, not fatal).
 */
export function portcullisCli(impl: Impl, log: (s: string) => void = () => {}): string[] {
  if (impl === "tsx") {
    const entry = join(cacheDir, "portcullis-tsx.ts");
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(
      entry,
      `import { main } from ${JSON.stringify(join(repoRoot, "src", "cli", "main.ts"))};\n` +
        "main(process.argv.slice(2)).then((c) => { process.exitCode = c; });\n",
    );
    return [process.execPath, "--import", "tsx", entry];
  }
  const out = join(cacheDir, "dist");
  const stamp = join(cacheDir, "build.stamp");
  const fresh = existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(join(repoRoot, "src"));
  if (!fresh) {
    log(`compiling src/ into ${out} (tsc -p tsconfig.build.json) ...`);
    mkdirSync(cacheDir, { recursive: true });
    const r = sh(
      [
        process.execPath,
        join(repoRoot, "node_modules", "typescript", "bin", "tsc"),
        "-p",
        join(repoRoot, "tsconfig.build.json"),
        "--outDir",
        out,
      ],
      undefined,
      300_000,
    );
    if (!existsSync(join(out, "cli", "main.js")))
      throw new Error(`tsc produced no CLI:\n${r.stdout}\n${r.stderr}`);
    if (r.code !== 0) {
      const n = r.stdout.split("\n").filter((l) => l.includes("error TS")).length;
      log(`  tsc reported ${n} type error(s) elsewhere in the tree (emitted anyway)`);
    }
    writeFileSync(stamp, new Date().toISOString());
  }
  // builtin.ts finds the rule pack at <module>/../../rules
  const rules = join(cacheDir, "rules");
  if (!existsSync(rules)) symlinkSync(join(repoRoot, "rules"), rules);
  const entry = join(cacheDir, "portcullis.mjs");
  writeFileSync(
    entry,
    'import { main } from "./dist/cli/main.js";\n' +
      "main(process.argv.slice(2)).then((c) => { process.exitCode = c; });\n",
  );
  return [process.execPath, ...installedNodeFlags(), entry];
}

/**
 * A preload module for the breakdown pass (`--import` before the CLI): it wraps `fs.watch` listeners and
 * `child_process.spawn` (through syncBuiltinESMExports, so the daemon's own named imports see the wrappers)
 * and appends one JSON line per event to $PCL_BENCH_TRACE, with CLOCK_MONOTONIC ms: when inotify woke the file
 * source, when a FileHandle read completed (the file source's reads), when each better-sqlite3 statement ran
 * (start and duration), when the responder called spawn for `nft` and when that call returned (libuv forks
 * and waits for the exec), and when nft exited. Nothing in src/ changes; the
 * overhead is one small synchronous write per event.
 */
const TRACE_PRELOAD = `
import cp from "node:child_process";
import fs from "node:fs";
import fsp from "node:fs/promises";
import { createRequire, syncBuiltinESMExports } from "node:module";
const fd = fs.openSync(process.env.PCL_BENCH_TRACE, "a");
const mono = () => Number(process.hrtime.bigint() / 1000n) / 1000;
const rec = (o) => fs.writeSync(fd, JSON.stringify({ at: mono(), ...o }) + "\\n");
const watch = fs.watch;
fs.watch = function (path, ...rest) {
  const i = rest.findIndex((x) => typeof x === "function");
  if (i >= 0) {
    const f = rest[i];
    rest[i] = function (type, name) {
      rec({ ev: "watch", name: String(name) });
      return f.apply(this, arguments);
    };
  }
  return watch.call(this, path, ...rest);
};
const spawn = cp.spawn;
cp.spawn = function (cmd, args, opts) {
  rec({ ev: "spawncall", cmd: String(cmd) });
  const child = spawn.call(this, cmd, args, opts);
  const id = child.pid;
  rec({ ev: "spawn", cmd: String(cmd), pid: id });
  child.once("close", () => rec({ ev: "exit", cmd: String(cmd), pid: id }));
  return child;
};
syncBuiltinESMExports();
{
  const fh = await fsp.open(process.execPath);
  const P = Object.getPrototypeOf(fh);
  await fh.close();
  const read = P.read;
  P.read = async function (...a) {
    const r = await read.apply(this, a);
    rec({ ev: "read", bytes: r.bytesRead });
    return r;
  };
}
try {
  // the daemon's better-sqlite3 (same CommonJS module instance: resolved from the repository)
  const Database = createRequire(process.cwd() + "/")("better-sqlite3");
  const db = new Database(":memory:");
  const S = Object.getPrototypeOf(db.prepare("select 1"));
  db.close();
  for (const m of ["run", "get", "all"]) {
    const orig = S[m];
    S[m] = function (...a) {
      const t = mono();
      try {
        return orig.apply(this, a);
      } finally {
        fs.writeSync(fd, JSON.stringify({ at: t, ev: "sql", dur: mono() - t, sql: String(this.source).slice(0, 40) }) + "\\n");
      }
    };
  }
} catch (e) {
  rec({ ev: "note", msg: "better-sqlite3 not traced: " + e.message });
}
`;

/** The CLI argv with the tracing preload inserted after the node executable. */
export function withTrace(cli: readonly string[]): string[] {
  const file = join(cacheDir, "trace-preload.mjs");
  mkdirSync(cacheDir, { recursive: true });
  writeFileSync(file, TRACE_PRELOAD);
  return [cli[0]!, "--import", pathToFileURL(file).href, ...cli.slice(1)];
}

export interface DaemonOptions {
  ns: string;
  dir: string;
  logFile: string;
  cli: string[];
  /** Extra top-level config (merged). */
  config?: Record<string, unknown>;
  policy?: Record<string, unknown>;
  source?: Record<string, unknown>;
  logLevel?: string;
  /** Trace file for the preload of {@link withTrace}. */
  trace?: string;
}

export interface RunningDaemon {
  child: Child;
  pid: number;
  dataDir: string;
  configFile: string;
  stderrFile: string;
  stop(): Promise<void>;
}

/** Writes the config, starts the daemon in the namespace and waits until its nftables table is there. */
export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const dataDir = join(o.dir, "data");
  mkdirSync(dataDir, { recursive: true });
  const configFile = join(o.dir, "portcullis.yaml");
  const config = {
    data_dir: dataDir,
    log_level: o.logLevel ?? "info",
    timezone: "local",
    sources: [{ type: "file", paths: [o.logFile], start: "beginning", ...o.source }],
    responders: [{ type: "nftables", hooks: ["input"], verdict: "reject" }],
    policy: {
      // the host's logged-in sessions must not allowlist anything here
      allow_admin_sessions: false,
      // hundreds of bans a minute are the point of the benchmark
      circuit_breaker: { max_bans_per_minute: 0 },
      ...o.policy,
    },
    ...o.config,
  };
  writeFileSync(configFile, stringify(config));
  const stderrFile = join(o.dir, "daemon.log");
  const fd = openSync(stderrFile, "a");
  const child = start(
    "portcullis daemon",
    ["ip", "netns", "exec", o.ns, ...o.cli, "run", "--config", configFile],
    {
      stdio: ["ignore", fd, fd],
      cwd: repoRoot,
      ...(o.trace ? { env: { ...process.env, PCL_BENCH_TRACE: o.trace } } : {}),
    },
  );
  closeSync(fd);
  let exitedEarly = false;
  void child.exited.then(() => (exitedEarly = true));
  await until(
    "the daemon to start (its nftables table and the 'portcullis started' log line)",
    () => {
      if (exitedEarly)
        throw new Error(`the daemon exited:\n${readFileSync(stderrFile, "utf8").slice(-3000)}`);
      const log = readFileSync(stderrFile, "utf8");
      return (
        log.includes("portcullis started") &&
        inNs(o.ns, ["nft", "list", "set", "inet", "portcullis", "ban4"]).code === 0
      );
    },
    60_000,
    50,
  );
  return {
    child,
    pid: child.pid,
    dataDir,
    configFile,
    stderrFile,
    stop: () => child.stop(15_000),
  };
}
