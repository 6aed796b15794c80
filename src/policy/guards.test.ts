import assert from "node:assert/strict";
import { test } from "node:test";
import { ownAddresses, parseUtmp, utmpRecord } from "./guards.ts";

test("own addresses include loopback", () => {
  assert.ok(ownAddresses().includes("127.0.0.1"));
});

test("utmp: logged-in users with their remote addresses; other record types ignored", () => {
  const buf = Buffer.concat([
    utmpRecord({ type: 2, pid: 0, line: "~", user: "reboot", host: "6.1.0" }),
    utmpRecord({
      pid: 100,
      line: "pts/0",
      user: "alice",
      host: "198.51.100.10",
      addr: [0xc633640a, 0, 0, 0],
    }),
    utmpRecord({ pid: 101, line: "pts/1", user: "bob", host: "2001:db8::7", addr: [0x20010db8, 0, 0, 7] }),
    utmpRecord({ pid: 102, line: "tty1", user: "root", host: "" }),
    utmpRecord({ pid: 103, line: "pts/2", user: "carol", host: "203.0.113.5" }),
    utmpRecord({ type: 8, pid: 104, line: "pts/3", user: "", host: "192.0.2.1" }),
  ]);
  assert.deepEqual(
    parseUtmp(buf).map((s) => [s.user, s.line, s.address]),
    [
      ["alice", "pts/0", "198.51.100.10"],
      ["bob", "pts/1", "2001:db8::7"],
      ["root", "tty1", undefined],
      ["carol", "pts/2", "203.0.113.5"],
    ],
  );
  assert.deepEqual(parseUtmp(Buffer.alloc(100)), []);
});
