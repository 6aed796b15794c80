import assert from "node:assert/strict";
import {
  appendFileSync,
  copyFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { ManualClock } from "../../core/clock.ts";
import { memoryLogger, type Logger } from "../../core/logger.ts";
import { MemoryCheckpointStore } from "../checkpoints.ts";
import { RecordingSink, sourceContext, start, waitFor } from "../testing.ts";
import type { CheckpointStore, SourceBatch } from "../types.ts";
import { fileConfig } from "./config.ts";
import { FileSource } from "./source.ts";
import { ForgedRecordScanner, markForged } from "../../parsers/nginx/records.ts";
import { injectionRecord } from "../../parsers/nginx/testing.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-file-"));
after(() => rmSync(root, { recursive: true, force: true }));
const dir = () => mkdtempSync(join(root, "t"));

function source(
  paths: string[],
  opts: Record<string, unknown> = {},
  ctx: { checkpoints?: CheckpointStore; clock?: ManualClock; logger?: Logger } = {},
) {
  const cfg = fileConfig.parse({ type: "file", paths, poll_interval: "20ms", rotate_wait: 0, ...opts });
  return new FileSource(cfg, sourceContext(ctx));
}

/** A file `name` in a new folder, written with `content` (not created without it): the folder and the path. */
function logFile(name: string, content?: string | Buffer): { d: string; p: string } {
  const d = dir();
  const p = join(d, name);
  if (content !== undefined) writeFileSync(p, content);
  return { d, p };
}

/** Starts a source on `paths` with a sink that commits positions to `ctx.checkpoints` (when given). */
function follow(
  paths: string[],
  opts: Record<string, unknown> = {},
  ctx: { checkpoints?: MemoryCheckpointStore; clock?: ManualClock; logger?: Logger } = {},
) {
  const src = source(paths, opts, ctx);
  const sink = new RecordingSink(ctx.checkpoints);
  return { src, sink, run: start(src, sink) };
}

/** Waits until `sink` has `count` lines (showing them if it never does). */
const linesRead = (sink: RecordingSink, count: number, what: string) =>
  waitFor(
    () => sink.lines.length === count,
    what,
    () => sink.lines,
  );

/** A run on `p` committing to `store` that stops once it has read `count` lines: its source and sink. */
async function readThenStop(
  p: string,
  store: MemoryCheckpointStore,
  opts: Record<string, unknown>,
  count: number,
  what: string,
) {
  const { src, sink, run } = follow([p], opts, { checkpoints: store });
  await linesRead(sink, count, what);
  await run.stop();
  return { src, sink };
}

/**
 * Rotates `p` to a dated name its glob matches (logrotate's dateext), starts a new `p` with the line "n 1", and
 * waits until `sink` has that line and `src` follows the new file only.
 */
async function rotateDateext(p: string, src: FileSource, sink: RecordingSink): Promise<void> {
  renameSync(p, join(dirname(p), "app-20251123.log"));
  writeFileSync(p, "n 1\n");
  await waitFor(
    () => sink.lines.includes("n 1") && src.stats().files_open === 1,
    "the new app.log, the rotated file retired",
    () => [sink.lines, src.stats()],
  );
}

const lines = (prefix: string, count: number, from = 1) =>
  Array.from({ length: count }, (_, i) => `${prefix} ${i + from}`);
const text = (ls: string[]) => ls.map((l) => l + "\n").join("");

