/**
 * The `file` source: follows log files as `tail -F` does, and never loses or repeats a line across rotations
 * and restarts. See README.md for the decisions (start position, partial lines, caps, rotation handling).
 *
 * One loop serves every followed path: it wakes on inotify events (fs.watch on the directories) or on the poll
 * timer, and for each path (1) notices rotation (another file at the path, or none) and truncation (size below
 * the read position, or a changed first line), (2) reads rotated-away files to their end, (3) reads the live
 * file. Each batch carries the position of every file of its path, committed by the pipeline together with the
 * decisions its lines produced (one transaction).
 */
import { watch, type FSWatcher } from "node:fs";
import { access, open, stat } from "node:fs/promises";
import { constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import { z } from "zod";
import type { Logger } from "../../core/logger.ts";
import { isRecordMark, recordHoldFrom, recordSafeCut } from "../../parsers/nginx/records.ts";
import type { Health } from "../../core/plugin.ts";
import type { SplitLine } from "../splitter.ts";
import type {
  InstrumentedSource,
  LineSink,
  SourceBatch,
  SourceContext,
  SourcePosition,
  SourceStats,
} from "../types.ts";
import { Waker } from "../waker.ts";
import type { FileConfig } from "./config.ts";
import { compileSegment, expandGlob, hasMagic, matchesGlob, ROTATED_NAME } from "./glob.ts";
import {
  findRotated,
  isRotatedName,
  namesRotatedFrom,
  readHead,
  readHeadOf,
  sameId,
  statFile,
  statHandle,
  type FileId,
  type FilePos,
  type FileState,
} from "./identity.ts";
import { TrackedFile } from "./tracked.ts";

const READ_CHUNK = 256 * 1024;
/** Most bytes read from one file per pass, so one big backlog does not starve the other files. */
const READ_BUDGET = 4 * 1024 * 1024;
/** Retired files remembered so that a glob does not adopt them again (oldest forgotten first). */
const MAX_RETIRED = 1024;

/** The retired set as saved: `[dev:ino, fingerprint]` pairs, oldest first (JSON writes an unknown one as null). */
const retiredSchema = z.object({
  v: z.literal(1),
  files: z.array(z.tuple([z.string(), z.string().nullable()])),
});

/** A file's entry in the retired set. */
const retiredKey = (id: FileId) => `${id.dev}:${id.ino}`;

const savedSchema = z.object({
  v: z.literal(1),
  files: z.array(
    z.object({
      path: z.string(),
      dev: z.string(),
      ino: z.string(),
      offset: z.number().int().nonnegative(),
      size: z.number().nonnegative(),
      fingerprint: z.string().optional(),
      line: z.number().int().positive().optional(),
      mid: z.boolean().optional(),
    }),
  ),
});

interface Tail {
  /** The live path (configured, or matched by a glob). */
  path: string;
  key: string;
  fromGlob: boolean;
  /** Start position for a file without a saved position (`end` only for files present at startup). */
  start: "end" | "beginning";
  restored: boolean;
  /** The file now at the path. */
  current: TrackedFile | undefined;
  /** Files rotated away (renamed, deleted, copies), read to their end, oldest first. */
  draining: TrackedFile[];
  /** Copies found after a copytruncate: closed as soon as they are read to their end. */
  finished: Set<TrackedFile>;
  /** A gzip file at the path, skipped. */
  skipped: FileId | undefined;
  error: string | undefined;
}

export interface FileStats extends SourceStats {
  /** Copytruncate rotations (also counted in `rotations`). */
  truncations: number;
  /** Lines longer than max_line_bytes, cut to it. */
  truncated_lines: number;
  /** Bytes discarded from those lines. */
  discarded_bytes: number;
  /** Unfinished last lines of rotated-away files, emitted as lines. */
  partial_lines: number;
  /** Open files (a gauge): live files plus rotated ones still being read. */
  files_open: number;
  /** gzip files at a followed path, not read. */
  skipped_files: number;
  /** Saved positions whose file was not found after a restart (their unread lines are skipped). */
  missed_files: number;
}

/**
 * Files a syslog daemon writes: when none of the configured paths exists and one of them is such a file, the
 * likely cause is a host that logs to the journal only (Debian 12 installs no rsyslog).
 */
const SYSLOG_FILES = new Set([
  "auth.log",
  "secure",
  "syslog",
  "messages",
  "daemon.log",
  "kern.log",
  "user.log",
]);
const JOURNAL_HINT = "on Debian 12 without rsyslog use the journald source";
/** Paths waiting for a file named in the health detail (the count is always there). */
const NAMED_WAITING = 5;

/** Whether a path has a file to read: the live one, or a rotated-away one still being read. */
const hasFile = (t: Tail) => t.current !== undefined || t.draining.length > 0;

/** Errors of the sink are not file errors: they end `run`. */
class SinkError extends Error {}

interface Pattern {
  pattern: string;
  /** Directory to watch for this pattern. */
  dir: string;
  /** Matches entry names in `dir` that concern the pattern (undefined: every entry). */
  name: RegExp | undefined;
}

export class FileSource implements InstrumentedSource {
  readonly type = "file";
  readonly name: string;
  readonly #cfg: FileConfig;
  readonly #ctx: SourceContext;
  readonly #log: Logger;
  readonly #tails = new Map<string, Tail>();
  readonly #waker = new Waker();
  readonly #watchers = new Map<string, FSWatcher>();
  readonly #patterns: Pattern[];
  readonly #buf = Buffer.allocUnsafe(READ_CHUNK);
  /**
   * Files rotated away and read to their end, by `dev:ino`, with their fingerprint: a glob that matches the
   * name they were rotated to (`*.log` and logrotate's `dateext` with `extension .log`: app-20251123.log)
   * must not adopt them as new files and read them a second time. The fingerprint tells a reused inode apart.
   */
  readonly #retired = new Map<string, string | undefined>();
  #rescan = false;
  #running = false;
  #sink: LineSink | undefined;
  #signal: AbortSignal | undefined;
  readonly #stats: FileStats = {
    lines: 0,
    bytes: 0,
    drops: 0,
    rotations: 0,
    errors: 0,
    truncations: 0,
    truncated_lines: 0,
    discarded_bytes: 0,
    partial_lines: 0,
    files_open: 0,
    skipped_files: 0,
    missed_files: 0,
  };

  constructor(cfg: FileConfig, ctx: SourceContext) {
    this.#cfg = cfg;
    this.#ctx = ctx;
    this.name = cfg.name ?? "file";
    this.#log = ctx.logger.child({ source: this.name, type: this.type });
    this.#patterns = cfg.paths.map((p) => patternOf(p));
  }

  stats(): FileStats {
    return { ...this.#stats };
  }

  /**
   * Not ok when a path cannot be read (an error), and when no configured path or glob has a file at all: the
   * source then reads nothing and protects nothing (/var/log/auth.log on a host that logs to the journal only).
   * Some paths waiting for their file while others are read is normal (a log that appears later): ok.
   */
  async healthcheck(): Promise<Health> {
    if (!this.#running) {
      const problems: string[] = [];
      for (const p of this.#cfg.paths) {
        const target = hasMagic(p) ? patternOf(p).dir : p;
        try {
          await access(target, constants.R_OK);
        } catch (e) {
          const code = (e as NodeJS.ErrnoException).code;
          if (code === "ENOENT" && !hasMagic(p)) continue; // followed once it appears
          problems.push(`${target}: ${code ?? (e as Error).message}`);
        }
      }
      if (problems.length) return { ok: false, detail: `not readable: ${problems.join("; ")}` };
      const missing = await this.#missing();
      return missing.length === this.#cfg.paths.length
        ? { ok: false, detail: this.#noFileDetail(missing) }
        : { ok: true, detail: `ready to follow ${this.#cfg.paths.join(", ")}` };
    }
    const tails = [...this.#tails.values()];
    const broken = tails.filter((t) => t.error !== undefined);
    const errors = broken.length ? `errors: ${broken.map((t) => `${t.path}: ${t.error}`).join("; ")}` : "";
    if (!tails.some(hasFile)) {
      const detail = this.#noFileDetail(await this.#missing());
      return { ok: false, detail: errors ? `${detail}; ${errors}` : detail };
    }
    const following = tails.filter((t) => t.current).length;
    const waiting = tails.filter((t) => !t.current).map((t) => t.path);
    const named = waiting.length
      ? ` (${waiting.slice(0, NAMED_WAITING).join(", ")}${waiting.length > NAMED_WAITING ? ", ..." : ""})`
      : "";
    const detail =
      `${following} file(s) followed, ${waiting.length} path(s) waiting for a file${named}` +
      (errors ? `; ${errors}` : "");
    return { ok: broken.length === 0, detail };
  }

  /**
   * The configured paths and globs without a file to read now, each described (`X does not exist`, `no file
   * matches Y`). While running, what the source follows counts; before, what is on disk.
   */
  async #missing(): Promise<string[]> {
    const out: string[] = [];
    const tails = [...this.#tails.values()].filter(hasFile);
    for (const p of this.#cfg.paths) {
      if (hasMagic(p)) {
        if (tails.some((t) => t.fromGlob && matchesGlob(p, t.path))) continue;
        if (!this.#running && (await expandGlob(p)).length) continue;
        out.push(`no file matches ${p}`);
        continue;
      }
      const tail = this.#tails.get(p);
      if (tail && hasFile(tail)) continue;
      let what: string;
      try {
        const st = await stat(p);
        if (!st.isFile()) what = `${p} is not a file`;
        else if (tail?.skipped) what = `${p} is gzip data (read by \`portcullis replay\` only)`;
        else if (this.#running) what = `${p} is not read yet`;
        else continue;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        what = code === "ENOENT" || code === "ENOTDIR" ? `${p} does not exist` : `${p}: ${code ?? String(e)}`;
      }
      out.push(what);
    }
    return out;
  }

  /** The health detail (and start warning) of a source with no file to read. */
  #noFileDetail(missing: readonly string[]): string {
    const syslog = this.#cfg.paths.some((p) => !hasMagic(p) && SYSLOG_FILES.has(basename(p)));
    return `no file to read: ${missing.join(", ") || "no file yet"}${syslog ? `; ${JOURNAL_HINT}` : ""}`;
  }

  /**
   * Says once, at start, which configured paths and globs have no file: a warning when none has one (the
   * source reads nothing until a file appears), else a note.
   */
  async #reportMissing(): Promise<void> {
    const missing = await this.#missing();
    if (!missing.length) return;
    if (![...this.#tails.values()].some(hasFile)) {
      this.#log.warn(
        { missing, paths: this.#cfg.paths },
        `${this.#noFileDetail(missing)} (nothing is read until a file appears)`,
      );
    } else this.#log.info({ missing }, `waiting for a file: ${missing.join(", ")}`);
  }

  async run(sink: LineSink, signal: AbortSignal): Promise<void> {
    if (this.#running) throw new Error(`source ${this.name} is already running`);
    this.#running = true;
    this.#sink = sink;
    this.#signal = signal;
    try {
      await this.#loadRetired();
      await this.#discover(true);
      await this.#reportMissing();
      while (!signal.aborted) {
        let more = false;
        for (const tail of [...this.#tails.values()]) {
          if (signal.aborted) break;
          try {
            if (await this.#service(tail)) more = true;
            tail.error = undefined;
          } catch (e) {
            if (e instanceof SinkError) throw e;
            this.#fail(tail, e);
          }
        }
        if (more) this.#waker.wake();
        const why = await this.#waker.wait(this.#cfg.poll_interval, signal);
        if (why === "abort") break;
        if (why === "timer" || this.#rescan) {
          this.#rescan = false;
          await this.#discover(false);
        }
      }
    } catch (e) {
      throw e instanceof SinkError ? (e.cause as Error) : e;
    } finally {
      for (const w of this.#watchers.values()) w.close();
      this.#watchers.clear();
      for (const tail of this.#tails.values()) {
        for (const f of [...tail.draining, ...(tail.current ? [tail.current] : [])]) await this.#close(f);
      }
      this.#tails.clear();
      this.#running = false;
    }
  }

  // ---- discovery and restore -------------------------------------------------------------------------------

  /**
   * Follows the configured paths and the files the globs match. At startup every saved position is restored
   * before a glob match is taken for a new file: a file rotated while we were down to a name the glob matches
   * (`a.log` renamed or copied to `a-20251123.log`, which sorts first) is then found as the continuation of
   * the path it was rotated from and finished from the saved offset, instead of being read from its start.
   */
  async #discover(initial: boolean): Promise<void> {
    const start = initial ? this.#cfg.start : "beginning";
    const explicit = new Set(this.#cfg.paths.filter((p) => !hasMagic(p)));
    for (const p of explicit) if (!this.#tails.has(p)) await this.#addTail(p, false, start);
    /** Glob matches, with the pattern of their last segment. */
    const matches = new Map<string, RegExp>();
    for (const p of this.#cfg.paths) {
      if (!hasMagic(p)) continue;
      const last = compileSegment(basename(p));
      for (const m of await expandGlob(p)) if (!explicit.has(m) && !matches.has(m)) matches.set(m, last);
    }
    if (initial) {
      // The paths with a saved position: a match, or the path a match was rotated from when the glob matches
      // that path too (there may be no file there any more).
      for (const [m, last] of matches) {
        const from = namesRotatedFrom(basename(m))
          .filter((n) => last.test(n) && !ROTATED_NAME.test(n))
          .map((n) => join(dirname(m), n));
        for (const path of [...from, m]) {
          if (this.#tails.has(path) || explicit.has(path)) continue;
          if ((await this.#ctx.checkpoints.get(this.#keyOf(path))) === undefined) continue;
          const st = await statFile(path).catch(() => undefined);
          if (st && this.#isTracked(st)) continue; // where another path's saved file went
          await this.#addTail(path, true, start);
        }
      }
    }
    for (const m of matches.keys()) {
      if (this.#tails.has(m)) continue;
      const st = await statFile(m).catch(() => undefined);
      if (st && this.#isTracked(st)) continue; // a rotated name of a file we follow
      if (st && (await this.#wasRetired(st, m))) continue; // a rotated file we have read to its end
      if (await this.#isRotatedCopy(m)) continue; // a copytruncate copy of a file we follow
      await this.#addTail(m, true, start);
    }
    if (this.#cfg.watch) this.#ensureWatchers();
  }

  /**
   * Whether a glob match is the copy of a followed file made by copytruncate (`auth.log` copied to
   * `auth-20251123.log`, which `*.log` matches): a rotated name of that file's name ({@link isRotatedName})
   * with the same first line. The file's tail reads the copy from its position once it notices the
   * truncation, then retires it; adopted, it would be read a second time from its start. Such a name whose
   * first line is not complete yet (being copied) is looked at again at the next scan.
   */
  async #isRotatedCopy(path: string): Promise<boolean> {
    const dir = dirname(path);
    const name = basename(path);
    const files: TrackedFile[] = [];
    for (const t of this.#tails.values()) {
      if (dirname(t.path) !== dir || !isRotatedName(basename(t.path), name)) continue;
      files.push(...t.draining);
      if (t.current) files.push(t.current);
    }
    if (!files.length) return false;
    const head = await readHeadOf(path);
    if (!head || head.gzip) return false;
    if (head.fingerprint === undefined) {
      this.#rescan = true;
      return true;
    }
    return files.some((f) => f.fingerprint === head.fingerprint);
  }

  #isTracked(id: FileId): boolean {
    for (const t of this.#tails.values()) {
      if (t.current && sameId(t.current.id, id)) return true;
      if (t.draining.some((f) => sameId(f.id, id))) return true;
    }
    return false;
  }

  async #wasRetired(id: FileId, path: string): Promise<boolean> {
    const key = retiredKey(id);
    if (!this.#retired.has(key)) return false;
    const head = await readHeadOf(path);
    return head !== undefined && head.fingerprint === this.#retired.get(key);
  }

  /** The retired set as saved (oldest first), so that it outlives a restart. */
  #retiredPosition(): SourcePosition {
    return { key: this.#retiredKey, value: JSON.stringify({ v: 1, files: [...this.#retired] }) };
  }

  get #retiredKey(): string {
    return `file:${this.name}:retired`;
  }

  /** Restores the retired set saved by an earlier run (an unusable value is ignored and counted). */
  async #loadRetired(): Promise<void> {
    const text = await this.#ctx.checkpoints.get(this.#retiredKey);
    if (text === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const r = retiredSchema.safeParse(parsed);
    if (!r.success) {
      this.#stats.errors++;
      this.#log.warn({ key: this.#retiredKey }, "unusable saved list of rotated files ignored");
      return;
    }
    for (const [key, fingerprint] of r.data.files.slice(-MAX_RETIRED)) {
      this.#retired.set(key, fingerprint ?? undefined);
    }
  }

  async #rememberRetired(f: TrackedFile): Promise<void> {
    const key = retiredKey(f.id);
    // The head as it is now (the first line may have been completed after the fingerprint was taken).
    const fingerprint = await f.refreshFingerprint().catch(() => f.fingerprint);
    this.#retired.delete(key);
    this.#retired.set(key, fingerprint);
    if (this.#retired.size > MAX_RETIRED) this.#retired.delete(this.#retired.keys().next().value as string);
  }

  /** The checkpoint key of a path. */
  #keyOf(path: string): string {
    return `file:${this.name}:${path}`;
  }

  async #addTail(path: string, fromGlob: boolean, start: "end" | "beginning"): Promise<void> {
    const tail: Tail = {
      path,
      key: this.#keyOf(path),
      fromGlob,
      start,
      restored: false,
      current: undefined,
      draining: [],
      finished: new Set(),
      skipped: undefined,
      error: undefined,
    };
    this.#tails.set(path, tail);
    try {
      await this.#restore(tail);
    } catch (e) {
      if (e instanceof SinkError) throw e;
      this.#fail(tail, e);
    }
  }

  async #loadSaved(tail: Tail): Promise<FilePos[] | undefined> {
    const text = await this.#ctx.checkpoints.get(tail.key);
    if (text === undefined) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const r = savedSchema.safeParse(parsed);
    if (!r.success) {
      this.#stats.errors++;
      this.#log.warn({ path: tail.path }, "unusable saved position ignored");
      return undefined;
    }
    return r.data.files;
  }

  /**
   * Finds where to continue after a restart. Each saved file is either the file now at the path (same inode
   * and first line: continue at the saved offset) or was rotated while we were down: its rest is read from
   * the sibling it became (`auth.log.1`), then the new file at the path from its beginning.
   */
  async #restore(tail: Tail): Promise<void> {
    for (const f of [...tail.draining, ...(tail.current ? [tail.current] : [])]) await this.#close(f);
    tail.draining = [];
    tail.current = undefined;
    tail.finished.clear();
    const saved = await this.#loadSaved(tail);
    const st = await statFile(tail.path);
    const head = st ? await readHeadOf(tail.path) : undefined;
    let resume: FilePos | undefined;
    for (const pos of saved ?? []) {
      if (st && sameId(st, pos) && (pos.fingerprint === undefined || head?.fingerprint === pos.fingerprint)) {
        resume = pos;
        continue;
      }
      await this.#continueRotated(tail, pos, st);
    }
    if (st && head?.gzip) this.#skip(tail, st);
    else if (st && resume && st.size >= resume.offset) {
      tail.current = await this.#openAt(tail.path, resume.offset, resume.line, resume.mid);
    } else if (st && resume) {
      // Truncated while we were down (copytruncate): finish the copy, then the file from its start.
      this.#stats.rotations++;
      this.#stats.truncations++;
      await this.#continueRotated(tail, resume, st);
      tail.current = await this.#openAt(tail.path, 0, 1);
    } else if (st && (saved || tail.start === "beginning")) {
      tail.current = await this.#openAt(tail.path, 0, 1); // appeared after the checkpoint, or backfill
    } else if (st) {
      tail.current = await this.#openAtEnd(tail.path);
    }
    tail.restored = true;
    await this.#commit(tail);
  }

  async #continueRotated(tail: Tail, pos: FilePos, live: FileState | undefined): Promise<void> {
    const found = await findRotated(tail.path, pos, live);
    if (!found) {
      this.#stats.missed_files++;
      this.#log.warn(
        { path: tail.path, offset: pos.offset, was: pos.path },
        "the file a saved position belongs to was not found (rotated more than once, compressed or deleted " +
          "while stopped); its unread lines are skipped: run `portcullis replay` on the rotated file",
      );
      return;
    }
    const f = await this.#openAt(found.path, pos.offset, pos.line, pos.mid);
    if (!f) return;
    this.#stats.rotations++;
    f.fingerprint = pos.fingerprint;
    tail.draining.push(f);
    if (!sameId(found.state, pos)) tail.finished.add(f); // a copy: nobody writes to it
    this.#log.info({ path: tail.path, rotated: found.path, offset: pos.offset }, "continuing a rotated file");
  }

  // ---- the read loop --------------------------------------------------------------------------------------

  /** One pass over a path. Returns true when data is left to read (the read budget ran out). */
  async #service(tail: Tail): Promise<boolean> {
    if (!tail.restored) await this.#restore(tail);
    const st = await statFile(tail.path);
    const cur = tail.current;
    if (cur && (!st || !sameId(st, cur.id))) {
      // Renamed, deleted or replaced: read what is left (and what the writer adds until it reopens).
      tail.current = undefined;
      cur.lastDataAt = this.#ctx.clock.now();
      tail.draining.push(cur);
      this.#stats.rotations++;
      this.#log.info({ path: tail.path }, st ? "file rotated" : "file moved away or deleted");
    } else if (cur && st) {
      const changed = st.size !== cur.size || st.size > cur.readPos;
      cur.size = st.size;
      if (st.size < cur.readPos) await this.#truncated(tail, cur, st);
      else if (changed || cur.fingerprint === undefined) {
        const fp = await cur.refreshFingerprint();
        if (cur.fingerprint === undefined) cur.fingerprint = fp;
        else if (fp !== undefined && fp !== cur.fingerprint) await this.#truncated(tail, cur, st);
      }
    }

    for (const f of [...tail.draining]) {
      const eof = await this.#read(tail, f);
      // A rotated file is read to its end before anything newer (the same stream: lines stay in order); the
      // next pass goes on with it.
      if (!eof) return true;
      // Stopping: `#read` returned early, not at the end; retiring the file now would hand over a cut line and
      // record the file as done, losing the rest of it.
      if (this.#signal?.aborted) return false;
      if (tail.finished.has(f) || this.#ctx.clock.now() - f.lastDataAt >= this.#cfg.rotate_wait) {
        await this.#retire(tail, f);
      }
    }

    let more = false;
    if (!tail.current && st && !(tail.skipped && sameId(tail.skipped, st)) && !this.#isTracked(st)) {
      const head = await readHeadOf(tail.path);
      if (head?.gzip) this.#skip(tail, st);
      else if (head) {
        tail.current = await this.#openAt(tail.path, 0, 1);
        this.#log.info({ path: tail.path }, "following new file");
        await this.#commit(tail);
      }
    }
    if (tail.current && !(await this.#read(tail, tail.current))) more = true;

    if (tail.fromGlob && !st && !tail.current && !tail.draining.length) {
      this.#tails.delete(tail.path);
      await this.#commit(tail);
    }
    return more;
  }

  /**
   * The file at the path was truncated (size below our position, or a different first line: copytruncate).
   * The lines between our position and the truncation are in the copy, if one was made: read them from it,
   * then the file from its start.
   */
  async #truncated(tail: Tail, cur: TrackedFile, st: FileState): Promise<void> {
    this.#stats.rotations++;
    this.#stats.truncations++;
    // Lines read before the truncation and held back (see #read) are handed over, not lost with the seek.
    await this.#emitHeld(tail, cur);
    const before = cur.pos();
    const partial = cur.readPos > cur.pushedPos;
    cur.seek(0, 1);
    cur.size = st.size;
    cur.fingerprint = (await readHead(cur.fh)).fingerprint;
    this.#log.info(
      { path: tail.path, offset: before.offset },
      "file truncated; reading it again from its start",
    );
    const found = await findRotated(tail.path, before, cur.id);
    if (found) {
      const copy = await this.#openAt(found.path, before.offset, before.line, before.mid);
      if (copy) {
        copy.fingerprint = before.fingerprint;
        tail.draining.push(copy);
        tail.finished.add(copy);
        this.#log.info(
          { path: tail.path, copy: found.path },
          "reading the rest of the truncated file's copy",
        );
      }
    } else if (partial) {
      this.#log.warn({ path: tail.path, offset: before.offset }, "partial last line lost in truncation");
    }
    await this.#commit(tail);
  }

  /** Reads `f` from its position to its end, handing over complete lines. Returns false if the budget ran out. */
  async #read(tail: Tail, f: TrackedFile): Promise<boolean> {
    let budget = READ_BUDGET;
    while (budget > 0) {
      if (this.#signal?.aborted) return true;
      const { bytesRead } = await f.fh.read(this.#buf, 0, READ_CHUNK, f.readPos);
      if (bytesRead === 0) {
        await this.#emitHeld(tail, f);
        return true;
      }
      budget -= bytesRead;
      this.#stats.bytes += bytesRead;
      f.lastDataAt = this.#ctx.clock.now();
      let lines = f.feed(this.#buf.subarray(0, bytesRead));
      this.#countDiscards(f);
      if (f.held.length) {
        lines = f.held.concat(lines);
        f.held = [];
      }
      if (bytesRead === READ_CHUNK && lines.length) {
        // More follows at once: the lines that may share an nginx error record with what comes next wait for
        // it, so that the record is read in one batch (parsers/nginx/records.ts). At the end of the data, a
        // record written by one write() is whole.
        const hold = recordHoldFrom(lines.map((l) => l.text));
        f.held = lines.slice(hold);
        lines = lines.slice(0, hold);
      }
      if (lines.length) await this.#emit(tail, f, lines);
    }
    return false;
  }

  /** Hands over the lines held back at the end of a full chunk (the data ended there after all). */
  async #emitHeld(tail: Tail, f: TrackedFile): Promise<void> {
    if (!f.held.length) return;
    const held = f.held;
    f.held = [];
    await this.#emit(tail, f, held);
  }

  async #emit(tail: Tail, f: TrackedFile, lines: SplitLine[]): Promise<void> {
    const size = this.#cfg.batch_lines;
    const texts = lines.map((l) => l.text);
    // Batches end where no nginx error record is split (see parsers/nginx/records.ts): rarely after `size`.
    // Without any mark in the lines (nearly always) every cut is safe: no search after each one.
    const marked = lines.length > size && texts.some(isRecordMark);
    for (let i = 0, end = 0; i < lines.length; i = end) {
      end = marked ? recordSafeCut(texts, i + size) : Math.min(lines.length, i + size);
      let truncated = 0;
      for (let k = i; k < end; k++) if (lines[k]!.truncated) truncated++;
      const firstLine = f.line;
      if (f.line !== undefined) f.line += end - i;
      f.pushedPos = f.offsetAfter(lines[end - 1]!);
      this.#stats.lines += end - i;
      this.#stats.truncated_lines += truncated;
      const batch: SourceBatch = {
        lines: end - i === texts.length ? texts : texts.slice(i, end),
        stream: tail.path,
        path: tail.path,
      };
      if (firstLine !== undefined) batch.firstLine = firstLine;
      batch.position = this.#positionOf(tail);
      await this.#push(batch);
    }
  }

  /** A rotated-away file is done: its partial last line (if any) is emitted as a line, then it is closed. */
  async #retire(tail: Tail, f: TrackedFile): Promise<void> {
    await this.#emitHeld(tail, f);
    const last = f.splitter.flush();
    this.#countDiscards(f);
    if (last) {
      this.#stats.partial_lines++;
      await this.#emit(tail, f, [last]);
    }
    tail.draining = tail.draining.filter((x) => x !== f);
    tail.finished.delete(f);
    await this.#rememberRetired(f);
    await this.#close(f);
    // The retired set first: a crash between the two commits leaves the file in the tail's saved position,
    // where a restart finds it read to its end.
    await this.#push({ lines: [], stream: tail.path, position: this.#retiredPosition() });
    await this.#commit(tail);
  }

  #countDiscards(f: TrackedFile): void {
    const d = f.splitter.discardedBytes;
    if (d !== f.discardedSeen) {
      this.#stats.discarded_bytes += d - f.discardedSeen;
      f.discardedSeen = d;
    }
  }

  // ---- files ----------------------------------------------------------------------------------------------

  async #openAt(path: string, offset: number, line: number | undefined, midLine = false) {
    const fh = await open(path, "r");
    try {
      const st = await statHandle(fh);
      const head = await readHead(fh);
      if (head.gzip) {
        await fh.close();
        return undefined;
      }
      const f = new TrackedFile(fh, path, st, this.#cfg.max_line_bytes);
      f.seek(Math.min(offset, st.size), line, midLine);
      f.size = st.size;
      f.fingerprint = head.fingerprint;
      f.lastDataAt = this.#ctx.clock.now();
      this.#stats.files_open++;
      return f;
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  /** Opens at the start of the line after the last complete one (`start: end`). */
  async #openAtEnd(path: string): Promise<TrackedFile | undefined> {
    const f = await this.#openAt(path, 0, 1);
    if (!f) return undefined;
    const window = Math.min(f.size, this.#cfg.max_line_bytes + 1);
    const buf = Buffer.alloc(window);
    const { bytesRead } = await f.fh.read(buf, 0, window, f.size - window);
    const nl = buf.subarray(0, bytesRead).lastIndexOf(0x0a);
    if (nl >= 0) f.seek(f.size - window + nl + 1, undefined);
    else if (window < f.size) f.seek(f.size, undefined, true); // inside a giant line: skip its rest
    // else: the whole file is one unfinished line, which is read once completed
    return f;
  }

  async #close(f: TrackedFile): Promise<void> {
    this.#stats.files_open--;
    await f.fh.close().catch(() => {});
  }

  #skip(tail: Tail, st: FileState): void {
    tail.skipped = st;
    this.#stats.skipped_files++;
    this.#log.warn({ path: tail.path }, "gzip data is not followed (use `portcullis replay` for old files)");
  }

  // ---- checkpoints and the sink ---------------------------------------------------------------------------

  #positionOf(tail: Tail): SourcePosition {
    const files = [...tail.draining, ...(tail.current ? [tail.current] : [])].map((f) => f.pos());
    return { key: tail.key, value: JSON.stringify({ v: 1, files }) };
  }

  /** Hands over a batch without lines whose position records a change (a file opened or retired). */
  async #commit(tail: Tail): Promise<void> {
    await this.#push({ lines: [], stream: tail.path, path: tail.path, position: this.#positionOf(tail) });
  }

  async #push(batch: SourceBatch): Promise<void> {
    try {
      await this.#sink!.push(batch);
    } catch (e) {
      throw new SinkError("sink failed", { cause: e });
    }
  }

  // ---- watching -------------------------------------------------------------------------------------------

  #ensureWatchers(): void {
    const dirs = new Set(this.#patterns.map((p) => p.dir));
    for (const t of this.#tails.values()) dirs.add(dirname(t.path));
    for (const dir of dirs) {
      if (this.#watchers.has(dir)) continue;
      try {
        const w = watch(dir, { persistent: false }, (event, name) => this.#onEvent(dir, event, name));
        w.on("error", (e) => {
          this.#stats.errors++;
          this.#log.warn({ dir, err: e.message }, "watch failed; polling");
          w.close();
          this.#watchers.delete(dir);
        });
        this.#watchers.set(dir, w);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOENT" && code !== "ENOTDIR") {
          this.#stats.errors++;
          this.#log.warn({ dir, err: (e as Error).message }, "cannot watch; polling");
        }
      }
    }
  }

  #onEvent(dir: string, event: string, name: string | Buffer | null): void {
    const n = name === null ? undefined : String(name);
    let relevant = n === undefined;
    if (!relevant) {
      for (const t of this.#tails.values()) {
        if (basename(t.path) === n && dirname(t.path) === dir) relevant = true;
      }
      for (const p of this.#patterns) if (p.dir === dir && (!p.name || p.name.test(n!))) relevant = true;
    }
    if (!relevant) return;
    if (event === "rename") this.#rescan = true;
    this.#waker.wake();
  }

  #fail(tail: Tail, e: unknown): void {
    this.#stats.errors++;
    const msg = (e as Error).message ?? String(e);
    if (tail.error !== msg) this.#log.warn({ path: tail.path, err: msg }, "cannot read file; retrying");
    tail.error = msg;
  }
}

function patternOf(p: string): Pattern {
  if (!hasMagic(p)) return { pattern: p, dir: dirname(p), name: compileExact(basename(p)) };
  const segments = p.split("/");
  const first = segments.findIndex((s) => hasMagic(s));
  const dir = segments.slice(0, first).join("/") || "/";
  const name = first === segments.length - 1 ? compileSegment(segments[first]!) : undefined;
  return { pattern: p, dir, name };
}

function compileExact(name: string): RegExp {
  return new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
}
