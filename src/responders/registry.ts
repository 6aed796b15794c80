/**
 * Every responder, in one explicit map sorted by type. Nothing registers itself on import;
 * `registry.test.ts` fails when a responder folder is missing from here. "Unknown" (no such type) and an
 * invalid config are different errors.
 */
import { PortcullisError } from "../core/errors.ts";
import type { PluginContext, PluginDefinition } from "../core/plugin.ts";
import { command } from "./command/responder.ts";
import { enforcer } from "./enforcer/responder.ts";
import { ipset } from "./ipset/responder.ts";
import { iptables } from "./iptables/responder.ts";
import { nftables } from "./nftables/responder.ts";
import type { Responder } from "./types.ts";
import { ufw } from "./ufw/responder.ts";

export type ResponderDefinition = PluginDefinition<unknown, Responder>;

export const RESPONDERS: Readonly<Record<string, ResponderDefinition>> = {
  command,
  enforcer,
  ipset,
  iptables,
  nftables,
  ufw,
};

export function responderByType(type: string): ResponderDefinition {
  const d = Object.hasOwn(RESPONDERS, type) ? RESPONDERS[type] : undefined;
  if (!d) {
    throw new PortcullisError(
      "UNKNOWN_PLUGIN",
      `unknown responder type "${type}" (known: ${Object.keys(RESPONDERS).join(", ")})`,
    );
  }
  return d;
}

/**
 * Validates `config` against its type's strict schema (every problem reported with its path) and creates the
 * responder. `path` prefixes issue paths, e.g. `responders[2]`.
 */
export function createResponder(config: unknown, ctx: PluginContext, path = "responder"): Responder {
  const type = (config as { type?: unknown } | null)?.type;
  if (typeof type !== "string") {
    throw new PortcullisError("CONFIG_INVALID", `${path}: missing "type"`, {
      issues: [{ path: `${path}.type`, message: `required, one of ${Object.keys(RESPONDERS).join(", ")}` }],
    });
  }
  const def = responderByType(type);
  const parsed = def.schema.safeParse(config);
  if (!parsed.success) {
    throw new PortcullisError("CONFIG_INVALID", `${path}: invalid ${type} responder config`, {
      issues: parsed.error.issues.map((i) => ({
        path: [path, ...i.path.map((p) => (typeof p === "number" ? `[${p}]` : String(p)))]
          .join(".")
          .replace(/\.\[/g, "["),
        message: i.message,
      })),
    });
  }
  return def.create(parsed.data, ctx);
}
