/**
 * The `journald` source: runs `journalctl --follow --output=json` (argument array, see args.ts) and hands
 * every JSON entry over as one line (the framer understands `journalctl -o json`). Each batch's position is
 * the `__CURSOR` of its last entry (committed with the batch's decisions); after a restart journalctl resumes
 * at it (`--cursor`, that entry itself skipped). `start: end` saves the journal's last cursor at once (or
 * `head` for an empty journal), so that entries written while the daemon is down are not lost. If journalctl
 * exits, it is started again after a backoff (doubling up to a limit, reset once entries flow), from the
 * cursor of the last entry handed over, so nothing is read twice within one run.
 *
 * Back-pressure: stdout is read only while the sink keeps up; when it does not, the pipe fills and journalctl
 * blocks in write(2). The journal itself is the buffer: nothing is dropped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import type { Logger } from "../../core/logger.ts";
import type { Health } from "../../core/plugin.ts";
import { LineSplitter } from "../splitter.ts";
import type { InstrumentedSource, LineSink, SourceBatch, SourceContext, SourceStats } from "../types.ts";
import { sleep } from "../waker.ts";
import { journalctlArgs, journalctlTailArgs } from "./args.ts";
import type { JournaldConfig } from "./config.ts";

/** Saved instead of a cursor when `start: end` found the journal empty (journal cursors look like `s=...;i=...`). */
const HEAD = "head";

const CURSOR_KEY = '"__CURSOR":"';
const STDERR_KEEP = 4096;

/** The `__CURSOR` of one `journalctl -o json` line, without parsing the whole document. */
export function cursorOf(line: string): string | undefined {
  const at = line.indexOf(CURSOR_KEY);
  if (at < 0) return undefined;
  const from = at + CURSOR_KEY.length;
  const end = line.indexOf('"', from);
  if (end < 0) return undefined;
  const cursor = line.slice(from, end);
  return cursor.includes("\\") ? undefined : cursor;
}

class SinkError extends Error {}

export interface JournaldStats extends SourceStats {
  /** journalctl processes started (restarts also count in `rotations`). */
  starts: number;
  /** Saved cursors journalctl rejected (reading then began at the configured start). */
  cursor_resets: number;
}

