/**
 * One hostile battery for every registered extractor: whatever the body, `extract` returns (never throws),
 * within the budget, quickly, and only ever yields validated addresses.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalIp } from "../core/ip.ts";
import { EXTRACTORS } from "./registry.ts";
import { deep, NOW } from "./testing.ts";

const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
const ip = (i: number) => `198.51.${(i >> 8) & 255}.${i & 255}`;

const BODIES: [string, unknown][] = [
  ["undefined", undefined],
  ["null", null],
  ["a number", 42],
  ["a string", "203.0.113.45"],
  ["a boolean", true],
  ["an empty object", {}],
  ["an empty array", []],
  ["deep nesting", deep(100_000)],
  ["deep nesting under ip", { ip: deep(10_000, "ip") }],
  ["a huge string", { ip: "1".repeat(5_000_000) }],
  ["5000 addresses", { ip: many(5000, ip) }],
  ["5000 alerts", { alerts: many(5000, (i) => ({ source: { ip: ip(i) } })) }],
  ["5000 hits", { hits: many(5000, (i) => ({ _source: { source: { ip: ip(i) } } })) }],
  ["5000 bodies", many(5000, (i) => ({ ip: ip(i), source: { ip: ip(i) } }))],
  ["prototype keys", JSON.parse('{"__proto__": {"ip": "203.0.113.45"}, "constructor": {"ip": 1}}')],
  [
    "wrong types everywhere",
    { ip: 1, alerts: "x", hits: 5, result: [], event: "e", parameters: 7, command: {} },
  ],
  ["an array argv with metacharacters", ["1.2.3.4; rm -rf /", "$(id)", "`reboot`"]],
];

for (const [kind, def] of Object.entries(EXTRACTORS)) {
  test(`${kind}: hostile bodies never throw and stay within the budget`, () => {
    for (const [name, body] of BODIES) {
      const t0 = performance.now();
      const r = def.extract(body, { now: NOW, maxAlerts: 1000 });
      const ms = performance.now() - t0;
      assert.ok(ms < 1000, `${kind} ${name}: ${ms} ms`);
      assert.ok(r.alerts.length <= 1000, `${kind} ${name}: ${r.alerts.length} alerts`);
      assert.ok(r.rejected.length <= 101, `${kind} ${name}: ${r.rejected.length} rejected`);
      for (const a of r.alerts) {
        const addr = a.group["source.ip"]!;
        assert.equal(canonicalIp(addr), addr, `${kind} ${name}`);
        assert.equal(a.origin, kind);
      }
      assert.doesNotThrow(() => JSON.stringify(r), `${kind} ${name}: result must serialise`);
      if (!r.alerts.length) assert.ok(r.rejected.length > 0, `${kind} ${name}: nothing found must say why`);
    }
  });
}

test("past the budget, the rest is reported as rejected", () => {
  const r = EXTRACTORS.kibana!.extract({ ip: many(5000, ip) }, { now: NOW });
  assert.equal(r.alerts.length, 1000);
  assert.deepEqual(r.rejected, [
    { value: 4000, path: "ip[1000..4999]", reason: "over the limit of 1000 items per request: not examined" },
  ]);
  const small = EXTRACTORS.kibana!.extract(
    { hits: many(50, (i) => ({ _source: { source: { ip: ip(i) } } })) },
    {
      now: NOW,
      maxAlerts: 10,
    },
  );
  assert.equal(small.alerts.length, 10);
  assert.match(small.rejected[0]!.reason, /limit of 10/);
});
