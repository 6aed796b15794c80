/**
 * The `api` section of the daemon configuration (strict: unknown keys are errors). Validation does no I/O;
 * {@link resolveApiConfig} turns the raw values into numbers for the server.
 *
 *   api:
 *     listen: 127.0.0.1:8443          # on by default, HTTPS with a generated self-signed certificate
 *     tls: { cert: /etc/portcullis/api.crt, key: /etc/portcullis/api.key }
 *     metrics_allow: [127.0.0.0/8, ::1/128, 10.0.0.5]
 *     signatures: { required: true, secret_file: /etc/portcullis/webhook.secret }
 */
import { z } from "zod";
import { durationMs, MAX_TIMER_MS, parseDuration } from "../core/duration.ts";
import { CidrSet, parseCidr, splitHostPort } from "../core/ip.ts";

/**
 * The API's durations are all timer periods or time windows: more than zero (a 0s heartbeat would spin, a 0s
 * window refuse everything) and at most what a timer can wait (24d; `stream.heartbeat: 30d` overflowed to 1 ms).
 */
const duration = z
  .union([z.string(), z.number().nonnegative()])
  // durationMs, not parseDuration: this runs after the union refused a negative number too, and must not throw.
  .refine((v) => durationMs(v) !== undefined, {
    message: "expected a duration such as 90s, 10m, 1h, 2d",
    abort: true,
  })
  .refine((v) => durationMs(v)! >= 10, { message: "expected a duration of at least 10ms" })
  .refine((v) => durationMs(v)! <= MAX_TIMER_MS, {
    message: "expected a duration of at most 24d (the longest a timer can wait)",
  });
const cidr = z
  .string()
  .refine((v) => parseCidr(v) !== undefined, { message: "expected an IP address or CIDR" });

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1000,
  kib: 1024,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
};

/** `1048576`, `512KiB`, `1MiB`, `2MB` -> bytes; undefined when not a size. */
export function parseSize(v: string | number): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^(\d+(?:\.\d+)?)\s*([kKmM]i?[bB]|[bB])?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (SIZE_UNITS[(m[2] ?? "b").toLowerCase()] ?? NaN);
  return Number.isFinite(n) ? Math.floor(n) : undefined;
}

const size = z.union([z.string(), z.number()]).refine((v) => {
  const n = parseSize(v);
  return n !== undefined && n >= 1024 && n <= 100 * 1024 ** 2;
}, "expected a size between 1KiB and 100MiB, such as 1MiB or 262144");

/** `host:port`, `[v6]:port`, `localhost:port`; the host must be an IP address (or localhost). */
export function parseListen(text: string): { host: string; port: number } | undefined {
  const m = /^localhost:(\d{1,5})$/.exec(text);
  if (m) {
    const port = Number(m[1]);
    return port <= 65535 ? { host: "127.0.0.1", port } : undefined;
  }
  const hp = splitHostPort(text);
  return hp ? { host: hp.ip, port: hp.port } : undefined;
}

const LOOPBACK = new CidrSet(["127.0.0.0/8", "::1/128"]);

export function isLoopback(host: string): boolean {
  return host === "localhost" || LOOPBACK.has(host);
}

