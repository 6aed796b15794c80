/**
 * Network namespaces for real firewall tests. Nothing here touches the root namespace's firewall: every
 * firewall command runs inside namespaces the test creates, the veth pair is created inside the server
 * namespace with its peer moved straight into the client namespace (the root namespace never sees it), and
 * `destroyPair` removes both namespaces (call it from `after`, it also runs when a test failed).
 *
 *   client ns (pcl-<tag>-<rand>-c)                   server ns (pcl-<tag>-<rand>-s)
 *   veth-cli 10.200.0.2, .66                <->     veth-srv 10.200.0.1   socat listener :8080 -> "hello"
 *            fd00:200::2, ::66                               fd00:200::1
 *
 * ufw writes /etc/ufw, /lib/ufw and /etc/default/ufw, so {@link startUfwSandbox} runs it in a private mount
 * namespace with copies of those (ECOSYSTEM.md §4); the host's ufw files are never written.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, readlinkSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ProcessExec, type ExecResult } from "../../src/core/exec.ts";
import { createVethPair, deleteNamespaces } from "../../src/core/netns.ts";
import type { ConformanceNetwork } from "../../src/responders/conformance.ts";

export const ADDR = {
  serverV4: "10.200.0.1",
  clientV4: "10.200.0.2",
  clientV4b: "10.200.0.66",
  cidrV4: "10.200.0.64/28",
  serverV6: "fd00:200::1",
  clientV6: "fd00:200::2",
  clientV6b: "fd00:200::66",
  cidrV6: "fd00:200::60/124",
  port: 8080,
} as const;

export interface NetPair {
  server: string;
  client: string;
}

const exec = new ProcessExec();

export function sh(argv: readonly string[], input?: string, timeoutMs = 30_000): Promise<ExecResult> {
  return exec.run(argv, input, { timeoutMs });
}

/** Runs a command and throws with its output when it fails. */
export async function must(argv: readonly string[], input?: string): Promise<string> {
  const r = await sh(argv, input);
  if (r.code !== 0)
    throw new Error(`${argv.join(" ")} -> exit ${r.code}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

/** Runs a command inside a namespace. */
export function inNs(ns: string, argv: readonly string[], input?: string): Promise<ExecResult> {
  return sh(["ip", "netns", "exec", ns, ...argv], input);
}

function hasBinary(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0;
}

/**
 * Why namespace tests cannot run here, or undefined. CI runs as root; elsewhere the tests are skipped with
 * this reason instead of failing, unless PORTCULLIS_REQUIRE_NETNS=1 (then it throws).
 */
export function netnsSkipReason(binaries: readonly string[] = []): string | undefined {
  const reason = skipReason(binaries);
  // CI sets this after installing the packages, so a missing tool fails instead of skipping quietly
  if (reason && process.env.PORTCULLIS_REQUIRE_NETNS === "1") {
    throw new Error(`PORTCULLIS_REQUIRE_NETNS=1 but the firewall tests cannot run: ${reason}`);
  }
  return reason;
}

function skipReason(binaries: readonly string[]): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "needs root (CAP_NET_ADMIN) to create network namespaces";
  const missing = ["ip", "socat", ...binaries].filter((b) => !hasBinary(b));
  if (missing.length) {
    return `missing executables: ${missing.join(", ")} (Debian: nftables iptables ipset ufw socat iproute2)`;
  }
  return undefined;
}

/** Creates the server and client namespaces joined by a veth pair, with addresses (IPv4 and IPv6). */
export async function createPair(tag: string): Promise<NetPair> {
  const id = `pcl-${tag}-${randomBytes(3).toString("hex")}`;
  const pair = { server: `${id}-s`, client: `${id}-c` };
  await createVethPair({
    server: pair.server,
    peer: pair.client,
    serverDev: "veth-srv",
    peerDev: "veth-cli",
    serverAddrs: [`${ADDR.serverV4}/24`, `${ADDR.serverV6}/64`],
    peerAddrs: [ADDR.clientV4, ADDR.clientV4b]
      .map((a) => `${a}/24`)
      .concat([ADDR.clientV6, ADDR.clientV6b].map((a) => `${a}/64`)),
  });
  return pair;
}

/** Deletes both namespaces (and with them the veth pair and every firewall rule inside). Never throws. */
export async function destroyPair(pair: NetPair | undefined): Promise<void> {
  if (pair) await deleteNamespaces([pair.server, pair.client]);
}

/** Whether a TCP connection from `from` (a client address) to the server listener works and says hello. */
export async function probe(pair: NetPair, from: string): Promise<boolean> {
  const v6 = from.includes(":");
  const target = v6
    ? `TCP6:[${ADDR.serverV6}]:${ADDR.port},bind=[${from}],connect-timeout=2`
    : `TCP4:${ADDR.serverV4}:${ADDR.port},bind=${from},connect-timeout=2`;
  const r = await inNs(pair.client, ["socat", "-T", "3", "-", target], "");
  return r.code === 0 && r.stdout.includes("hello");
}

export interface Listener {
  stop(): Promise<void>;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once("exit", () => resolve());
    child.kill("SIGTERM");
  });
}

/** Starts socat listeners (IPv4 and IPv6, port 8080) in the server namespace; each connection gets "hello". */
export async function startListener(pair: NetPair): Promise<Listener> {
  const children = [
    `TCP4-LISTEN:${ADDR.port},bind=${ADDR.serverV4},fork,reuseaddr`,
    `TCP6-LISTEN:${ADDR.port},bind=[${ADDR.serverV6}],fork,reuseaddr,ipv6only=1`,
  ].map((listen) =>
    spawn("ip", ["netns", "exec", pair.server, "socat", listen, "EXEC:/bin/echo hello"], { stdio: "ignore" }),
  );
  const listener = { stop: async () => void (await Promise.all(children.map(stopChild))) };
  for (let i = 0; i < 50; i++) {
    // every client address once, so neighbour discovery is done before the tests measure anything
    const from = [ADDR.clientV4, ADDR.clientV4b, ADDR.clientV6, ADDR.clientV6b];
    if ((await Promise.all(from.map((a) => probe(pair, a)))).every(Boolean)) return listener;
    await delay(100);
  }
  await listener.stop();
  throw new Error("socat listener did not come up in the server namespace");
}

/** The conformance suite's view of a pair. */
export function pairNetwork(pair: NetPair): ConformanceNetwork {
  return {
    canConnect: (from) => probe(pair, from),
    v4: { a: ADDR.clientV4, b: ADDR.clientV4b, cidrB: ADDR.cidrV4 },
    v6: { a: ADDR.clientV6, b: ADDR.clientV6b, cidrB: ADDR.cidrV6 },
  };
}

/** Non-empty lines of a command's output inside a namespace. */
export async function nsLines(ns: string, argv: readonly string[]): Promise<string[]> {
  const r = await inNs(ns, argv);
  if (r.code !== 0) throw new Error(`${argv.join(" ")} in ${ns}: ${r.stderr.trim()}`);
  return r.stdout.split("\n").filter((l) => l.trim().length > 0);
}

/** The root namespace's state that tests must never change: nftables ruleset and network links. */
export async function rootSnapshot(): Promise<{ ruleset: string; links: string[] }> {
  const ruleset = hasBinary("nft") ? (await sh(["nft", "list", "ruleset"])).stdout : "";
  const links = (await must(["ip", "-o", "link", "show"]))
    .split("\n")
    .map((l) => l.split(":")[1]?.trim() ?? "")
    .filter((n) => n.length > 0)
    .sort();
  return { ruleset, links };
}

// ---------------------------------------------------------------------------------------------- ufw

const UFW_FILES = [
  ["/etc/ufw", "etc-ufw"],
  ["/lib/ufw", "lib-ufw"],
  ["/etc/default/ufw", "default-ufw"],
] as const;

export interface UfwSandbox {
  /** Runs commands in the server namespace with the private ufw files mounted (prefix for ProcessExec). */
  prefix: readonly string[];
  /** Directory holding the private copies (`etc-ufw/user.rules` ...), reachable from the root namespace. */
  dir: string;
  ufw(...args: string[]): Promise<string>;
  stop(): Promise<void>;
}

/** Digests of the host's ufw files, to check they were not written. */
export function hostUfwFiles(): string {
  const out: string[] = [];
  for (const f of ["ufw.conf", "user.rules", "user6.rules", "before.rules", "after.rules"]) {
    try {
      out.push(`${f}:${readFileSync(join("/etc/ufw", f), "utf8")}`);
    } catch {
      out.push(`${f}:absent`);
    }
  }
  return out.join("\n");
}

/**
 * A private mount namespace, kept alive by a `sleep` process we start, where copies of the ufw files are bind
 * mounted over the real paths. ufw then runs through `nsenter` into that mount namespace and the server's
 * network namespace: no shell, and no change to the root namespace's mounts.
 */
export async function startUfwSandbox(pair: NetPair): Promise<UfwSandbox> {
  const dir = mkdtempSync(join(tmpdir(), "pcl-ufw-"));
  for (const [src, name] of UFW_FILES)
    cpSync(src, join(dir, name), { recursive: true, preserveTimestamps: true });
  const holder = spawn("unshare", ["--mount", "--propagation", "private", "sleep", "infinity"], {
    stdio: "ignore",
  });
  const stop = async () => {
    await stopChild(holder);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const self = readlinkSync("/proc/self/ns/mnt");
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      try {
        ready = holder.pid !== undefined && readlinkSync(`/proc/${holder.pid}/ns/mnt`) !== self;
      } catch {
        ready = false;
      }
      if (!ready) await delay(20);
    }
    if (!ready) throw new Error("private mount namespace did not come up");
    const enter = ["nsenter", `--target=${holder.pid}`, "--mount"];
    for (const [dst, name] of UFW_FILES) await must([...enter, "mount", "--bind", join(dir, name), dst]);
    const prefix = [...enter, `--net=/run/netns/${pair.server}`];
    return {
      prefix,
      dir,
      ufw: (...args) => must([...prefix, "ufw", ...args]),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
