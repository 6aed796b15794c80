/**
 * SIEM hooks: `portcullis wazuh-ar` (a Wazuh active-response program: JSON on stdin, the check_keys handshake)
 * and `portcullis block SRC_IP [DST_IP] [DST_PORT]` (the OSSIM/USM "execute an external program" action, the
 * ufw story's block_ip contract). Both forward to the running daemon's HTTPS API: bans as alerts of the SIEM
 * (`POST /v1/webhooks/hook`, webhook scope), unbans through `DELETE /v1/decisions/:ip` (admin scope).
 *
 * Connection: --url / PORTCULLIS_URL, --token-file / PORTCULLIS_TOKEN (or PORTCULLIS_TOKEN_FILE), --ca; on the
 * daemon's own host (root), the daemon's status file and local token are used when nothing is given. When the
 * API requires signatures (`api.signatures.required`), --signing-secret-file / PORTCULLIS_SIGNING_SECRET_FILE
 * names a file holding the secret (never the secret itself on the command line or in the environment): every
 * request then carries X-Portcullis-Timestamp and X-Portcullis-Signature, and each ban a unique request id (a
 * signed body sent twice within a second would be refused as a replay).
 * A hook's unban ends only the bans of its own origin (`DELETE /v1/decisions/:ip?origin=wazuh`): an operator's
 * range ban or a native rule's ban of the same address stays.
 * Exit codes: 0 banned or already banned (or unbanned), 1 bad input, 2 enforcement failed or daemon
 * unreachable, 3 refused by policy.
 */
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { SystemClock } from "../../core/clock.ts";
import type { Forward, ForwardReply } from "../../siem/forward.ts";
import { runOssimBlock } from "../../siem/ossim/block.ts";
import { runWazuhAr } from "../../siem/wazuh/ar.ts";
import { ApiClient, localApi, readSigningSecrets, type ApiTarget } from "../client.ts";
import type { CliIO } from "../main.ts";

interface HookOptions {
  url?: string;
  tokenFile?: string;
  ca?: string;
  signingSecretFile?: string;
  config?: string;
  dataDir?: string;
}

/** Where to forward, or why that cannot be known (an unreadable token or CA file is exit 2, not a crash). */
type Connection = ApiTarget | { error: string } | undefined;

