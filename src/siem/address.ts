/**
 * Validation of an attacker address taken from a SIEM payload or a hook's argv: exactly one IP address,
 * in any accepted spelling (brackets, IPv4-mapped IPv6, IPv6 zone id), returned canonical (core/ip.ts).
 * Stricter than `canonicalIp`: the whole string must look like an address (a zone id only on IPv6 and only
 * made of interface-name characters), and addresses that cannot be an attacker (unspecified, loopback,
 * multicast, broadcast) are refused. Reasons are written for the webhook's response body.
 */
import { canonicalIp, parseCidr } from "../core/ip.ts";

export type AddressCheck = { ok: true; ip: string } | { ok: false; reason: string };

const MAX_LEN = 64;
/** Address characters, optional zone id (`%eth0`), optional brackets. */
const SHAPE = /^(\[?)([0-9A-Fa-f:.]+)(%[A-Za-z0-9_.-]{1,15})?(\]?)$/;
const HOST_NAME = /^(?=.*[A-Za-z])[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.?$/;

export const NOT_GROUPED = "all documents";

export function checkAddress(value: unknown): AddressCheck {
  if (typeof value !== "string") {
    return { ok: false, reason: `expected an IP address as a string, got ${describeType(value)}` };
  }
  if (value.length === 0) return { ok: false, reason: "empty" };
  if (value === NOT_GROUPED) {
    return {
      ok: false,
      reason: `"${NOT_GROUPED}": the rule is not grouped, so it names no address (group it over source.ip)`,
    };
  }
  if (value.length > MAX_LEN) return { ok: false, reason: "too long for an IP address" };
  const m = SHAPE.exec(value);
  if (!m) {
    if (value.includes("/") && parseCidr(value)) return { ok: false, reason: "a range, not one address" };
    if (
      /[,\s]/.test(value) &&
      value.split(/[,\s]+/).some((p) => SHAPE.test(p) && canonicalIp(p) !== undefined)
    ) {
      return { ok: false, reason: "several values in one string: send one address per value (or an array)" };
    }
    if (HOST_NAME.test(value))
      return { ok: false, reason: "a host name, not an IP address (names are not banned)" };
    return { ok: false, reason: "not an IP address" };
  }
  if ((m[1] === "[") !== (m[4] === "]")) return { ok: false, reason: "unbalanced brackets" };
  if (m[3] !== undefined && !m[2]!.includes(":"))
    return { ok: false, reason: "a zone id on an IPv4 address" };
  const ip = canonicalIp(value);
  if (ip === undefined) return { ok: false, reason: "not an IP address" };
  const unusable = unusableReason(ip);
  return unusable ? { ok: false, reason: unusable } : { ok: true, ip };
}

/** Addresses that never identify one remote host. */
function unusableReason(ip: string): string | undefined {
  if (ip === "::1" || ip.startsWith("127.")) return "a loopback address";
  return notOneHost(ip);
}

/**
 * Why a canonical address names no host at all (unspecified, broadcast, multicast), or undefined. Banning one
 * would block traffic of other hosts (a DHCP server sees requests from 0.0.0.0). Loopback is not among them:
 * it is this host, which the allowlist protects with its own reason.
 */
export function notOneHost(ip: string): string | undefined {
  if (ip === "0.0.0.0" || ip === "::") return "the unspecified address";
  if (ip === "255.255.255.255") return "the broadcast address";
  const first = ip.indexOf(":") < 0 ? Number(ip.slice(0, ip.indexOf("."))) : -1;
  if ((first >= 224 && first <= 239) || /^ff[0-9a-f]{2}:/.test(ip)) return "a multicast address";
  return undefined;
}

export function describeType(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  return typeof v === "object" ? "an object" : typeof v;
}

/**
 * Fields that hold the monitored host's, a relay's or the collector's address in the payloads we read. They
 * are refused as attacker fields even when configured; matched on the path's last segments, any case.
 */
export const FORBIDDEN_FIELDS: readonly string[] = [
  "agent.ip",
  "host.ip",
  "observer.ip",
  "observer.hostname",
  "observer.name",
  "destination.ip",
  "destination.address",
  "server.ip",
  "server.address",
  "manager.ip",
  "event.source",
  "source",
  "gl2_remote_ip",
  "gl2_remote_hostname",
  "sensor",
  "dst_ip",
  "dest_ip",
  "dst",
  "dest",
];

/** Why `path` may not name the attacker, or undefined when it may. */
export function forbiddenField(path: string): string | undefined {
  const p = path.toLowerCase();
  if (p === "observer" || p.startsWith("observer.") || p.includes(".observer.")) {
    return `${path} is the collector's (observer) address, never the attacker`;
  }
  for (const f of FORBIDDEN_FIELDS) {
    if (p === f || p.endsWith(`.${f}`))
      return `${path} is the monitored host's, a relay's or the collector's address, never the attacker`;
  }
  return undefined;
}
