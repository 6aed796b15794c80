/**
 * ECS documents and Elastic Security alert documents, shared by the Kibana, Elastic Security and ElastAlert
 * extractors. Fields may be nested (`source: {ip}`) or flattened (`"source.ip"`, `"kibana.alert.*"`); both
 * are read (values.ts `lookup`).
 */
import { forbiddenField } from "./address.ts";
import type { Collector, Facts, SampleFields } from "./collector.ts";
import {
  count,
  firstTime,
  isObject,
  lookup,
  severityFromRisk,
  severityWord,
  techniques,
  text,
} from "./values.ts";

/** A few fields of an ECS event for the alert's sample. */
export function ecsSample(doc: unknown): SampleFields {
  return {
    time: firstTime(doc, ["@timestamp", "kibana.alert.original_time"]),
    dataset: text(doc, ["event.dataset", "kibana.alert.original_event.dataset"], 64),
    action: text(doc, ["event.action", "kibana.alert.original_event.action"], 64),
    outcome: text(doc, ["event.outcome", "kibana.alert.original_event.outcome"], 16),
    user: text(doc, ["user.name"], 64),
    host: text(doc, ["host.name", "host.hostname"], 128),
    message: text(doc, ["message"], 300),
  };
}

/** ATT&CK techniques of an ECS event (`threat.technique.id`) or a security alert (its rule's `threat`). */
export function ecsTechniques(doc: unknown): Set<string> {
  const out = new Set<string>();
  for (const p of [
    "threat.technique.id",
    "threat.technique.subtechnique.id",
    "kibana.alert.rule.threat",
    "signal.rule.threat",
    "threat",
  ]) {
    techniques(lookup(doc, p), out);
  }
  return out;
}

/** ECS fields holding the monitored host's, a relay's or the collector's addresses. */
export const ECS_HOST_FIELDS: readonly string[] = [
  "host.ip",
  "agent.ip",
  "observer.ip",
  "destination.ip",
  "server.ip",
];

/** Declares a document's host/collector addresses (never the attacker in this request). */
export function excludeHosts(c: Collector, doc: unknown): void {
  c.exclude(doc, ECS_HOST_FIELDS, "monitored host's, relay's or collector's address");
}

/** Which ECS field names the attacker, by default. */
export const ECS_SOURCE: readonly string[] = ["source.ip"];

const THRESHOLD = ["kibana.alert.threshold_result", "signal.threshold_result"];

/**
 * One Elastic Security alert document (8.x `kibana.alert.*`, 7.x `signal.*`). Threshold alerts are
 * synthetic: the address is the value of the group-by term whose field is one of `ipFields`
 * (`threshold_result.terms[field=source.ip].value`); other alerts carry the source event's `source.ip`,
 * except indicator match alerts whose rule matched another field (`destination.ip`): refused.
 */
export function securityAlert(
  c: Collector,
  doc: unknown,
  path: string,
  ipFields: readonly string[],
  defaults: Facts,
): void {
  if (!isObject(doc)) {
    c.reject(doc, path, "expected an alert document (an object)");
    return;
  }
  let threshold: unknown;
  let thresholdKey = "";
  for (const k of THRESHOLD) {
    threshold = lookup(doc, k);
    thresholdKey = k;
    if (isObject(threshold)) break;
  }
  const isThreshold = isObject(threshold);
  excludeHosts(c, doc);
  const sample = ecsSample(doc);
  const original = firstTime(doc, ["kibana.alert.original_time", "signal.original_time"]);
  const created = firstTime(doc, ["@timestamp"]);
  const facts: Facts = {
    rule: {
      id:
        text(doc, [
          "kibana.alert.rule.rule_id",
          "kibana.alert.rule.uuid",
          "signal.rule.rule_id",
          "signal.rule.id",
        ]) ?? defaults.rule?.id,
      name: text(doc, ["kibana.alert.rule.name", "signal.rule.name"]) ?? defaults.rule?.name,
      type:
        text(doc, ["kibana.alert.rule.type", "signal.rule.type"], 40) ??
        (isThreshold ? "threshold" : "query"),
      description: text(doc, ["kibana.alert.rule.description", "signal.rule.description"], 500),
    },
    severity:
      severityWord(lookup(doc, "kibana.alert.severity")) ??
      severityFromRisk(lookup(doc, "kibana.alert.risk_score")) ??
      severityWord(lookup(doc, "signal.rule.severity")) ??
      severityFromRisk(lookup(doc, "signal.rule.risk_score")) ??
      defaults.severity,
    count: isThreshold ? count((threshold as Record<string, unknown>).count) : 1,
    time: created ?? defaults.time,
    first: (isThreshold ? firstTime(threshold, ["from"]) : undefined) ?? original ?? created,
    last: isThreshold ? (created ?? original) : (original ?? created),
    attack: ecsTechniques(doc),
    sourceId: text(doc, ["kibana.alert.uuid", "signal.id"], 128),
    event: {
      ...sample,
      time: original ?? sample.time,
      reason: text(doc, ["kibana.alert.reason", "signal.reason"], 300),
    },
  };
  if (isThreshold) {
    const terms = (threshold as Record<string, unknown>).terms;
    const list = Array.isArray(terms) ? terms : terms === undefined ? [] : [terms];
    let found = false;
    c.each(list, `${path}.${thresholdKey}.terms`, (t, p) => {
      if (
        isObject(t) &&
        typeof t.field === "string" &&
        ipFields.includes(t.field) &&
        !forbiddenField(t.field)
      ) {
        found = true;
        c.address(t.value, `${p}.value`, facts);
      }
    });
    if (found) return;
  }
  const matched = indicatorFields(doc);
  if (matched.length && !matched.some((f) => ipFields.includes(f))) {
    c.reject(
      matched.join(", "),
      path,
      `indicator match on ${matched.join(", ")}: the listed address is the other side; ${ipFields.join(", ")} is the host that talked to it (the victim), never banned`,
    );
    return;
  }
  c.fromFields(doc, ipFields, path, facts);
}

/**
 * The event fields an indicator match rule matched (`threat.enrichments[*].matched.field` of type
 * `indicator_match_rule`; enrichments of other alerts are only context). A rule mapping `destination.ip` to
 * the indicators says a host of ours contacted a listed address: its `source.ip` is the victim.
 */
function indicatorFields(doc: unknown): string[] {
  const enrichments = lookup(doc, "threat.enrichments");
  const out: string[] = [];
  for (const e of Array.isArray(enrichments) ? enrichments.slice(0, 16) : [enrichments]) {
    const field = lookup(e, "matched.field");
    if (
      lookup(e, "matched.type") === "indicator_match_rule" &&
      typeof field === "string" &&
      field.length <= 128
    ) {
      if (!out.includes(field)) out.push(field);
    }
  }
  return out;
}
