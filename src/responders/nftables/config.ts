import { z } from "zod";
import { commonFields, executable } from "../common.ts";

const identifier = z
  .string()
  .regex(/^[A-Za-z][A-Za-z0-9_-]{0,30}$/, "an nftables identifier (letter, then letters, digits, _ or -)");

export const nftablesConfig = z
  .strictObject({
    type: z.literal("nftables"),
    ...commonFields,
    table: identifier
      .default("portcullis")
      .describe(
        "Own table in family `inet`, created by setup and removed by teardown; never share it with other tools",
      ),
    hooks: z
      .array(z.enum(["input", "forward"]))
      .min(1)
      .default(["input", "forward"])
      .refine((h) => new Set(h).size === h.length, "duplicate hook")
      .describe(
        "Base chains that jump to the ban rules: `input` (this host) and `forward` (routed traffic: containers, VMs)",
      ),
    priority: z
      .number()
      .int()
      .min(-400)
      .max(400)
      .default(-10)
      .describe("Priority of the base chains; below 0 runs before the usual `filter` chains"),
    verdict: z
      .enum(["reject", "drop"])
      .default("reject")
      .describe("`reject` answers at once (ICMP port unreachable); `drop` leaves the client to time out"),
    counters: z.boolean().default(true).describe("Count packets and bytes hit by each ban rule"),
    nft_path: executable.default("nft").describe("The `nft` executable"),
  })
  .describe("Bans in named nftables sets with per-element timeouts, matched by one rule per set");

export type NftablesConfig = z.infer<typeof nftablesConfig>;
