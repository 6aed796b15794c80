/** `GET /v1/decisions` (read), `POST /v1/decisions` (admin: ban), `DELETE /v1/decisions/:target` (admin: unban). */
import { z } from "zod";
import type { Actor } from "../../core/decision.ts";
import { cidrContains, parseCidr, parseIp } from "../../core/ip.ts";
import { normalizeTarget } from "../../policy/policy.ts";
import { ApiError, outcomeError } from "../errors.ts";
import { echo, present, resultOf, type TargetResult } from "../present.ts";
import { cleanText, readDuration } from "../webhooks.ts";
import { awaitEnforcement, preferredWait } from "../enforcement.ts";
import { sendError, type ApiApp, type RouteDeps } from "./deps.ts";
import { hitsCaller } from "./webhooks.ts";
import { listQuery, page, pageSchema } from "./paging.ts";

const banBody = z.strictObject({
  target: z.string().max(100).describe("IP address or CIDR"),
  duration: z
    .union([z.number().positive(), z.string().max(32)])
    .optional()
    .describe("Seconds, or 10m/1h/2d (default: the policy's)"),
  reason: z.string().max(500).optional(),
});

const resultBody = z.object({
  result: z.object({
    target: z.string(),
    outcome: z.string(),
    reason: z.string(),
    expires: z.string().optional(),
    decision_id: z.string().optional(),
    enforcement: z.enum(["applied", "failed", "pending", "simulated"]).optional(),
  }),
});

/** Whether banning `target` (address or CIDR, canonical) would cut off `caller`. */
function coversCaller(target: string, caller: string): boolean {
  if (target.indexOf("/") < 0) return hitsCaller(target, caller);
  const c = parseCidr(target);
  const p = parseIp(caller);
  return c !== undefined && p !== undefined && cidrContains(c, p);
}

export function decisionRoutes(app: ApiApp, deps: RouteDeps): void {
  app.get(
    "/v1/decisions",
    {
      config: { auth: "read" },
      schema: {
        tags: ["decisions"],
        summary: "List decisions (newest first)",
        security: [{ bearer: [] }],
        querystring: listQuery.extend({
          state: z.enum(["active", "expired", "revoked"]).optional(),
          target: z.string().max(100).optional(),
        }),
        response: { 200: pageSchema },
      },
    },
    async (req) => {
      const q = req.query;
      let target: string | undefined;
      if (q.target !== undefined) {
        target = normalizeTarget(q.target);
        if (!target)
          throw new ApiError("INVALID_QUERY", `target: not an IP address or CIDR: ${echo(q.target)}`);
      }
      const items = await deps.control.listDecisions({
        limit: q.limit,
        offset: q.offset,
        ...(q.state ? { state: q.state } : {}),
        ...(target ? { target } : {}),
        ...(q.since !== undefined ? { since: q.since } : {}),
      });
      return page(items.map(present), q.limit, q.offset);
    },
  );

  app.post(
    "/v1/decisions",
    {
      config: { auth: "admin" },
      schema: {
        tags: ["decisions"],
        summary: "Ban an address or range",
        description:
          "200 with the outcome (banned, extended, already_banned); 422 when refused (allowlisted, too wide, " +
          "invalid, the caller's own address); 503 with Retry-After when the circuit breaker is open. With " +
          "`Prefer: wait=N` (seconds, at most 30) the answer waits for the firewall and says `enforcement`; " +
          "a responder failure makes it `failed` (503).",
        security: [{ bearer: [] }],
        body: banBody,
        response: { 200: resultBody },
      },
    },
    async (req, reply) => {
      const body = req.body;
      const token = req.auth!;
      const target = normalizeTarget(body.target);
      let result: TargetResult;
      if (!target) {
        result = {
          target: echo(body.target),
          outcome: "refused_invalid",
          reason: "not an IP address or CIDR",
        };
      } else if (parseCidr(target)!.prefix === 0) {
        // Never even asked of the daemon: /0 is every address. Narrower ranges are the policy's call.
        result = { target, outcome: "refused_too_wide", reason: `${target} is every address` };
      } else if (coversCaller(target, req.clientIp)) {
        result = {
          target,
          outcome: "refused_own_address",
          reason: `${target} covers the caller's own address (${req.clientIp})`,
        };
      } else {
        let duration: number | undefined;
        if (body.duration !== undefined) {
          duration = readDuration(body.duration);
          if (duration === undefined) {
            throw new ApiError(
              "VALIDATION_FAILED",
              "duration: seconds or 10m/1h/2d, more than 0 and at most 365d",
              {
                details: [{ path: "duration", message: "invalid duration" }],
              },
            );
          }
        }
        const actor: Actor = { type: "api", name: token.name };
        try {
          const o = await deps.control.ban({
            target,
            actor,
            origin: "api",
            ...(duration !== undefined ? { duration } : {}),
            ...(body.reason !== undefined ? { reason: cleanText(body.reason, 500) } : {}),
          });
          result = resultOf(target, o);
        } catch (e) {
          deps.logger.error({ target, error: (e as Error).message }, "ban failed");
          result = { target, outcome: "failed", reason: "the daemon could not record the ban; retry" };
        }
      }
      const wait = preferredWait(req);
      if (wait !== undefined) await awaitEnforcement(deps.control, [result], wait, reply);
      deps.logger.info(
        {
          audit: "ban",
          token: token.name,
          source: req.clientIp,
          target: result.target,
          outcome: result.outcome,
        },
        "ban requested",
      );
      const code = outcomeError(result.outcome);
      if (code) return sendError(reply, code, result.reason, { result });
      return { result };
    },
  );

  app.delete(
    "/v1/decisions/:target",
    {
      config: { auth: "admin" },
      schema: {
        tags: ["decisions"],
        summary: "Unban an address or range (URL-encode the / of a CIDR as %2F)",
        description:
          "200 with the number of decisions revoked; 404 NOT_BANNED when none was active. An address also " +
          "lifts the banned ranges that contain it. With `origin` (what the SIEM hooks send: `wazuh`), only " +
          "the decisions of that origin end, on the target itself or on the IPv6 prefix range it was banned " +
          "under; other bans stay.",
        security: [{ bearer: [] }],
        params: z.object({ target: z.string().max(100) }),
        querystring: z.strictObject({
          reason: z.string().max(500).optional(),
          origin: z
            .string()
            .min(1)
            .max(32)
            .regex(/^[a-z0-9][a-z0-9_-]*$/)
            .optional()
            .describe("Only the decisions of this origin (wazuh, ossim, api, native, ...)"),
        }),
        response: { 200: z.object({ target: z.string(), revoked: z.number() }) },
      },
    },
    async (req) => {
      const token = req.auth!;
      const target = normalizeTarget(req.params.target);
      if (!target) throw new ApiError("INVALID_IP", `Not an IP address or CIDR: ${echo(req.params.target)}`);
      const reason = req.query.reason !== undefined ? cleanText(req.query.reason, 500) : undefined;
      const origin = req.query.origin;
      const r = await deps.control.unban(
        target,
        { type: "api", name: token.name },
        reason,
        origin !== undefined ? { origin } : undefined,
      );
      deps.logger.info(
        {
          audit: "unban",
          token: token.name,
          source: req.clientIp,
          target,
          ...(origin !== undefined ? { origin } : {}),
          revoked: r.revoked,
        },
        "unban requested",
      );
      if (!r.revoked) throw new ApiError("NOT_BANNED", `${target} is not banned`);
      return { target: r.target, revoked: r.revoked };
    },
  );
}
