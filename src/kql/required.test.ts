import assert from "node:assert/strict";
import { test } from "node:test";
import { compileKql, equalityKey, fieldAccessor, parseKql, requiredEquals } from "./index.ts";

const req = (q: string) =>
  Object.fromEntries([...requiredEquals(parseKql(q))].map(([k, v]) => [k, [...v].sort()]));

test("top-level and-ed equalities are required; or keeps fields every branch constrains", () => {
  const table: [string, Record<string, string[]>][] = [
    ["event.dataset: sshd", { "event.dataset": ["sshd"] }],
    [
      "event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user) and not user.name: root",
      { "event.dataset": ["sshd"], "event.action": ["ssh_auth_failed", "ssh_invalid_user"] },
    ],
    [
      'event.dataset: "system.auth" and system.auth.ssh.event: "Failed"',
      {
        "event.dataset": ["system.auth"],
        "system.auth.ssh.event": ["Failed"],
      },
    ],
    ["(event.dataset: a and x: 1) or (event.dataset: b and y: 2)", { "event.dataset": ["a", "b"] }],
    ["event.dataset: a or x: 1", {}],
    // Both conditions on one field: either set is necessary (an array can hold a and b), the smaller is kept.
    ["event.dataset: (a or b) and event.dataset: (b or c)", { "event.dataset": ["a", "b"] }],
    ["event.dataset: a and event.dataset: b", { "event.dataset": ["a"] }],
    ["tags: (x or y or z) and tags: w", { tags: ["w"] }],
    ["http.response.status_code: 401.0", { "http.response.status_code": ["401", "401.0"] }],
    ["enabled: true", { enabled: ["true"] }],
    ["source.ip: ::ffff:1.2.3.4", { "source.ip": ["1.2.3.4", "::ffff:1.2.3.4"] }],
    // nothing finite to index on
    ["source.ip: 10.0.0.0/8", {}],
    ["user.name: adm*", {}],
    ["user.*: root", {}],
    ["message: failed", {}],
    ["failed", {}],
    ["not event.dataset: sshd", {}],
    ["n > 3", {}],
    ["a: *", {}],
    ["items:{ a: 1 }", {}],
    ["@timestamp: 2024-01-01", {}],
    ["", {}],
  ];
  for (const [q, expected] of table) assert.deepEqual(req(q), expected, q);
});

test("the required sets never exclude an event the predicate matches", () => {
  const events: object[] = [
    { event: { dataset: "sshd", action: "ssh_invalid_user" }, http: { response: { status_code: 401 } } },
    { "event.dataset": "sshd", event: { action: ["x", "ssh_auth_failed"] }, enabled: true },
    { event: { dataset: "nginx" }, http: { response: { status_code: "401" } } },
    { event: { dataset: ["a", "b"] }, tags: ["x", "y"] },
  ];
  const queries = [
    "event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user)",
    "http.response.status_code: 401.0",
    "http.response.status_code: 401 and event.dataset: (nginx or sshd)",
    "enabled: true and event.dataset: sshd",
    "event.dataset: a and event.dataset: b",
    "tags: x and tags: y",
  ];
  for (const q of queries) {
    const p = compileKql(q);
    for (const e of events) {
      if (!p(e)) continue;
      for (const [field, keys] of p.required) {
        const v = fieldAccessor(field)(e);
        const values = Array.isArray(v) ? (v as unknown[]) : [v];
        assert.ok(
          values.some((x) => keys.has(equalityKey(x) ?? "")),
          `${q} / ${field}`,
        );
      }
    }
  }
});
