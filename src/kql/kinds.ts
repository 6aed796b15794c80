/**
 * How fields are matched, by full name: text (analysed-like word matching), IP (CIDR and any spelling), date
 * (ISO text or epoch ms), or, by default, keyword (exact).
 */
import { FREE_TEXT_FIELD } from "./ast.ts";

export interface KqlCompileOptions {
  /** Fields matched as analysed text (words, case-insensitive; see text.ts). Default `["message"]`. */
  textFields?: readonly string[];
  /**
   * Fields holding IP addresses, besides every field whose last segment is `ip` (`source.ip`, `host.ip`) and
   * ECS's `dns.resolved_ip` and `network.forwarded_ip`.
   */
  ipFields?: readonly string[];
  /** Fields holding dates (epoch ms or ISO text); their values read as dates first. Default `["@timestamp"]`. */
  dateFields?: readonly string[];
}

/** How a field (by full name) is matched. */
export interface FieldKinds {
  isText(name: string): boolean;
  isIp(name: string): boolean;
  isDate(name: string): boolean;
}

/** ECS fields of type `ip` whose last segment is not `ip`. */
const ECS_IP_FIELDS = ["dns.resolved_ip", "network.forwarded_ip"];

export function fieldKinds(options: KqlCompileOptions = {}): FieldKinds {
  const text = new Set(options.textFields ?? [FREE_TEXT_FIELD]);
  const ip = new Set([...ECS_IP_FIELDS, ...(options.ipFields ?? [])]);
  const date = new Set(options.dateFields ?? ["@timestamp"]);
  return {
    isText: (n) => text.has(n),
    isIp: (n) => ip.has(n) || n === "ip" || n.endsWith(".ip"),
    isDate: (n) => date.has(n),
  };
}
