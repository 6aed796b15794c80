import { z } from "zod";
import { commonFields, executable } from "../common.ts";
import { hookChains, xtablesFields } from "../xtables.ts";

export const ipsetConfig = z
  .strictObject({
    type: z.literal("ipset"),
    ...commonFields,
    ...xtablesFields,
    set_prefix: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9_-]{0,23}$/, "letters, digits, _ and -, at most 24 characters")
      .default("portcullis")
      .describe(
        "Sets are named <prefix>4, <prefix>6 (hash:ip) and <prefix>4net, <prefix>6net (hash:net for prefixes)",
      ),
    chains: hookChains,
    maxelem: z
      .number()
      .int()
      .min(1024)
      .max(1 << 28)
      .default(1 << 20)
      .describe("Capacity of each set (ipset's default of 65536 is too small for large attacks)"),
    ipset_path: executable.default("ipset").describe("The `ipset` executable"),
  })
  .describe(
    "Bans in ipset hash:ip/hash:net sets with per-entry timeouts, matched by one iptables rule per set",
  );

export type IpsetConfig = z.infer<typeof ipsetConfig>;
