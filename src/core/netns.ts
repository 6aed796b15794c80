/**
 * Two network namespaces joined by a veth pair, with addresses: the sandbox in which `portcullis demo --enforce`
 * and the firewall tests ban for real without touching the host's own network or firewall. Needs root
 * (CAP_NET_ADMIN) and iproute2; every command is an argument array.
 */
import { ProcessExec } from "./exec.ts";

export interface VethPairSpec {
  /** The namespaces to create (they must not exist yet). */
  server: string;
  peer: string;
  /** The veth ends' names inside each namespace. */
  serverDev: string;
  peerDev: string;
  /** Addresses with their prefix length (`203.0.113.1/24`, `2001:db8::1/64`). */
  serverAddrs: readonly string[];
  peerAddrs: readonly string[];
}

const exec = new ProcessExec();

/** Runs an iproute2 command (15 s at most) and throws with its output when it fails. */
export async function must(argv: readonly string[]): Promise<void> {
  const r = await exec.run(argv, undefined, { timeoutMs: 15_000 });
  if (r.code !== 0) {
    throw new Error(`${argv.join(" ")} -> exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  }
}

/**
 * Creates both namespaces, the veth pair between them, the addresses (IPv6 ones without duplicate address
 * detection, so they are usable at once) and brings every link up. ICMP errors (what a `reject` rule sends)
 * are rate-limited per destination by default: the server's limit is lifted so that quick successive
 * connections all see their rejection. On failure, deletes what it created and throws.
 */
export async function createVethPair(spec: VethPairSpec): Promise<void> {
  try {
    await must(["ip", "netns", "add", spec.server]);
    await must(["ip", "netns", "add", spec.peer]);
    const S = ["ip", "-n", spec.server];
    const P = ["ip", "-n", spec.peer];
    await must([
      ...S,
      "link",
      "add",
      spec.serverDev,
      "type",
      "veth",
      "peer",
      "name",
      spec.peerDev,
      "netns",
      spec.peer,
    ]);
    const sides = [
      [S, spec.serverDev, spec.serverAddrs],
      [P, spec.peerDev, spec.peerAddrs],
    ] as const;
    for (const [ns, dev, addrs] of sides) {
      for (const a of addrs)
        await must([...ns, "addr", "add", a, "dev", dev, ...(a.includes(":") ? ["nodad"] : [])]);
      await must([...ns, "link", "set", "lo", "up"]);
      await must([...ns, "link", "set", dev, "up"]);
    }
    for (const key of ["net.ipv4.icmp_ratelimit=0", "net.ipv6.icmp.ratelimit=0"]) {
      await must(["ip", "netns", "exec", spec.server, "sysctl", "-q", "-w", key]);
    }
  } catch (e) {
    await deleteNamespaces([spec.server, spec.peer]);
    throw e;
  }
}

/** Deletes namespaces (with them their links, addresses and firewall). Never throws. */
export async function deleteNamespaces(names: readonly string[]): Promise<void> {
  for (const ns of names) await exec.run(["ip", "netns", "del", ns], undefined, { timeoutMs: 15_000 });
}
