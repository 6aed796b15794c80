import { z } from "zod";
import { commonFields, executable } from "../common.ts";

export const ufwConfig = z
  .strictObject({
    type: z.literal("ufw"),
    ...commonFields,
    action: z
      .enum(["deny", "reject"])
      .default("deny")
      .describe("ufw rule action: `deny` drops silently (the ufw story's choice), `reject` answers at once"),
    comment: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,64}$/, "letters, digits, _ . : - (no spaces)")
      .default("portcullis")
      .describe(
        "Comment on every rule we add; only rules with this comment are listed, reconciled and removed",
      ),
    ufw_path: executable.default("ufw").describe("The `ufw` executable"),
  })
  .describe(
    "ufw rules (`ufw prepend deny from <target>`), one per target; ufw has no expiry (the daemon removes bans) " +
      "and no batch mode, so it suits small numbers of bans",
  );

export type UfwConfig = z.infer<typeof ufwConfig>;
