/** The `syslog` source plugin. */
import type { SourceDefinition } from "../types.ts";
import { syslogConfig, type SyslogConfig } from "./config.ts";
import { SyslogSource } from "./source.ts";

export const syslog = {
  type: "syslog",
  description: "Receives syslog over UDP and TCP (RFC 3164/5424, octet counting) from allowed senders",
  schema: syslogConfig,
  create: (config, ctx) => new SyslogSource(config, ctx),
} satisfies SourceDefinition<SyslogConfig>;
