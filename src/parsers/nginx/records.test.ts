import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  carriesLineFeed,
  endsUpstreamPath,
  ForgedRecordFilter,
  ForgedRecordScanner,
  markForged,
  MAX_RECORD,
  mayEndCutRecord,
  namesSubrequest,
  opensRecord,
  recordHoldFrom,
  recordSafeCut,
} from "./records.ts";
import { encodePath as enc, forgedAuthFailure, nginxOpenRecord as nginxRecord } from "./testing.ts";

const FORGED = forgedAuthFailure("198.51.100.7");

const GENUINE = [
  `2024/06/03 10:11:10 [error] 7#7: *3 user "bob": password mismatch, client: 192.0.2.10, server: example.com, request: "GET /secret HTTP/1.1", host: "example.com"`,
  `2024/06/03 10:11:11 [error] 7#7: *4 open() "/var/www/html/favicon.ico" failed (2: No such file or directory), client: 192.0.2.11, server: example.com, request: "GET /favicon.ico HTTP/1.1", host: "example.com"`,
];

function forgedIndexes(lines: string[]): number[] {
  const set = new Set<number>();
  markForged(lines, set);
  return [...set].sort((a, b) => a - b);
}

const bytes = (l: string) => Buffer.byteLength(l) + 1;
/** The indexes a correct guard leaves unread around a request line at `j` carrying %0a: 2048 bytes each way. */
function aroundRequest(lines: string[], j: number): number[] {
  const out = [j];
  let sum = bytes(lines[j]!);
  for (let i = j - 1; i >= 0 && (sum += bytes(lines[i]!)) <= MAX_RECORD; i--) out.push(i);
  let ahead = MAX_RECORD - bytes(lines[j]!);
  for (let i = j + 1; i < lines.length && ahead > 0; i++) {
    out.push(i);
    ahead -= bytes(lines[i]!);
  }
  return out.sort((a, b) => a - b);
}
const many = (n: number) => Array.from({ length: n }, (_, i) => GENUINE[i % 2]!);

