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
