/**
 * Plugins (sources, responders, notifiers, enrichers) are declarative definitions, as typescript-eslint rules
 * are: a type name, a description, a strict config schema, and a factory. Lifecycle:
 *   validate (schema, no I/O) -> create (build: allocate, no side effects started) -> healthcheck (a probe with
 *   no side effects) -> run/apply (work).
 * Options reach a plugin only through `create`.
 */
import type { z } from "zod";
import type { Clock } from "./clock.ts";
import type { Exec } from "./exec.ts";
import type { Logger } from "./logger.ts";

export interface PluginContext {
  clock: Clock;
  logger: Logger;
  /** Directory for the plugin's own state files (already created). */
  dataDir: string;
  exec: Exec;
}

export interface PluginDefinition<Config, Instance> {
  /** Named after the service or protocol: `file`, `journald`, `nftables`, `ufw`. */
  type: string;
  description: string;
  /** Strict schema of the plugin's config (unknown keys rejected), including `type`. */
  schema: z.ZodType<Config>;
  create(config: Config, ctx: PluginContext): Instance;
}

export interface Health {
  ok: boolean;
  /** What was checked and what was found, for `portcullis status`. */
  detail: string;
}
