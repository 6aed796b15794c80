import assert from "node:assert/strict";
import { test } from "node:test";
import { parseKql, toElasticsearchQuery } from "./index.ts";
import type { EsQueryOptions } from "./index.ts";

const es = (q: string, options?: EsQueryOptions) => toElasticsearchQuery(parseKql(q), options);

test("the rule examples", () => {
  assert.deepEqual(es('event.dataset: "system.auth" and system.auth.ssh.event: "Failed"'), {
    bool: {
      filter: [
        { match_phrase: { "event.dataset": "system.auth" } },
        { match_phrase: { "system.auth.ssh.event": "Failed" } },
      ],
    },
  });
  assert.deepEqual(es("event.dataset: sshd and event.action: (ssh_auth_failed or ssh_invalid_user)"), {
    bool: {
      filter: [
        { match: { "event.dataset": "sshd" } },
        {
          bool: {
            should: [
              { match: { "event.action": "ssh_auth_failed" } },
              { match: { "event.action": "ssh_invalid_user" } },
            ],
            minimum_should_match: 1,
          },
        },
      ],
    },
  });
});

test("leaves", () => {
  const table: [string, unknown][] = [
    ["", { match_all: {} }],
    ["*", { match_all: {} }],
    ["user.name: *", { exists: { field: "user.name" } }],
    ["not user.name: root", { bool: { must_not: { match: { "user.name": "root" } } } }],
    ["user.name: adm*", { wildcard: { "user.name": { value: "adm*" } } }],
    ["user.name: a\\*b?*", { wildcard: { "user.name": { value: "a\\*b\\?*" } } }],
    ["process.command_line: *wget*", { wildcard: { "process.command_line": { value: "*wget*" } } }],
    ["enabled: true", { match: { enabled: true } }],
    ["http.response.status_code >= 400", { range: { "http.response.status_code": { gte: 400 } } }],
    ["user.name < m", { range: { "user.name": { lt: "m" } } }],
    [
      "@timestamp >= 2024-01-01T00:00:00Z",
      {
        range: {
          "@timestamp": { gte: "2024-01-01T00:00:00Z", format: "strict_date_optional_time||epoch_millis" },
        },
      },
    ],
    [
      '@timestamp: "2024-01-01"',
      {
        range: {
          "@timestamp": {
            gte: "2024-01-01",
            lte: "2024-01-01",
            format: "strict_date_optional_time||epoch_millis",
          },
        },
      },
    ],
    ["source.ip: 10.0.0.0/8", { term: { "source.ip": "10.0.0.0/8" } }],
    ["source.ip: ::ffff:1.2.3.4", { match: { "source.ip": "1.2.3.4" } }],
    ["message: failed password", { match: { message: { query: "failed password", operator: "and" } } }],
    ['message: "failed password"', { match_phrase: { message: "failed password" } }],
    ["message: fail*", { query_string: { fields: ["message"], query: "fail*" } }],
    [
      "failed password",
      {
        multi_match: {
          type: "best_fields",
          query: "failed password",
          lenient: true,
          operator: "and",
          fields: ["message"],
        },
      },
    ],
    [
      '"failed password"',
      { multi_match: { type: "phrase", query: "failed password", lenient: true, fields: ["message"] } },
    ],
    ["*wget -O*", { query_string: { query: "*wget\\ \\-O*", fields: ["message"] } }],
    ["user.*: root", { query_string: { fields: ["user.*"], query: "root", lenient: true } }],
    ['user.*: "a b"', { query_string: { fields: ["user.*"], query: '"a b"', lenient: true } }],
    ["user.*: *", { exists: { field: "user.*" } }],
    ["*.port > 1024", { query_string: { fields: ["*.port"], query: ">1024", lenient: true } }],
    [
      "items:{ name: x and qty > 2 }",
      {
        nested: {
          path: "items",
          query: {
            bool: { filter: [{ match: { "items.name": "x" } }, { range: { "items.qty": { gt: 2 } } }] },
          },
          score_mode: "none",
        },
      },
    ],
  ];
  for (const [q, expected] of table) assert.deepEqual(es(q), expected, q);
});

test("options: must instead of filter, default fields for free text", () => {
  assert.deepEqual(es("a: 1 and b: 2", { andClause: "must" }), {
    bool: { must: [{ match: { a: "1" } }, { match: { b: "2" } }] },
  });
  assert.deepEqual(es('"x"', { defaultFields: [] }), {
    multi_match: { type: "phrase", query: "x", lenient: true },
  });
  assert.deepEqual(es("reason: x", { textFields: ["reason"] }), {
    match: { reason: { query: "x", operator: "and" } },
  });
});
