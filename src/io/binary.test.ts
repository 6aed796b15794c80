import assert from "node:assert/strict";
import { test } from "node:test";
import { notTextReason } from "./binary.ts";

test("bytes a sender can put into a log (U+FFFD, invalid UTF-8, latin1 or cp1251 letters) never make it binary", () => {
  // The sender chose the path: a log starting with such lines must not be refused as binary (hiding the rest).
  const line = `{"ClientAddr":"203.0.113.7:4711","RequestPath":"/${"\ufffd".repeat(40)}","DownstreamStatus":404}\n`;
  assert.equal(notTextReason(Buffer.from(line.repeat(100)), "access.json"), undefined);
  // rsyslog passes 8-bit bytes on: a user name of invalid UTF-8 in every line of the sample is still text.
  const raw = Buffer.concat(
    Array.from({ length: 500 }, () =>
      Buffer.concat([
        Buffer.from("Mar  2 10:00:01 srv app[1]: login failed for "),
        Buffer.from(Array.from({ length: 60 }, (_, i) => 0x80 + i)),
        Buffer.from(" from 203.0.113.9\n"),
      ]),
    ),
  );
  assert.equal(notTextReason(raw, "syslog"), undefined);
  // A latin1 log dense with accented letters is text.
  const latin1 = Buffer.from(
    "Mar  2 10:00:01 srv app[1]: échec ÀÉÈÊËÎÏÔÙÛÜÇàéèêëîïôùûüç déjà vu\n".repeat(300),
    "latin1",
  );
  assert.equal(notTextReason(latin1, "latin1.log"), undefined);
});

test("control characters and short NUL runs make an input binary; signatures name the format", () => {
  // Random or compressed data without a known signature: about 10% control characters.
  const random = Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + ((i * i) % 251)) % 256));
  assert.match(notTextReason(random, "f") ?? "", /binary data, not a text log .*--text reads it anyway/);
  assert.match(notTextReason(Buffer.from("PK\u0003\u0004rest", "latin1"), "logs.zip") ?? "", /zip archive/);
  // Colored output (ESC) and tabs are text; a crash's block of zeros is padding.
  const colored = Buffer.from("\u001b[31mMar  2 10:00:01\u001b[0m\tsrv sshd[1]: x\n".repeat(200));
  assert.equal(notTextReason(Buffer.concat([Buffer.alloc(4096), colored]), "c.log"), undefined);
});