describe("file source", () => {
  test("reads a file from the beginning and follows appends, with line numbers", async () => {
    const { p } = logFile("auth.log", text(lines("a", 3)));
    const { src, sink, run } = follow([p], { start: "beginning" });
    await linesRead(sink, 3, "first lines");
    appendFileSync(p, text(lines("a", 2, 4)));
    await linesRead(sink, 5, "appended lines");
    await run.stop();
    assert.deepEqual(sink.lines, lines("a", 5));
    const nums = sink.lineBatches.map((b) => b.firstLine);
    assert.equal(nums[0], 1);
    assert.equal(nums.at(-1), 6 - sink.lineBatches.at(-1)!.lines.length);
    assert.ok(sink.lineBatches.every((b) => b.stream === p && b.path === p));
    assert.equal(src.stats().lines, 5);
    assert.equal(src.stats().bytes, Buffer.byteLength(text(lines("a", 5))));
  });

  test("start: end skips existing content (from the last complete line) and reads what follows", async () => {
    const { p } = logFile("auth.log", text(lines("old", 3)) + "unfinished ");
    const { sink, run } = follow([p]);
    await waitFor(() => sink.batches.length > 0, "start checkpoint");
    appendFileSync(p, "line\n" + text(lines("new", 2)));
    await linesRead(sink, 3, "new lines");
    await run.stop();
    assert.deepEqual(sink.lines, ["unfinished line", "new 1", "new 2"]);
    assert.equal(sink.lineBatches[0]!.firstLine, undefined, "line numbers are unknown after start: end");
  });

  test("rename rotation: the old file is read to its end (late writes included), then the new one", async () => {
    const { p } = logFile("auth.log", text(lines("a", 3)));
    const clock = new ManualClock(1000);
    const { src, sink, run } = follow([p], { start: "beginning", rotate_wait: "10s" }, { clock });
    await linesRead(sink, 3, "before rotation");
    const old = await open(p, "a"); // the writer's descriptor survives the rename
    renameSync(p, `${p}.1`);
    writeFileSync(p, text(lines("b", 2)));
    await linesRead(sink, 5, "new file");
    await old.write("a late\n");
    await old.close();
    await linesRead(sink, 6, "late line in the rotated file");
    assert.equal(src.stats().files_open, 2, "rotated file still open within rotate_wait");
    clock.advanceBy(10_000);
    await waitFor(() => src.stats().files_open === 1, "rotated file closed after rotate_wait");
    appendFileSync(p, "b 3\n");
    await linesRead(sink, 7, "after close");
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("a", 3), ...lines("b", 2), "a late", "b 3"]);
    assert.equal(src.stats().rotations, 1);
  });

  test("copytruncate: the truncated file is read again from its start, nothing twice", async () => {
    const { p } = logFile("app.log", text(lines("a", 4)));
    const { src, sink, run } = follow([p], { start: "beginning" });
    await linesRead(sink, 4, "before truncation");
    copyFileSync(p, `${p}.1`);
    truncateSync(p, 0);
    appendFileSync(p, "b 1\n");
    await linesRead(sink, 5, "after truncation");
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("a", 4), "b 1"]);
    assert.equal(src.stats().truncations, 1);
  });

  test("copytruncate while the pipeline is slow: the unread rest is taken from the copy", async () => {
    const { p } = logFile("app.log", text(lines("a", 2)));
    const { src, sink, run } = follow([p], { start: "beginning" });
    await linesRead(sink, 2, "first lines");
    sink.block();
    const calls = sink.calls;
    appendFileSync(p, "a 3\n");
    await waitFor(() => sink.calls === calls + 1, "blocked on the push of a 3");
    appendFileSync(p, text(lines("a", 2, 4))); // written before the copy, not read yet
    copyFileSync(p, `${p}.1`);
    truncateSync(p, 0);
    appendFileSync(p, "b\n");
    sink.release();
    await linesRead(sink, 6, "all lines");
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("a", 5), "b"]);
    assert.equal(src.stats().truncations, 1);
  });

  test("copytruncate to a dated name keeping the extension (auth-20251123.log): the rest is read from the copy", async () => {
    const { d, p } = logFile("auth.log", text(lines("a", 2)));
    const { src, sink, run } = follow([p], { start: "beginning" });
    await linesRead(sink, 2, "first lines");
    sink.block();
    const calls = sink.calls;
    appendFileSync(p, "a 3\n");
    await waitFor(() => sink.calls === calls + 1, "blocked on the push of a 3");
    appendFileSync(p, text(lines("a", 2, 4))); // written before the copy, not read yet
    copyFileSync(p, join(d, "auth-20251123.log")); // logrotate copytruncate + dateext + extension .log
    truncateSync(p, 0);
    appendFileSync(p, "b 1\n");
    sink.release();
    await waitFor(
      () => sink.lines.includes("b 1"),
      "the line after the truncation",
      () => sink.lines,
    );
    await waitFor(() => src.stats().files_open === 1, "the copy closed once read");
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("a", 5), "b 1"]);
    assert.equal(src.stats().truncations, 1);
  });

  test("a file that appears later is read from its beginning, even with start: end", async () => {
    const { p } = logFile("later.log");
    const { src, sink, run } = follow([p]);
    await waitFor(() => sink.batches.length > 0, "started");
    assert.equal((await src.healthcheck()).ok, false, "nothing to read yet: degraded");
    writeFileSync(p, text(lines("x", 2)));
    await linesRead(sink, 2, "new file");
    assert.equal((await src.healthcheck()).ok, true);
    await run.stop();
    assert.deepEqual(sink.lines, lines("x", 2));
  });

  test("globs: files matching later are picked up; rotated and compressed names are not", async () => {
    const d = dir();
    writeFileSync(join(d, "a.log"), "a 1\n");
    writeFileSync(join(d, "a.log.1"), "rotated\n");
    writeFileSync(join(d, "old.log.gz"), gzipSync("compressed\n"));
    writeFileSync(join(d, "notes.txt"), "other\n");
    const { sink, run } = follow([join(d, "*.log*")], { start: "beginning" });
    await linesRead(sink, 1, "a.log");
    writeFileSync(join(d, "b.log"), "b 1\n");
    await linesRead(sink, 2, "b.log");
    await run.stop();
    assert.deepEqual(sink.lines.sort(), ["a 1", "b 1"]);
  });

  test("globs: a file rotated to a name the glob matches (dateext, extension .log) is not read again", async () => {
    const { d, p } = logFile("app.log", "");
    const { src, sink, run } = follow([join(d, "*.log")], { start: "beginning", rotate_wait: "50ms" });
    await waitFor(() => src.stats().files_open === 1, "app.log followed");
    appendFileSync(p, text(lines("l", 3)));
    await linesRead(sink, 3, "first lines");
    await rotateDateext(p, src, sink);
    // Several more scans of the glob: the retired file must stay retired.
    const seen = src.stats().lines;
    await new Promise((r) => setTimeout(r, 300));
    appendFileSync(p, "n 2\n");
    await waitFor(() => sink.lines.includes("n 2"), "a later line");
    await run.stop();
    assert.equal(seen, 4);
    assert.deepEqual(sink.lines, [...lines("l", 3), "n 1", "n 2"]);
  });

  test("globs: a rotated file read to its end stays retired across a restart (start: beginning)", async () => {
    const { d, p } = logFile("app.log", text(lines("l", 3)));
    const store = new MemoryCheckpointStore();
    const glob = () =>
      follow([join(d, "*.log")], { start: "beginning", rotate_wait: "50ms" }, { checkpoints: store });
    const { src: src1, sink: sink1, run: run1 } = glob();
    await linesRead(sink1, 3, "first lines");
    await rotateDateext(p, src1, sink1);
    await run1.stop();
    appendFileSync(p, "n 2\n");
    // A new process: its glob matches app-20251123.log, which it has never followed itself.
    const { src: src2, sink: sink2, run: run2 } = glob();
    await waitFor(() => sink2.lines.includes("n 2"), "the line written while down");
    await new Promise((r) => setTimeout(r, 200)); // more scans of the glob
    const open = src2.stats().files_open;
    await run2.stop();
    assert.deepEqual(sink2.lines, ["n 2"]);
    assert.equal(open, 1, "only app.log is followed");
  });

  test("globs: a copytruncate copy the glob matches (auth-20251123.log) is the rotated rest, not a new file", async () => {
    const { d, p } = logFile("auth.log", "");
    const { src, sink, run } = follow([join(d, "*.log")], { start: "beginning" });
    await waitFor(() => src.stats().files_open === 1, "auth.log followed");
    appendFileSync(p, text(lines("l", 3)));
    await linesRead(sink, 3, "first lines");
    appendFileSync(p, "l 4\n");
    // As when logrotate copies a big file: the glob is scanned while the copy is written, and before the
    // truncation.
    const copy = join(d, "auth-20251123.log");
    writeFileSync(copy, "l ");
    await new Promise((r) => setTimeout(r, 100));
    appendFileSync(copy, "1\n" + text(lines("l", 3, 2)));
    await new Promise((r) => setTimeout(r, 100));
    truncateSync(p, 0);
    await waitFor(() => src.stats().truncations === 1, "the truncation noticed");
    appendFileSync(p, "n 1\n");
    await waitFor(
      () => sink.lines.includes("n 1"),
      "the line after the truncation",
      () => sink.lines,
    );
    await new Promise((r) => setTimeout(r, 200)); // more scans of the glob
    appendFileSync(p, "n 2\n");
    await waitFor(
      () => sink.lines.includes("n 2"),
      "a later line",
      () => sink.lines,
    );
    const open = src.stats().files_open;
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("l", 4), "n 1", "n 2"]);
    assert.equal(open, 1, "only auth.log is followed");
  });

  test("an explicitly configured .gz file is skipped and counted (gzip is read by replay only)", async () => {
    const { p } = logFile("auth.log.2.gz", gzipSync("x\n"));
    const { src, sink, run } = follow([p], { start: "beginning" });
    await waitFor(() => src.stats().skipped_files === 1, "skipped");
    const h = await src.healthcheck();
    assert.deepEqual(h, {
      ok: false,
      detail: `no file to read: ${p} is gzip data (read by \`portcullis replay\` only)`,
    });
    await run.stop();
    assert.deepEqual(sink.lines, []);
  });

  test("polling only (watch: false) sees appends and rotations", async () => {
    const { p } = logFile("poll.log", "a 1\n");
    const { sink, run } = follow([p], { start: "beginning", watch: false });
    await linesRead(sink, 1, "first");
    appendFileSync(p, "a 2\n");
    await linesRead(sink, 2, "append");
    renameSync(p, `${p}.1`);
    writeFileSync(p, "b 1\n");
    await linesRead(sink, 3, "rotation");
    await run.stop();
    assert.deepEqual(sink.lines, ["a 1", "a 2", "b 1"]);
  });

  describe("health: a source with no file to read is degraded", () => {
    const HINT = "on Debian 12 without rsyslog use the journald source";
    /** The warnings and notes the source logged about missing files. */
    const missingLogs = (log: ReturnType<typeof memoryLogger>) =>
      log.records.filter((r) => r.missing !== undefined).map((r) => `${r.level} ${String(r.msg)}`);

    test("no file for any path or glob: not ok and says why, one warning at start; ok once a file appears", async () => {
      const { p } = logFile("auth.log"); // Debian 12 without rsyslog: /var/log/auth.log never appears
      const glob = join(dir(), "*.log");
      const log = memoryLogger();
      const { src, sink, run } = follow([p, glob], { start: "beginning" }, { logger: log });
      try {
        await waitFor(() => sink.batches.length > 0, "started");
        const degraded = {
          ok: false,
          detail: `no file to read: ${p} does not exist, no file matches ${glob}; ${HINT}`,
        };
        assert.deepEqual(await src.healthcheck(), degraded);
        // more passes over the paths (inotify is quiet, the poll timer runs): the warning is not repeated
        await new Promise((r) => setTimeout(r, 200));
        assert.deepEqual(await src.healthcheck(), degraded);
        const warning = `warn no file to read: ${p} does not exist, no file matches ${glob}; ${HINT} (nothing is read until a file appears)`;
        assert.deepEqual(missingLogs(log), [warning]);

        writeFileSync(p, "a 1\n");
        await linesRead(sink, 1, "the file once it appears");
        assert.deepEqual(await src.healthcheck(), {
          ok: true,
          detail: "1 file(s) followed, 0 path(s) waiting for a file",
        });
        // the only file deleted: nothing to read again (rotate_wait 0: the deleted file is retired at once)
        rmSync(p);
        await waitFor(
          async () => !(await src.healthcheck()).ok,
          "degraded again",
          () => src.stats(),
        );
        assert.deepEqual(await src.healthcheck(), degraded);
        assert.deepEqual(missingLogs(log), [warning], "said once, at start");
      } finally {
        await run.stop();
      }
    });

    test("some files read, some paths waiting: ok, the waiting ones named; a note at start, not a warning", async () => {
      const { d } = logFile("app.log", "a 1\n");
      const { p: waiting } = logFile("later.log");
      const log = memoryLogger();
      const { src, sink, run } = follow([join(d, "*.log"), waiting], { start: "beginning" }, { logger: log });
      try {
        await linesRead(sink, 1, "app.log");
        assert.deepEqual(await src.healthcheck(), {
          ok: true,
          detail: `1 file(s) followed, 1 path(s) waiting for a file (${waiting})`,
        });
        assert.deepEqual(missingLogs(log), [`info waiting for a file: ${waiting} does not exist`]);
        assert.ok(!log.records.some((r) => r.level === "warn"), "no warning");
      } finally {
        await run.stop();
      }
    });

    test("before running: degraded when no path has a file (no journald hint for other logs), else ok", async () => {
      const { d, p } = logFile("app.log");
      const glob = join(d, "*.txt");
      assert.deepEqual(await source([p, glob]).healthcheck(), {
        ok: false,
        detail: `no file to read: ${p} does not exist, no file matches ${glob}`,
      });
      writeFileSync(join(d, "notes.txt"), "x\n");
      assert.equal((await source([p, glob]).healthcheck()).ok, true, "the glob has a file");
      assert.equal((await source([p]).healthcheck()).ok, false);
      writeFileSync(p, "");
      assert.equal((await source([p]).healthcheck()).ok, true, "an empty file is a file to read");
    });
  });

  describe("restart with the same checkpoint store", () => {
    test("neither re-reads nor misses lines (including lines written while stopped)", async () => {
      const { p } = logFile("auth.log", text(lines("a", 3)));
      const store = new MemoryCheckpointStore();
      await readThenStop(p, store, { start: "beginning" }, 3, "first run");
      appendFileSync(p, text(lines("a", 2, 4)));
      const { sink: sink2, run: run2 } = follow([p], { start: "end" }, { checkpoints: store });
      await linesRead(sink2, 2, "second run");
      appendFileSync(p, "a 6\n");
      await linesRead(sink2, 3, "second run, live");
      await run2.stop();
      assert.deepEqual(sink2.lines, lines("a", 3, 4));
      assert.equal(sink2.lineBatches[0]!.firstLine, 4, "line numbers continue");
    });

    test("start: end is remembered: lines written while stopped are read after the restart", async () => {
      const { p } = logFile("auth.log", text(lines("old", 2)));
      const store = new MemoryCheckpointStore();
      const { run: run1 } = follow([p], {}, { checkpoints: store });
      await waitFor(() => store.writes > 0, "initial position saved");
      await run1.stop();
      appendFileSync(p, "while down\n");
      const { sink: sink2 } = await readThenStop(p, store, {}, 1, "line written while down");
      assert.deepEqual(sink2.lines, ["while down"]);
    });

    test("rotation while stopped: the rest of auth.log.1 from the saved offset, then auth.log from 0", async () => {
      const { p } = logFile("auth.log", text(lines("a", 3)));
      const store = new MemoryCheckpointStore();
      await readThenStop(p, store, { start: "beginning" }, 3, "first run");
      appendFileSync(p, text(lines("a", 2, 4)));
      renameSync(p, `${p}.1`);
      writeFileSync(p, text(lines("b", 2)));
      const { src: src2, sink: sink2, run: run2 } = follow([p], { start: "end" }, { checkpoints: store });
      await linesRead(sink2, 4, "second run");
      await waitFor(() => src2.stats().files_open === 1, "rotated file retired");
      await run2.stop();
      assert.deepEqual(sink2.lines, [...lines("a", 2, 4), ...lines("b", 2)]);
      assert.equal(sink2.lineBatches[0]!.firstLine, 4);
      // A third start reads nothing again.
      const { sink: sink3, run: run3 } = follow([p], { start: "beginning" }, { checkpoints: store });
      await waitFor(() => sink3.batches.length > 0, "third run");
      await run3.stop();
      assert.deepEqual(sink3.lines, []);
    });

    test("copytruncate while stopped (file regrown past the old offset): rest of the copy, then from 0", async () => {
      const { p } = logFile("app.log", text(lines("a", 2)));
      const store = new MemoryCheckpointStore();
      await readThenStop(p, store, { start: "beginning" }, 2, "first run");
      appendFileSync(p, "a 3\n");
      copyFileSync(p, `${p}-20251123`);
      truncateSync(p, 0);
      appendFileSync(p, text(lines("b", 5))); // longer than the old offset: only the first line tells
      const { sink: sink2 } = await readThenStop(p, store, { start: "end" }, 6, "second run");
      assert.deepEqual(sink2.lines, ["a 3", ...lines("b", 5)]);
    });

    test("globs: rotated while stopped to a name the glob matches: the rest of the old file once, then the new", async () => {
      const { d, p } = logFile("a.log", text(["old 0", ...lines("a", 2)]));
      const store = new MemoryCheckpointStore();
      const glob = () => follow([join(d, "*.log")], { start: "beginning" }, { checkpoints: store });
      const { run: run1, sink: sink1 } = glob();
      await linesRead(sink1, 3, "first run");
      await run1.stop();
      appendFileSync(p, "a 3\n");
      renameSync(p, join(d, "a-20251123.log")); // sorts before a.log
      writeFileSync(p, "b 1\n");
      const { src: src2, sink: sink2, run: run2 } = glob();
      await waitFor(
        () => sink2.lines.includes("b 1"),
        "the new file",
        () => sink2.lines,
      );
      await waitFor(() => src2.stats().files_open === 1, "the renamed file retired");
      await new Promise((r) => setTimeout(r, 200)); // more scans of the glob
      await run2.stop();
      assert.deepEqual(sink2.lines, ["a 3", "b 1"]);
      assert.equal(src2.stats().missed_files, 0);
    });

    test("globs: rotated while stopped and not recreated: the renamed file is finished from the saved offset", async () => {
      const { d, p } = logFile("a.log", text(lines("a", 2)));
      const store = new MemoryCheckpointStore();
      const glob = () => follow([join(d, "*.log")], { start: "beginning" }, { checkpoints: store });
      await readThenStop(join(d, "*.log"), store, { start: "beginning" }, 2, "first run");
      appendFileSync(p, "a 3\n");
      renameSync(p, join(d, "a-20251123.log"));
      const { src: src2, sink: sink2, run: run2 } = glob();
      await waitFor(
        () => sink2.lines.includes("a 3"),
        "the line written while down",
        () => sink2.lines,
      );
      await waitFor(() => src2.stats().files_open === 0, "the renamed file retired");
      writeFileSync(p, "b 1\n"); // the new file, later
      await waitFor(
        () => sink2.lines.includes("b 1"),
        "the new file",
        () => sink2.lines,
      );
      await run2.stop();
      assert.deepEqual(sink2.lines, ["a 3", "b 1"]);
    });

    test("globs: copytruncate while stopped to a dated copy the glob matches: rest of the copy, then from 0", async () => {
      const { d, p } = logFile("app.log", text(lines("a", 2)));
      const store = new MemoryCheckpointStore();
      const glob = () => follow([join(d, "*.log")], { start: "beginning" }, { checkpoints: store });
      await readThenStop(join(d, "*.log"), store, { start: "beginning" }, 2, "first run");
      appendFileSync(p, "a 3\n");
      copyFileSync(p, join(d, "app-20251123.log"));
      truncateSync(p, 0);
      appendFileSync(p, text(lines("b", 2)));
      const { src: src2, sink: sink2, run: run2 } = glob();
      await waitFor(
        () => sink2.lines.includes("b 2"),
        "the new lines",
        () => sink2.lines,
      );
      await waitFor(() => src2.stats().files_open === 1, "the copy retired");
      await new Promise((r) => setTimeout(r, 200)); // more scans of the glob
      await run2.stop();
      assert.deepEqual(sink2.lines, ["a 3", ...lines("b", 2)]);
    });

    test("a rotated file that cannot be found (compressed) is counted and the new file read from 0", async () => {
      const { p } = logFile("auth.log", "a 1\n");
      const store = new MemoryCheckpointStore();
      const { run: run1 } = follow([p], { start: "beginning" }, { checkpoints: store });
      await waitFor(() => store.writes > 1, "first run");
      await run1.stop();
      rmSync(p);
      writeFileSync(`${p}.1.gz`, gzipSync("a 1\na 2\n"));
      writeFileSync(p, "b 1\n");
      const { src: src2, sink: sink2 } = await readThenStop(p, store, {}, 1, "new file");
      assert.deepEqual(sink2.lines, ["b 1"]);
      assert.equal(src2.stats().missed_files, 1);
    });
  });

  describe("partial and long lines", () => {
    test("a partial last line is held until its newline arrives", async () => {
      const { p } = logFile("p.log", "one\ntw");
      const { sink, run } = follow([p], { start: "beginning" });
      await linesRead(sink, 1, "complete line");
      appendFileSync(p, "o\nthr");
      await linesRead(sink, 2, "completed line");
      await run.stop();
      assert.deepEqual(sink.lines, ["one", "two"]);
    });

    test("a partial line is not committed: after a restart it is read whole", async () => {
      const { p } = logFile("p.log", "one\nhalf");
      const store = new MemoryCheckpointStore();
      await readThenStop(p, store, { start: "beginning" }, 1, "first run");
      appendFileSync(p, " done\n");
      const { sink: sink2 } = await readThenStop(p, store, {}, 1, "second run");
      assert.deepEqual(sink2.lines, ["half done"]);
    });

    test("a partial line in a rotated-away file is emitted when that file is retired", async () => {
      const { p } = logFile("p.log", "one\nno newline");
      const { src, sink, run } = follow([p], { start: "beginning" });
      await linesRead(sink, 1, "first line");
      renameSync(p, `${p}.1`);
      writeFileSync(p, "next\n");
      await linesRead(sink, 3, "rotation");
      await run.stop();
      assert.deepEqual(sink.lines, ["one", "no newline", "next"]);
      assert.equal(src.stats().partial_lines, 1);
    });

    test("a 1 MB line keeps its first max_line_bytes; the rest is discarded and counted", async () => {
      const big = "x".repeat(1024 * 1024);
      const { p } = logFile("long.log", `before\n${big}\nafter\n`);
      const { src, sink, run } = follow([p], { start: "beginning", max_line_bytes: 65536 });
      await linesRead(sink, 3, "three lines");
      await run.stop();
      assert.equal(sink.lines[0], "before");
      assert.equal(sink.lines[1], "x".repeat(65536));
      assert.equal(sink.lines[2], "after");
      assert.equal(src.stats().truncated_lines, 1);
      assert.equal(src.stats().discarded_bytes, 1024 * 1024 - 65536);
    });
  });

  test("start: end inside a giant unfinished line: after a restart its rest is skipped, not taken for a line", async () => {
    const { p } = logFile("giant.log", "old\n" + "x".repeat(70_000));
    const store = new MemoryCheckpointStore();
    const { run: run1 } = follow([p], { max_line_bytes: 65536 }, { checkpoints: store });
    await waitFor(() => store.writes > 0, "initial position saved");
    await run1.stop();
    // The giant line ends with what looks like a record of its own (an attacker controls its tail).
    const forged = "Nov 23 10:00:00 h sshd[1]: Failed password for root from 203.0.113.9 port 22 ssh2";
    appendFileSync(p, `${forged}\nnext\n`);
    const { sink: sink2, run: run2 } = follow([p], { max_line_bytes: 65536 }, { checkpoints: store });
    await waitFor(
      () => sink2.lines.length >= 1,
      "the line after the giant one",
      () => sink2.lines,
    );
    await run2.stop();
    assert.deepEqual(sink2.lines, ["next"]);
  });

  test("an nginx error record carrying line breaks is handed over in one batch, across a read chunk and batch_lines", async () => {
    // Genuine lines of about 190 bytes; the records start near the 256 KiB read chunk's end and at a batch
    // boundary, so a naive cut would split them (parsers/nginx/records.ts: a record's lines before the cut
    // would be read with the batch before).
    const genuine = (i: number) =>
      `2024/06/03 10:11:12 [error] 7#7: *${i} open() "/var/www/html/missing-${i}.html" failed (2: No such file or directory), client: 192.0.2.10, server: example.com, request: "GET /missing-${i}.html HTTP/1.1"`;
    const all: string[] = [];
    while (Buffer.byteLength(text(all)) < 256 * 1024 - 300) all.push(genuine(all.length));
    const records = [injectionRecord("198.51.100.7", 3), injectionRecord("198.51.100.8", 12)];
    const starts = [all.length];
    all.push(...records[0]!);
    for (let i = 0; i < 31; i++) all.push(genuine(all.length));
    starts.push(all.length);
    all.push(...records[1]!);
    for (let i = 0; i < 40; i++) all.push(genuine(all.length));
    const { p } = logFile("records.log", text(all));
    const { sink, run } = follow([p], { start: "beginning", batch_lines: 7 });
    await linesRead(sink, all.length, "every line");
    await run.stop();
    assert.deepEqual(sink.lines, all);
    // What the daemon's pipeline does: one scanner per stream, batch after batch.
    const scanner = new ForgedRecordScanner();
    const marked = new Set<number>();
    let base = 0;
    for (const b of sink.lineBatches) {
      const set = new Set<number>();
      const found = scanner.scan(b.lines, set);
      assert.ok(!found.some((r) => r.open), "no record split by a batch boundary");
      for (const i of set) marked.add(base + i);
      scanner.shift(b.lines.length);
      base += b.lines.length;
    }
    const whole = new Set<number>();
    markForged(all, whole);
    assert.deepEqual(
      [...marked].sort((a, b) => a - b),
      [...whole].sort((a, b) => a - b),
    );
    records.forEach((rec, k) => {
      for (let i = 0; i < rec.length; i++) assert.ok(marked.has(starts[k]! + i), `record ${k}, line ${i}`);
    });
    assert.ok(sink.lineBatches.length > 100);
  });

  test("back-pressure: a blocked sink stops the reading; nothing is lost or repeated", async () => {
    const { p } = logFile("bp.log", text(lines("a", 10)));
    const { src, sink, run } = follow([p], { start: "beginning", batch_lines: 100 });
    await linesRead(sink, 10, "first lines");
    sink.block();
    const calls = sink.calls;
    const more = lines("b", 50_000);
    appendFileSync(p, text(more));
    await waitFor(() => sink.calls === calls + 1, "blocked on a push");
    const bytesAtBlock = src.stats().bytes;
    // Give the loop every chance to (wrongly) read on: inotify events and poll ticks happen meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.calls, calls + 1, "no further push while one is pending");
    assert.equal(src.stats().bytes, bytesAtBlock, "no reading while blocked");
    assert.ok(bytesAtBlock < Buffer.byteLength(text([...lines("a", 10), ...more])), "stopped before the end");
    sink.release();
    await waitFor(
      () => sink.lines.length === 50_010,
      "everything after release",
      () => sink.lines.length,
    );
    await run.stop();
    assert.deepEqual(sink.lines, [...lines("a", 10), ...more]);
    assert.ok(sink.lineBatches.every((b) => b.lines.length <= 100));
  });

  test("a restart resumes after the last batch whose position the sink committed", async () => {
    const { p } = logFile("c.log", text(lines("a", 5)));
    const store = new MemoryCheckpointStore();
    const src = source([p], { start: "beginning", batch_lines: 2 }, { checkpoints: store });
    // A sink that processes but never commits the third line batch (the pipeline "crashed" on it).
    const got: string[] = [];
    let lineBatches = 0;
    const sink = {
      async push(b: SourceBatch) {
        if (b.lines.length) lineBatches++;
        got.push(...b.lines);
        if (lineBatches < 3 && b.position) await store.set(b.position.key, b.position.value);
      },
    };
    const run = start(src, sink);
    await waitFor(() => got.length === 5, "all lines");
    await run.stop();
    const { sink: sink2 } = await readThenStop(p, store, {}, 1, "uncommitted batch re-read");
    assert.deepEqual(sink2.lines, ["a 5"]);
  });
});

