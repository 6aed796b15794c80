import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalIp, CidrSet, groupKey, parseCidr, splitHostPort } from "./ip.ts";

test("canonical IPv4, zero-padded octets read as decimal", () => {
  assert.equal(canonicalIp("1.2.3.4"), "1.2.3.4");
  assert.equal(canonicalIp("192.030.0.6"), "192.30.0.6");
  assert.equal(canonicalIp("010.000.000.001"), "10.0.0.1");
  for (const bad of [
    "999.1.1.1",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.4; rm -rf /",
    "",
    "a.b.c.d",
    "1..2.3",
    "1.2.3.0004",
  ]) {
    assert.equal(canonicalIp(bad), undefined, bad);
  }
});

test("canonical IPv6: RFC 5952, mapped IPv4, zone ids and brackets", () => {
  assert.equal(canonicalIp("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assert.equal(canonicalIp("2001:db8:0:0:1:0:0:1"), "2001:db8::1:0:0:1");
  assert.equal(canonicalIp("::ffff:1.2.3.4"), "1.2.3.4");
  assert.equal(canonicalIp("::FFFF:102:304"), "1.2.3.4");
  assert.equal(canonicalIp("[2001:db8::1]"), "2001:db8::1");
  assert.equal(canonicalIp("fe80::1%eth0"), "fe80::1");
  assert.equal(canonicalIp("::"), "::");
  assert.equal(canonicalIp("::1"), "::1");
  assert.equal(canonicalIp("1::"), "1::");
  assert.equal(canonicalIp("2001:0db8:0000:0000:0001:0000:0000:0000"), "2001:db8:0:0:1::");
  assert.equal(canonicalIp("aaaa:bbbb:cccc:1234::1:1"), "aaaa:bbbb:cccc:1234::1:1");
  assert.equal(canonicalIp("2001:db8::1::1"), undefined);
  assert.equal(canonicalIp("2001:db8::12345"), undefined);
  assert.equal(canonicalIp("1:2:3:4:5:6:7:8:9"), undefined);
  assert.equal(canonicalIp(":1:2"), undefined);
  // Mapped IPv4 in every spelling is the IPv4 address; out-of-range or short embedded IPv4 is no address.
  assert.equal(canonicalIp("::ffff:0102:0304"), "1.2.3.4");
  assert.equal(canonicalIp("0:0:0:0:0:FFFF:1.2.3.4"), "1.2.3.4");
  assert.equal(canonicalIp("::ffff:999.1.1.1"), undefined);
  assert.equal(canonicalIp("::ffff:1.2.3"), undefined);
  assert.equal(canonicalIp("0x7f.0.0.1"), undefined);
  assert.equal(canonicalIp("1:2:3:4:5:6:7::8"), undefined);
  // IPv4-compatible (deprecated), SIIT and NAT64 addresses are IPv6 peers: never aliased to an IPv4 host.
  assert.equal(canonicalIp("::1.2.3.4"), "::102:304");
  assert.equal(canonicalIp("::ffff:0:1.2.3.4"), "::ffff:0:102:304");
  assert.equal(canonicalIp("64:ff9b::192.0.2.1"), "64:ff9b::c000:201");
  // Zone ids and brackets belong to IPv6 only; an empty zone is no zone.
  assert.equal(canonicalIp("[fe80::1%eth0]"), "fe80::1");
  assert.equal(canonicalIp("1.2.3.4%eth0"), undefined);
  assert.equal(canonicalIp("[1.2.3.4]"), undefined);
  assert.equal(canonicalIp("fe80::1%"), undefined);
});

test("host:port splitting, including IPv6 without brackets", () => {
  assert.deepEqual(splitHostPort("198.51.100.87:5543"), { ip: "198.51.100.87", port: 5543 });
  assert.deepEqual(splitHostPort("2001:db8::1234:58430"), { ip: "2001:db8::1234", port: 58430 });
  assert.deepEqual(splitHostPort("[2001:db8::1]:22"), { ip: "2001:db8::1", port: 22 });
  assert.deepEqual(splitHostPort("::ffff:192.168.33.1:58430"), { ip: "192.168.33.1", port: 58430 });
  assert.equal(splitHostPort("1.2.3.4"), undefined);
  assert.deepEqual(splitHostPort("[fe80::1%eth0]:22"), { ip: "fe80::1", port: 22 });
  // The port is 1 to 5 decimal digits: not empty, hex, exponent or padded with a space.
  for (const bad of [
    "[::1]:",
    "[::1]:0x50",
    "[::1]:1e3",
    "[::1]: 80",
    "[::1]:65536",
    "1.2.3.4:",
    "1.2.3.4:+1",
  ])
    assert.equal(splitHostPort(bad), undefined, bad);
});

test("CIDR sets match any spelling; IPv6 groups per /64", () => {
  const set = new CidrSet(["10.0.0.0/8", "2001:db8::/32", "127.0.0.1"]);
  assert.ok(set.has("10.1.2.3"));
  assert.ok(set.has("::ffff:10.9.9.9"));
  assert.ok(set.has("2001:DB8:1::5"));
  assert.ok(set.has("127.0.0.1"));
  assert.ok(!set.has("11.0.0.1"));
  assert.ok(!set.has("127.0.0.2"));
  assert.equal(parseCidr("10.1.2.3/8")?.text, "10.0.0.0/8");
  assert.equal(parseCidr("10.1.2.3/33"), undefined);
  // IPv4-mapped ranges: the prefix counts all 128 bits.
  assert.equal(parseCidr("::ffff:10.0.0.0/104")?.text, "10.0.0.0/8");
  assert.equal(parseCidr("::ffff:192.0.2.7/128")?.text, "192.0.2.7");
  assert.equal(parseCidr("::ffff:1.2.3.4/8"), undefined);
  assert.equal(parseCidr("::ffff:1.2.3.4/129"), undefined);
  assert.equal(groupKey("2001:db8:1:2:3:4:5:6"), "2001:db8:1:2::/64");
  assert.equal(groupKey("2001:db8:1:2:3:4:5:6", 48), "2001:db8:1::/48");
  assert.equal(groupKey("1.2.3.4"), "1.2.3.4");
  // An address embedding an IPv4 host (NAT64, SIIT, IPv4-compatible) is one host: its /64 would be every IPv4
  // client behind the translator.
  for (const a of ["64:ff9b::cb00:712d", "64:ff9b:1::cb00:712d", "::ffff:0:cb00:712d", "::cb00:712d"]) {
    assert.equal(groupKey(canonicalIp(a)!), canonicalIp(a), a);
  }
  assert.equal(groupKey("64:ff9b:10::1"), "64:ff9b:10::/64");
});
