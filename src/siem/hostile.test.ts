/**
 * One hostile battery for every registered extractor: whatever the body, `extract` returns (never throws),
 * within the budget, with work linear in the body's size (counted, not timed), and only ever yields validated
 * addresses.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { work } from "../../test/support/parser-harness.ts";
import { canonicalIp } from "../core/ip.ts";
import { EXTRACTORS } from "./registry.ts";
import type { ExtractorDefinition, ExtractResult } from "./types.ts";
import { deep, NOW } from "./testing.ts";

const many = (n: number, f: (i: number) => unknown) => Array.from({ length: n }, (_, i) => f(i));
const ip = (i: number) => `198.51.${(i >> 8) & 255}.${i & 255}`;

/** The bodies, each built at a scale `s` (1: full size, 0.5: half of it); most do not depend on it. */
const BODIES: [string, (s: number) => unknown][] = [
  ["undefined", () => undefined],
  ["null", () => null],
  ["a number", () => 42],
  ["a string", () => "203.0.113.45"],
  ["a boolean", () => true],
  ["an empty object", () => ({})],
  ["an empty array", () => []],
  ["deep nesting", (s) => deep(100_000 * s)],
  ["deep nesting under ip", (s) => ({ ip: deep(10_000 * s, "ip") })],
  ["a huge string", (s) => ({ ip: "1".repeat(5_000_000 * s) })],
  ["5000 addresses", (s) => ({ ip: many(5000 * s, ip) })],
  ["5000 alerts", (s) => ({ alerts: many(5000 * s, (i) => ({ source: { ip: ip(i) } })) })],
  ["5000 hits", (s) => ({ hits: many(5000 * s, (i) => ({ _source: { source: { ip: ip(i) } } })) })],
  ["5000 bodies", (s) => many(5000 * s, (i) => ({ ip: ip(i), source: { ip: ip(i) } }))],
  ["prototype keys", () => JSON.parse('{"__proto__": {"ip": "203.0.113.45"}, "constructor": {"ip": 1}}')],
  [
    "wrong types everywhere",
    () => ({ ip: 1, alerts: "x", hits: 5, result: [], event: "e", parameters: 7, command: {} }),
  ],
  ["an array argv with metacharacters", () => ["1.2.3.4; rm -rf /", "$(id)", "`reboot`"]],
];

/**
 * `v` behind proxies that call `read` for every property read (get, has, own keys, descriptors), nested objects
 * included: the work an extractor does on the body's objects, which {@link work} (strings only) does not see.
 */
function watched(v: unknown, read: () => void, seen = new WeakMap<object, object>()): unknown {
  if (v === null || typeof v !== "object") return v;
  const known = seen.get(v);
  if (known) return known;
  const p = new Proxy(v, {
    get(t, k, r) {
      read();
      return watched(Reflect.get(t, k, r), read, seen);
    },
    has(t, k) {
      read();
      return Reflect.has(t, k);
    },
    ownKeys(t) {
      const keys = Reflect.ownKeys(t);
      for (let i = 0; i < keys.length; i++) read();
      return keys;
    },
    getOwnPropertyDescriptor(t, k) {
      read();
      return Reflect.getOwnPropertyDescriptor(t, k);
    },
  });
  seen.set(v, p);
  return p;
}

/** The size of a body: one per value and per key, plus the length of its strings and keys (no recursion). */
function sizeOf(body: unknown): number {
  let n = 0;
  for (const stack = [body]; stack.length; ) {
    const v = stack.pop();
    n++;
    if (typeof v === "string") n += v.length;
    else if (v !== null && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) {
        n += k.length;
        stack.push(x);
      }
    }
  }
  return n;
}

/** What `def` does on `body`: its result, and its work (characters examined plus properties read). */
function extractCounted(def: ExtractorDefinition, body: unknown): { result: ExtractResult; work: number } {
  let reads = 0;
  let result: ExtractResult | undefined;
  const chars = work(() => {
    result = def.extract(
      watched(body, () => reads++),
      { now: NOW, maxAlerts: 1000 },
    );
  });
  return { result: result!, work: chars + reads };
}

for (const [kind, def] of Object.entries(EXTRACTORS)) {
  test(`${kind}: hostile bodies never throw, stay within the budget and cost work linear in their size`, () => {
    for (const [name, make] of BODIES) {
      const body = make(1);
      const r = def.extract(body, { now: NOW, maxAlerts: 1000 });
      assert.ok(r.alerts.length <= 1000, `${kind} ${name}: ${r.alerts.length} alerts`);
      assert.ok(r.rejected.length <= 101, `${kind} ${name}: ${r.rejected.length} rejected`);
      for (const a of r.alerts) {
        const addr = a.group["source.ip"]!;
        assert.equal(canonicalIp(addr), addr, `${kind} ${name}`);
        assert.equal(a.origin, kind);
      }
      assert.doesNotThrow(() => JSON.stringify(r), `${kind} ${name}: result must serialise`);
      if (!r.alerts.length) assert.ok(r.rejected.length > 0, `${kind} ${name}: nothing found must say why`);
      // The last-resort guard (a bug caught, e.g. a stack overflow on deep nesting) is not how bodies end.
      assert.ok(
        !r.rejected.some((x) => x.reason.startsWith("internal error")),
        `${kind} ${name}: internal error`,
      );
      // Work, counted (not timed): at most 10 per character or property of the body, plus 1,000 for the paths
      // an extractor tries on any body; at most 2.5 times the work on the half-size body (linear work at most
      // doubles, work growing with the square of the size quadruples). The count covers strings ({@link work})
      // and property reads (the proxies); not what a regex does inside one call, which the extractors keep to
      // character classes and anchored patterns of bounded length.
      const full = extractCounted(def, body);
      const half = extractCounted(def, make(0.5));
      assert.deepEqual(full.result, r, `${kind} ${name}: counting must not change the result`);
      assert.ok(full.work <= 10 * sizeOf(body) + 1000, `${kind} ${name}: work ${full.work}`);
      assert.ok(
        full.work <= 2.5 * half.work,
        `${kind} ${name}: work ${half.work} at half size, ${full.work}`,
      );
      // Past the budget (1000 items), items are not read: 5000 cost what 2500 do.
      if (name.startsWith("5000 "))
        assert.equal(full.work, half.work, `${kind} ${name}: read past the budget`);
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
