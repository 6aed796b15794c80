import { z } from "zod";
import { DEFAULT_SOCKET, RESPONDER_NAME, socketPath } from "../../enforcer/protocol.ts";
import { commonFields } from "../common.ts";

export const enforcerResponderConfig = z
  .strictObject({
    type: z.literal("enforcer"),
    name: commonFields.name,
    socket: socketPath
      .default(DEFAULT_SOCKET)
      .describe("The enforcer's unix socket; the daemon's user must be in the socket's group"),
    responder: z
      .string()
      .regex(
        RESPONDER_NAME,
        "a responder name of the enforcer's config (lower-case letters, digits, _ and -)",
      )
      .describe("Name of the responder on the enforcer side (its `name`, or its type when it has none)"),
    timeout_ms: z
      .number()
      .int()
      .min(100)
      .max(3_600_000)
      .default(300_000)
      .describe(
        "A request without a reply after this long fails and its connection is closed (a late reply could " +
          "not be matched); it is not re-sent",
      ),
    connect_timeout_ms: z
      .number()
      .int()
      .min(100)
      .max(60_000)
      .default(5_000)
      .describe("Connecting and reading the enforcer's hello must take at most this long"),
    reconnect: z
      .strictObject({
        attempts: z
          .number()
          .int()
          .min(1)
          .max(20)
          .default(5)
          .describe("Tries per request when the enforcer cannot be reached or the connection breaks"),
        initial_delay_ms: z
          .number()
          .int()
          .min(0)
          .max(60_000)
          .default(200)
          .describe("Delay before the second try; doubled for each further try"),
        max_delay_ms: z
          .number()
          .int()
          .min(0)
          .max(300_000)
          .default(5_000)
          .describe("Cap on the delay between two tries"),
      })
      .prefault({})
      .describe(
        "Reconnects with exponential backoff (and jitter). Every verb is idempotent, so a request whose " +
          "connection broke before its reply is sent again on a new connection",
      ),
    idle_close_ms: z
      .number()
      .int()
      .min(1_000)
      .max(3_600_000)
      .default(60_000)
      .describe("The connection is closed after this long without a request; the next request reconnects"),
    batch_size: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(20_000)
      .describe("Entries per request; bigger batches are split (also by the enforcer's own limits)"),
    max_reply_bytes: z
      .number()
      .int()
      .min(1024)
      .max(1024 * 1024 * 1024)
      .default(256 * 1024 * 1024)
      .describe("Longest reply line accepted (a `list` of 100k bans is about 5 MB)"),
  })
  .describe(
    "Bans through the privileged enforcer (`portcullis enforcer`) over its unix socket, so the daemon runs " +
      "unprivileged",
  );

export type EnforcerResponderConfig = z.infer<typeof enforcerResponderConfig>;
