import assert from "node:assert/strict";
import { test } from "node:test";
import { builtinRules } from "./builtin.ts";
import { loadBuiltinRules, makeSnapshot } from "./builtin-snapshot.ts";
import { BUILTIN_SNAPSHOT } from "./builtin-snapshot.generated.ts";

test("the built-in pack's snapshot matches the rule files (else: npm run schema regenerates it)", async () => {
  assert.deepEqual(BUILTIN_SNAPSHOT, JSON.parse(JSON.stringify(await makeSnapshot())));
});

test("rules from the snapshot are the rules the loader validates and compiles", async () => {
  const fast = await loadBuiltinRules();
  const slow = builtinRules();
  assert.equal(fast.length, slow.length);
  for (let i = 0; i < slow.length; i++) {
    assert.deepEqual(fast[i]!.spec, slow[i]!.spec);
    assert.equal(JSON.stringify(fast[i]!.spec), JSON.stringify(slow[i]!.spec));
    assert.equal(fast[i]!.origin, slow[i]!.origin);
    const { query: q1, then: t1, severityBy: s1, ...a } = fast[i]!;
    const { query: q2, then: t2, severityBy: s2, ...b } = slow[i]!;
    assert.deepEqual(a, b);
    assert.equal(q1.source, q2.source);
    assert.equal(t1?.source, t2?.source);
    assert.deepEqual(
      s1?.map((s) => [s.query.source, s.severity]),
      s2?.map((s) => [s.query.source, s.severity]),
    );
  }
});
