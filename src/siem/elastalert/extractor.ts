/**
 * ElastAlert 2 HTTP alerters. One POST per match:
 * - `post` without `http_post_payload`: the whole match (the triggering event's `_source` plus `_id`,
 *   `_index`, `num_hits`, `num_matches`, `related_events`): the attacker is its ECS `source.ip`;
 * - `post2` (or `post` with `http_post_payload`): a templated body; the attacker is the key the template
 *   maps, `ip` by default.
 * Fields tried in order: `source.ip`, then `ip` (configurable). `num_hits` is NOT the attack count (it
 * counts every document the rule scanned in the run, other sources included): the count is a templated
 * numeric `count` if any, else the match plus its `related_events` (the window's earlier events, which
 * share the source when the rule's `query_key` is `source.ip`, as it must be for banning).
 */
import type { Collector } from "../collector.ts";
import { ecsSample, ecsTechniques, excludeHosts } from "../ecs.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";
import { count, firstTime, isObject, lookup, severityWord, text, time } from "../values.ts";

const IP_FIELDS = ["source.ip", "ip"] as const;
const MAX_RELATED = 10_000;

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  if (!isObject(b)) {
    c.reject(b, path || "(body)", "expected a JSON object (one match)");
    return;
  }
  const related = lookup(b, "related_events");
  let n = count(lookup(b, "count"));
  const sample = ecsSample(b);
  let first = sample.time;
  if (Array.isArray(related)) {
    n ??= 1 + Math.min(related.length, MAX_RELATED);
    for (const r of related.slice(0, MAX_RELATED)) {
      const t = time(lookup(r, "@timestamp"));
      if (t !== undefined && (first === undefined || t < first)) first = t;
    }
  }
  excludeHosts(c, b);
  const rule = text(b, ["rule_name", "rule", "rule_param_name"]);
  c.fromFields(b, ipFields, path, {
    rule: { id: rule, name: rule, type: "elastalert" },
    severity: severityWord(lookup(b, "severity")),
    count: n,
    time: firstTime(b, ["@timestamp", "timestamp", "match_time"]),
    first,
    last: sample.time,
    attack: ecsTechniques(b),
    sourceId: text(b, ["_id"], 128),
    event: { ...sample, user: sample.user ?? text(b, ["user"], 64), reason: text(b, ["reason"], 300) },
  });
}

export const elastalert = {
  kind: "elastalert",
  description: "ElastAlert 2 `post` (the whole match: source.ip) and `post2` (templated: ip) alerters",
  ipFields: IP_FIELDS,
  extract: (b, options) => runExtractor("elastalert", b, options, IP_FIELDS, body),
} satisfies ExtractorDefinition;
