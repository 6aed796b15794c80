import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LineSplitter } from "./lines.ts";
import {
  checkExpires,
  checkTarget,
  MAX_EXPIRES,
  parseHello,
  validateRequest,
  type ValidationContext,
} from "./protocol.ts";

const ctx: ValidationContext = {
  responders: new Map([
    ["nft", { min_prefix_v4: 8, min_prefix_v6: 32 }],
    ["strict", { min_prefix_v4: 32, min_prefix_v6: 128 }],
  ]),
  maxEntries: 3,
};
const code = (v: unknown) => {
  const r = validateRequest(v, ctx);
  return "ok" in r ? r.error.code : "accepted";
};

describe("checkTarget", () => {
  it("accepts addresses and CIDRs in any spelling of the address alphabet, canonicalised", () => {
    assert.deepEqual(checkTarget("192.0.2.1"), { target: "192.0.2.1" });
    assert.deepEqual(checkTarget("2001:DB8::1"), { target: "2001:db8::1" });
    assert.deepEqual(checkTarget("10.0.0.1/32"), { target: "10.0.0.1" });
    assert.deepEqual(checkTarget("10.1.2.3/16"), { target: "10.1.0.0/16" });
    assert.deepEqual(checkTarget("::ffff:192.0.2.7"), { target: "192.0.2.7" });
    assert.deepEqual(checkTarget("0000:0000:0000:0000:0000:ffff:255.255.255.255"), {
      target: "255.255.255.255",
    });
  });

  it("refuses everything else, including what core/ip.ts alone would tolerate (zones, brackets, spaces)", () => {
    for (const bad of [
      "1.2.3.4; nft flush ruleset",
      "1.2.3.4 && reboot",
      "$(reboot)",
      "1.2.3.4\nflush ruleset",
      "1.2.3.4%; nft flush ruleset",
      "fe80::1%eth0",
      "[::1]",
      " 1.2.3.4",
      "1.2.3.4 ",
      "1.2.3.4/32/32",
      "1.2.3.4/-1",
      "1.2.3.4/33",
      "999.1.1.1",
      "1.2.3.4.5",
      "0x7f.0.0.1",
      "١.٢.٣.٤",
      "",
      "a".repeat(65),
    ])
      assert.ok("error" in checkTarget(bad), bad);
    for (const bad of [1234, null, undefined, {}, ["1.2.3.4"], true])
      assert.deepEqual(checkTarget(bad), { error: "not a string" });
  });

  it("applies the prefix limits when given", () => {
    const limits = { min_prefix_v4: 8, min_prefix_v6: 32 };
    assert.ok("error" in checkTarget("0.0.0.0/0", limits));
    assert.ok("error" in checkTarget("10.0.0.0/7", limits));
    assert.ok("error" in checkTarget("::/0", limits));
    assert.ok("error" in checkTarget("2001:db8::/31", limits));
    assert.deepEqual(checkTarget("10.0.0.0/8", limits), { target: "10.0.0.0/8" });
    assert.deepEqual(
      checkTarget("0.0.0.0/0"),
      { target: "0.0.0.0/0" },
      "no limits: removal of anything listed",
    );
  });
});

describe("checkExpires", () => {
  it("integers in [0, MAX_EXPIRES] or null", () => {
    for (const ok of [0, 1, 1_767_225_600_000, MAX_EXPIRES, null]) assert.ok(checkExpires(ok), String(ok));
    for (const bad of [-1, 1.5, MAX_EXPIRES + 1, 1e300, NaN, Infinity, "1", true, undefined, {}, []])
      assert.ok(!checkExpires(bad), JSON.stringify(bad) ?? "undefined");
  });
});