function readSetting(path: string, what: string): string | { error: string } {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    return {
      error: `cannot read the ${what} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    };
  }
}

async function connection(opts: HookOptions): Promise<Connection> {
  const target = await endpoint(opts);
  const file = opts.signingSecretFile ?? process.env.PORTCULLIS_SIGNING_SECRET_FILE;
  if (!file || !target || "error" in target) return target;
  try {
    return { ...target, signingSecrets: readSigningSecrets(file) };
  } catch (e) {
    return { error: (e as Error).message };
  }
}

async function endpoint(opts: HookOptions): Promise<Connection> {
  const env = process.env;
  const url = opts.url ?? env.PORTCULLIS_URL;
  const tokenFile = opts.tokenFile ?? env.PORTCULLIS_TOKEN_FILE;
  let token = env.PORTCULLIS_TOKEN;
  if (tokenFile) {
    const t = readSetting(tokenFile, "token file");
    if (typeof t !== "string") return t;
    token = t.trim();
  }
  if (url && token) {
    if (!opts.ca) return { url, token };
    const ca = readSetting(opts.ca, "CA certificate");
    return typeof ca === "string" ? { url, token, ca } : ca;
  }
  // On the daemon's host: its status file and local token.
  try {
    const { dataDirOf, localConfig } = await import("../local.ts");
    const local = localApi(dataDirOf(opts, localConfig(opts)));
    if (local) return { ...local, ...(url ? { url } : {}), ...(token ? { token } : {}) };
  } catch {
    /* no local installation */
  }
  return undefined;
}

/** How long a hook waits for the firewall before it answers (exit 0 only once the ban is enforced). */
const ENFORCEMENT_WAIT_S = 10;

function forwarder(target: Connection): Forward {
  return async (req): Promise<ForwardReply> => {
    if (!target) {
      return {
        outcome: "failed",
        reason:
          "no daemon to forward to: give --url and --token-file (or PORTCULLIS_URL and PORTCULLIS_TOKEN)",
      };
    }
    if ("error" in target) return { outcome: "failed", reason: target.error };
    const client = new ApiClient(target);
    if (req.action === "ban") {
      const a = req.alert;
      const r = await client.call(
        "POST",
        "/v1/webhooks/hook",
        {
          origin: a.origin,
          ip: a.group["source.ip"],
          reason: a.rule.description ?? a.rule.name,
          rule: { id: a.rule.id, name: a.rule.name },
          severity: a.severity,
          count: a.count,
          // The SIEM's ban length (Wazuh 5.x stateful_timeout), in seconds as the hook kind reads it.
          ...(a.duration !== undefined ? { duration: a.duration / 1000 } : {}),
          // Unique per request: a signed body must never repeat (the server refuses replays).
          request_id: randomUUID(),
        },
        { prefer: `wait=${ENFORCEMENT_WAIT_S}` },
      );
      const results = (r.body.results ?? (r.body.error as { results?: unknown } | undefined)?.results) as
        | { outcome: ForwardReply["outcome"]; reason: string; enforcement?: string }[]
        | undefined;
      const first = results?.[0];
      if (first?.enforcement === "pending") {
        return { outcome: "failed", reason: `not confirmed by the firewall: ${first.reason}` };
      }
      if (first) return { outcome: first.outcome, reason: first.reason };
      const err = r.body.error as { message?: string } | undefined;
      return {
        outcome: r.status === 422 ? "refused_invalid" : "failed",
        reason: err?.message ?? `HTTP ${r.status}`,
      };
    }
    const r = await client.call(
      "DELETE",
      // Only the bans this hook's SIEM made: never an operator's range or a native rule's ban of the address.
      `/v1/decisions/${encodeURIComponent(req.target)}?reason=${encodeURIComponent(req.reason)}` +
        `&origin=${encodeURIComponent(req.origin)}`,
    );
    if (r.status === 200) return { outcome: Number(r.body.revoked) > 0 ? "unbanned" : "not_banned" };
    if (r.status === 404) return { outcome: "not_banned" };
    const err = r.body.error as { message?: string } | undefined;
    return { outcome: "failed", reason: err?.message ?? `HTTP ${r.status}` };
  };
}

function connectionOptions(cmd: Command): Command {
  return cmd
    .option("--url <url>", "the daemon's API, e.g. https://127.0.0.1:8443 (or PORTCULLIS_URL)")
    .option("--token-file <file>", "file holding an API token (or PORTCULLIS_TOKEN / PORTCULLIS_TOKEN_FILE)")
    .option("--ca <file>", "PEM certificate to trust for the API (its self-signed certificate)")
    .option(
      "--signing-secret-file <file>",
      "file holding the api.signatures secret(s), one per line, to sign requests when the API requires " +
        "signatures (or PORTCULLIS_SIGNING_SECRET_FILE); never the secret itself",
    )
    .option("-c, --config <file>", "configuration file (to find the local daemon)")
    .option("-d, --data-dir <dir>", "state directory (to find the local daemon)");
}

export function registerHooks(program: Command, io: CliIO, setExit: (code: number) => void): void {
  connectionOptions(
    program
      .command("wazuh-ar")
      .description(
        "Wazuh active-response program: reads execd's JSON on stdin (4.x add/delete, 5.x enable/disable)",
      ),
  ).action(async (opts: HookOptions) => {
    const code = await runWazuhAr({
      stdin: io.stdin,
      stdout: io.stdout,
      stderr: io.stderr,
      forward: forwarder(await connection(opts)),
      now: SystemClock.now(),
    });
    setExit(code);
  });

  // `block` takes no options at all: its arguments come from a SIEM and may be hostile (`-h`, `--url=...`); every
  // word is data, validated by runOssimBlock. The connection comes from the environment or the local daemon.
  program
    .command("block")
    .description(
      "ban SRC_IP through the daemon (OSSIM/USM action): exit 0 banned, 1 bad input, 2 failed, 3 refused; " +
        "connection from PORTCULLIS_URL + PORTCULLIS_TOKEN[_FILE] (+ PORTCULLIS_CA), or the local daemon; " +
        "PORTCULLIS_SIGNING_SECRET_FILE: file holding the secret to sign requests (api.signatures)",
    )
    .argument("[args...]", "SRC_IP [DST_IP] [DST_PORT]")
    .helpOption(false)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(async (args: string[]) => {
      const code = await runOssimBlock(args, {
        forward: forwarder(
          await connection({ ...(process.env.PORTCULLIS_CA ? { ca: process.env.PORTCULLIS_CA } : {}) }),
        ),
        now: SystemClock.now(),
        stdout: io.stdout,
        stderr: io.stderr,
      });
      setExit(code);
    });
}
