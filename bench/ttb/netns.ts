/**
 * The benchmarks' network: a server namespace (the daemon or fail2ban-server, their nftables rules, a TCP
 * listener) and an optional client namespace (the attackers' addresses) joined by a veth pair that is created
 * inside the server namespace with its peer moved straight into the client namespace, so the root namespace
 * never sees it (ECOSYSTEM.md §4). Nothing here runs a firewall command outside our namespaces; deleting the
 * namespaces removes the veth pair and every rule. A snapshot of the root namespace (nft ruleset, links,
 * namespaces) taken before is compared after.
 *
 *   client ns <tag>-c                                 server ns <tag>-s
 *   veth-cli 10.77.0.2/16 + one address per trial <-> veth-srv 10.77.0.1/16, listener :8080
 */
import { randomBytes } from "node:crypto";
import { hasBinary, must, onCleanup, sh } from "./common.ts";

export const NET = {
  server: "10.77.0.1",
  client: "10.77.0.2",
  prefix: 16,
  port: 8080,
} as const;

export interface Net {
  server: string;
  client: string | undefined;
  /** Deletes the namespaces (idempotent). */
  destroy(): Promise<void>;
}

/** Why the namespace benchmarks cannot run here, or undefined. */
export function netnsSkipReason(binaries: readonly string[] = []): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN) to create network namespaces";
  const missing = ["ip", "nft", ...binaries].filter((b) => !hasBinary(b));
  if (missing.length) return `missing executables: ${missing.join(", ")}`;
  return undefined;
}

/** Creates the server namespace (and the client namespace with the veth pair unless `client` is false). */
export function createNet(tag: string, client = true): Net {
  const id = `pcl-${tag}-${randomBytes(3).toString("hex")}`;
  const server = `${id}-s`;
  const cli = client ? `${id}-c` : undefined;
  let gone = false;
  const destroy = async () => {
    if (gone) return;
    gone = true;
    for (const ns of [server, cli]) if (ns) sh(["ip", "netns", "del", ns]);
    await Promise.resolve();
  };
  const unregister = onCleanup(`netns ${id}`, destroy);
  const net: Net = { server, client: cli, destroy: unregister };
  try {
    must(["ip", "netns", "add", server]);
    const S = ["ip", "-n", server];
    must([...S, "link", "set", "lo", "up"]);
    // `reject` answers with ICMP errors, which are rate-limited per destination and globally
    for (const key of [
      "net.ipv4.icmp_ratelimit=0",
      "net.ipv4.icmp_msgs_per_sec=1000000",
      "net.ipv4.icmp_msgs_burst=1000000",
    ]) {
      must(["ip", "netns", "exec", server, "sysctl", "-q", "-w", key]);
    }
    if (cli) {
      must(["ip", "netns", "add", cli]);
      const C = ["ip", "-n", cli];
      must([...S, "link", "add", "veth-srv", "type", "veth", "peer", "name", "veth-cli", "netns", cli]);
      must([...S, "addr", "add", `${NET.server}/${NET.prefix}`, "dev", "veth-srv"]);
      must([...C, "addr", "add", `${NET.client}/${NET.prefix}`, "dev", "veth-cli"]);
      must([...C, "link", "set", "lo", "up"]);
      must([...S, "link", "set", "veth-srv", "up"]);
      must([...C, "link", "set", "veth-cli", "up"]);
      // the server resolves each new client address with ARP; keep those entries for the whole run
      must([
        "ip",
        "netns",
        "exec",
        server,
        "sysctl",
        "-q",
        "-w",
        "net.ipv4.neigh.veth-srv.gc_stale_time=3600",
      ]);
    }
    return net;
  } catch (e) {
    void destroy();
    throw e;
  }
}

/** Adds addresses to the client's veth in one `ip -batch` call. */
export function addClientAddresses(net: Net, addrs: readonly string[]): void {
  if (!net.client || !addrs.length) return;
  const batch = addrs.map((a) => `addr add ${a}/${NET.prefix} dev veth-cli`).join("\n") + "\n";
  must(["ip", "-n", net.client, "-batch", "-"], batch, 120_000);
}

/** Runs a command inside a namespace. */
export function inNs(ns: string, argv: readonly string[], input?: string) {
  return sh(["ip", "netns", "exec", ns, ...argv], input);
}

export interface RootSnapshot {
  ruleset: string;
  links: string[];
  namespaces: string[];
}

/** What must not change in the root namespace: its nftables ruleset and links (and our namespaces). */
export function rootSnapshot(): RootSnapshot {
  return {
    ruleset: sh(["nft", "list", "ruleset"]).stdout,
    links: must(["ip", "-o", "link", "show"])
      .split("\n")
      .map((l) => l.split(":")[1]?.trim() ?? "")
      .filter(Boolean)
      .sort(),
    namespaces: must(["ip", "netns", "list"])
      .split("\n")
      .map((l) => l.split(" ")[0]!.trim())
      .filter(Boolean),
  };
}

/**
 * Compares the root namespace with the snapshot taken before the run and returns the problems (empty when
 * clean): a changed root ruleset, a new link (e.g. a stray veth), or one of our namespaces still present.
 */
export function rootProblems(before: RootSnapshot, ours: readonly string[]): string[] {
  const now = rootSnapshot();
  const problems: string[] = [];
  if (now.ruleset !== before.ruleset) problems.push("the root namespace's nftables ruleset changed");
  const added = now.links.filter((l) => !before.links.includes(l));
  if (added.length) problems.push(`new links in the root namespace: ${added.join(", ")}`);
  const left = ours.filter((ns) => now.namespaces.includes(ns));
  if (left.length) problems.push(`namespaces left behind: ${left.join(", ")}`);
  return problems;
}

/** One line for the report: the root ruleset's size and whether our namespaces are gone. */
export function rootReport(before: RootSnapshot, ours: readonly string[]): string {
  const problems = rootProblems(before, ours);
  const lines = sh(["nft", "list", "ruleset"])
    .stdout.split("\n")
    .filter((l) => l.trim()).length;
  return problems.length
    ? `ROOT NAMESPACE CHECK FAILED: ${problems.join("; ")}`
    : `root namespace check: ruleset unchanged (${lines} lines), no veth or namespace of ours left`;
}
