/**
 * Elastic Security detection rules, through a Kibana Webhook action whose body embeds
 * `"alerts": [{{{context.alerts}}}]` (rule name, id and severity may sit beside it). Each alert document
 * names the attacker:
 * - threshold rules (synthetic alerts): `kibana.alert.threshold_result.terms[field=source.ip].value`
 *   (7.x: `signal.threshold_result`); count = `threshold_result.count`, first seen = `threshold_result.from`;
 * - other rules: the source event's `source.ip`, copied into the alert.
 * Severity: `kibana.alert.severity`, else the risk score; techniques: the rule's `threat` (and the event's
 * `threat.technique.id`). A body that is one alert document, or an array of them, is read too.
 */
import type { Collector, Facts } from "../collector.ts";
import { ECS_SOURCE, securityAlert } from "../ecs.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";
import { firstTime, isObject, lookup, severityFromRisk, severityWord, text } from "../values.ts";

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  if (!isObject(b)) {
    c.reject(b, path || "(body)", "expected a JSON object");
    return;
  }
  const alerts = lookup(b, "alerts") ?? lookup(b, "context.alerts");
  const at = path ? `${path}.alerts` : "alerts";
  if (alerts === undefined) {
    if (Object.keys(b).some((k) => k.startsWith("kibana.alert.") || k === "kibana" || k === "signal")) {
      securityAlert(c, b, path, ipFields, {});
    } else
      c.reject(
        null,
        path || "(body)",
        "no alerts: expected alerts ([{{{context.alerts}}}]) or an alert document",
      );
    return;
  }
  if (typeof alerts === "string") {
    c.reject(alerts, at, "alerts is a string: render it raw with triple braces, [{{{context.alerts}}}]");
    return;
  }
  if (!Array.isArray(alerts)) {
    c.reject(alerts, at, "expected alerts to be an array");
    return;
  }
  const defaults: Facts = {
    rule: {
      id: text(b, ["rule_id", "rule.rule_id", "rule.id", "context.rule.rule_id"], 128),
      name: text(b, ["rule_name", "rule.name", "rule", "context.rule.name"]),
    },
    severity:
      severityWord(lookup(b, "severity")) ??
      severityWord(lookup(b, "context.rule.severity")) ??
      severityFromRisk(lookup(b, "risk_score")),
    time: firstTime(b, ["date", "@timestamp"]),
  };
  c.each(alerts, at, (a, p) => securityAlert(c, a, p, ipFields, defaults));
}

export const elasticSecurity = {
  kind: "elastic-security",
  description:
    "Elastic Security detection alerts ({{{context.alerts}}}): source.ip, or the threshold group-by term for threshold rules",
  ipFields: ECS_SOURCE,
  extract: (b, options) => runExtractor("elastic-security", b, options, ECS_SOURCE, body),
} satisfies ExtractorDefinition;