describe("validateRequest", () => {
  it("accepts the fixed vocabulary", () => {
    assert.deepEqual(validateRequest({ id: 7, verb: "health", responder: "nft" }, ctx), {
      id: 7,
      verb: "health",
      responder: "nft",
    });
    for (const verb of ["setup", "list", "teardown"])
      assert.equal(code({ verb, responder: "nft" }), "accepted");
    assert.deepEqual(
      validateRequest(
        {
          id: 1,
          verb: "apply",
          responder: "nft",
          entries: [
            { target: "2001:DB8::1", expires: 5 },
            { target: "192.0.2.1", expires: null },
          ],
        },
        ctx,
      ),
      {
        id: 1,
        verb: "apply",
        responder: "nft",
        entries: [
          { sent: "2001:DB8::1", target: "2001:db8::1", expires: 5 },
          { sent: "192.0.2.1", target: "192.0.2.1", expires: Infinity },
        ],
      },
    );
    assert.deepEqual(validateRequest({ verb: "remove", responder: "nft", targets: ["0.0.0.0/0"] }, ctx), {
      id: null,
      verb: "remove",
      responder: "nft",
      targets: [{ sent: "0.0.0.0/0", target: "0.0.0.0/0" }],
    });
  });

  it("refuses anything that is not a request object", () => {
    for (const v of [null, 42, "apply", [], [{ verb: "health" }], true]) assert.equal(code(v), "BAD_REQUEST");
    assert.equal(code({ responder: "nft" }), "BAD_REQUEST");
  });

  it("refuses unknown verbs, including names of Object.prototype", () => {
    for (const verb of [
      "exec",
      "flush",
      "run",
      "APPLY",
      "__proto__",
      "constructor",
      "toString",
      "hasOwnProperty",
      1,
    ])
      assert.equal(code({ verb, responder: "nft" }), "UNKNOWN_VERB", String(verb));
  });

  it("refuses unknown fields, at the top and in entries", () => {
    assert.equal(code({ verb: "health", responder: "nft", exec: "/bin/sh" }), "UNKNOWN_FIELD");
    assert.equal(
      code({ verb: "health", responder: "nft", entries: [] }),
      "UNKNOWN_FIELD",
      "a field of another verb",
    );
    assert.equal(code({ verb: "remove", responder: "nft", targets: [], entries: [] }), "UNKNOWN_FIELD");
    assert.equal(
      code({ verb: "apply", responder: "nft", entries: [{ target: "192.0.2.1", expires: 0, cmd: "x" }] }),
      "UNKNOWN_FIELD",
    );
    assert.equal(
      code(JSON.parse('{"verb":"health","responder":"nft","__proto__":{"x":1}}')),
      "UNKNOWN_FIELD",
    );
  });

  it("refuses responder names that are not configured", () => {
    for (const responder of [
      "ipset",
      "nft; rm -rf /",
      "../nft",
      "NFT",
      "__proto__",
      "constructor",
      "",
      3,
      null,
    ])
      assert.equal(
        code({ verb: "health", responder }),
        responder === null || responder === 3 ? "BAD_REQUEST" : "UNKNOWN_RESPONDER",
      );
    assert.equal(code({ verb: "health" }), "BAD_REQUEST");
  });

  it("refuses a whole batch for one malformed entry, and says which", () => {
    const r = validateRequest(
      {
        verb: "apply",
        responder: "nft",
        entries: [
          { target: "192.0.2.1", expires: 1 },
          { target: "1.2.3.4; nft flush ruleset", expires: 1 },
        ],
      },
      ctx,
    );
    assert.ok("ok" in r);
    assert.equal(r.error.code, "INVALID_ARGUMENT");
    assert.match(
      r.error.message,
      /entries\[1\]\.target: not an IP address or CIDR: "1\.2\.3\.4; nft flush ruleset"/,
    );
    const apply = (entries: unknown) => code({ verb: "apply", responder: "nft", entries });
    assert.equal(apply([{ target: "192.0.2.1/24", expires: 1 }]), "accepted");
    // malformed after a well-formed entry that may not be banned: still refused whole
    assert.equal(
      apply([
        { target: "0.0.0.0/0", expires: 1 },
        { target: "192.0.2.1", expires: "soon" },
      ]),
      "INVALID_ARGUMENT",
    );
    for (const expires of [-1, 1.5, "1", 1e300, true, undefined])
      assert.equal(apply([{ target: "192.0.2.1", expires }]), "INVALID_ARGUMENT", String(expires));
    for (const entries of [undefined, "192.0.2.1", {}, [null], ["192.0.2.1"], [[]]])
      assert.equal(apply(entries), "INVALID_ARGUMENT", JSON.stringify(entries));
    assert.equal(apply([{}, {}, {}, {}]), "TOO_LARGE");
    const remove = (targets: unknown) => code({ verb: "remove", responder: "nft", targets });
    assert.equal(remove(["192.0.2.1", "$(reboot)"]), "INVALID_ARGUMENT");
    assert.equal(remove("192.0.2.1"), "INVALID_ARGUMENT");
    assert.equal(remove(["1", "2", "3", "4"]), "TOO_LARGE");
  });

  it("a well-formed entry that may not be banned is refused alone: too wide, or the host's own address", () => {
    const guarded: ValidationContext = {
      ...ctx,
      maxEntries: 10,
      protectedBy: (t) => (t === "198.51.100.0/24" ? "this host's address 198.51.100.5" : undefined),
    };
    const r = validateRequest(
      {
        id: 4,
        verb: "apply",
        responder: "nft",
        entries: [
          { target: "192.0.2.1", expires: 1 },
          { target: "0.0.0.0/0", expires: 1 },
          { target: "198.51.100.7/24", expires: null },
          { target: "2001:db8::/31", expires: 1 },
          { target: "192.0.2.2", expires: null },
        ],
      },
      guarded,
    );
    assert.deepEqual(r, {
      id: 4,
      verb: "apply",
      responder: "nft",
      entries: [
        { sent: "192.0.2.1", target: "192.0.2.1", expires: 1 },
        {
          sent: "0.0.0.0/0",
          target: "0.0.0.0/0",
          expires: 1,
          refused: "not allowed: prefix /0 is shorter than the minimum /8",
        },
        {
          sent: "198.51.100.7/24",
          target: "198.51.100.0/24",
          expires: Infinity,
          refused: "not allowed: 198.51.100.0/24 would cut off this host's address 198.51.100.5",
        },
        {
          sent: "2001:db8::/31",
          target: "2001:db8::/31",
          expires: 1,
          refused: "not allowed: prefix /31 is shorter than the minimum /32",
        },
        { sent: "192.0.2.2", target: "192.0.2.2", expires: Infinity },
      ],
    });
    const strict = validateRequest(
      { verb: "apply", responder: "strict", entries: [{ target: "192.0.2.0/24", expires: 1 }] },
      guarded,
    );
    assert.ok(!("ok" in strict) && strict.verb === "apply");
    assert.match(strict.entries[0]!.refused!, /prefix \/24 is shorter than the minimum \/32/);
    // removal is never refused for either reason
    assert.equal(
      code({ verb: "remove", responder: "nft", targets: ["0.0.0.0/0", "198.51.100.0/24"] }),
      "accepted",
    );
  });

  it("an expiry beyond max_duration is refused alone, after the prefix and protection checks", () => {
    const limited: ValidationContext = {
      ...ctx,
      maxEntries: 10,
      protectedBy: (t) => (t === "203.0.113.7" ? "the protected address 203.0.113.7" : undefined),
      expiryRefused: (e) => (e > 1000 ? `expiry ${e} too late` : undefined),
    };
    const r = validateRequest(
      {
        verb: "apply",
        responder: "nft",
        entries: [
          { target: "192.0.2.1", expires: 1000 },
          { target: "192.0.2.2", expires: 1001 },
          { target: "192.0.2.3", expires: null },
          { target: "203.0.113.7", expires: null },
          { target: "0.0.0.0/0", expires: null },
        ],
      },
      limited,
    );
    assert.ok(!("ok" in r) && r.verb === "apply");
    assert.deepEqual(
      r.entries.map((e) => e.refused ?? "ok"),
      [
        "ok",
        "not allowed: expiry 1001 too late",
        "not allowed: expiry Infinity too late",
        "not allowed: 203.0.113.7 would cut off the protected address 203.0.113.7",
        "not allowed: prefix /0 is shorter than the minimum /8",
      ],
    );
  });

  it("ids are non-negative integers, echoed in error replies", () => {
    for (const id of [-1, 1.5, "a", null, {}])
      assert.equal(code({ id, verb: "health", responder: "nft" }), "INVALID_ARGUMENT");
    const r = validateRequest({ id: 9, verb: "nope" }, ctx);
    assert.ok("ok" in r && r.id === 9);
  });

  it("quotes hostile text inertly and bounded", () => {
    const r = validateRequest({ verb: `x\n${"y".repeat(500)}` }, ctx);
    assert.ok("ok" in r);
    assert.ok(!r.error.message.includes("\n"), "newlines are escaped");
    assert.ok(r.error.message.length < 200);
  });
});

