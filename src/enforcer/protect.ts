/**
 * The enforcer's own refusal list: bans that would cut the host off from itself. Loopback and every address
 * of the host's interfaces (re-read at most every 10 s, so an address added by DHCP is covered soon) can never
 * be banned through the enforcer, nor any range that contains one, whatever the (unprivileged) daemon asks.
 * It is the daemon's Allowlist, with the host's addresses as its dynamic group.
 */
import { canonicalIp } from "../core/ip.ts";
import { ownAddresses } from "../policy/guards.ts";
import { Allowlist } from "../policy/allowlist.ts";

const REFRESH_MS = 10_000;

export class HostProtector {
  readonly #interfaces: () => string[];
  readonly #allow = new Allowlist();
  #readAt = Number.NEGATIVE_INFINITY;

  constructor(interfaces: () => string[] = ownAddresses) {
    this.#interfaces = interfaces;
  }

  /** Why banning `target` would cut off this host, or undefined. */
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
