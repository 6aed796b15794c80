/**
 * The private network of `portcullis demo --enforce`: two network namespaces joined by a veth pair. The
 * firewall (real nftables) lives in the server namespace; the attacker namespace holds the scenario's burst
 * attacker's IPv4 address and the IPv6 attacker's first address, so the bans the daemon makes from the log
 * cut those connections off. The root namespace is never touched: the veth pair is created inside the server
 * namespace with its peer moved straight into the attacker namespace, and every firewall command runs inside
 * the server namespace (`ip netns exec`). Deleting the namespaces removes everything (ECOSYSTEM.md §4).
 *
 *   attacker ns (pcl-demo-<pid>-<rand>-att)            server ns (pcl-demo-<pid>-<rand>-srv)
 *   veth-att 203.0.113.23/24                  <->     veth-srv 203.0.113.1/24        TCP listener :22
 *            2001:db8:beef:1::1/64                             2001:db8:53::1/64      nftables (the responder)
 *
 * The addresses only exist inside these namespaces; no packet leaves the machine. The listener and the prober
 * are small Node scripts (no socat needed) run inside the namespaces; they exit when their stdin closes, so
 * they never outlive the demo.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { ProcessExec, type ExecResult } from "../core/exec.ts";
import { createVethPair, deleteNamespaces, must } from "../core/netns.ts";
import { ACTORS } from "./scenario.ts";

export const DEMO_NET = {
  serverV4: "203.0.113.1",
  serverV6: "2001:db8:53::1",
  attackerV4: ACTORS.burst,
  attackerV6: ACTORS.ipv6,
  port: 22,
} as const;

export interface DemoNetwork {
  server: string;
  attacker: string;
}

const PREFIX = "pcl-demo-";
const CHILD_ENV = { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" };
const exec = new ProcessExec();

function run(argv: readonly string[]): Promise<ExecResult> {
  return exec.run(argv, undefined, { timeoutMs: 15_000 });
}

function hasExecutable(name: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1"', "sh", name], { stdio: "ignore" }).status === 0;
}

/** Why `--enforce` cannot run here (not Linux, not root, `ip` or `nft` missing), or undefined. */
export function enforceUnavailable(): string | undefined {
  if (process.platform !== "linux") return "network namespaces need Linux";
  if (process.getuid?.() !== 0) return "it needs root (CAP_NET_ADMIN) to create network namespaces";
  const missing = ["ip", "nft"].filter((b) => !hasExecutable(b));
  if (missing.length) {
    return `missing executables: ${missing.join(", ")} (Debian: apt-get install iproute2 nftables)`;
  }
  return undefined;
}

/** Names of the demo's namespaces that exist now. */
export async function demoNamespaces(): Promise<string[]> {
  const r = await run(["ip", "netns", "list"]);
  return r.stdout
    .split("\n")
    .map((l) => l.split(" ")[0] ?? "")
    .filter((n) => n.startsWith(PREFIX));
}

