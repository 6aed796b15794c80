/**
 * Reads log files as batches of lines, fast: large reads, latin1 decoding of ASCII, `split` per chunk. Handles
 * gzip (detected by its magic bytes, so rotated `auth.log.2.gz` works whatever its name), `-` for stdin, CRLF
 * endings, and a last line without a newline. Errors name the file.
 */
import { isAscii } from "node:buffer";
import { createReadStream } from "node:fs";
import { open, stat, type FileHandle } from "node:fs/promises";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { PortcullisError } from "../core/errors.ts";
import { notTextReason } from "./binary.ts";

export interface ReadOptions {
  /** Read an input that looks binary as text anyway (`--text`, as grep's `-a`): its text lines are still found. */
  text?: boolean;
}

export interface LineBatch {
  lines: string[];
  /** Bytes of input consumed so far (compressed bytes for .gz), for progress bars. */
  bytesRead: number;
}

// 64 KiB: as fast as 1 MiB chunks on a 1M-line replay, and peak RSS 125 MB instead of 165-175 MB (a batch's
// line strings die young instead of being promoted while a big batch is processed; smaller stream buffers).
const CHUNK = 1 << 16;

/** Whether `path` is gzip data (by its magic bytes, whatever its name); errors name the file. */
async function gzipped(path: string): Promise<boolean> {
  try {
    const fh = await open(path, "r");
    try {
      const buf = Buffer.alloc(2);
      const { bytesRead } = await fh.read(buf, 0, 2, 0);
      return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw unreadable(path, e);
  }
}

/** Throws when the first bytes of `path` are not a text log (see binary.ts): a clear error, not "0 events". */
function checkText(path: string, first: Buffer): void {
  const why = notTextReason(first, path);
  if (why) throw new PortcullisError("INPUT_UNREADABLE", `cannot read ${path}: ${why}`);
}

/** The error for an input that cannot be opened, stat'ed or read, in words (exit 66). */
export function unreadable(path: string, e: unknown): PortcullisError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
        ? "permission denied"
        : code === "EISDIR"
          ? "is a directory"
          : (e as Error).message;
  return new PortcullisError("INPUT_UNREADABLE", `cannot read ${path}: ${why}`, { cause: e });
}

/**
 * Splits the complete lines of `buf` into batches of about {@link CHUNK} bytes (a batch's strings die young,
 * see CHUNK); returns where the unfinished last line starts. An all-ASCII buffer (the usual log) is decoded as
 * latin1, which gives the same strings as UTF-8 for ASCII bytes but skips UTF-8 validation; any other byte
 * makes the whole buffer go through the UTF-8 decoder, line by line as before.
 */
function* split(buf: Buffer, bytesRead: () => number): Generator<LineBatch, number> {
  const encoding = isAscii(buf) ? "latin1" : "utf8";
  let start = 0;
  for (;;) {
    const lines: string[] = [];
    const stop = start + CHUNK;
    let nl = buf.indexOf(10, start);
    for (; nl >= 0; nl = buf.indexOf(10, start)) {
      let end = nl;
      if (end > start && buf[end - 1] === 13) end--;
      lines.push(buf.toString(encoding, start, end));
      start = nl + 1;
      if (start >= stop) break;
    }
    if (lines.length) yield { lines, bytesRead: bytesRead() };
    if (nl < 0) return start;
  }
}

/** The last line of an input that does not end with a newline. */
function lastLine(buf: Buffer): string {
  const end = buf.length > 0 && buf[buf.length - 1] === 13 ? buf.length - 1 : buf.length;
  return buf.toString("utf8", 0, end);
}

// Plain files are read with 64 KiB reads into two reused buffers, one read ahead (see fileLines): a stream's
// reads each allocate a new buffer, and are not started before their data is asked for. Larger reads save a
// little CPU but raise peak RSS (128 KiB: +0-13 MB, 1 MiB: +10-20 MB): V8 finishes its incremental marking in
// event-loop tasks, which then run less often, so more dead objects pile up in old space between major GCs.
const READ = CHUNK;

/**
 * The lines of a plain (uncompressed) file. Two buffers take turns: while the lines of one are decoded (copied
 * out of it) and processed, the next read fills the other, after the unfinished last line moved there. A line
 * longer than a buffer makes it grow (reads then continue into it, without reading ahead).
 */
