/**
 * `POST /v1/webhooks/:kind` and `POST /blockip` (the `generic` kind at the path the ufw story's Kibana connector
 * calls): body -> handler -> alerts -> address checks -> control.ingestAlert, one result per address.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import type { Actor } from "../../core/decision.ts";
import { canonicalIp, cidrContains, groupKey, parseCidr, parseIp } from "../../core/ip.ts";
import { notOneHost } from "../../siem/address.ts";
import { ApiError, combinedError, type ResultOutcome } from "../errors.ts";
import { echo, resultOf, type TargetResult } from "../present.ts";
import { MAX_ALERTS_PER_REQUEST, isWebhookError, webhookContext } from "../webhooks.ts";
import { awaitEnforcement, preferredWait } from "../enforcement.ts";
import { sendError, type ApiApp, type RouteDeps } from "./deps.ts";

const resultSchema = z.object({
  target: z.string(),
  outcome: z.string(),
  reason: z.string(),
  expires: z.string().optional(),
  decision_id: z.string().optional(),
  enforcement: z.enum(["applied", "failed", "pending", "simulated"]).optional(),
});
export const resultsSchema = z.object({ results: z.array(resultSchema) });

/**
 * Whether banning `ip` would cut off the caller: the same address, or for IPv6 the same prefix, the one IPv6
 * sources are banned under (`policy.ipv6_prefix`; never narrower than a /64 here, a host's own subnet).
 */
export function hitsCaller(ip: string, caller: string, ipv6Prefix = 64): boolean {
  if (ip === caller) return true;
  if (ip.indexOf(":") < 0) return false;
  const c = parseCidr(groupKey(ip, Math.min(64, ipv6Prefix)));
  const p = parseIp(caller);
  return c !== undefined && p !== undefined && cidrContains(c, p);
}

export function webhookRoutes(app: ApiApp, deps: RouteDeps): void {
  const handle = async (kind: string, req: FastifyRequest, reply: FastifyReply) => {
    const def = Object.hasOwn(deps.webhooks, kind) ? deps.webhooks[kind] : undefined;
    if (!def) {
      throw new ApiError(
        "UNKNOWN_WEBHOOK_KIND",
        `No webhook handler "${echo(kind)}" (kinds: ${Object.keys(deps.webhooks).join(", ")})`,
      );
    }
    const token = req.auth!;
    const ctx = webhookContext(def, deps.clock.now(), token.name);
    let out;
    try {
      out = def.handle(req.body, ctx);
    } catch (e) {
      deps.logger.warn({ kind, token: token.name, error: (e as Error).message }, "webhook handler threw");
      throw new ApiError("PAYLOAD_INVALID", `The ${kind} payload could not be read`);
    }
    if (isWebhookError(out)) {
      const { path, message } = out.error;
      throw new ApiError("PAYLOAD_INVALID", path ? `${path}: ${message}` : message, {
        details: [{ path: path ?? "", message }],
      });
    }
    if (out.length > MAX_ALERTS_PER_REQUEST) {
      throw new ApiError(
        "TOO_MANY_ALERTS",
        `${out.length} alerts in one request; at most ${MAX_ALERTS_PER_REQUEST}`,
      );
    }
    const actor: Actor = { type: "siem", name: token.name };
    const results: TargetResult[] = [];
    for (const alert of out) {
      const raw = alert.group["source.ip"];
      const ip = typeof raw === "string" && raw.indexOf("/") < 0 ? canonicalIp(raw) : undefined;
      // Every kind gets the same checks (the generic and hook bodies are read by no SIEM extractor).
      const notHost = ip === undefined ? undefined : notOneHost(ip);
      let r: TargetResult;
      if (ip === undefined) {
        r = { target: echo(String(raw)), outcome: "refused_invalid", reason: "not a single IP address" };
      } else if (hitsCaller(ip, req.clientIp, deps.control.ipv6Prefix)) {
        r = {
          target: ip,
          outcome: "refused_own_address",
          reason: `${ip} is the sender's own address (${req.clientIp})`,
        };
      } else if (notHost !== undefined) {
        r = { target: ip, outcome: "refused_invalid", reason: `${ip} is ${notHost}` };
      } else {
        alert.group = { ...alert.group, "source.ip": ip };
        try {
          r = resultOf(ip, await deps.control.ingestAlert(alert, actor));
        } catch (e) {
          deps.logger.error({ kind, target: ip, error: (e as Error).message }, "ingestAlert failed");
          r = { target: ip, outcome: "failed", reason: "the daemon could not process this alert; retry" };
        }
      }
      deps.metrics.webhookAlerts.inc({ kind, outcome: r.outcome });
      results.push(r);
    }
    const wait = preferredWait(req);
    if (wait !== undefined) await awaitEnforcement(deps.control, results, wait, reply);
    // The audit trail of record is the daemon's (each alert is recorded with the token's name as actor); this
    // line is for debugging, not written at the default level (a SIEM may send thousands per second).
    deps.logger.debug(
      {
        audit: "webhook",
        kind,
        token: token.name,
        source: req.clientIp,
        targets: results.length,
        first: results.length ? `${results[0]!.target} ${results[0]!.outcome}` : undefined,
      },
      "webhook received",
    );
    const outcomes: ResultOutcome[] = results.map((r) => r.outcome);
    const code = combinedError(outcomes);
    if (code) {
      const first = results.find((r) => combinedError([r.outcome]) === code);
      return sendError(reply, code, first?.reason, { results });
    }
    return { results };
  };

  const common = {
    tags: ["webhooks"],
    security: [{ bearer: [] }],
    response: { 200: resultsSchema },
  };
  app.post(
    "/v1/webhooks/:kind",
    {
      config: { auth: "webhook", signed: true },
      schema: {
        ...common,
        summary: "Receive a SIEM alert",
        description:
          `Kinds: ${Object.values(deps.webhooks)
            .map((d) => `\`${d.kind}\` (${d.description})`)
            .join("; ")}. ` +
          "Answers 200 with one result per address when any was accepted; 422 when every address was refused " +
          "(allowlisted, too wide, invalid, the sender's own); 503 with Retry-After when the circuit breaker is " +
          "open or the daemon failed (retrying is safe: accepted addresses come back as already_banned). " +
          "With `Prefer: wait=N` (seconds, at most 30) the answer waits for the firewall: each accepted result " +
          "says `enforcement` (applied, pending, simulated), and a responder failure makes it `failed` (503).",
        params: z.object({ kind: z.string().max(64) }),
      },
    },
    (req, reply) => handle(req.params.kind, req, reply),
  );
  app.post(
    "/blockip",
    {
      config: { auth: "webhook", signed: true },
      schema: {
        ...common,
        summary: 'The generic webhook at the path of the classic receiver: { "ip": "203.0.113.7" }',
      },
    },
    (req, reply) => handle("generic", req, reply),
  );
}
