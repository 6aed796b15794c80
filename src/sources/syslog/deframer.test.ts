import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { detect, FramingError, TcpDeframer } from "./deframer.ts";

const b = (s: string) => Buffer.from(s);
const frame = (m: string) => `${Buffer.byteLength(m)} ${m}`;

/** Feeds `input` in pieces of `size` bytes. */
function feed(d: TcpDeframer, input: string, size = Infinity): string[] {
  const buf = b(input);
  const out: string[] = [];
  for (let i = 0; i < buf.length; i += size === Infinity ? buf.length : size) {
    out.push(...d.push(buf.subarray(i, Math.min(buf.length, i + (size === Infinity ? buf.length : size)))));
  }
  const last = d.end();
  if (last !== undefined) out.push(last);
  return out;
}

describe("TCP syslog framing (RFC 6587)", () => {
  test("detection from the first bytes", () => {
    assert.equal(detect(b("<34>Oct")), "delimited");
    assert.equal(detect(b("57 <34>1")), "octet-counting");
    assert.equal(detect(b("57")), undefined, "undecided until the space or another byte");
    assert.equal(detect(b("2025-11-23T10:00:00Z host sshd")), "delimited", "ISO timestamp without PRI");
    assert.equal(detect(b("0 x")), "delimited");
  });

  test("octet counting, whole and split byte by byte; messages may contain newlines", () => {
    const msgs = [
      "<34>1 2003-10-11T22:14:15.003Z host su - - - 'su root' failed",
      "<13>Oct 11 x: a\nb",
      "<13>é ü",
    ];
    const input = msgs.map(frame).join("");
    assert.deepEqual(feed(new TcpDeframer(1024), input), msgs);
    const d = new TcpDeframer(1024);
    assert.deepEqual(feed(d, input, 1), msgs);
    assert.equal(d.framing, "octet-counting");
  });

  test("LF, CRLF and NUL delimiters; a last message without delimiter at close; empty ones skipped", () => {
    const d = new TcpDeframer(1024);
    assert.deepEqual(feed(d, "<13>a\n<13>b\r\n\n<13>c\0<13>d", 3), ["<13>a", "<13>b", "<13>c", "<13>d"]);
    assert.equal(d.framing, "delimited");
  });

  test("an oversized message keeps its head; the stream stays in sync", () => {
    const big = "<13>" + "x".repeat(5000);
    const d = new TcpDeframer(1000);
    assert.deepEqual(feed(d, frame(big) + frame("<13>next"), 700), [big.slice(0, 1000), "<13>next"]);
    assert.equal(d.truncated, 1);
    const n = new TcpDeframer(1000);
    assert.deepEqual(feed(n, `${big}\n<13>next\n`, 700), [big.slice(0, 1000), "<13>next"]);
    assert.equal(n.truncated, 1);
  });

  test("a broken octet-counting header or a cut frame is a framing error; earlier messages survive", () => {
    const d = new TcpDeframer(1024);
    assert.deepEqual(d.push(b(frame("<13>ok") + "12x<13>bad")), ["<13>ok"]);
    assert.ok(d.error instanceof FramingError);
    assert.deepEqual(d.push(b(frame("<13>more"))), [], "nothing after an error");
    const cut = new TcpDeframer(1024);
    cut.push(b("20 <13>only part"));
    assert.equal(cut.end(), undefined);
    assert.ok(cut.error instanceof FramingError);
  });

  test("a newline between octet-counted frames is tolerated", () => {
    assert.deepEqual(feed(new TcpDeframer(1024), `${frame("<13>a")}\n${frame("<13>b")}\n`), [
      "<13>a",
      "<13>b",
    ]);
  });
});
