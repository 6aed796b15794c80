/** Configuration of the `syslog` source. */
import { z } from "zod";
import { parseCidr, splitHostPort } from "../../core/ip.ts";
import { durationMs, sourceName } from "../config.ts";

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
          "cannot be used to inject forged log lines. The default, loopback, admits every local user: " +
          "anyone on this host can send `logger -n 127.0.0.1 -P 5514 -t sshd ...` and get an address " +
          "banned (the same trust as /var/log/auth.log, which any local user can write to through " +
          "`logger -t sshd`). On hosts with untrusted local users, read the local logs with the journald " +
          "source instead, which checks the writing executable (_EXE), and list only remote forwarders here",
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
      .describe("Concurrent TCP connections; more are closed at once and counted (rejected_connections)"),
    max_connections_per_peer: z
      .number()
      .int()
      .min(1)
      .max(65_535)
      .default(32)
      .describe(
        "Concurrent TCP connections from one sender address; more are closed at once and counted " +
          "(rejected_connections), so that one sender cannot take every max_connections slot",
      ),
    idle_timeout: durationMs("5m", 1000).describe(
      "A TCP connection that sends nothing for this long is closed and counted (idle_closed); senders " +
        "reconnect when they next have something to send. Time spent waiting for the pipeline is not idle",
    ),
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
