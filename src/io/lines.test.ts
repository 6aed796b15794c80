/**
 * The replay/parse line reader: every shape of input gives the lines a plain `split("\n")` of its UTF-8 text
 * gives (CRLF endings removed, no empty last line), whatever the read boundaries, and errors name the file.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, test } from "node:test";
import { gzipSync } from "node:zlib";
import { readLines } from "./lines.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-lines-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function collect(path: string, stdin?: Readable): Promise<string[]> {
  const out: string[] = [];
  for await (const b of readLines(path, stdin)) out.push(...b.lines);
  return out;
}

/** What the reader must return for `bytes`: UTF-8 text split on LF, CR before LF dropped, no final empty line. */
function expected(bytes: Buffer): string[] {
  const text = bytes.toString("utf8");
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines.map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
}

let n = 0;
function file(content: Buffer | string, gz = false): string {
  const p = join(dir, `f${n++}${gz ? ".gz" : ".log"}`);
  const bytes = Buffer.from(content);
  writeFileSync(p, gz ? gzipSync(bytes) : bytes);
  return p;
}

const cases: [string, Buffer][] = [
  ["empty file", Buffer.alloc(0)],
  ["one line without a newline", Buffer.from("Dec  4 10:00:00 srv sshd[1]: hello")],
  ["CRLF endings and a last line without one", Buffer.from("a\r\nb\r\n\r\nc\r")],
  ["only newlines", Buffer.from("\n\n\n")],
  [
    "lines longer than a read (300 KB), between short ones",
    Buffer.from(`short\n${"x".repeat(300_000)}\nmid\n${"y".repeat(200_000)}`),
  ],
  [
    // Multi-byte characters everywhere, including across every 64 KiB read boundary.
    "UTF-8 text across read boundaries",
    Buffer.from(
      Array.from({ length: 20_000 }, (_, i) => `user é${i} 密码 ü ${"€".repeat(i % 7)}`).join("\n"),
    ),
  ],
  [
    "invalid UTF-8 and NUL bytes (decoded with replacement characters, as before)",
    Buffer.concat([
      Buffer.from("ok\n"),
      Buffer.from([0xff, 0xfe, 0x41, 0x00, 0x0a, 0xc3]),
      Buffer.from("\nend\n"),
    ]),
  ],
  [
    "an ASCII chunk followed by a non-ASCII one",
    Buffer.from(`${"ascii line\n".repeat(10_000)}${"ligne accentuée\n".repeat(10_000)}`),
  ],
];

for (const [name, bytes] of cases) {
  test(`readLines: ${name}`, async () => {
    const want = expected(bytes);
    assert.deepEqual(await collect(file(bytes)), want, "plain file");
    assert.deepEqual(await collect(file(bytes, true)), want, "gzip");
    assert.deepEqual(await collect("-", Readable.from([bytes])), want, "stdin");
  });
}

test("readLines: progress counts the bytes read; a consumer may stop early without leaking the file", async () => {
  const bytes = Buffer.from("line of the log\n".repeat(50_000));
  const p = file(bytes);
  let last = 0;
  for await (const b of readLines(p)) last = b.bytesRead;
  assert.equal(last, bytes.length);
  let seen = 0;
  for await (const b of readLines(p)) {
    seen += b.lines.length;
    if (seen > 100) break; // the generator's finally closes the handle after its pending read
  }
  assert.ok(seen > 100 && seen < 50_000);
});

test("readLines: errors name the file", async () => {
  await assert.rejects(collect(join(dir, "missing.log")), /cannot read .*missing\.log: no such file/);
  await assert.rejects(collect(dir), /cannot read .*: is a directory/);
  await assert.rejects(
    collect(file(gzipSync(Buffer.from("x\n".repeat(1000))).subarray(0, 30))),
    /corrupt or truncated gzip data/,
  );
});

