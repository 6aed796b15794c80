/**
 * What the daemon's configuration makes of rules and policy: the rule set (built-in pack, rule files, disabled
 * rules, key cap) and the policy settings. Shared by the daemon, the CLI's offline bans and `replay --config`,
 * so that each decides exactly as the daemon would; kept apart from daemon.ts so that those load no server.
 */
import type { LoadedConfig } from "../config/load.ts";
import { parseDuration } from "../core/duration.ts";
import { PortcullisError } from "../core/errors.ts";
import { builtinRules } from "../detect/builtin.ts";
import { loadRules } from "../detect/load.ts";
import type { CompiledRule } from "../detect/rule.ts";
import type { PolicyConfig } from "../policy/policy.ts";

/** The rules the configuration enables; an unknown id in `rules.disable` is a configuration error. */
export function configuredRules(c: LoadedConfig["raw"]): CompiledRule[] {
  let rules = [
    ...(c.rules.builtin ? builtinRules() : []),
    ...(c.rules.paths.length ? loadRules(c.rules.paths) : []),
  ];
  const unknown = c.rules.disable.filter((id) => !rules.some((r) => r.id === id));
  if (unknown.length) {
    throw new PortcullisError("CONFIG_INVALID", `rules.disable names unknown rules: ${unknown.join(", ")}`);
  }
  rules = rules.filter((r) => !c.rules.disable.includes(r.id));
  if (c.max_tracked_keys) {
    rules = rules.map((r) => ({ ...r, spec: { ...r.spec, max_keys: c.max_tracked_keys! } }));
  }
  return rules;
}

export function policyConfig(c: LoadedConfig["raw"], dryRun: boolean): Partial<PolicyConfig> {
  const p = c.policy;
  return {
    defaultDuration: parseDuration(p.default_duration),
    rules: Object.fromEntries(
      Object.entries(p.rules).map(([id, r]) => [
        id,
        {
          ...(r.response ? { response: r.response } : {}),
          ...(r.duration !== undefined ? { duration: parseDuration(r.duration) } : {}),
          ...(r.shadow !== undefined ? { shadow: r.shadow } : {}),
        },
      ]),
    ),
    escalation: {
      enabled: p.escalation.enabled,
      factor: p.escalation.factor,
      max: parseDuration(p.escalation.max),
      lookback: parseDuration(p.escalation.lookback),
    },
    onDuplicate: p.on_duplicate,
    dedupWindow: parseDuration(p.dedup_window),
    maxPrefix: p.max_prefix,
    maxBansPerMinute: p.circuit_breaker.max_bans_per_minute,
    dryRun,
    scope: "host",
  };
}
