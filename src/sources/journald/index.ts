/** The `journald` source plugin. */
import type { SourceDefinition } from "../types.ts";
import { journaldConfig, type JournaldConfig } from "./config.ts";
import { JournaldSource } from "./source.ts";

export const journald = {
  type: "journald",
  description: "Follows the systemd journal (journalctl -f -o json) with a persisted cursor",
  schema: journaldConfig,
  create: (config, ctx) => new JournaldSource(config, ctx),
} satisfies SourceDefinition<JournaldConfig>;
