/**
 * Addresses that are never banned: configured CIDRs, loopback, and (in the daemon) the host's own addresses and
 * the addresses of logged-in admin sessions. Compiled once, matched per decision. Every match says why.
 */
import { CidrSet, parseIp, type Cidr } from "../core/ip.ts";

export const LOOPBACK = ["127.0.0.0/8", "::1/128"];

export interface AllowMatch {
  cidr: string;
  why: string;
}

export class Allowlist {
  readonly #sets: { set: CidrSet; why: string }[] = [];
  #dynamic = new Map<string, { set: CidrSet; why: string }>();

  constructor(entries: { cidrs: readonly string[]; why: string }[] = []) {
    this.add(LOOPBACK, "loopback");
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

  /**
   * Why `target` (an address or CIDR) may not be banned, or undefined. A CIDR target is refused when it
   * overlaps an allowlisted range in either direction (banning 10.0.0.0/8 would cut off an allowlisted 10.1.2.3).
   */
  match(target: string): AllowMatch | undefined {
    const slash = target.indexOf("/");
    const ip = parseIp(slash < 0 ? target : target.slice(0, slash));
    if (!ip) return undefined;
    const prefix = slash < 0 ? (ip.family === 4 ? 32 : 128) : Number(target.slice(slash + 1));
    for (const { set, why } of [...this.#sets, ...this.#dynamic.values()]) {
      for (const c of set.cidrs) {
        if (overlaps(c, ip.family, ip.groups, prefix)) return { cidr: c.text, why };
      }
    }
    return undefined;
  }
}

function overlaps(c: Cidr, family: 4 | 6, groups: number[], prefix: number): boolean {
  if (c.family !== family) return false;
  const p = Math.min(c.prefix, prefix);
  for (let i = 0; i < groups.length; i++) {
    const bits = Math.max(0, Math.min(16, p - i * 16));
    if (bits === 0) break;
    const mask = bits === 16 ? 0xffff : (0xffff << (16 - bits)) & 0xffff;
    if ((groups[i]! & mask) !== (c.groups[i]! & mask)) return false;
  }
  return true;
}