export class JournaldSource implements InstrumentedSource {
  readonly type = "journald";
  readonly name: string;
  readonly #cfg: JournaldConfig;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  readonly #key: string;
  /** Cursor of the last entry handed to the sink (restarts of journalctl resume after it). */
  #cursor: string | undefined;
  /** No cursor yet, and the journal was empty when first looked at: read it from its head. */
  #fromHead = false;
  #child: ChildProcess | undefined;
  #lastExit: string | undefined;
  #running = false;
  readonly #stats: JournaldStats = {
    lines: 0,
    bytes: 0,
    drops: 0,
    rotations: 0,
    errors: 0,
    starts: 0,
    cursor_resets: 0,
  };

  constructor(cfg: JournaldConfig, ctx: SourceContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.name = cfg.name ?? "journald";
    this.#log = ctx.logger.child({ source: this.name, type: this.type });
    this.#key = `journald:${this.name}`;
  }

  stats(): JournaldStats {
    return { ...this.#stats };
  }

  /** The command line journalctl is (or would now be) started with. */
  argv(): string[] {
    return [this.#cfg.journalctl, ...journalctlArgs(this.#cfg, this.#cursor, this.#fromHead)];
  }

  async healthcheck(): Promise<Health> {
    const r = await this.#ctx.exec.run([this.#cfg.journalctl, "--version"], undefined, { timeoutMs: 10_000 });
    if (r.code !== 0) {
      return { ok: false, detail: `${this.#cfg.journalctl} --version failed: ${r.stderr.trim() || r.code}` };
    }
    const version = r.stdout.split("\n")[0] ?? "";
    if (!this.#running) return { ok: true, detail: `${version}; not started` };
    if (this.#child && this.#child.exitCode === null) return { ok: true, detail: `${version}; following` };
    return {
      ok: false,
      detail: `journalctl is not running (last exit: ${this.#lastExit ?? "none"}); restarting`,
    };
  }

  async run(sink: LineSink, signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error(`source ${this.name} is already running`);
    this.#running = true;
    try {
      this.#cursor = await this.#ctx.checkpoints.get(this.#key);
      if (this.#cursor === HEAD) {
        this.#cursor = undefined;
        this.#fromHead = true;
      }
      let backoff = this.#cfg.restart_backoff;
      while (!signal.aborted) {
        if (
          this.#cursor === undefined &&
          !this.#fromHead &&
          this.#cfg.start === "end" &&
          this.#cfg.since === undefined
        ) {
          await this.#startAtTail(sink);
          if (signal.aborted) break;
        }
        const { lines, exit, stderr } = await this.#once(sink, signal);
        if (signal.aborted) break;
        this.#stats.errors++;
        this.#lastExit = `${exit}${stderr ? `: ${stderr.trim().split("\n").at(-1)}` : ""}`;
        if (this.#cursor !== undefined && /cursor/i.test(stderr) && lines === 0) {
          this.#stats.cursor_resets++;
          this.#log.error(
            { cursor: this.#cursor, stderr: stderr.trim(), start: this.#cfg.since ?? this.#cfg.start },
            "journalctl rejected the saved cursor; starting from the configured start position instead",
          );
          this.#cursor = undefined;
        } else {
          this.#log.warn({ exit, stderr: stderr.trim(), retryMs: backoff }, "journalctl exited; restarting");
        }
        if (lines > 0) backoff = this.#cfg.restart_backoff;
        if (!(await sleep(backoff, signal))) break;
        backoff = Math.min(backoff * 2, this.#cfg.restart_backoff_max);
        this.#stats.rotations++;
      }
    } catch (e) {
      throw e instanceof SinkError ? (e.cause as Error) : e;
    } finally {
      this.#running = false;
    }
  }

  /**
   * `start: end` without a saved cursor: saves the cursor of the journal's last entry (whatever its unit or
   * identifier) and follows from it. With `--lines=0` alone nothing was saved until a matching entry arrived,
   * and a restart before that started at the end again, losing every entry written while the daemon was down.
   * An empty journal, or a failing journalctl, leaves `--lines=0`, as before.
   */
  async #startAtTail(sink: LineSink): Promise<void> {
    const argv = [this.#cfg.journalctl, ...journalctlTailArgs(this.#cfg)];
    const r = await this.#ctx.exec.run(argv, undefined, { timeoutMs: 30_000 });
    if (r.code !== 0) {
      this.#stats.errors++;
      this.#log.warn(
        { argv, code: r.code, stderr: r.stderr.trim() },
        "cannot read the journal's last cursor; starting at its end without saving a position",
      );
      return;
    }
    const cursor = cursorOf(r.stdout.trimEnd().split("\n").at(-1) ?? "");
    if (cursor === undefined) {
      // An empty journal: everything that will be in it is new. Follow it from its head, and save that, so
      // that a restart before the first entry still reads the entries written meanwhile.
      this.#log.info({}, "the journal is empty; following it from its start");
      this.#fromHead = true;
      await this.#push(sink, [], HEAD);
      return;
    }
    this.#log.info({ cursor }, "starting at the end of the journal");
    await this.#push(sink, [], cursor);
  }

  /** Runs journalctl once, until it exits or `signal` aborts. */
  async #once(sink: LineSink, signal: AbortSignal): Promise<{ lines: number; exit: string; stderr: string }> {
    const [cmd, ...args] = this.argv();
    this.#stats.starts++;
    this.#log.info({ argv: [cmd, ...args] }, "starting journalctl");
    const child = spawn(cmd!, args, {
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        LANG: "C.UTF-8",
        SYSTEMD_COLORS: "0",
      },
    });
    this.#child = child;
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (s: string) => {
      stderr = (stderr + s).slice(-STDERR_KEEP);
    });
    const exited = new Promise<string>((resolve) => {
      child.on("error", (e) => resolve(`spawn error: ${e.message}`));
      child.on("close", (code, sig) => resolve(sig ? `killed by ${sig}` : `exit code ${code}`));
    });
    const kill = () => child.kill("SIGTERM");
    signal.addEventListener("abort", kill, { once: true });
    let count = 0;
    // Started with --cursor (see args.ts): the entry at the cursor comes first if it matches; it was read.
    let skip = this.#cursor;
    try {
      const splitter = new LineSplitter({ maxBytes: this.#cfg.max_line_bytes });
      for await (const chunk of child.stdout) {
        if (signal.aborted) break;
        const buf = chunk as Buffer;
        this.#stats.bytes += buf.length;
        const out: string[] = [];
        let cursor: string | undefined;
        for (const l of splitter.push(buf)) {
          if (l.truncated) {
            this.#stats.drops++;
            this.#log.warn(
              { bytes: this.#cfg.max_line_bytes },
              "journal entry longer than max_line_bytes dropped",
            );
            continue;
          }
          if (!l.text) continue;
          if (skip !== undefined) {
            const first = cursorOf(l.text);
            const same = first === skip;
            skip = undefined;
            if (same) continue;
          }
          out.push(l.text);
          cursor = cursorOf(l.text) ?? cursor;
          if (out.length >= this.#cfg.batch_lines) {
            count += await this.#push(sink, out.splice(0), cursor);
            cursor = undefined;
          }
        }
        if (out.length) count += await this.#push(sink, out, cursor);
      }
    } finally {
      signal.removeEventListener("abort", kill);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    const exit = await exited;
    return { lines: count, exit, stderr };
  }

  async #push(sink: LineSink, lines: string[], cursor: string | undefined): Promise<number> {
    const batch: SourceBatch = { lines, stream: `journald:${this.name}` };
    if (cursor !== undefined) {
      if (cursor !== HEAD) this.#cursor = cursor;
      batch.position = { key: this.#key, value: cursor };
    }
    this.#stats.lines += lines.length;
    try {
      await sink.push(batch);
    } catch (e) {
      throw new SinkError("sink failed", { cause: e });
    }
    return lines.length;
  }
}