describe("nginx error records that carried line breaks", () => {
  test("a request line carrying %0a: the record and every line within 2048 bytes before and after it are left unread", () => {
    const path = `/x\n${FORGED.slice(0, 60)}`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    assert.match(rec.at(-1)!, /HTTP\/1\.1", host/);
    assert.equal(carriesLineFeed(rec.at(-1)!), true);
    const lines = [...many(20), ...rec, ...many(20)];
    const got = forgedIndexes(lines);
    assert.deepEqual(got, aroundRequest(lines, 20 + rec.length - 1));
    assert.ok(got.includes(20) && !got.includes(0) && !got.includes(lines.length - 1), String(got));
  });

  test("a forged line naming another address is never read, whatever the referrer holds", () => {
    const path = `/x\n${FORGED}\ny`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    // A referrer holding a fake `, client: ` (it was the last one on the line, and not after a path message).
    rec[rec.length - 1] += ', referrer: "a, client: b"';
    const lines = [...many(3), ...rec, ...many(3)];
    const got = new Set(forgedIndexes(lines));
    for (let i = 3; i < 3 + rec.length; i++) assert.ok(got.has(i), `line ${i} read: ${lines[i]}`);
  });

  test("a record cut at 2048 bytes (no request left): exactly its lines, none before or after", () => {
    const path = `/z${`\n${FORGED}`.repeat(12)}`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    assert.equal(Buffer.byteLength(rec.join("\n")) + 1, MAX_RECORD);
    assert.ok(rec.length >= 12);
    assert.equal(mayEndCutRecord(rec.at(-1)!), true);
    const lines = [...many(5), ...rec, ...many(5)];
    assert.deepEqual(
      forgedIndexes(lines),
      rec.map((_, i) => i + 5),
    );
  });

  test("a record cut at 2048 bytes ending in `is forbidden (13: Permission denied)` is found too", () => {
    const path = `/priv/x${`\n${FORGED}`.repeat(10)}/`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`, "203.0.113.9", {
      before: '"',
      after: 'index.html" is forbidden',
      errno: "13: Permission denied",
    });
    assert.match(
      rec.at(-1)!,
      /index\.html" is forbidden \(13: Permission denied\), client: 203\.0\.113\.9, server: example\.com, request: "GET \/priv/,
    );
    assert.equal(Buffer.byteLength(rec.join("\n")) + 1, MAX_RECORD);
    assert.deepEqual(
      forgedIndexes([...many(4), ...rec]),
      rec.map((_, i) => i + 4),
    );
  });

  test("not marks: %0a in the query, a limit_req line, a referrer, a 404, HTTP/0.9, a fake path message in a referrer", () => {
    const lines = [
      `2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/a" failed (2: No such file or directory), client: 192.0.2.1, server: s, request: "GET /a?q=%0a HTTP/1.1", host: "s"`,
      `2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/a" failed (2: No such file or directory), client: 192.0.2.1, server: s, request: "GET /a HTTP/1.1", host: "s", referrer: "http://x/%0a"`,
      `2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/.env" failed (2: No such file or directory), client: 192.0.2.2, server: s, request: "GET /.env"`,
      `2024/06/03 10:11:12 [error] 7#7: *9 user "bob": password mismatch, client: 192.0.2.3, server: s, request: "GET /secret HTTP/1.1", host: "s", referrer: "x" failed (2: x), client: z"`,
      ...GENUINE,
    ];
    assert.equal(carriesLineFeed(lines[0]!), false);
    assert.equal(carriesLineFeed(lines[1]!), false);
    assert.deepEqual(forgedIndexes([...many(12), ...lines, ...many(12)]), []);
  });

  test("a long single-line record of multi-byte text cut at 2048 bytes takes nothing (it is one record)", () => {
    const path = `/статья-${"о".repeat(1100)}`;
    const rec = nginxRecord(path, `GET ${encodeURI(path)} HTTP/1.1`);
    assert.equal(rec.length, 1);
    assert.ok(Buffer.byteLength(rec[0]!) + 1 >= MAX_RECORD - 1);
    assert.deepEqual(forgedIndexes([...many(12), ...rec]), []);
  });

  test("U+FFFD counts 1 to 3 bytes: a cut record with invalid bytes decoded is still found", () => {
    const path = `/z\uFFFD\uFFFD${`\n${FORGED}`.repeat(12)}`;
    // As nginx wrote it, the two invalid bytes were one byte each: build it with single-byte stand-ins, then
    // decode them as the reader does (U+FFFD, three bytes in UTF-8).
    const raw = nginxRecord(path.replace(/\uFFFD/g, "#"), "GET /z%ff%fe%0a... HTTP/1.1");
    const rec = raw.map((l, i) => (i === 0 ? l.replace("/z##", "/z\uFFFD\uFFFD") : l));
    assert.ok(Buffer.byteLength(rec.join("\n")) + 1 > MAX_RECORD);
    assert.deepEqual(
      forgedIndexes([...many(4), ...rec]),
      rec.map((_, i) => i + 4),
    );
  });

  test("the filter finds the same lines when the input comes one line at a time; line numbers stay right", () => {
    const path = `/x\n${FORGED}\n${FORGED}\ny`;
    const short = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    const cut = nginxRecord(`/z${`\n${FORGED}`.repeat(12)}`, "GET /z%0a... HTTP/1.1");
    const input = [...many(15), ...short, ...many(15), ...cut, ...many(15)];
    const expected = forgedIndexes(input);
    const seen: { first: number; last: number }[] = [];
    const f = new ForgedRecordFilter((r) => seen.push({ first: r.first, last: r.last }));
    const out: string[] = [];
    for (const line of input) out.push(...f.push([line])); // one line at a time: the worst split
    out.push(...f.end());
    assert.equal(out.length, input.length, "every line handed on once, in order");
    assert.deepEqual(
      out.map((l, i) => (l === "" ? i : -1)).filter((i) => i >= 0),
      expected,
    );
    assert.equal(f.forgedLines, expected.length);
    for (const i of expected)
      assert.ok(
        seen.some((r) => r.first <= i + 1 && i + 1 <= r.last),
        `line ${i + 1}`,
      );
  });

  test("the scanner carries the marking of following lines over to the next batch (daemon)", () => {
    const rec = nginxRecord(`/x\n${FORGED.slice(0, 40)}`, `GET /x%0a${enc(FORGED.slice(0, 40))} HTTP/1.1`);
    const whole = [...many(3), ...rec, ...many(12)];
    const expected = forgedIndexes(whole);
    const scanner = new ForgedRecordScanner();
    const cutAt = 3 + rec.length; // the batch ends right after the request line
    const a = new Set<number>();
    const b = new Set<number>();
    scanner.scan(whole.slice(0, cutAt), a);
    scanner.shift(cutAt);
    scanner.scan(whole.slice(cutAt), b);
    assert.deepEqual(
      [...a, ...[...b].map((i) => i + cutAt)].sort((x, y) => x - y),
      expected,
    );
    assert.ok(b.size > 0);
  });

  test("the filter hands lines on once more than 2048 characters follow them, and everything at the end", () => {
    const f = new ForgedRecordFilter(() => assert.fail("no record"));
    const line = "y".repeat(999);
    assert.deepEqual(f.push([line, line]), []);
    assert.deepEqual(f.push([line]), [line]);
    assert.deepEqual(f.end(), [line, line]);
  });
});