describe("LineSplitter", () => {
  it("splits lines across chunks and flags an over-long line", () => {
    const s = new LineSplitter(10);
    assert.deepEqual(s.push(Buffer.from("ab")), []);
    assert.deepEqual(
      s.push(Buffer.from("c\nde\nf")).map((b) => b.toString()),
      ["abc", "de"],
    );
    assert.equal(s.pending, 1);
    assert.deepEqual(
      s.push(Buffer.from("g\n")).map((b) => b.toString()),
      ["fg"],
    );
    assert.equal(s.overflow, false);
    s.push(Buffer.from("0123456789A"));
    assert.equal(s.overflow, true);
    assert.deepEqual(s.push(Buffer.from("\n")), [], "nothing after an overflow");
    const t = new LineSplitter(4);
    t.push(Buffer.from("12"));
    assert.deepEqual(t.push(Buffer.from("345\n")), []);
    assert.equal(t.overflow, true, "a line completed past the limit overflows too");
  });
});

describe("parseHello", () => {
  const hello = {
    hello: "portcullis-enforcer",
    protocol: 1,
    version: "0.1.0",
    limits: { max_message_bytes: 4096, max_entries: 10 },
    responders: [{ name: "nft", type: "nftables", native_expiry: true, min_prefix_v4: 8, min_prefix_v6: 32 }],
  };
  it("reads a hello and rejects anything else", () => {
    assert.deepEqual(parseHello(hello), hello);
    assert.equal(parseHello({ ...hello, protocol: 2 }), undefined);
    assert.equal(parseHello({ ...hello, hello: "sshd" }), undefined);
    assert.equal(parseHello({ ...hello, responders: [{ name: "x" }] }), undefined);
    assert.equal(parseHello({ ...hello, limits: { max_message_bytes: -1, max_entries: 1 } }), undefined);
    assert.equal(parseHello("SSH-2.0-OpenSSH_9.2"), undefined);
  });
});
