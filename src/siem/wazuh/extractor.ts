/**
 * Wazuh: active-response messages (4.x `add`, 5.x `enable`) and bare alerts (integrations posting the
 * alert JSON). The attacker is `data.srcip` (else a Windows event's `data.win.eventdata.ipAddress`, else an
 * OSSEC-era top-level `srcip`; 4.x and alerts; `ipFields`, e.g. `data.src_ip` for Suricata
 * alerts) or `source.ip` (5.x). An alert without it is rejected, never guessed: `agent.ip` is the monitored
 * host and is refused even if the source field repeats it. Rule: `rule.id` / `rule.description`;
 * severity from `rule.level` (0-4 low, 5-7 medium, 8-11 high, 12+ critical); techniques `rule.mitre.id`;
 * count `rule.frequency` (the events a frequency rule needed to fire); 5.x stateful timeout -> duration.
 * `delete`/`disable` messages revoke a ban: they go through `portcullis wazuh-ar` (ar.ts), not a webhook,
 * and are rejected here.
 */
import type { Severity } from "../../core/alert.ts";
import type { Collector, Facts } from "../collector.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition, ExtractOptions, ExtractResult } from "../types.ts";
import { count, firstTime, lookup, techniques, text } from "../values.ts";
import { readArMessage, type ArMessage } from "./message.ts";

/**
 * `data.srcip` (Wazuh's decoders), then `data.win.eventdata.ipAddress` (Windows events through the Wazuh
 * agent, e.g. 4625 logon failures, rule 60122: the network client Windows recorded; they have no srcip), then
 * the top-level `srcip` of OSSEC-era alerts.
 */
const IP_FIELDS = ["data.srcip", "data.win.eventdata.ipAddress", "srcip"] as const;
const V5_FIELDS = ["source.ip"] as const;

export function levelSeverity(v: unknown): Severity | undefined {
  const n = typeof v === "number" ? v : typeof v === "string" && /^\d{1,2}$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < 0 || n > 16) return undefined;
  return n < 5 ? "low" : n < 8 ? "medium" : n < 12 ? "high" : "critical";
}

function fromAlert(
  c: Collector,
  alert: Record<string, unknown>,
  path: string,
  ipFields: readonly string[],
): void {
  c.exclude(alert, ["agent.ip", "manager.ip"], "monitored host's (agent) address");
  const t = firstTime(alert, ["timestamp", "@timestamp"]);
  const facts: Facts = {
    rule: {
      id: text(alert, ["rule.id"], 64),
      name: text(alert, ["rule.description"]),
      type: "wazuh-rule",
    },
    severity: levelSeverity(lookup(alert, "rule.level")),
    count: count(lookup(alert, "rule.frequency")),
    time: t,
    first: t,
    last: t,
    attack: techniques(lookup(alert, "rule.mitre.id"), new Set()),
    sourceId: text(alert, ["id"], 64),
    event: {
      dataset: text(alert, ["decoder.name"], 64),
      user: text(alert, ["data.dstuser", "data.srcuser", "data.user"], 64),
      host: text(alert, ["agent.name"], 128),
      message: text(alert, ["full_log"], 300),
    },
  };
  c.fromFields(alert, ipFields, path, facts);
}

function fromV5(c: Collector, m: Record<string, unknown>, path: string): void {
  c.exclude(m, ["wazuh.agent.ip", "agent.ip", "host.ip"], "monitored host's (agent) address");
  const ar = lookup(m, "wazuh.active_response");
  const timeout = count(lookup(ar, "stateful_timeout"));
  const name = text(ar, ["name"], 128);
  c.fromFields(m, V5_FIELDS, path, {
    rule: {
      id: text(m, ["rule.id"], 64) ?? name,
      name: text(m, ["rule.description"]) ?? name,
      type: "wazuh-ar",
    },
    severity: levelSeverity(lookup(m, "rule.level")),
    time: firstTime(m, ["@timestamp", "timestamp"]),
    attack: techniques(lookup(m, "threat.technique.id") ?? lookup(m, "rule.mitre.id"), new Set()),
    duration: timeout && text(ar, ["type"]) === "stateful" ? timeout * 1000 : undefined,
    event: { user: text(m, ["user.name"], 64), host: text(m, ["wazuh.agent.name", "agent.name"], 128) },
  });
}

/**
 * The alert(s) of a recognised message, whatever its command: the AR program uses it for `delete` too (the
 * address to unban is read the same way).
 */
export function extractArMessage(msg: ArMessage, options: ExtractOptions): ExtractResult {
  return runExtractor("wazuh", null, options, IP_FIELDS, (c, _b, _p, fields) => {
    if (msg.generation === 5) fromV5(c, msg.message, "");
    else fromAlert(c, msg.alert, msg.generation === 4 ? "parameters.alert" : "", fields);
  });
}

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  const msg = readArMessage(b);
  if ("error" in msg) {
    c.reject(null, path || "(body)", msg.error);
    return;
  }
  if (msg.action === "unban") {
    c.reject(
      msg.command,
      path ? `${path}.command` : "command",
      `"${msg.command}" revokes a ban (a stateful response's timeout): it is handled by the wazuh-ar program, not as an alert`,
    );
    return;
  }
  const at = (k: string) => (path ? `${path}.${k}` : k);
  if (msg.generation === 5) fromV5(c, msg.message, path);
  else fromAlert(c, msg.alert, msg.generation === 4 ? at("parameters.alert") : path, ipFields);
}

export const wazuh = {
  kind: "wazuh",
  description:
    "Wazuh active response (4.x add with parameters.alert.data.srcip, 5.x enable with source.ip) or a Wazuh alert (data.srcip)",
  ipFields: IP_FIELDS,
  extract: (b, options) => runExtractor("wazuh", b, options, IP_FIELDS, body),
} satisfies ExtractorDefinition;
