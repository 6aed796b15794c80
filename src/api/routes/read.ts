/** Read-only views: `GET /v1/alerts`, `/v1/rules`, `/v1/status`, `/v1/explain/:target` (scope read). */
import { z } from "zod";
import { canonicalIp } from "../../core/ip.ts";
import { normalizeTarget } from "../../policy/policy.ts";
import { ApiError } from "../errors.ts";
import { echo, present } from "../present.ts";
import type { ApiApp, RouteDeps } from "./deps.ts";
import { listQuery, page, pageSchema } from "./paging.ts";

const security = [{ bearer: [] }];

export function readRoutes(app: ApiApp, deps: RouteDeps): void {
  app.get(
    "/v1/alerts",
    {
      config: { auth: "read" },
      schema: {
        tags: ["alerts"],
        summary: "List alerts, native and from SIEMs (newest first)",
        security,
        querystring: listQuery.extend({
          source_ip: z.string().max(64).optional(),
          rule_id: z.string().max(200).optional(),
        }),
        response: { 200: pageSchema },
      },
    },
    async (req) => {
      const q = req.query;
      let sourceIp: string | undefined;
      if (q.source_ip !== undefined) {
        // Alerts about IPv6 sources are keyed by prefix, so a CIDR is a valid filter too.
        sourceIp = q.source_ip.includes("/") ? normalizeTarget(q.source_ip) : canonicalIp(q.source_ip);
        if (!sourceIp)
          throw new ApiError("INVALID_QUERY", `source_ip: not an IP address: ${echo(q.source_ip)}`);
      }
      const items = await deps.control.listAlerts({
        limit: q.limit,
        offset: q.offset,
        ...(sourceIp ? { sourceIp } : {}),
        ...(q.rule_id !== undefined ? { ruleId: q.rule_id } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
      });
      return page(items.map(present), q.limit, q.offset);
    },
  );

  app.get(
    "/v1/rules",
    {
      config: { auth: "read" },
      schema: {
        tags: ["rules"],
        summary: "Detection rules loaded by the daemon",
        security,
        response: { 200: z.object({ items: z.array(z.looseObject({})) }) },
      },
    },
    () => ({ items: deps.control.listRules().map((r) => ({ ...r })) }),
  );

  app.get(
    "/v1/status",
    {
      config: { auth: "read" },
      schema: {
        tags: ["system"],
        summary: "Daemon status: sources, responders, counters, TLS fingerprint",
        security,
        response: { 200: z.looseObject({}) },
      },
    },
    async () => present(await deps.control.status()),
  );

  app.get(
    "/v1/explain/:target",
    {
      config: { auth: "read" },
      schema: {
        tags: ["decisions"],
        summary: "Why an address is (or was) banned: decisions, alerts with sample events, audit trail",
        security,
        params: z.object({ target: z.string().max(100) }),
        response: { 200: z.looseObject({}) },
      },
    },
    async (req) => {
      const target = normalizeTarget(req.params.target);
      if (!target) throw new ApiError("INVALID_IP", `Not an IP address or CIDR: ${echo(req.params.target)}`);
      const e = await deps.control.explain(target);
      return {
        ...e,
        decisions: e.decisions.map(present),
        alerts: e.alerts.map(present),
        audit: e.audit.map(present),
      };
    },
  );
}