async function* fileLines(path: string, text: boolean): AsyncGenerator<LineBatch> {
  let fh: FileHandle;
  try {
    fh = await open(path, "r");
  } catch (e) {
    throw unreadable(path, e);
  }
  // A read's promise never rejects (the error is its value): it may settle while nobody awaits it yet.
  const read = (into: Buffer, at: number) =>
    fh.read(into, at, into.length - at, null).then(
      (r) => r.bytesRead,
      (e: unknown) => unreadable(path, e),
    );
  let buf = Buffer.allocUnsafe(READ);
  let spare = Buffer.allocUnsafe(READ);
  let reading = read(buf, 0);
  try {
    let have = 0;
    let total = 0;
    const bytesRead = () => total;
    for (;;) {
      const n = await reading;
      if (typeof n !== "number") throw n;
      if (n === 0) break;
      if (total === 0 && !text) checkText(path, buf.subarray(0, n));
      total += n;
      const end = have + n;
      const rest = buf.lastIndexOf(10, end - 1) + 1;
      if (rest === 0) {
        // No line ends in this buffer yet.
        if (end === buf.length) {
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, end);
          buf = bigger;
        }
        have = end;
        reading = read(buf, have);
        continue;
      }
      have = end - rest;
      if (spare.length < have + READ / 2) spare = Buffer.allocUnsafe(have + READ);
      buf.copy(spare, 0, rest, end);
      reading = read(spare, have);
      yield* split(buf.subarray(0, rest), bytesRead);
      // Swap; a buffer grown for a long line is not kept.
      const done = buf;
      buf = spare;
      spare = done.length > READ ? Buffer.allocUnsafe(READ) : done;
    }
    if (have > 0) yield { lines: [lastLine(buf.subarray(0, have))], bytesRead: total };
  } finally {
    await reading;
    await fh.close();
  }
}

/**
 * The chunks of a stream, decompressed when it is gzip data (sniffed from its first two bytes, so
 * `zcat`-less pipes such as `cat auth.log.2.gz | portcullis replay -` work); counts the raw bytes read.
 */
async function* sniffed(raw: Readable, counted: (n: number) => void): AsyncGenerator<Buffer> {
  const it = raw[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let first = await it.next();
  // A first chunk of one byte cannot be told apart yet: wait for one more.
  while (!first.done && first.value.length < 2) {
    const more = await it.next();
    if (more.done) break;
    first = { done: false, value: Buffer.concat([first.value, more.value]) };
  }
  if (first.done) return;
  counted(first.value.length);
  if (!(first.value[0] === 0x1f && first.value[1] === 0x8b)) {
    yield first.value;
    for (let r = await it.next(); !r.done; r = await it.next()) {
      counted(r.value.length);
      yield r.value;
    }
    return;
  }
  const gunzip = createGunzip({ chunkSize: CHUNK });
  // Feeds the compressed chunks to zlib, waiting when its buffer is full; an error ends the output with it.
  const pump = async () => {
    try {
      let chunk: Buffer | undefined = first.value;
      while (chunk !== undefined) {
        if (!gunzip.write(chunk)) await new Promise((ok) => gunzip.once("drain", ok));
        const r = await it.next();
        if (r.done) chunk = undefined;
        else {
          counted(r.value.length);
          chunk = r.value;
        }
      }
      gunzip.end();
    } catch (e) {
      gunzip.destroy(e as Error);
    }
  };
  void pump();
  for await (const c of gunzip) yield c as Buffer;
}

/**
 * Yields batches of lines from `path`. Each line is decoded on its own from the byte buffer, so that a string a
 * parser keeps (an address, a user name) never pins the megabyte-sized chunk it came from in memory (V8's
 * sliced strings would): memory stays flat however long the input. Regular files are read directly (gzip
 * detected by its magic bytes, so rotated `auth.log.2.gz` works whatever its name); stdin (`-`), pipes, FIFOs
 * and devices (`<(zcat ...)`, `/dev/stdin`) as streams, gzip sniffed from their first bytes.
 */
export async function* readLines(
  path: string,
  stdin?: Readable,
  opts: ReadOptions = {},
): AsyncGenerator<LineBatch> {
  const text = opts.text === true;
  let raw: Readable = stdin ?? process.stdin;
  let chunks: AsyncIterable<Buffer>;
  let bytesRead = 0;
  const counted = (n: number) => {
    bytesRead += n;
  };
  if (path === "-") chunks = sniffed(raw, counted);
  else {
    let regular: boolean;
    try {
      const st = await stat(path);
      if (st.isDirectory()) throw Object.assign(new Error("is a directory"), { code: "EISDIR" });
      regular = st.isFile();
    } catch (e) {
      throw unreadable(path, e);
    }
    if (regular && !(await gzipped(path))) {
      yield* fileLines(path, text);
      return;
    }
    raw = createReadStream(path, { highWaterMark: CHUNK });
    chunks = sniffed(raw, counted);
  }
  // The unfinished last line, in pieces: they are joined only once a chunk ends the line, so that a long line
  // read from a pipe in 64 KiB chunks is copied once, not once per chunk (50 MB: 40 s instead of 1 s).
  const carry: Buffer[] = [];
  let first = true;
  try {
    for await (const chunk of chunks) {
      if (first && !text) checkText(path, chunk);
      first = false;
      let buf = chunk;
      if (carry.length) {
        if (buf.indexOf(10) < 0) {
          carry.push(buf);
          continue;
        }
        buf = Buffer.concat([...carry, buf]);
        carry.length = 0;
      }
      const start = yield* split(buf, () => bytesRead);
      if (start < buf.length) carry.push(Buffer.from(buf.subarray(start)));
    }
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR") {
      throw new PortcullisError("INPUT_UNREADABLE", `cannot read ${path}: corrupt or truncated gzip data`, {
        cause: e,
      });
    }
    throw unreadable(path, e);
  } finally {
    if (path !== "-") raw.destroy();
  }
  if (carry.length) yield { lines: [lastLine(Buffer.concat(carry))], bytesRead };
}
