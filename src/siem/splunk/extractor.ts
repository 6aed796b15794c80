/**
 * Splunk's built-in Webhook alert action: `{sid, search_name, app, owner, results_link, result}` where
 * `result` is the FIRST row of the search's results only (set the alert to trigger "For each result" so
 * that every attacker gets its own POST). Every value is a string; a multivalue field is an array of
 * strings (each element is taken as an address). The attacker is the search's own field: the first of
 * `ipFields` present (default `src`, `src_ip`, `source.ip`, `clientip`); never `dest` (the attacked host).
 * A REST-style `results` array is read the same way, row by row.
 * Rule: `search_name` (may be null); count: `count`; times: `earliest`/`latest` or `firstTime`/`lastTime`
 * or `_time` (epoch seconds); severity: `severity` or `urgency` (words); techniques:
 * `annotations.mitre_attack`.
 */
import type { Collector, Facts } from "../collector.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";
import { clean, count, firstTime, isObject, lookup, severityWord, techniques, text } from "../values.ts";

const IP_FIELDS = ["src", "src_ip", "source.ip", "clientip"] as const;

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  if (!isObject(b)) {
    c.reject(b, path || "(body)", "expected a JSON object");
    return;
  }
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const search = text(b, ["search_name"]);
  const defaults: Facts = {
    rule: { id: search, name: search ?? "Splunk alert", type: "splunk-search" },
    sourceId: text(b, ["sid"], 128),
  };
  const result = lookup(b, "result");
  const results = lookup(b, "results");
  if (isObject(result)) row(c, result, at("result"), ipFields, defaults);
  else if (Array.isArray(results)) c.each(results, at("results"), (r, p) => row(c, r, p, ipFields, defaults));
  else
    c.reject(
      result ?? results ?? null,
      at("result"),
      "no result row: expected the webhook's `result` object (the search returned no rows?)",
    );
}

function row(c: Collector, r: unknown, path: string, ipFields: readonly string[], defaults: Facts): void {
  if (!isObject(r)) {
    c.reject(r, path, "expected a result row (an object)");
    return;
  }
  c.exclude(r, ["dest", "dest_ip", "dvc", "dvc_ip", "host"], "attacked host's or reporting device's address");
  const user = lookup(r, "user");
  c.fromFields(r, ipFields, path, {
    ...defaults,
    severity: severityWord(lookup(r, "severity")) ?? severityWord(lookup(r, "urgency")),
    count: count(lookup(r, "count")),
    time: firstTime(r, ["_time", "latest", "lastTime"]),
    first: firstTime(r, ["earliest", "firstTime", "_time"]),
    last: firstTime(r, ["latest", "lastTime", "_time"]),
    attack: techniques(lookup(r, "annotations.mitre_attack") ?? lookup(r, "mitre_technique_id"), new Set()),
    event: {
      user: Array.isArray(user)
        ? typeof user[0] === "string"
          ? clean(user[0], 64)
          : undefined
        : text(r, ["user"], 64),
      host: text(r, ["dest", "host"], 128),
      action: text(r, ["action"], 64),
      message: text(r, ["_raw"], 300),
    },
  });
}

export const splunk = {
  kind: "splunk",
  description:
    "Splunk Webhook alert action: the first result row's src / src_ip / source.ip / clientip (configurable)",
  ipFields: IP_FIELDS,
  extract: (b, options) => runExtractor("splunk", b, options, IP_FIELDS, body),
} satisfies ExtractorDefinition;
