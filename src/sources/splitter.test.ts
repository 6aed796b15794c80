import assert from "node:assert/strict";
import { test } from "node:test";
import { charBoundary, LineSplitter } from "./splitter.ts";

const b = (s: string) => Buffer.from(s);

test("lines across chunks, with end offsets; CRLF; the partial rest held", () => {
  const s = new LineSplitter({ maxBytes: 100 });
  assert.deepEqual(s.push(b("ab\ncd")), [{ text: "ab", end: 3, truncated: false }]);
  assert.equal(s.pending, 2);
  assert.deepEqual(s.push(b("e\r\n\nf")), [
    { text: "cde", end: 8, truncated: false },
    { text: "", end: 9, truncated: false },
  ]);
  assert.deepEqual(s.flush(), { text: "f", end: 10, truncated: false });
  assert.equal(s.flush(), undefined);
});

test("the caller's buffer may be reused after push", () => {
  const s = new LineSplitter({ maxBytes: 100 });
  const buf = b("hello");
  s.push(buf);
  buf.fill(0x78);
  assert.equal(s.push(b(" world\n"))[0]!.text, "hello world");
});

test("a line over the cap keeps its head (on a character boundary); the rest is counted", () => {
  const s = new LineSplitter({ maxBytes: 5 });
  const out = [...s.push(b("abcdé")), ...s.push(b("fgh\nok\n"))];
  assert.deepEqual(
    out.map((l) => [l.text, l.truncated]),
    [
      ["abcd", true],
      ["ok", false],
    ],
  );
  assert.equal(s.truncatedLines, 1);
  assert.equal(s.discardedBytes, 5); // "abcdéfgh" is 9 bytes, 4 kept (é would have been cut)
});

test("NUL as a delimiter; skipToNextLine drops a fragment", () => {
  const s = new LineSplitter({ maxBytes: 100, nul: true });
  assert.deepEqual(
    s.push(b("a\0b\n")).map((l) => l.text),
    ["a", "b"],
  );
  const k = new LineSplitter({ maxBytes: 100 });
  k.skipToNextLine();
  assert.deepEqual(
    k.push(b("tail of a line\nnext\n")).map((l) => l.text),
    ["next"],
  );
});

test("charBoundary drops only an incomplete trailing character", () => {
  assert.equal(charBoundary(b("abc")), 3);
  assert.equal(charBoundary(b("aé")), 3);
  assert.equal(charBoundary(b("aé").subarray(0, 2)), 1);
  assert.equal(charBoundary(b("a😀").subarray(0, 4)), 1);
  assert.equal(charBoundary(b("a😀")), 5);
});
