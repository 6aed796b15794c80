/** Configuration of the `syslog` source. */
import { z } from "zod";
import { parseCidr, splitHostPort } from "../../core/ip.ts";
import { sourceName } from "../config.ts";

const listen = z
  .string()
  .refine((a) => splitHostPort(a) !== undefined, {
    message: "expected ADDRESS:PORT with an IP address, e.g. 127.0.0.1:5514 or [::]:514",
  })
  .describe("Address and port to listen on");

export const syslogConfig = z
  .strictObject({
    type: z.literal("syslog"),
    name: sourceName,
    udp: z
      .array(listen)
      .default(["127.0.0.1:5514"])
      .describe("UDP listeners (RFC 5426: one message per datagram); [] for none. Port 514 needs privileges"),
    tcp: z
      .array(listen)
      .default(["127.0.0.1:5514"])
      .describe("TCP listeners (RFC 6587: octet counting or LF/NUL-delimited, detected per connection)"),
    allow: z
      .array(z.string().refine((c) => parseCidr(c) !== undefined, { message: "expected an address or CIDR" }))
      .default(["127.0.0.0/8", "::1/128"])
      .describe(
        "Senders (CIDRs) whose messages are accepted; others are rejected and counted, so an open port " +
          "cannot be used to inject forged log lines",
      ),
    max_message_bytes: z
      .number()
      .int()
      .min(480)
      .max(1024 * 1024)
      .default(64 * 1024)
      .describe(
        "Longest message kept, in bytes; a longer one keeps its head, the rest is discarded and counted",
      ),
    max_connections: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(256)
      .describe("Concurrent TCP connections; more are closed at once and counted"),
    udp_queue_bytes: z
      .number()
      .int()
      .min(64 * 1024)
      .default(8 * 1024 * 1024)
      .describe(
        "UDP cannot be slowed down: messages wait in a queue of this size while the pipeline is busy; when " +
          "it is full, new datagrams are dropped and counted. TCP senders are slowed down instead",
      ),
    udp_receive_buffer: z
      .number()
      .int()
      .min(4096)
      .optional()
      .describe("SO_RCVBUF for the UDP sockets (the kernel's own drops are not visible to us)"),
    batch_lines: z.number().int().min(1).max(100_000).default(500).describe("Most messages per batch"),
  })
  .refine((c) => c.udp.length + c.tcp.length > 0, { message: "listen on at least one of udp, tcp" })
  .describe("Receives syslog from other hosts over UDP and TCP (RFC 3164, RFC 5424)");

export type SyslogConfig = z.output<typeof syslogConfig>;