test("a cut record whose forged lines ended with %0d (the reader drops that carriage return) is still found", () => {
  const path = `/z${`\r\n${FORGED}`.repeat(12)}`;
  // nginx wrote the carriage returns; the reader removes each one before its line feed.
  const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`).map((l) => l.replace(/\r$/, ""));
  assert.ok(Buffer.byteLength(rec.join("\n")) + 1 < MAX_RECORD);
  assert.deepEqual(
    forgedIndexes([...many(4), ...rec]),
    rec.map((_, i) => i + 4),
  );
});

test("sources cut batches where no record is split, and hold back what a later mark may take, within a cap", () => {
  const rec = nginxRecord(`/x\n${FORGED.slice(0, 40)}`, `GET /x%0a${enc(FORGED.slice(0, 40))} HTTP/1.1`);
  const lines = [...many(30), ...rec, ...many(30)];
  const mark = 30 + rec.length - 1;
  // A cut inside the record, or within 2048 bytes before its mark, moves to just after the mark.
  assert.equal(recordSafeCut(lines, 31), mark + 1);
  assert.equal(recordSafeCut(lines, 5), 5);
  assert.equal(recordSafeCut(lines, lines.length + 3), lines.length);
  // Held at the end of a full read: the lines within 2048 characters of the end, and what a mark among them
  // can take (here the record's head and the lines before it).
  const upToMark = lines.slice(0, mark + 2);
  const from = recordHoldFrom(upToMark);
  assert.ok(from < 30, String(from));
  // Without marks: exactly the lines within 2048 characters of the end.
  const plain = many(40);
  let chars = 0;
  let expected = plain.length;
  while (expected > 0 && (chars += plain[expected - 1]!.length + 1) <= MAX_RECORD) expected--;
  assert.equal(recordHoldFrom(plain), expected);
  // A flood of marks holds back at most about 32 KiB.
  const flood = Array.from({ length: 3000 }, () => rec.at(-1)!);
  const held = flood.slice(recordHoldFrom(flood)).join("\n").length;
  assert.ok(held <= 16 * MAX_RECORD + 2 * MAX_RECORD, String(held));
});

describe("second review against a real nginx: records without a versioned request, and Basic-auth user names", () => {
  const SSHD = "host [sshd] Failed password for root from 198.51.100.9 port 22 ssh2"; // no colon, read as sshd
  test("an HTTP/0.9 request (no version) or HTTP/1.10 carrying %0a marks its record", () => {
    for (const version of ["", " HTTP/1.10", " HTTP/1.01"]) {
      const path = `/h9/x${`\n${SSHD}`.repeat(10)}\ny`;
      const rec = nginxRecord(path, `GET ${enc(path)}${version}`);
      assert.ok(Buffer.byteLength(rec.join("\n")) + 1 < MAX_RECORD, "a short record, not cut");
      const lines = [...many(15), ...rec, ...many(15)];
      const got = new Set(forgedIndexes(lines));
      for (let i = 15; i < 15 + rec.length; i++)
        assert.ok(got.has(i), `${JSON.stringify(version)}: line ${i}`);
    }
  });

  test("a user name carrying line feeds: the record's first line has no client, so what follows it is not read", () => {
    const rec = [
      `2024/06/03 10:11:12 [error] 7#7: *11 user "x`,
      ...Array.from({ length: 12 }, () => SSHD),
      `y" was not found in "/etc/nginx/.htpasswd", client: 127.0.0.1, server: example.com, request: "GET /secret/ HTTP/1.1", host: "example.com"`,
    ];
    assert.equal(opensRecord(rec[0]!), true);
    const lines = [...many(15), ...rec, ...many(15)];
    const got = forgedIndexes(lines);
    for (let i = 15; i < 15 + rec.length; i++) assert.ok(got.includes(i), `line ${i}`);
    assert.ok(!got.includes(14), "nothing before the record's first line");
    // Cut at 2048 bytes inside the user name: no tail at all, still not read.
    const cut = [rec[0]!, ...rec.slice(1, 7), "z".repeat(2000)];
    const got2 = forgedIndexes([...many(3), ...cut, ...many(3)]);
    for (let i = 3; i < 3 + cut.length; i++) assert.ok(got2.includes(i), `cut line ${i}`);
  });

  test("records about a connection that have their client are no first lines; nor are debug records", () => {
    for (const l of [...GENUINE, `2024/06/03 10:11:12 [debug] 7#7: *11 http header: "Host: example.com"`])
      assert.equal(opensRecord(l), false, l);
  });
});

