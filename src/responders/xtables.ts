/**
 * iptables/ip6tables helpers shared by the `ipset` and `iptables` responders: reading a table with `-S`,
 * turning a listed rule back into arguments, and batching rule changes with `iptables-restore --noflush`
 * (one transaction per table). Works with both the nf_tables and the legacy backends.
 */
import { z } from "zod";
import type { IpFamily } from "../core/ip.ts";
import { ResponderError, errorText, executable, type CommandRunner } from "./common.ts";

export const xtablesFields = {
  iptables_path: executable
    .default("iptables")
    .describe("The `iptables` executable (e.g. `iptables-legacy`)"),
  ip6tables_path: executable.default("ip6tables").describe("The `ip6tables` executable"),
  ipv6: z
    .boolean()
    .default(true)
    .describe("Also ban IPv6 targets (with ip6tables); when false they are rejected"),
  verdict: z
    .enum(["reject", "drop"])
    .default("reject")
    .describe("`reject` answers at once (ICMP port unreachable); `drop` leaves the client to time out"),
};

export const hookChains = z
  .array(z.enum(["INPUT", "FORWARD"]))
  .min(1)
  .default(["INPUT", "FORWARD"])
  .refine((h) => new Set(h).size === h.length, "duplicate chain")
  .describe("Built-in chains hooked (at position 1): INPUT (this host) and FORWARD (containers, VMs)");

export interface XtFamily {
  family: IpFamily;
  bin: string;
}

export function xtFamilies(c: { iptables_path: string; ip6tables_path: string; ipv6: boolean }): XtFamily[] {
  const out: XtFamily[] = [{ family: 4, bin: c.iptables_path }];
  if (c.ipv6) out.push({ family: 6, bin: c.ip6tables_path });
  return out;
}

export function verdictTarget(verdict: "reject" | "drop"): string {
  return verdict === "reject" ? "REJECT" : "DROP";
}

/** `-S` lines of the filter table (or one chain). `missing` when the chain does not exist. */
export async function listRules(
  cmd: CommandRunner,
  bin: string,
  chain?: string,
): Promise<{ lines: string[]; missing: boolean }> {
  const argv = [bin, "-w", "-t", "filter", "-S", ...(chain ? [chain] : [])];
  const r = await cmd.run(argv);
  if (r.code !== 0) {
    if (chain && /No chain|does not exist|by that name/i.test(r.stderr)) return { lines: [], missing: true };
    // iptables-nft 1.8.9 calls a missing chain "incompatible": look for it in the whole table
    if (chain && /incompatible/i.test(r.stderr)) {
      const all = await listRules(cmd, bin);
      if (!all.lines.includes(`-N ${chain}`)) return { lines: [], missing: true };
    }
    throw new ResponderError(`${argv.join(" ")}: ${errorText(r)}`, argv, r.code);
  }
  return { lines: r.stdout.split("\n").filter((l) => l.length > 0), missing: false };
}

/** Splits a `-S` line into arguments (the lines our rules produce contain no quoted strings). */
export function ruleArgs(line: string): string[] {
  return line.trim().split(/\s+/);
}

/** The `-D` arguments that delete exactly the rule printed as `line` (`-A CHAIN ...`). */
export function deleteArgs(line: string): string[] {
  const args = ruleArgs(line);
  args[0] = "-D";
  return args;
}

/** The restore binary next to `bin` (`iptables` -> `iptables-restore`, `/sbin/iptables-legacy` -> ...). */
export function restoreBinary(bin: string): string {
  const m = /^(.*?)(ip6?tables)(-legacy|-nft)?$/.exec(bin);
  return m ? `${m[1]}${m[2]}${m[3] ?? ""}-restore` : `${bin}-restore`;
}

/** Input for `iptables-restore --noflush`: one transaction on the filter table. */
export function restoreScript(lines: readonly string[]): string {
  return `*filter\n${lines.join("\n")}\nCOMMIT\n`;
}