describe("file source: held lines, rotated files and stops (review of the record-safe batching)", () => {
  /** Fixed-width lines of 100 bytes with their line feed. */
  const fixed = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `${prefix} ${String(i + 1).padStart(8, "0")} `.padEnd(99, "x"));

  test("a truncation without a copy, while lines read before it are held, hands those lines over", async () => {
    const all = fixed("a", 45_000); // 4.5 MB: one pass reads 4 MiB, its last full chunk's tail is held
    const { p } = logFile("trunc.log", text(all));
    let bytes = 0;
    let truncated = false;
    const sink = new (class extends RecordingSink {
      override async push(batch: SourceBatch): Promise<void> {
        await super.push(batch);
        for (const l of batch.lines) bytes += Buffer.byteLength(l) + 1;
        if (!truncated && bytes > 4 * 1024 * 1024 - 100 * 1024) {
          truncated = true;
          truncateSync(p, 0);
          writeFileSync(p, "new 1\n");
        }
      }
    })();
    const run = start(source([p], { start: "beginning", batch_lines: 1000 }), sink);
    await waitFor(
      () => sink.lines.includes("new 1"),
      "the new content",
      () => sink.lines.length,
    );
    await run.stop();
    const got = sink.lines.slice(0, -1);
    assert.deepEqual(got, all.slice(0, got.length), "in order, none twice");
    assert.equal(got.length, Math.floor((4 * 1024 * 1024) / 100), "every complete line read before it");
  });

  test("a stop while a rotated file is read does not retire it halfway: a restart reads the rest", async () => {
    const { p } = logFile("drain.log", "x\n");
    const clock = new ManualClock(1000);
    const store = new MemoryCheckpointStore();
    const sink = new RecordingSink(store);
    const src = source(
      [p],
      { start: "beginning", rotate_wait: "10s", batch_lines: 1000 },
      { clock, checkpoints: store },
    );
    const run = start(src, sink);
    await linesRead(sink, 1, "x");
    renameSync(p, `${p}.1`);
    await waitFor(() => src.stats().rotations === 1, "the rotation seen");
    const more = fixed("b", 30_000);
    sink.block();
    const calls = sink.calls;
    appendFileSync(`${p}.1`, text(more));
    await waitFor(() => sink.calls > calls, "a blocked push");
    clock.advanceBy(10_000); // rotate_wait is over: only the end of the file may retire it
    const stopping = run.stop();
    sink.release();
    await stopping;
    const sink2 = new RecordingSink(store);
    const src2 = source([p], { rotate_wait: "10s" }, { checkpoints: store });
    const run2 = start(src2, sink2);
    await waitFor(
      () => sink.lines.length + sink2.lines.length >= 1 + more.length,
      "the rest after the restart",
      () => [sink.lines.length, sink2.lines.length],
    );
    await run2.stop();
    assert.deepEqual([...sink.lines, ...sink2.lines], ["x", ...more]);
  });

  test("a rotated file with more than a pass left is read to its end before the new file", async () => {
    const { p } = logFile("o.log", "x\n");
    const sink = new RecordingSink();
    const run = start(source([p], { start: "beginning", batch_lines: 1000 }), sink);
    await linesRead(sink, 1, "x");
    sink.block();
    const calls = sink.calls;
    const old = fixed("a", 100_000); // 10 MB: several passes
    appendFileSync(p, "y\n");
    await waitFor(() => sink.calls > calls, "a blocked push");
    appendFileSync(p, text(old));
    renameSync(p, `${p}.1`);
    writeFileSync(p, "new 1\n");
    sink.release();
    await waitFor(
      () => sink.lines.length === old.length + 3,
      "every line",
      () => sink.lines.length,
    );
    await run.stop();
    assert.deepEqual(sink.lines, ["x", "y", ...old, "new 1"]);
  });
});