test("third review: spaces after the method (nginx serves `GET  /x HTTP/1.1`) do not hide the %0a of the target", () => {
  const fake = `/gen/x, client: 10.9.9.9${`\n${FORGED}`.repeat(8)}\ny`;
  for (const request of [`GET  ${enc(fake)} HTTP/1.1`, `GET   ${enc(fake)}`]) {
    const rec = nginxRecord(fake, request);
    assert.equal(carriesLineFeed(rec.at(-1)!), true, request.slice(0, 20));
    const lines = [...many(12), ...rec, ...many(12)];
    const got = new Set(forgedIndexes(lines));
    for (let i = 12; i < 12 + rec.length; i++) assert.ok(got.has(i), `line ${i}`);
  }
});

test("fourth review: an X-Accel-Redirect path (decoded by nginx, not in the request line) marks its record", () => {
  const rec = [
    `2026/12/06 06:14:33 [error] 19956#19956: *44 open() "/var/www/html/x, client: 10.9.9.9`,
    ...Array.from({ length: 4 }, () => FORGED),
    `y" failed (2: No such file or directory), client: 127.0.0.1, server: example.com, request: "POST /app HTTP/1.1", upstream: "fastcgi://127.0.0.1:43502", host: "example.com"`,
  ];
  assert.equal(endsUpstreamPath(rec.at(-1)!), true);
  const lines = [...many(12), ...rec, ...many(12)];
  const got = new Set(forgedIndexes(lines));
  for (let i = 12; i < 12 + rec.length; i++) assert.ok(got.has(i), `line ${i}`);
  assert.ok(!got.has(12 + rec.length), "nothing after it");
  // A path message without an upstream, or an upstream error that is no path message, is no such mark.
  assert.equal(endsUpstreamPath(GENUINE[1]!), false);
  assert.equal(
    endsUpstreamPath(
      `2024/06/03 10:11:12 [error] 7#7: *9 connect() failed (111: Connection refused) while connecting to upstream, client: 192.0.2.1, server: s, request: "GET / HTTP/1.1", upstream: "http://127.0.0.1:1/", host: "s"`,
    ),
    false,
  );
});

