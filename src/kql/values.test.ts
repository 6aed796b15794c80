import assert from "node:assert/strict";
import { test } from "node:test";
import { compileIpMatcher, compileWildcard, ipv4ToInt, parseIsoDate, parseNumber } from "./values.ts";

test("numbers: plain decimal only", () => {
  for (const [t, n] of [
    ["401", 401],
    ["-1.5", -1.5],
    ["+2", 2],
    ["1e3", 1000],
    [".5", 0.5],
    ["5.", 5],
  ] as const) {
    assert.equal(parseNumber(t), n, t);
  }
  for (const t of ["", " 1", "0x10", "Infinity", "NaN", "1e999", "1,5", "1.2.3", "--1", "e3"]) {
    assert.equal(parseNumber(t), undefined, t);
  }
});

test("ISO dates: UTC unless an offset is given, invalid dates refused", () => {
  const table: [string, number | undefined][] = [
    ["2024", Date.UTC(2024, 0, 1)],
    ["2024-02", Date.UTC(2024, 1, 1)],
    ["2024-02-29", Date.UTC(2024, 1, 29)],
    ["2024-01-15T10:30", Date.UTC(2024, 0, 15, 10, 30)],
    ["2024-01-15T10:30:05", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["2024-01-15 10:30:05", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["2024-01-15T10:30:05Z", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["2024-01-15T10:30:05.5Z", Date.UTC(2024, 0, 15, 10, 30, 5, 500)],
    ["2024-01-15T10:30:05.123456789Z", Date.UTC(2024, 0, 15, 10, 30, 5, 123)],
    ["2024-01-15T10:30:05,25z", Date.UTC(2024, 0, 15, 10, 30, 5, 250)],
    ["2024-01-15T12:30:05+02:00", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["2024-01-15T12:30:05+0200", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["2024-01-15T08:30:05-02", Date.UTC(2024, 0, 15, 10, 30, 5)],
    ["0050-01-01", new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(50)],
    ["2023-02-29", undefined],
    ["2024-13-01", undefined],
    ["2024-01-32", undefined],
    ["2024-01-15T24:00", undefined],
    ["2024-01-15T10:60", undefined],
    ["2024-01-15T10", undefined],
    ["2024-01-15T10:30:05.Z", undefined],
    ["2024-01-15T10:30:05+2", undefined],
    ["2024-01-15T10:30:05Zx", undefined],
    ["2024-1-5", undefined],
    ["20240115", undefined],
    ["now-1d", undefined],
    ["", undefined],
  ];
  for (const [t, ms] of table) assert.equal(parseIsoDate(t), ms, t);
  for (let i = 0; i < 1000; i++) {
    const iso = new Date(Date.UTC(1970, 0, 1) + i * 7_777_777_777).toISOString();
    assert.equal(parseIsoDate(iso), Date.parse(iso), iso);
  }
});

test("wildcards agree with an anchored regular expression", () => {
  const alphabet = "ab*";
  const strings = ["", "a", "b", "ab", "ba", "aab", "abab", "bbb", "aba", "abba", "*", "a*b"];
  for (let n = 0; n < 3000; n++) {
    let p = "";
    const len = n % 7;
    for (let i = 0, x = n; i < len; i++, x = Math.floor(x / 3)) p += alphabet[x % 3];
    if (!p.includes("*")) continue;
    const parts = p.split("*");
    const re = new RegExp(`^${parts.join(".*")}$`, "s");
    const m = compileWildcard(parts);
    for (const s of strings) assert.equal(m(s), re.test(s), `${p} ~ ${s}`);
  }
});

test("IPv4 as an integer, CIDR and address matchers", () => {
  assert.equal(ipv4ToInt("10.0.0.1"), 0x0a000001);
  assert.equal(ipv4ToInt("255.255.255.255"), 0xffffffff);
  assert.equal(ipv4ToInt("010.000.000.001"), 0x0a000001);
  for (const bad of ["10.0.0", "10.0.0.256", "10.0.0.1.", "a.b.c.d", "1..2.3", "10.0.0.0001", ""]) {
    assert.equal(ipv4ToInt(bad), -1, bad);
  }
  const net = compileIpMatcher("10.0.0.0/8")!;
  assert.ok(net("10.255.0.1") && net("::ffff:10.0.0.1") && !net("11.0.0.1") && !net("x") && !net("::1"));
  const one = compileIpMatcher("192.0.2.1")!;
  assert.ok(one("192.0.2.1") && one("192.000.002.001") && one("::ffff:c000:201") && !one("192.0.2.10"));
  const v6 = compileIpMatcher("2001:db8::/32")!;
  assert.ok(v6("2001:db8::1") && v6("2001:DB8:0:0:0:0:0:1") && !v6("2001:db9::1") && !v6("10.0.0.1"));
  assert.equal(compileIpMatcher("not-an-ip"), undefined);
  assert.equal(compileIpMatcher("10.0.0.0/33"), undefined);
});
