import { z } from "zod";
import { commonFields } from "../common.ts";
import { hookChains, xtablesFields } from "../xtables.ts";

export const iptablesConfig = z
  .strictObject({
    type: z.literal("iptables"),
    ...commonFields,
    ...xtablesFields,
    chain: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,27}$/, "letters, digits, _ and -, at most 28 characters")
      .default("portcullis")
      .describe(
        "Own chain in the filter table holding one rule per banned target; created and removed by us",
      ),
    hooks: hookChains,
  })
  .describe(
    "Plain iptables/ip6tables rules, one per target, in an own chain (for old systems without ipset or nftables); " +
      "no expiry of its own: the daemon removes bans at expiry",
  );

export type IptablesConfig = z.infer<typeof iptablesConfig>;
