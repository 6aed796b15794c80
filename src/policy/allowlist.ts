/**
 * Addresses that are never banned: configured CIDRs, loopback, addresses that are not one remote host
 * (unspecified, multicast, broadcast, link-local), and (in the daemon) the host's own addresses and
 * the addresses of logged-in admin sessions. Compiled once, matched per decision. Every match says why.
 */
import { CidrSet, overlaps, parseCidr } from "../core/ip.ts";

export const LOOPBACK = ["127.0.0.0/8", "::1/128"];

/**
 * Ranges whose addresses are never one remote host: banning one would block other hosts' traffic or the host's
 * own network (a DHCP server sees requests from 0.0.0.0; the router's fe80:: address sends the IPv6 router
 * advertisements, so banning fe80::/64 cuts the host's IPv6 off; 169.254.169.254 is a cloud's metadata
 * service). A forged or misparsed log line naming one must not get it banned.
 */
export const NOT_UNICAST = [
  "0.0.0.0/8", // "this network" (unspecified)
  "169.254.0.0/16", // IPv4 link-local
  "224.0.0.0/4", // multicast
  "240.0.0.0/4", // reserved, and the broadcast address 255.255.255.255
  "::/128", // unspecified
  "fe80::/10", // IPv6 link-local
  "ff00::/8", // multicast
];

export interface AllowMatch {
  cidr: string;
  why: string;
}

export class Allowlist {
  readonly #sets: { set: CidrSet; why: string }[] = [];
  #dynamic = new Map<string, { set: CidrSet; why: string }>();

  constructor(entries: { cidrs: readonly string[]; why: string }[] = []) {
    this.add(LOOPBACK, "loopback");
    this.add(NOT_UNICAST, "not a unicast host address");
    for (const e of entries) this.add(e.cidrs, e.why);
  }

  add(cidrs: readonly string[], why: string): void {
    if (cidrs.length) this.#sets.push({ set: new CidrSet(cidrs), why });
  }

  /** Replaces a named, changing group (own interface addresses, admin sessions). */
  setDynamic(name: string, cidrs: readonly string[], why: string): void {
    if (cidrs.length) this.#dynamic.set(name, { set: new CidrSet(cidrs), why });
    else this.#dynamic.delete(name);
  }

  /** Takes over another allowlist's changing groups (a reload's new list, until its own are read). */
  inheritDynamic(from: Allowlist): void {
    for (const [name, entry] of from.#dynamic) this.#dynamic.set(name, entry);
  }

  /**
   * Why `target` (an address or CIDR) may not be banned, or undefined. A CIDR target is refused when it
   * overlaps an allowlisted range in either direction (banning 10.0.0.0/8 would cut off an allowlisted 10.1.2.3).
   */
  match(target: string): AllowMatch | undefined {
    const t = parseCidr(target);
    if (!t) return undefined;
    for (const { set, why } of [...this.#sets, ...this.#dynamic.values()]) {
      for (const c of set.cidrs) if (overlaps(c, t)) return { cidr: c.text, why };
    }
    return undefined;
  }
}
