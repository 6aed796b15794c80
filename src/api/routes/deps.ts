/** What every route module receives. */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { FastifyBaseLogger, FastifyInstance, FastifyReply, RawServerDefault } from "fastify";
import type { ZodTypeProvider } from "fastify-type-provider-zod";
import type { Clock } from "../../core/clock.ts";
import type { Logger } from "../../core/logger.ts";
import type { ApiSettings } from "../config.ts";
import type { Control } from "../control.ts";
import { API_ERRORS, ApiError, RETRY_AFTER_SECONDS, type ApiErrorCode } from "../errors.ts";
import type { ApiMetrics } from "../metrics.ts";
import type { StreamHub } from "../stream.ts";
import type { WebhookDefinition } from "../webhooks.ts";

/** The app with the zod type provider. An HTTPS server has the same request and response objects as HTTP. */
export type ApiApp = FastifyInstance<
  RawServerDefault,
  IncomingMessage,
  ServerResponse,
  FastifyBaseLogger,
  ZodTypeProvider
>;

export interface RouteDeps {
  control: Control;
  clock: Clock;
  logger: Logger;
  metrics: ApiMetrics;
  settings: ApiSettings;
  webhooks: Readonly<Record<string, WebhookDefinition>>;
  hub: StreamHub;
}

/** Sends an error body with extra fields (per-target results) and the code's status and Retry-After. */
export function sendError(
  reply: FastifyReply,
  code: ApiErrorCode,
  message: string | undefined,
  extra: Record<string, unknown>,
): FastifyReply {
  const retry = RETRY_AFTER_SECONDS[code];
  if (retry !== undefined) void reply.header("retry-after", String(retry));
  return reply.code(API_ERRORS[code].status).send(new ApiError(code, message).body(extra));
}
