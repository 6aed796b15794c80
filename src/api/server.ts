/**
 * The HTTPS API: fastify over TLS 1.2+ (or plain HTTP on loopback when configured), helmet's security headers
 * (precomputed, see headers.ts), bearer tokens with scopes
 * and per-token source allowlists, optional HMAC signatures and mTLS, rate limits per source and per token,
 * JSON-only bodies with size and depth limits, one error handler with stable codes, OpenAPI at /docs, SSE at
 * /v1/stream and Prometheus at /metrics. It talks to the daemon only through {@link Control}.
 *
 * Lifecycle: `createApiServer` builds everything (no socket yet); `listen()` binds; `close()` ends the streams,
 * stops accepting, and waits for requests in flight.
 */
import rateLimit, { type RateLimitOptions } from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from "fastify";
import { jsonSchemaTransform, validatorCompiler, type ZodTypeProvider } from "fastify-type-provider-zod";
import type { ServerOptions as HttpsServerOptions } from "node:https";
import type { AddressInfo } from "node:net";
import { SignatureVerifier, readSecrets } from "../auth/signatures.ts";
import type { TokenVerifier } from "../auth/tokens.ts";
import type { Clock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { CidrSet, canonicalIp, groupKey } from "../core/ip.ts";
import type { Logger } from "../core/logger.ts";
import { VERSION } from "../version.ts";
import { authHook, checkSignature, type Limiter } from "./auth.ts";
import type { Certificates } from "./certs.ts";
import type { ApiSettings } from "./config.ts";
import type { Control } from "./control.ts";
import { ApiError, toApiError } from "./errors.ts";
import { API_HEADERS, DOCS_HEADERS } from "./headers.ts";
import { parseJsonBody } from "./json.ts";
import { ApiMetrics } from "./metrics.ts";
import { decisionRoutes } from "./routes/decisions.ts";
import type { ApiApp, RouteDeps } from "./routes/deps.ts";
import { readRoutes } from "./routes/read.ts";
import { systemRoutes } from "./routes/system.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { StreamHub } from "./stream.ts";
import { WEBHOOKS, type WebhookDefinition } from "./webhooks.ts";

export interface ApiServerOptions {
  control: Control;
  tokens: TokenVerifier;
  config: ApiSettings;
  logger: Logger;
  clock: Clock;
  /** Required unless `config.plainHttp`. */
  certificates?: Pick<Certificates, "cert" | "key" | "clientCa"> & { fingerprint?: string };
  /** Signing secrets; default: read from `config.signatures.secretEnv/secretFile`. */
  signatureSecrets?: Buffer[];
  /** Webhook kinds (default: the registry). */
  webhooks?: Readonly<Record<string, WebhookDefinition>>;
  /** Environment for `secret_env` (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface ApiServer {
  readonly app: FastifyInstance;
  readonly metrics: ApiMetrics;
  /** Binds the configured address; resolves to the base URL (`https://127.0.0.1:8443`). */
  listen(): Promise<string>;
  /** The bound port (after listen). */
  readonly port: number | undefined;
  close(): Promise<void>;
}

const CONNECTION_LIMITS = {
  /** Whole request, headers included (slow-loris bodies). */
  requestTimeout: 30_000,
  /** Idle keep-alive connections. */
  keepAliveTimeout: 65_000,
};

export async function createApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const s = opts.config;
  const log = opts.logger.child({ component: "api" });
  let https: HttpsServerOptions | null = null;
  if (!s.plainHttp) {
    const c = opts.certificates;
    if (!c)
      throw new PortcullisError("CONFIG_INVALID", "the HTTPS API needs a certificate (see src/api/certs.ts)");
    https = { cert: c.cert, key: c.key, minVersion: "TLSv1.2", honorCipherOrder: true };
    if (c.clientCa !== undefined)
      Object.assign(https, { ca: c.clientCa, requestCert: true, rejectUnauthorized: true });
  }
  const secrets =
    opts.signatureSecrets ??
    readSecrets({ env: s.signatures.secretEnv, file: s.signatures.secretFile }, opts.env);
  if (s.signatures.required && !secrets.length) {
    throw new PortcullisError("CONFIG_INVALID", "api.signatures.required needs a secret");
  }
  const verifier = secrets.length
    ? new SignatureVerifier({ secrets, window: s.signatures.window }, opts.clock)
    : undefined;

  const fastifyOpts: FastifyServerOptions = {
    logger: false,
    bodyLimit: s.bodyLimit,
    trustProxy: s.trustProxy === false ? false : s.trustProxy,
    return503OnClosing: true,
    routerOptions: { maxParamLength: 200 },
    ...CONNECTION_LIMITS,
  };
  const base = (
    https ? Fastify({ ...fastifyOpts, https } as FastifyServerOptions) : Fastify(fastifyOpts)
  ) as FastifyInstance;
  const app = base.withTypeProvider<ZodTypeProvider>() as unknown as ApiApp;
  app.setValidatorCompiler(validatorCompiler);
  // Response schemas document the API (OpenAPI); the handlers build exactly those shapes, and the tests check
  // them, so responses are serialised without a second validation pass on the hot path.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
  app.decorateRequest("auth", null);
  app.decorateRequest("clientIp", "");
  app.decorateRequest("rawBody", null);

  const metrics = new ApiMetrics();
  const hub = new StreamHub(
    opts.control,
    { heartbeat: s.stream.heartbeat, maxClients: s.stream.maxClients },
    metrics,
  );

  await app.register(rateLimit, { global: false });
  const window = s.rateLimit.window;
  const limiter = (max: number, key: (r: FastifyRequest) => string): Limiter =>
    app.createRateLimit({
      max,
      timeWindow: window,
      keyGenerator: key,
      cache: 20_000,
    } as RateLimitOptions);
  // IPv6 sources are counted per /64: one host usually owns the whole prefix.
  const sourceKey = (r: FastifyRequest) => `s:${groupKey(r.clientIp, 64)}`;
  const limiters = {
    source: limiter(s.rateLimit.perSource, sourceKey),
    token: limiter(s.rateLimit.perToken, (r) => `t:${r.auth?.id ?? ""}`),
    authFailures: limiter(s.rateLimit.authFailures, (r) => `f:${groupKey(r.clientIp, 64)}`),
  };

  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (req, body, done) => {
    const buf = body as Buffer;
    if (!buf.length && req.method !== "POST" && req.method !== "PUT" && req.method !== "PATCH") {
      done(null, undefined);
      return;
    }
    try {
      const value = parseJsonBody(buf, s.maxJsonDepth);
      req.rawBody = buf;
      done(null, value);
    } catch (e) {
      done(e as Error, undefined);
    }
  });

  // Fail closed: a route without `config.auth` needs admin. The docs pages are public.
  app.addHook("onRoute", (route) => {
    if (route.url.startsWith("/docs")) route.config = { ...(route.config ?? {}), auth: "none" };
  });
  const metricsAllow = new CidrSet(s.metricsAllow);
  const authenticate = authHook({ tokens: opts.tokens, metricsAllow, limiters, metrics });
  app.addHook("onRequest", (req, reply) => {
    req.clientIp = canonicalIp(req.ip) ?? req.ip;
    void reply.headers(req.url.startsWith("/docs") ? DOCS_HEADERS : API_HEADERS);
    return authenticate(req);
  });
  app.addHook("preValidation", (req, _reply, done) => {
    try {
      if (req.method === "POST" && req.body === undefined) throw new ApiError("BODY_EMPTY");
      checkSignature(req, verifier, s.signatures.required);
      done();
    } catch (e) {
      done(e as Error);
    }
  });
  app.addHook("onResponse", (req, reply, done) => {
    const route = req.is404 ? "unmatched" : (req.routeOptions.url ?? "unmatched");
    metrics.observeRequest(route, req.method, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
  app.addHook("preClose", () => hub.closeAll());

  app.setErrorHandler((err, req, reply) => {
    const e = toApiError(err);
    if (e.status >= 500) {
      log.error(
        { route: req.routeOptions.url, error: (err as Error).message, code: e.code },
        "API request failed",
      );
    }
    if (e.headers) void reply.headers(e.headers);
    return reply.code(e.status).send(e.body());
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .send(
        new ApiError("NOT_FOUND", `No endpoint ${req.method} ${req.url.split("?")[0]!.slice(0, 100)}`).body(),
      ),
  );

  await app.register(swagger, {
    openapi: {
      openapi: "3.0.3",
      info: {
        title: "Portcullis API",
        version: VERSION,
        description:
          "Bans and SIEM intake. Authenticate with `Authorization: Bearer pcl_...` (`portcullis token create`); " +
          'errors are `{ "error": { "code", "message" } }` with stable codes.',
      },
      components: { securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  const deps: RouteDeps = {
    control: opts.control,
    clock: opts.clock,
    logger: log,
    metrics,
    settings: s,
    webhooks: opts.webhooks ?? WEBHOOKS,
    hub,
  };
  systemRoutes(app, deps);
  decisionRoutes(app, deps);
  readRoutes(app, deps);
  webhookRoutes(app, deps);
  await app.ready();

  let port: number | undefined;
  return {
    app: app as unknown as FastifyInstance,
    metrics,
    get port() {
      return port;
    },
    async listen() {
      await app.listen({ host: s.host, port: s.port });
      port = (app.server.address() as AddressInfo).port;
      const host = s.host.includes(":") ? `[${s.host}]` : s.host;
      const url = `${https ? "https" : "http"}://${host}:${port}`;
      log.info(
        { url, mtls: https?.requestCert === true, signatures: verifier !== undefined },
        "API listening",
      );
      return url;
    },
    async close() {
      await app.close();
    },
  };
}
