/**
 * Graylog HTTP Notification (legacy JSON body: `event_definition_*`, `event`, `backlog`). The attacker, in
 * order of reliability:
 * 1. `event.fields.<custom field>` (an event field the definition defines, e.g. `attacker_ip`);
 * 2. `event.key_tuple` / `event.key`, the definition's key values, when exactly one of them is an address
 *    (a definition keyed by source and destination is ambiguous and refused; a key that `event.fields` or
 *    `event.group_by_fields` hold only under a non-attacker name, e.g. `dst_ip`, is refused);
 * 3. `backlog[*].fields.<extracted field>` (e.g. `source_ip`), one address per message.
 * The custom/extracted field names are `ipFields` (default: attacker_ip, source_ip, src_ip, src,
 * client_ip, ip). Never read: `event.source` (the Graylog node), `backlog[*].source` (the log sender's
 * name), `backlog[*].fields.gl2_remote_ip` (the syslog sender: the monitored server or a relay).
 * Severity: `event.priority` (1 low, 2 normal = medium, 3 high, 4 critical).
 */
import { checkAddress, forbiddenField } from "../address.ts";
import type { Collector, Facts } from "../collector.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";
import { clean, firstTime, isObject, lookup, text } from "../values.ts";
import type { Severity } from "../../core/alert.ts";

const IP_FIELDS = ["attacker_ip", "source_ip", "src_ip", "src", "client_ip", "ip"] as const;
const PRIORITY: Record<number, Severity> = { 1: "low", 2: "medium", 3: "high", 4: "critical" };

function body(c: Collector, b: unknown, path: string, ipFields: readonly string[]): void {
  if (!isObject(b)) {
    c.reject(b, path || "(body)", "expected a JSON object");
    return;
  }
  const at = (k: string) => (path ? `${path}.${k}` : k);
  const ev = lookup(b, "event");
  if (!isObject(ev)) {
    c.reject(ev ?? null, at("event"), "no event object: not a Graylog HTTP notification");
    return;
  }
  const priority = lookup(ev, "priority");
  const message = text(ev, ["message"], 1000);
  const counted = message ? /\bcount\(\)=(\d{1,12})\b/.exec(message) : null;
  const facts: Facts = {
    rule: {
      id: text(b, ["event_definition_id"], 128) ?? text(ev, ["event_definition_id"], 128),
      name: text(b, ["event_definition_title"]),
      type: text(b, ["event_definition_type"], 40) ?? text(ev, ["event_definition_type"], 40),
      description: text(b, ["event_definition_description"], 500),
    },
    severity: typeof priority === "number" ? PRIORITY[priority] : undefined,
    count: counted ? Number(counted[1]) : undefined,
    time: firstTime(ev, ["timestamp"]),
    first: firstTime(ev, ["timerange_start", "timestamp"]),
    last: firstTime(ev, ["timerange_end", "timestamp"]),
    sourceId: text(ev, ["id"], 128),
    event: { message: message ? clean(message, 300) : undefined },
  };

  const backlog = lookup(b, "backlog");
  if (Array.isArray(backlog)) {
    for (const m of backlog.slice(0, c.max))
      c.exclude(lookup(m, "fields"), ["gl2_remote_ip"], "log sender's address");
  }
  // 1. custom event fields
  const fields = lookup(ev, "fields");
  if (isObject(fields) && ipFields.some((f) => lookup(fields, f) !== undefined)) {
    if (c.fromFields(fields, ipFields, at("event.fields"), facts).length) return;
  }
  // 2. the event's key
  const tuple = lookup(ev, "key_tuple");
  const keys: unknown[] = Array.isArray(tuple) ? tuple.slice(0, 16) : [lookup(ev, "key")];
  const keyPath = Array.isArray(tuple) ? at("event.key_tuple") : at("event.key");
  const addresses = [
    ...new Set(keys.flatMap((k) => (typeof k === "string" && checkAddress(k).ok ? [k] : []))),
  ];
  if (addresses.length > 1) {
    c.reject(
      addresses.join(","),
      keyPath,
      "the event key holds several addresses (keyed by source and destination?): which is the attacker is unknown; define an event field for it",
    );
  } else if (addresses.length === 1) {
    const named = keyField(ev, addresses[0]!, ipFields);
    if (named) c.reject(addresses[0], keyPath, named);
    else {
      c.address(addresses[0], keyPath, facts);
      return;
    }
  }
  // 3. the backlog's extracted fields
  if (Array.isArray(backlog) && backlog.length) {
    c.each(backlog, at("backlog"), (m, p) => {
      const mf = lookup(m, "fields");
      c.fromFields(mf, ipFields, `${p}.fields`, {
        ...facts,
        count: 1,
        event: {
          time: firstTime(m, ["timestamp"]),
          host: text(m, ["source"], 128),
          user: text(mf, ["user", "username", "user_name"], 64),
          message: text(m, ["message"], 300),
        },
      });
    });
    return;
  }
  c.reject(
    null,
    at("event"),
    `no attacker address: none of event.fields.{${ipFields.join(",")}}, an address in event.key, or a backlog`,
  );
}

/**
 * Why the event key's address is not the attacker, when the event itself says which field it is: the key
 * values are event fields (the definition's key fields), and Graylog 5.1+ also lists the aggregation's
 * `group_by_fields`. A key that only a non-attacker field holds (`dst_ip`, `target_host`) is the attacked
 * host or something else, never banned; a key no field names is read as before.
 */
function keyField(ev: Record<string, unknown>, key: string, ipFields: readonly string[]): string | undefined {
  const ip = checkAddress(key);
  const others: string[] = [];
  let forbidden: string | undefined;
  for (const where of ["fields", "group_by_fields"]) {
    const obj = lookup(ev, where);
    if (!ip.ok || !isObject(obj)) continue;
    for (const [name, v] of Object.entries(obj).slice(0, 64)) {
      const a = checkAddress(v);
      if (!a.ok || a.ip !== ip.ip) continue;
      const why = forbiddenField(name);
      if (ipFields.includes(name) && !why) return undefined;
      others.push(`event.${where}.${name}`);
      forbidden ??= why;
    }
  }
  if (!others.length) return undefined;
  return `the event key is ${others.join(", ")}, not an attacker field (${ipFields.join(", ")})${
    forbidden ? `: ${forbidden}` : "; set ip_fields if it names the attacker"
  }`;
}

export const graylog = {
  kind: "graylog",
  description:
    "Graylog HTTP Notification: event.fields.<custom>, event.key, or backlog[*].fields.<extracted> (never gl2_remote_ip)",
  ipFields: IP_FIELDS,
  extract: (b, options) => runExtractor("graylog", b, options, IP_FIELDS, body),
} satisfies ExtractorDefinition;
