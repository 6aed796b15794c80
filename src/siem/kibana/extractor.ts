/**
 * Kibana Webhook connector (`.webhook`): the body is whatever the action's Mustache template renders, so three
 * shapes are read, all of them when present:
 * - template keys (`ipFields`, default `ip`), e.g. `{"ip": "{{context.group}}"}` for an index-threshold rule
 *   grouped over source.ip; an ungrouped rule renders the literal `all documents` (rejected, with the fix);
 * - `hits` = `[{{{context.hits}}}]` (Elasticsearch query rule): `hits[*]._source.source.ip`;
 * - `alerts` = `[{{{context.alerts}}}]` (Elastic Security rules): as the elastic-security extractor.
 * Rule: `rule_id` / `rule_name` (or `rule.id` / `rule.name`); time: `date`; count: `value` (context.value)
 * for the template keys, one per hit otherwise.
 */
import type { Collector, Facts } from "../collector.ts";
import { ECS_SOURCE, ecsSample, ecsTechniques, excludeHosts, securityAlert } from "../ecs.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";
import { count, firstTime, isObject, lookup, severityFromRisk, severityWord, text } from "../values.ts";

const IP_FIELDS = ["ip"] as const;

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  if (!isObject(b)) {
    c.reject(b, path || "(body)", "expected a JSON object");
    return;
  }
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const defaults: Facts = {
    rule: {
      id: text(b, ["rule_id", "rule.id", "ruleId"], 128),
      name: text(b, ["rule_name", "rule.name", "ruleName", "rule"]),
    },
    severity: severityWord(lookup(b, "severity")) ?? severityFromRisk(lookup(b, "risk_score")),
    time: firstTime(b, ["date", "context.date", "@timestamp"]),
  };
  let shapes = 0;
  if (ipFields.some((f) => lookup(b, f) !== undefined)) {
    shapes++;
    c.fromFields(b, ipFields, path, {
      ...defaults,
      rule: { ...defaults.rule, type: "index-threshold" },
      count: count(lookup(b, "value")),
      event: { reason: text(b, ["context.message", "message", "title"], 300) },
    });
  }
  for (const key of ["hits", "alerts"] as const) {
    const v = lookup(b, key) ?? lookup(b, `context.${key}`);
    if (v === undefined) continue;
    shapes++;
    if (typeof v === "string") {
      c.reject(v, at(key), `${key} is a string: render it raw with triple braces, [{{{context.${key}}}}]`);
    } else if (!Array.isArray(v)) {
      c.reject(v, at(key), `expected ${key} to be an array`);
    } else if (key === "hits") {
      c.each(v, at(key), (h, p) => hit(c, h, p, defaults));
    } else {
      c.each(v, at(key), (a, p) => securityAlert(c, a, p, ECS_SOURCE, defaults));
    }
  }
  if (!shapes) {
    c.reject(
      null,
      path || "(body)",
      `no attacker address: expected ${ipFields.join(" or ")} ({{context.group}}), hits ([{{{context.hits}}}]) or alerts ([{{{context.alerts}}}])`,
    );
  }
}

/** One Elasticsearch hit; `_source` keeps the document's own shape (nested or dotted keys). */
function hit(c: Collector, h: unknown, path: string, defaults: Facts): void {
  const src = isObject(h) && isObject(h._source) ? h._source : h;
  const srcPath = isObject(h) && isObject(h._source) ? `${path}._source` : path;
  const sample = ecsSample(src);
  excludeHosts(c, src);
  c.fromFields(src, ECS_SOURCE, srcPath, {
    ...defaults,
    rule: { ...defaults.rule, type: "es-query" },
    count: 1,
    first: sample.time,
    last: sample.time,
    attack: ecsTechniques(src),
    sourceId: text(h, ["_id"], 128),
    event: sample,
  });
}

export const kibana = {
  kind: "kibana",
  description:
    "Kibana Webhook connector: index-threshold `ip` ({{context.group}}), Elasticsearch query hits, or Elastic Security alerts",
  ipFields: IP_FIELDS,
  extract: (b, options) => runExtractor("kibana", b, options, IP_FIELDS, body),
} satisfies ExtractorDefinition;
