import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ForgedRecordFilter, markForged, MAX_RECORD, tailReach } from "./records.ts";
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

describe("nginx error records that carried line breaks", () => {
  test("a forged line between the record's head and its tail is marked with both; genuine lines are not", () => {
    const path = `/x\n${FORGED}\ny`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    assert.equal(rec.length, 3);
    const lines = [...GENUINE, ...rec, ...GENUINE];
    assert.deepEqual(forgedIndexes(lines), [2, 3, 4]);
  });

  test("a record short enough to keep its whole request: k encoded line feeds mark at most k lines before it", () => {
    const path = `/x\n${FORGED.slice(0, 60)}`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    assert.match(rec.at(-1)!, /HTTP\/1\.1", host/);
    assert.equal(tailReach(rec.at(-1)!), 1);
    // The genuine line right before the record is not taken, though it lies within 2048 characters.
    assert.deepEqual(forgedIndexes([...GENUINE, ...rec]), [2, 3]);
  });

  test("a record cut at 2048 bytes (no request left): every line of it is marked, the one before it is not", () => {
    const path = `/z${`\n${FORGED}`.repeat(12)}`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    assert.equal(rec.join("\n").length + 1, MAX_RECORD);
    assert.ok(rec.length >= 12);
    assert.equal(tailReach(rec.at(-1)!), Number.POSITIVE_INFINITY);
    const lines = [GENUINE[0]!, "x".repeat(MAX_RECORD), ...rec, GENUINE[1]!];
    assert.deepEqual(
      forgedIndexes(lines),
      rec.map((_, i) => i + 2),
    );
  });

  test("not tails: a line feed encoded in the query, a limit_req line, a referrer, an ordinary 404", () => {
    const lines = [
      `2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/a" failed (2: No such file or directory), client: 192.0.2.1, server: s, request: "GET /a?q=%0a HTTP/1.1", host: "s"`,
      `2024/06/03 10:11:12 [error] 7#7: *9 limiting requests, excess: 5.1 by zone "one", client: 192.0.2.1, server: s, request: "GET /a%0ab HTTP/1.1", host: "s"`,
      `2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/a" failed (2: No such file or directory), client: 192.0.2.1, server: s, request: "GET /a HTTP/1.1", host: "s", referrer: "http://x/%0a"`,
      ...GENUINE,
    ];
    for (const l of lines) assert.equal(tailReach(l), undefined, l);
    assert.deepEqual(forgedIndexes(lines), []);
  });

  test("a long single-line record cut at 2048 bytes takes nothing before it", () => {
    const path = `/${"a".repeat(3000)}`;
    const rec = nginxRecord(path, `GET ${path} HTTP/1.1`);
    assert.equal(rec.length, 1);
    assert.deepEqual(forgedIndexes([...GENUINE, ...rec]), [2]);
  });

  test("the filter holds lines until 2048 characters follow them: a record split over pushes is found whole", () => {
    const path = `/x\n${FORGED}\n${FORGED}\ny`;
    const rec = nginxRecord(path, `GET ${enc(path)} HTTP/1.1`);
    const input = [...GENUINE, ...rec, ...GENUINE, ...GENUINE];
    const seen: { first: number; last: number; sender: string }[] = [];
    const f = new ForgedRecordFilter((r) => seen.push({ first: r.first, last: r.last, sender: r.sender }));
    const out: string[] = [];
    for (const line of input) out.push(...f.push([line])); // one line at a time: the worst split
    out.push(...f.end());
    assert.equal(out.length, input.length, "every line handed on once, in order");
    assert.deepEqual(
      out.map((l, i) => (l === "" ? i : -1)).filter((i) => i >= 0),
      [2, 3, 4, 5],
    );
    assert.deepEqual(
      out.filter((l) => l !== ""),
      [...GENUINE, ...GENUINE, ...GENUINE],
    );
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.first, 3); // 1-based line numbers
    assert.equal(seen[0]!.last, 6);
    assert.match(seen[0]!.sender, /^203\.0\.113\.9|^20/);
  });

  test("the filter hands lines on once more than 2048 characters follow them, and everything at the end", () => {
    const f = new ForgedRecordFilter(() => assert.fail("no record"));
    const line = "y".repeat(999);
    assert.deepEqual(f.push([line, line]), []);
    assert.deepEqual(f.push([line]), [line]);
    assert.deepEqual(f.end(), [line, line]);
  });
});