test("stdin and pipes: gzip data is sniffed from its first bytes, even split into one-byte chunks", async () => {
  const text = Buffer.from("Jan  1 00:00:00 h sshd[1]: one\nJan  1 00:00:01 h sshd[1]: two\nlast");
  const gz = gzipSync(text);
  assert.deepEqual(await collect("-", Readable.from([gz])), expected(text));
  const bytes = [...gz].map((b) => Buffer.from([b]));
  assert.deepEqual(await collect("-", Readable.from(bytes)), expected(text));
  // Plain text on stdin, one byte at a time, as before.
  assert.deepEqual(await collect("-", Readable.from([...text].map((b) => Buffer.from([b])))), expected(text));
  // Corrupt gzip on stdin: a clear error.
  await assert.rejects(
    collect("-", Readable.from([gz.subarray(0, gz.length - 12)])),
    /cannot read -: corrupt or truncated gzip data/,
  );
});

test("FIFOs (process substitution, named pipes) are read as streams, gzip or not", async () => {
  for (const gz of [false, true]) {
    const fifo = join(dir, `fifo${n++}`);
    execFileSync("mkfifo", [fifo]);
    const text = Buffer.from("a\nb\nc\n");
    const writer = new Promise<void>((resolve, reject) => {
      const w = createWriteStream(fifo);
      w.on("error", reject);
      w.end(gz ? gzipSync(text) : text, () => resolve());
    });
    const [got] = await Promise.all([collect(fifo), writer]);
    assert.deepEqual(got, ["a", "b", "c"], gz ? "gzip" : "plain");
  }
});

test("readLines: a binary input is an error naming the file; a text log with NULs or bad UTF-8 is still text", async () => {
  // Records like /var/log/wtmp's: fixed-size fields, short NUL runs, integers.
  const record = (i: number) => {
    const r = Buffer.alloc(384);
    r.writeInt16LE(7, 0);
    r.writeInt32LE(1000 + i, 4);
    r.write(`pts/${i}`, 8);
    r.write("root", 44);
    r.write(`203.0.113.${i}`, 76);
    r.writeInt32LE(1772409600 + i, 340);
    return r;
  };
  const wtmp = Buffer.concat(Array.from({ length: 20 }, (_, i) => record(i)));
  for (const [p, stdin] of [
    [file(wtmp), undefined],
    [file(wtmp, true), undefined],
    ["-", Readable.from([wtmp])],
  ] as const) {
    await assert.rejects(collect(p, stdin), /cannot read .*: binary data, not a text log/, p);
  }
  // Compressed formats other than gzip, and UTF-16, say what to do.
  await assert.rejects(
    collect(file(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00, 0x00, 0x04]))),
    /xz-compressed data \(decompress it: xz -dc .*\.log \| portcullis replay -\)/,
  );
  await assert.rejects(collect(file(Buffer.from("\ufeffJan 1 x\n", "utf16le"))), /UTF-16 text/);
  // A crash's block of zeros between lines, a line with a few control bytes, latin1 letters: text.
  const line = "Mar  2 10:00:01 srv sshd[1]: Invalid user jos\u00e9 from 203.0.113.7 port 22\n";
  const text = Buffer.concat([
    Buffer.from(line.repeat(50), "latin1"),
    Buffer.alloc(8192),
    Buffer.from(`x\u0001\u0002\u0000y\n${line}`, "latin1"),
  ]);
  assert.deepEqual(await collect(file(text)), expected(text));
  // "BZh" can start a text line: only bzip2's full signature is bzip2.
  assert.deepEqual(await collect(file("BZh and more\n")), ["BZh and more"]);
});

test("stdin and pipes: a long line arriving in many small chunks is joined once (linear, not quadratic)", async () => {
  const long = "x".repeat(8 << 20);
  const bytes = Buffer.from(`a\n${long}\nb`);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += 1024) chunks.push(bytes.subarray(i, i + 1024));
  const started = performance.now();
  const got = await collect("-", Readable.from(chunks));
  // Joined again at every chunk, the 8192 pieces cost about 32 GB of copying (tens of seconds).
  assert.ok(performance.now() - started < 5000, `took ${Math.round(performance.now() - started)} ms`);
  assert.deepEqual(got, ["a", long, "b"]);
});
