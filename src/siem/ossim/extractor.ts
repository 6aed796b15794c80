/**
 * OSSIM / USM Appliance: no HTTP payload, the "Execute an external program" action's arguments
 * `SRC_IP [DST_IP] [DST_PORT]` (see args.ts). The body is that argv (an array of strings); the alert is a
 * ban of SRC_IP with the attacked asset and port in the sample event. `portcullis block` (block.ts) runs it.
 */
import { parseBlockArgs } from "./args.ts";
import { runExtractor } from "../run.ts";
import type { ExtractorDefinition } from "../types.ts";

export const ossim = {
  kind: "ossim",
  description: "OSSIM/USM 'Execute an external program' action arguments: SRC_IP [DST_IP] [DST_PORT]",
  ipFields: [],
  extract: (b, options) =>
    runExtractor(
      "ossim",
      b,
      options,
      [],
      (c, argv) => {
        const p = parseBlockArgs(argv);
        if (!p.ok) {
          c.reject(p.value, p.path, p.reason);
          return;
        }
        const destination: { ip?: string; port?: number } = {};
        if (p.args.dst) destination.ip = p.args.dst;
        if (p.args.port) destination.port = p.args.port;
        c.address(p.args.src, "SRC_IP", {
          rule: { name: "OSSIM policy action", type: "ossim-action" },
          event: { action: "ossim_action", destination },
        });
      },
      { arrays: false },
    ),
} satisfies ExtractorDefinition;
