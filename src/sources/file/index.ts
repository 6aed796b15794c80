/** The `file` source plugin. */
import type { SourceDefinition } from "../types.ts";
import { fileConfig, type FileConfig } from "./config.ts";
import { FileSource } from "./source.ts";

export const file = {
  type: "file",
  description: "Follows log files (inotify with a polling fallback): rotation, globs, persisted offsets",
  schema: fileConfig,
  create: (config, ctx) => new FileSource(config, ctx),
} satisfies SourceDefinition<FileConfig>;
