/**
 * `portcullis block SRC_IP [DST_IP] [DST_PORT]`: the program an OSSIM/USM policy action (or any script)
 * runs to ban an address through the daemon. Arguments are data, validated strictly (args.ts); the ban is
 * forwarded to the daemon, which applies the policy and the responders. Exit codes: forward.ts `EXIT`
 * (0 banned or already banned, 1 bad input, 2 enforcement failed, 3 refused by policy).
 */
import { EXIT, exitCodeFor, quote, safeForward, type Forward } from "../forward.ts";
import { USAGE } from "./args.ts";
import { ossim } from "./extractor.ts";

export interface BlockDeps {
  forward: Forward;
  /** Wall time from the CLI's clock (epoch ms). */
  now: number;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
}

export async function runOssimBlock(argv: readonly string[], deps: BlockDeps): Promise<number> {
  const { alerts, rejected } = ossim.extract([...argv], { now: deps.now, maxAlerts: 1 });
  const alert = alerts[0];
  if (!alert) {
    for (const r of rejected) deps.stderr.write(`portcullis block: ${r.reason}\n`);
    deps.stderr.write(`${USAGE}\n`);
    return EXIT.badInput;
  }
  const target = alert.group["source.ip"]!;
  const reply = await safeForward(deps.forward, { action: "ban", alert });
  const code = exitCodeFor(reply);
  const line = `${reply.outcome} ${target}${reply.reason ? `: ${quote(reply.reason)}` : ""}\n`;
  if (code === EXIT.ok) deps.stdout.write(line);
  else deps.stderr.write(`portcullis block: ${line}`);
  return code;
}
