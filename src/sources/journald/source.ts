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
 *
 * Rotation of listed `files`: systemd-journal-remote (like journald) rotates `x.journal` by renaming it to
 * `x@<seqnum_id>-<head_seqnum>-<head_realtime>.journal` and starting a new `x.journal`. `journalctl --file`
 * keeps the files it opened and never looks at the path again, so it would follow the renamed file forever
 * while the entries went into the new one. Therefore:
 * - each listed file is passed together with its archived siblings (`x@*.journal`, `x@*.journal~`), listed here
 *   (journalctl's own `--file` glob fails with "Failed to open files" when it matches nothing): a cursor saved
 *   in a file since archived is still found by `--cursor`, and the entries that file got after the cursor are
 *   read before those of the new file (journalctl merges the files in entry order);
 * - while journalctl runs, each listed path's identity (device and inode, or none) is compared every
 *   `file_check_interval` with the one it had just before journalctl was started; when one changed (rotated,
 *   replaced, removed, or appeared where none was) journalctl is stopped and started again at once from the
 *   last cursor: counted (`file_rotations`, and `rotations` as every restart), logged at info, not an error and
 *   without backoff. What the old journalctl already wrote to the pipe is still handed over first; everything
 *   after it, in the archive or in the new file (also entries written before the restart), is read by the new
 *   one, and the skip of the cursor's own entry keeps anything from being read twice;
 * - a listed file that does not exist is left out (journalctl refuses to start when one is missing); when none
 *   and no sibling exists, journalctl is not started (it would read the system journal) until one appears.
 * The identity is taken before the siblings are listed and before journalctl starts, so a rotation while it
 * starts is at worst seen by the next check (one more restart). Known limit: a rotation exactly between the
 * listing and journalctl opening the new file (the few milliseconds journalctl takes to start) leaves the
 * just-archived file out of that run; entries it got after the cursor that had not been read yet can then be
 * skipped, because the next restart resumes after the newer entries read from the new file meanwhile.
 * With `directory`, journalctl itself watches the directory and picks up new files: no check is needed.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "../../core/logger.ts";
import type { Health } from "../../core/plugin.ts";
import { LineSplitter } from "../splitter.ts";
import type { InstrumentedSource, LineSink, SourceBatch, SourceContext, SourceStats } from "../types.ts";
import { sleep, Waker } from "../waker.ts";
import { isArchivedSibling, journalctlArgs, journalctlTailArgs } from "./args.ts";
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

/** A listed file's identity when nothing is at its path. */
const MISSING = "missing";

/**
 * The identity of what is at `path` now: `dev:ino`, {@link MISSING}, or undefined when it cannot be told (stat
 * failed otherwise, e.g. EACCES): never taken for a change.
 */
async function identityOf(path: string): Promise<string | undefined> {
  try {
    const s = await stat(path, { bigint: true });
    return `${s.dev}:${s.ino}`;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === "ENOENT" || code === "ENOTDIR" ? MISSING : undefined;
  }
}

/** What one journalctl run reads, with `files`. */
interface FileSelection {
  /**
   * The `--file`s: each listed file that exists (or cannot be stat'ed: journalctl then says why), and its
   * archived siblings.
   */
  files: string[];
  /** Each listed file's identity, taken before the siblings were listed and journalctl was started. */
  ids: Map<string, string | undefined>;
}

async function selectFiles(listed: readonly string[]): Promise<FileSelection> {
  const ids = new Map<string, string | undefined>();
  for (const f of listed) ids.set(f, await identityOf(f));
  const files = new Set<string>();
  for (const f of listed) {
    if (ids.get(f) !== MISSING) files.add(f);
    let names: string[] = [];
    try {
      names = await readdir(dirname(f));
    } catch {
      // No readable directory: no siblings (journalctl reports an unreadable listed file itself).
    }
    for (const n of names.filter((n) => isArchivedSibling(f, n)).sort()) files.add(join(dirname(f), n));
  }
  return { files: [...files], ids };
}

export interface JournaldStats extends SourceStats {
  /** journalctl processes started (restarts also count in `rotations`). */
  starts: number;
  /** Saved cursors journalctl rejected (reading then began at the configured start). */
  cursor_resets: number;
  /**
   * Restarts because a listed file was replaced (rotated), removed or appeared (also counted in `rotations`;
   * not errors).
   */
  file_rotations: number;
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
  /** Wakes the check of the listed files' identities (its timer: `file_check_interval`). */
  readonly #checker = new Waker();
  /** With `files`: what the current (or last) journalctl was started with. */
  #selection: FileSelection | undefined;
  /** A listed file changed since journalctl was started (first seen at `at`); a restart is due. */
  #replaced: { path: string; at: number } | undefined;
  /** With `files`: none of them (nor an archived sibling) exists; journalctl is not started. */
  #waiting = false;
  readonly #stats: JournaldStats = {
    lines: 0,
    bytes: 0,
    drops: 0,
    rotations: 0,
    errors: 0,
    starts: 0,
    cursor_resets: 0,
    file_rotations: 0,
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
    return [
      this.#cfg.journalctl,
      ...journalctlArgs(this.#cfg, this.#cursor, this.#fromHead, this.#selection?.files),
    ];
  }

  async healthcheck(): Promise<Health> {
    const r = await this.#ctx.exec.run([this.#cfg.journalctl, "--version"], undefined, { timeoutMs: 10_000 });
    if (r.code !== 0) {
      return { ok: false, detail: `${this.#cfg.journalctl} --version failed: ${r.stderr.trim() || r.code}` };
    }
    const version = r.stdout.split("\n")[0] ?? "";
    if (!this.#running) return { ok: true, detail: `${version}; not started` };
    if (this.#waiting) {
      return {
        ok: false,
        detail: `${version}; waiting for ${this.#cfg.files.join(", ")} to appear (none exists)`,
      };
    }
    const child = this.#child;
    const alive = child !== undefined && child.exitCode === null && child.signalCode === null;
    // Not "following" a listed file that was replaced: look now rather than trust the last periodic check.
    if (alive && this.#selection && !this.#replaced) {
      const path = await this.#replacedFile(this.#selection);
      if (path !== undefined) this.#noteReplaced(path);
    }
    if (this.#replaced) {
      this.#checker.wake(); // restart at once rather than at the next periodic check
      const age = this.#ctx.clock.now() - this.#replaced.at;
      return {
        // A restart takes milliseconds; still pending after a whole check interval, something holds it up
        // (the sink has not taken the old file's last entries, or journalctl does not stop).
        ok: age <= this.#cfg.file_check_interval,
        detail:
          `${version}; ${this.#replaced.path} was replaced (rotated), removed or appeared since journalctl ` +
          `started; restarting journalctl to read the new file (pending for ${Math.max(0, age)}ms)`,
      };
    }
    if (alive) return { ok: true, detail: `${version}; following` };
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
        const select = () => (this.#cfg.files.length ? selectFiles(this.#cfg.files) : undefined);
        let selection = await select();
        if (
          this.#cursor === undefined &&
          !this.#fromHead &&
          this.#cfg.start === "end" &&
          this.#cfg.since === undefined
        ) {
          await this.#startAtTail(sink, selection);
          if (signal.aborted) break;
          selection = await select(); // again right before journalctl starts (see the comment at the top)
        }
        if (selection && selection.files.length === 0) {
          // Without any --file journalctl would read the system journal.
          if (!this.#waiting) {
            this.#log.warn({ files: this.#cfg.files }, "none of the journal files exists; waiting for one");
          }
          this.#waiting = true;
          if ((await this.#checker.wait(this.#cfg.file_check_interval, signal)) === "abort") break;
          continue;
        }
        this.#waiting = false;
        const { lines, exit, stderr, replaced } = await this.#once(sink, signal, selection);
        if (signal.aborted) break;
        if (replaced) {
          // Rotation is normal operation: no error, no backoff; the next run resumes after the last cursor.
          this.#stats.rotations++;
          this.#stats.file_rotations++;
          if (lines > 0) backoff = this.#cfg.restart_backoff;
          continue;
        }
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
   * Listed `files` none of which exists yet are an empty journal: what will be written into them is new.
   */
  async #startAtTail(sink: LineSink, selection: FileSelection | undefined): Promise<void> {
    if (selection && selection.files.length === 0) {
      // None of the listed files exists yet: everything that will be in them is new.
      this.#log.info(
        { files: this.#cfg.files },
        "the journal files do not exist yet; reading them from their start",
      );
      this.#fromHead = true;
      await this.#push(sink, [], HEAD);
      return;
    }
    const argv = [this.#cfg.journalctl, ...journalctlTailArgs(this.#cfg, selection?.files)];
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

  /** The first listed file whose identity is no longer the one in `selection`. */
  async #replacedFile(selection: FileSelection): Promise<string | undefined> {
    for (const [path, was] of selection.ids) {
      const now = await identityOf(path);
      if (now !== undefined && now !== was) return path;
    }
    return undefined;
  }

  #noteReplaced(path: string): void {
    this.#replaced ??= { path, at: this.#ctx.clock.now() };
  }

  /**
   * While `child` reads `selection`: checks the listed files every `file_check_interval` (or when woken), and
   * stops `child` when one changed. True when it did.
   */
  async #watch(selection: FileSelection, child: ChildProcess, done: AbortSignal): Promise<boolean> {
    while ((await this.#checker.wait(this.#cfg.file_check_interval, done)) !== "abort") {
      const path = await this.#replacedFile(selection);
      if (done.aborted) break;
      if (path === undefined) {
        this.#replaced = undefined; // seen by a health probe, but back as it was (renamed back)
        continue;
      }
      this.#noteReplaced(path);
      this.#log.info(
        { file: path, cursor: this.#cursor },
        "a journal file was replaced (rotated), removed or appeared; restarting journalctl to follow it",
      );
      child.kill("SIGTERM");
      return true;
    }
    return false;
  }

  /** Runs journalctl once, until it exits, `signal` aborts, or a listed file changes (`replaced`). */
  async #once(
    sink: LineSink,
    signal: AbortSignal,
    selection: FileSelection | undefined,
  ): Promise<{ lines: number; exit: string; stderr: string; replaced: boolean }> {
    this.#selection = selection;
    this.#replaced = undefined;
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
    // A stop that came while the files were selected (run() awaits between its check and this call) has
    // already fired: without this, journalctl --follow with nothing to print would keep run() forever.
    if (signal.aborted) kill();
    const done = new AbortController();
    const watching = selection
      ? this.#watch(selection, child, done.signal).catch((e: unknown) => {
          this.#log.error({ err: (e as Error).message }, "checking the journal files failed");
          return false;
        })
      : Promise.resolve(false);
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
      done.abort();
      signal.removeEventListener("abort", kill);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    }
    const exit = await exited;
    const replaced = await watching;
    return { lines: count, exit, stderr, replaced };
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
