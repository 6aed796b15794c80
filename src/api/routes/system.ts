/** `GET /v1/health` (no token), `GET /metrics` (allowed addresses or a read token), `GET /v1/stream` (read). */
import { z } from "zod";
import { ApiError } from "../errors.ts";
import type { ApiApp, RouteDeps } from "./deps.ts";

export function systemRoutes(app: ApiApp, deps: RouteDeps): void {
  app.get(
    "/v1/health",
    {
      config: { auth: "none" },
      schema: {
        tags: ["system"],
        summary: "Liveness (no token; says nothing else)",
        response: { 200: z.object({ status: z.literal("ok") }) },
      },
    },
    () => ({ status: "ok" as const }),
  );

  app.get(
    "/metrics",
    {
      config: { auth: "metrics" },
      schema: {
        tags: ["system"],
        summary: "Prometheus metrics (no token from api.metrics_allow addresses; a read token otherwise)",
        security: [{}, { bearer: [] }],
      },
    },
    async (_req, reply) => {
      const [daemon, api] = await Promise.all([deps.control.metrics(), deps.metrics.text()]);
      return reply
        .header("content-type", "text/plain; version=0.0.4; charset=utf-8")
        .send(`${daemon.trimEnd()}\n${api}`);
    },
  );

  app.get(
    "/v1/stream",
    {
      exposeHeadRoute: false,
      config: { auth: "read" },
      schema: {
        tags: ["system"],
        summary: "Server-Sent Events: `alert` and `decision` events as they happen",
        security: [{ bearer: [] }],
      },
    },
    (req, reply) => {
      if (deps.hub.full) throw new ApiError("STREAM_FULL");
      void reply.hijack();
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === "string") headers[k] = v;
      deps.hub.open(reply.raw, headers);
      deps.logger.debug({ token: req.auth?.name, source: req.clientIp }, "stream client connected");
    },
  );
}