/** Deletes namespaces left by a demo process that no longer runs (killed with SIGKILL). Returns their names. */
export async function removeStaleNamespaces(): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await demoNamespaces()) {
    const pid = Number(/^pcl-demo-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    if ((await run(["ip", "netns", "del", name])).code === 0) removed.push(name);
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Creates the two namespaces, the veth pair and the addresses. On failure, removes what it created. */
export async function createNetwork(): Promise<DemoNetwork> {
  const id = `${PREFIX}${process.pid}-${randomBytes(2).toString("hex")}`;
  const net = { server: `${id}-srv`, attacker: `${id}-att` };
  await createVethPair({
    server: net.server,
    peer: net.attacker,
    serverDev: "veth-srv",
    peerDev: "veth-att",
    serverAddrs: [`${DEMO_NET.serverV4}/24`, `${DEMO_NET.serverV6}/64`],
    peerAddrs: [`${DEMO_NET.attackerV4}/24`, `${DEMO_NET.attackerV6}/64`],
  });
  try {
    // The two IPv6 networks share the link.
    await must(["ip", "-n", net.server, "route", "add", ACTORS.ipv6Prefix, "dev", "veth-srv"]);
    await must(["ip", "-n", net.attacker, "route", "add", `${DEMO_NET.serverV6}/64`, "dev", "veth-att"]);
    return net;
  } catch (e) {
    await destroyNetwork(net);
    throw e;
  }
}

/** Deletes both namespaces (with them the veth pair, the firewall and the addresses). Never throws. */
export async function destroyNetwork(net: DemoNetwork): Promise<void> {
  await deleteNamespaces([net.server, net.attacker]);
}

/** The same, synchronously: for `process.on("exit")`, the last resort when the demo dies on an error. */
export function destroyNetworkSync(net: DemoNetwork): void {
  for (const ns of [net.server, net.attacker]) spawnSync("ip", ["netns", "del", ns], { stdio: "ignore" });
}

// ------------------------------------------------------------------------------------- helper processes

/** A TCP server on [::]:port (IPv4 too) answering every connection with an SSH-like banner. */
const LISTENER_JS = `
const net = require("node:net");
const server = net.createServer((s) => {
  s.on("error", () => {});
  s.end("SSH-2.0-OpenSSH_9.2p1 portcullis-demo\\r\\n");
});
server.on("error", (e) => { process.stderr.write(e.message + "\\n"); process.exit(1); });
server.listen({ host: "::", port: Number(process.argv[1]) }, () => process.stdout.write("ready\\n"));
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
`;

/**
 * Every interval, one TCP connection per target from its own source address; one JSON line per attempt:
 * {from, to, result: ok | refused | timeout | error, code, start, end} (epoch ms).
 */
const PROBER_JS = `
const net = require("node:net");
const cfg = JSON.parse(process.argv[1]);
function probe(t) {
  return new Promise((resolve) => {
    const start = Date.now();
    let done = false;
    const s = net.connect({ host: t.to, port: cfg.port, localAddress: t.from });
    const finish = (result, code) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      s.destroy();
      process.stdout.write(JSON.stringify({ from: t.from, to: t.to, result, code, start, end: Date.now() }) + "\\n");
      resolve();
    };
    const timer = setTimeout(() => finish("timeout", "ETIMEDOUT"), cfg.timeoutMs);
    s.on("data", () => finish("ok", ""));
    s.on("close", () => finish("error", "closed without a banner"));
    s.on("error", (e) => {
      const refused = ["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EACCES", "EPERM"];
      finish(refused.includes(e.code) ? "refused" : "error", e.code || e.message);
    });
  });
}
async function tick() {
  const t0 = Date.now();
  await Promise.all(cfg.targets.map(probe));
  setTimeout(tick, Math.max(0, cfg.intervalMs - (Date.now() - t0)));
}
process.stdin.on("end", () => process.exit(0));
process.stdin.on("error", () => process.exit(0));
process.stdin.resume();
tick();
`;

export interface Helper {
  readonly child: ChildProcess;
  stop(): Promise<void>;
}

function startInNs(ns: string, script: string, arg: string): Helper {
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script, arg], {
    stdio: ["pipe", "pipe", "pipe"],
    env: CHILD_ENV,
  });
  child.stdin?.on("error", () => {});
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.stdin?.end();
    const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
    await exited;
    clearTimeout(timer);
  };
  return { child, stop };
}

/** Starts the listener in the server namespace; resolves once it listens. */
export async function startListener(net: DemoNetwork): Promise<Helper> {
  const h = startInNs(net.server, LISTENER_JS, String(DEMO_NET.port));
  let stderr = "";
  h.child.stderr?.on("data", (b: Buffer) => (stderr += b.toString("utf8")));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("the listener did not start within 10 s")), 10_000);
      h.child.stdout?.once("data", () => {
        clearTimeout(timer);
        resolve();
      });
      h.child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the listener exited (${code}): ${stderr.trim()}`));
      });
    });
  } catch (e) {
    await h.stop();
    throw e;
  }
  return h;
}

export type ProbeResult = "ok" | "refused" | "timeout" | "error";

export interface Probe {
  from: string;
  to: string;
  result: ProbeResult;
  code: string;
  /** Epoch ms when the connection attempt started and ended. */
  start: number;
  end: number;
}

/** The connections the prober makes: attacker IPv4 -> server IPv4, attacker IPv6 -> server IPv6. */
export const PROBE_TARGETS = [
  { from: DEMO_NET.attackerV4, to: DEMO_NET.serverV4 },
  { from: DEMO_NET.attackerV6, to: DEMO_NET.serverV6 },
] as const;

/** Starts the prober in the attacker namespace; `onProbe` gets every attempt. */
export function startProber(net: DemoNetwork, onProbe: (p: Probe) => void, intervalMs = 500): Helper {
  const cfg = { targets: PROBE_TARGETS, port: DEMO_NET.port, intervalMs, timeoutMs: 1000 };
  const h = startInNs(net.attacker, PROBER_JS, JSON.stringify(cfg));
  const lines = createInterface({ input: h.child.stdout! });
  lines.on("line", (line) => {
    try {
      onProbe(JSON.parse(line) as Probe);
    } catch {
      // not a probe line
    }
  });
  h.child.stderr?.resume();
  return h;
}
