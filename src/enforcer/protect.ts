/**
 * The enforcer's own refusal list: bans that would cut the host off from itself or from the networks its
 * root-owned config protects. Loopback, every address of the host's interfaces (re-read at most every 10 s, so
 * an address added by DHCP is covered soon) and every `protect:` entry of the config can never be banned
 * through the enforcer, nor any range that overlaps one (a range holding a protected address, or an address or
 * range inside a protected range), whatever the (unprivileged) daemon asks.
 * It is the daemon's Allowlist, with the host's addresses as its dynamic group.
 */
import { canonicalIp, parseCidr } from "../core/ip.ts";
import { ownAddresses } from "../policy/guards.ts";
import { Allowlist } from "../policy/allowlist.ts";

const REFRESH_MS = 10_000;

export class HostProtector {
  readonly #interfaces: () => string[];
  readonly #allow = new Allowlist();
  #readAt = Number.NEGATIVE_INFINITY;

  /**
   * @param interfaces the host's addresses (default: the interfaces' addresses)
   * @param protect the config's `protect:` entries (addresses and CIDRs, validated by the config schema)
   */
  constructor(interfaces: () => string[] = ownAddresses, protect: readonly string[] = []) {
    this.#interfaces = interfaces;
    for (const entry of protect) {
      const c = parseCidr(entry);
      if (!c) throw new Error(`protect: not an IP address or CIDR: ${entry}`);
      const single = c.prefix === (c.family === 4 ? 32 : 128);
      this.#allow.add([c.text], single ? "the protected address" : "the protected range");
    }
  }

  /** Why banning `target` would cut off this host or a protected network, or undefined. */
  readonly check = (target: string): string | undefined => {
    const now = performance.now();
    if (now - this.#readAt >= REFRESH_MS) {
      this.#readAt = now;
      const own = this.#interfaces().flatMap((a) => canonicalIp(a) ?? []);
      this.#allow.setDynamic("own", own, "this host's address");
    }
    const m = this.#allow.match(target);
    return m && `${m.why} ${m.cidr}`;
  };
}