describe("fifth review against a real nginx", () => {
  const SSHD = "host [sshd] Failed password for root from 198.51.100.7 port 22 ssh2";
  const check = (rec: string[]) => {
    const lines = [...many(12), ...rec, ...many(12)];
    const got = new Set(forgedIndexes(lines));
    for (let i = 12; i < 12 + rec.length; i++) assert.ok(got.has(i), `line ${i}: ${lines[i]}`);
  };

  test("a user name holding a literal %0a on its first line still opens its record", () => {
    check([
      `2026/12/06 06:33:06 [error] 17654#17654: *50 user "u%0a`,
      ...Array.from({ length: 6 }, () => SSHD),
      `end" was not found in "/etc/nginx/htpasswd", client: 127.0.0.1, server: example.com, request: "GET /secret HTTP/1.1", host: "example.com"`,
    ]);
  });

  test("WebDAV COPY and MOVE: the Destination path nginx decodes marks its record", () => {
    const fake = ", client: 10.9.9.9, server: example.com";
    check([
      `2026/12/06 06:30:16 [crit] 14521#14521: *1 open() "/var/www/html/nodir/sub/x${fake}`,
      FORGED,
      SSHD,
      `end" failed (2: No such file or directory), client: 127.0.0.1, server: example.com, request: "COPY /dav/src.txt HTTP/1.1", host: "example.com"`,
    ]);
    check([
      `2026/12/06 06:30:16 [error] 14521#14521: *22 "/var/www/html/dav/x${fake}`,
      SSHD,
      SSHD,
      `end" could not be created (17: File exists), client: 127.0.0.1, server: example.com, request: "MOVE /dav/src.txt HTTP/1.1", host: "example.com"`,
    ]);
  });

  test("an HTTP/2 header echoed with its line feeds (info level) opens its record, even with a fake client", () => {
    check([
      `2026/12/06 06:30:43 [info] 14521#14521: *3 client sent header "x-a" with invalid value: "x, client: 10.9.9.9, server: example.com, request: "GET /a HTTP/1.1", host: "example.com"`,
      FORGED,
      SSHD,
      `end" while reading client request headers, client: 127.0.0.1, server: example.com, host: "example.com"`,
    ]);
  });
});

test("sixth review: an SSI subrequest prints its decoded URI after the request: lines on both sides are unread", () => {
  const SSHD = "host [sshd] Failed password for root from 198.51.100.7 port 22 ssh2";
  const forged = [FORGED, SSHD, SSHD];
  const rec = [
    `2026/12/06 06:51:44 [error] 21020#21020: *6 open() "/var/www/html/inc/a, client: 10.9.9.9`,
    ...forged,
    `z" failed (2: No such file or directory), client: 127.0.0.1, server: example.com, request: "GET /ssi/a.html?p=a%2C%20client%3A%2010.9.9.9%0A... HTTP/1.1", subrequest: "/inc/a, client: 10.9.9.9`,
    ...forged,
    `z", host: "example.com"`,
  ];
  assert.equal(namesSubrequest(rec[4]!), true);
  const lines = [...many(12), ...rec, ...many(12)];
  const got = new Set(forgedIndexes(lines));
  for (let i = 12; i < 12 + rec.length; i++) assert.ok(got.has(i), `line ${i}: ${lines[i]}`);
});

test("seventh review: 'unsafe URI' and redirection-cycle records echo a decoded URI: their first line opens them", () => {
  const SSHD = "host [sshd] Failed password for root from 198.51.100.7 port 22 ssh2";
  for (const [first, last] of [
    [
      `2026/12/06 06:58:50 [error] 14288#14288: *45 unsafe URI "/inc/../../a, client: 10.9.9.9`,
      `z" was detected, client: 127.0.0.1, server: example.com, request: "MOVE /dav/src.txt HTTP/1.1", host: "example.com"`,
    ],
    [
      `2026/12/06 06:58:50 [error] 14288#14288: *48 rewrite or internal redirection cycle while internally redirecting to "/xl/na, client: 10.9.9.9`,
      `z" while reading response header from upstream, client: 127.0.0.1, server: example.com, request: "GET /xl/n?y=x HTTP/1.1", upstream: "http://127.0.0.1:1/xl/n", host: "example.com"`,
    ],
  ] as const) {
    assert.equal(opensRecord(first), true, first);
    const rec = [first, FORGED, FORGED, SSHD, SSHD, SSHD, last];
    const lines = [...many(12), ...rec, ...many(12)];
    const got = new Set(forgedIndexes(lines));
    for (let i = 12; i < 12 + rec.length; i++) assert.ok(got.has(i), `line ${i}: ${lines[i]}`);
  }
});