export const apiConfigSchema = z
  .strictObject({
    enabled: z.boolean().default(true).describe("Serve the HTTPS API (webhooks, decisions, stream, metrics)"),
    listen: z
      .string()
      .default("127.0.0.1:8443")
      .refine((v) => parseListen(v) !== undefined, {
        message: "expected address:port, such as 127.0.0.1:8443 or [::1]:8443",
      })
      .describe("Address and port to listen on"),
    tls: z
      .strictObject({
        cert: z
          .string()
          .optional()
          .describe("PEM certificate (chain) file; default: a self-signed one generated in data_dir"),
        key: z.string().optional().describe("PEM private key file for `cert`"),
        client_ca: z
          .string()
          .optional()
          .describe("PEM CA file: require client certificates signed by it (mTLS)"),
      })
      .prefault({})
      .describe("TLS (1.2 or later)"),
    plain_http: z
      .boolean()
      .default(false)
      .describe("Serve plain HTTP instead of HTTPS (loopback only, unless allowed below)"),
    allow_plain_http_on_public: z
      .boolean()
      .default(false)
      .describe("Allow plain_http on a non-loopback address (tokens then cross the network in clear text)"),
    body_limit: size.default("1MiB").describe("Largest request body"),
    max_json_depth: z.number().int().min(1).max(1000).default(64).describe("Deepest nesting of JSON bodies"),
    rate_limit: z
      .strictObject({
        per_token: z.number().int().min(1).default(6000).describe("Requests per window per token"),
        per_source: z.number().int().min(1).default(6000).describe("Requests per window per source address"),
        auth_failures: z
          .number()
          .int()
          .min(1)
          .default(30)
          .describe("Failed authentications per window per source address before it is refused (429)"),
        window: duration.default("1m"),
      })
      .prefault({}),
    metrics_allow: z
      .array(cidr)
      .default(["127.0.0.0/8", "::1/128"])
      .describe("Addresses that may read /metrics without a token (others need a read token)"),
    signatures: z
      .strictObject({
        required: z.boolean().default(false).describe("Refuse unsigned webhook requests"),
        secret_env: z.string().optional().describe("Environment variable holding the HMAC secret(s)"),
        secret_file: z.string().optional().describe("File holding the HMAC secret(s), one per line"),
        window: duration.default("5m").describe("Accepted age of X-Portcullis-Timestamp (replay window)"),
      })
      .prefault({})
      .describe("HMAC signatures of webhook requests (X-Portcullis-Timestamp, X-Portcullis-Signature)"),
    trust_proxy: z
      .union([z.literal(false), z.array(cidr).min(1)])
      .default(false)
      .describe("Reverse proxies whose X-Forwarded-For is believed (their addresses); false: none"),
    stream: z
      .strictObject({
        heartbeat: duration.default("15s").describe("Comment line sent to idle stream clients"),
        max_clients: z.number().int().min(1).default(64),
      })
      .prefault({}),
  })
  .superRefine((c, ctx) => {
    if ((c.tls.cert === undefined) !== (c.tls.key === undefined)) {
      ctx.addIssue({ code: "custom", path: ["tls"], message: "tls.cert and tls.key go together" });
    }
    const l = parseListen(c.listen);
    if (c.plain_http) {
      if (c.tls.cert !== undefined || c.tls.client_ca !== undefined) {
        ctx.addIssue({
          code: "custom",
          path: ["plain_http"],
          message: "plain_http serves no TLS: remove tls.*",
        });
      }
      if (l && !isLoopback(l.host) && !c.allow_plain_http_on_public) {
        ctx.addIssue({
          code: "custom",
          path: ["plain_http"],
          message: `plain HTTP on ${l.host} would send tokens in clear text; use HTTPS, listen on loopback, or set allow_plain_http_on_public: true`,
        });
      }
    }
    if (c.signatures.secret_env !== undefined && c.signatures.secret_file !== undefined) {
      ctx.addIssue({
        code: "custom",
        path: ["signatures"],
        message: "give secret_env or secret_file, not both",
      });
    }
    if (
      c.signatures.required &&
      c.signatures.secret_env === undefined &&
      c.signatures.secret_file === undefined
    ) {
      ctx.addIssue({
        code: "custom",
        path: ["signatures", "required"],
        message: "signatures.required needs secret_env or secret_file",
      });
    }
  })
  .prefault({});

export type RawApiConfig = z.infer<typeof apiConfigSchema>;

/** The API settings in numbers (ms, bytes). */
export interface ApiSettings {
  enabled: boolean;
  host: string;
  port: number;
  tls: { cert?: string; key?: string; clientCa?: string };
  plainHttp: boolean;
  bodyLimit: number;
  maxJsonDepth: number;
  rateLimit: { perToken: number; perSource: number; authFailures: number; window: number };
  metricsAllow: string[];
  signatures: { required: boolean; secretEnv?: string; secretFile?: string; window: number };
  trustProxy: false | string[];
  stream: { heartbeat: number; maxClients: number };
}

export function resolveApiConfig(raw: RawApiConfig): ApiSettings {
  const l = parseListen(raw.listen)!;
  const s: ApiSettings = {
    enabled: raw.enabled,
    host: l.host,
    port: l.port,
    tls: {},
    plainHttp: raw.plain_http,
    bodyLimit: parseSize(raw.body_limit)!,
    maxJsonDepth: raw.max_json_depth,
    rateLimit: {
      perToken: raw.rate_limit.per_token,
      perSource: raw.rate_limit.per_source,
      authFailures: raw.rate_limit.auth_failures,
      window: parseDuration(raw.rate_limit.window),
    },
    metricsAllow: raw.metrics_allow.map((c) => parseCidr(c)!.text),
    signatures: { required: raw.signatures.required, window: parseDuration(raw.signatures.window) },
    trustProxy: raw.trust_proxy === false ? false : raw.trust_proxy.map((c) => parseCidr(c)!.text),
    stream: { heartbeat: parseDuration(raw.stream.heartbeat), maxClients: raw.stream.max_clients },
  };
  if (raw.tls.cert !== undefined) s.tls.cert = raw.tls.cert;
  if (raw.tls.key !== undefined) s.tls.key = raw.tls.key;
  if (raw.tls.client_ca !== undefined) s.tls.clientCa = raw.tls.client_ca;
  if (raw.signatures.secret_env !== undefined) s.signatures.secretEnv = raw.signatures.secret_env;
  if (raw.signatures.secret_file !== undefined) s.signatures.secretFile = raw.signatures.secret_file;
  return s;
}

/** Settings from a partial raw config (tests, the demo); throws the zod error on invalid input. */
export function apiSettings(raw: unknown = {}): ApiSettings {
  return resolveApiConfig(apiConfigSchema.parse(raw));
}
