import assert from "node:assert/strict";
import { test } from "node:test";
import { checkAddress, forbiddenField } from "./address.ts";

test("accepted spellings come back canonical", () => {
  const cases: [string, string][] = [
    ["203.0.113.45", "203.0.113.45"],
    ["[2001:DB8:A::46]", "2001:db8:a::46"],
    ["::ffff:203.0.113.45", "203.0.113.45"],
    ["fe80::1%eth0", "fe80::1"],
    ["[fe80::1%eth0]", "fe80::1"],
    ["2001:db8:0:0:0:0:0:1", "2001:db8::1"],
    ["10.0.0.5", "10.0.0.5"],
  ];
  for (const [input, want] of cases) assert.deepEqual(checkAddress(input), { ok: true, ip: want }, input);
});

test("anything but one usable address is refused, with a reason", () => {
  const cases: [unknown, RegExp][] = [
    ["all documents", /not grouped/],
    ["bastion.example.org", /host name/],
    ["bastion", /host name/],
    ["0.0.0.0/0", /range/],
    ["203.0.113.0/24", /range/],
    ["1.2.3.4; rm -rf /", /not an IP/],
    ["1.2.3.4%; rm -rf /", /not an IP/],
    ["1.2.3.4%eth0", /zone id on an IPv4/],
    ["$(reboot)", /not an IP/],
    ["`id`", /not an IP/],
    ["203.0.113.45,198.51.100.7", /several values/],
    ["203.0.113.45 198.51.100.7", /several values/],
    [" 203.0.113.45", /several values|not an IP/],
    ["203.0.113.45\n", /not an IP|several/],
    ["[203.0.113.45", /unbalanced/],
    ["0.0.0.0", /unspecified/],
    ["::", /unspecified/],
    ["127.0.0.1", /loopback/],
    ["::1", /loopback/],
    ["::ffff:127.0.0.1", /loopback/],
    ["255.255.255.255", /broadcast/],
    ["224.0.0.1", /multicast/],
    ["ff02::1", /multicast/],
    ["256.1.1.1", /not an IP/],
    ["1.2.3", /not an IP/],
    ["0x7f.1", /not an IP/],
    ["x".repeat(100_000), /too long/],
    ["", /empty/],
    [42, /got number/],
    [null, /got null/],
    [["203.0.113.45"], /got an array/],
    [{ ip: "203.0.113.45" }, /got an object/],
  ];
  for (const [input, why] of cases) {
    const r = checkAddress(input);
    assert.equal(r.ok, false, String(input).slice(0, 40));
    if (!r.ok) assert.match(r.reason, why, String(input).slice(0, 40));
  }
});

test("collector and host fields are never attacker fields", () => {
  for (const f of [
    "agent.ip",
    "host.ip",
    "observer.ip",
    "observer.hostname",
    "destination.ip",
    "event.source",
    "gl2_remote_ip",
    "fields.gl2_remote_ip",
    "SENSOR",
    "DST_IP",
    "dest",
    "source",
    "parameters.alert.agent.ip",
  ]) {
    assert.ok(forbiddenField(f), f);
  }
  for (const f of [
    "source.ip",
    "src",
    "src_ip",
    "ip",
    "attacker_ip",
    "data.srcip",
    "clientip",
    "source_ip",
  ]) {
    assert.equal(forbiddenField(f), undefined, f);
  }
});
