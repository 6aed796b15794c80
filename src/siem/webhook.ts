/**
 * An extractor as a webhook handler for the API's registry (src/api/webhooks.ts `WEBHOOKS`):
 * `kibana: siemWebhook("kibana")`. Alerts found -> returned (the API checks each address again, refuses the
 * caller's own, and ingests). None found -> `{ error }` (422) with the first reasons, so the SIEM's admin
 * sees why (e.g. "ip: \"all documents\": the rule is not grouped ..."). Values rejected beside accepted
 * alerts are not in the API's handler contract and are dropped from the response.
 */
import type { Alert } from "../core/alert.ts";
import type { WebhookContext, WebhookDefinition, WebhookError } from "../api/webhooks.ts";
import { extractorByKind } from "./registry.ts";
import { DEFAULT_MAX_ALERTS } from "./types.ts";

const LISTED = 5;

export function siemWebhook(kind: string): WebhookDefinition {
  const def = extractorByKind(kind);
  return {
    kind: def.kind,
    origin: def.kind,
    description: def.description,
    handle(body: unknown, ctx: WebhookContext): Alert[] | WebhookError {
      const { alerts, rejected } = def.extract(body, { now: ctx.now, maxAlerts: DEFAULT_MAX_ALERTS });
      if (alerts.length || !rejected.length) return alerts;
      const first = rejected[0]!;
      const more = rejected.slice(1, LISTED).map((r) => `${r.path}: ${r.reason}`);
      const rest = rejected.length > LISTED ? [`${rejected.length - LISTED} more`] : [];
      return {
        error: {
          path: first.path,
          message: [first.reason, ...more, ...rest].join("; "),
        },
      };
    },
  };
}
