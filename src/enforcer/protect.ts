/**
 * The enforcer's own refusal list: bans that would cut the host off from itself. Loopback and every address
 * of the host's interfaces (re-read at most every 10 s, so an address added by DHCP is covered soon) can never
 * be banned through the enforcer, nor any range that contains one, whatever the (unprivileged) daemon asks.
 */
import { networkInterfaces } from "node:os";
import { overlaps, parseCidr, type Cidr } from "../core/ip.ts";

const LOOPBACK = ["127.0.0.0/8", "::1"];
const REFRESH_MS = 10_000;

export class HostProtector {
  readonly #interfaces: () => string[];
  #cidrs: { cidr: Cidr; why: string }[] = [];
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(interfaces: () => string[] = interfaceAddresses) {
    this.#interfaces = interfaces;
  }

  /** Why banning `target` would cut off this host, or undefined. */
  readonly check = (target: string): string | undefined => {
    const t = parseCidr(target);
    if (!t) return undefined;
    this.#refresh();
    for (const p of this.#cidrs) if (overlaps(t, p.cidr)) return `${p.why} ${p.cidr.text}`;
    return undefined;
  };

  #refresh(): void {
    const now = performance.now();
    if (now - this.#readAt < REFRESH_MS) return;
    this.#readAt = now;
    const list: { cidr: Cidr; why: string }[] = [];
    for (const l of LOOPBACK) list.push({ cidr: parseCidr(l)!, why: "loopback" });
    for (const a of this.#interfaces()) {
      const c = parseCidr(a);
      if (c) list.push({ cidr: c, why: "this host's address" });
    }
    this.#cidrs = list;
  }
}

function interfaceAddresses(): string[] {
  const out: string[] = [];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) out.push(a.address.split("%")[0]!);
  }
  return out;
}
