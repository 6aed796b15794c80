/**
 * `portcullis wazuh-ar`: a Wazuh active-response program. `wazuh-execd` runs it with one JSON line on stdin
 * (message.ts). For `add` (4.x) / `enable` (5.x) it performs the stateful handshake: it writes
 * `{"version":1,"origin":{"name":"portcullis","module":"active-response"},"command":"check_keys",
 * "parameters":{"keys":["<ip>"]}}` and a newline, and reads execd's reply: `continue` -> forward the ban to
 * the daemon; `abort` (the same response is already active for these keys) -> do nothing, exit 0. For
 * `delete` / `disable` (the response's timeout expired) it forwards the unban, without a handshake. Every
 * read has a timeout (execd answers at once; a silent peer must not hold the process). Exit codes: forward.ts
 * `EXIT`. Diagnostics go to stderr (execd logs them), never to stdout, which is the protocol channel.
 */
import { EXIT, exitCodeFor, quote, safeForward, type Forward } from "../forward.ts";
import { LineReader } from "./lines.ts";
import { extractArMessage } from "./extractor.ts";
import { readArMessage } from "./message.ts";
import { isObject } from "../values.ts";

export interface WazuhArDeps {
  stdin: NodeJS.ReadableStream;
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown };
  forward: Forward;
  /** Wall time from the CLI's clock (epoch ms). */
  now: number;
  /** Per-read timeout on stdin (ms), default 10 s. */
  timeoutMs?: number;
  /** `origin.name` in the check_keys message, default `portcullis`. */
  name?: string;
  /** Longest accepted line (characters), default 1 MiB (an alert with its `previous_output`). */
  maxLineLength?: number;
}

/** The check_keys message, exactly one line with its newline. */
export function checkKeysLine(name: string, keys: readonly string[]): string {
  return `${JSON.stringify({
    version: 1,
    origin: { name, module: "active-response" },
    command: "check_keys",
    parameters: { keys },
  })}\n`;
}

export async function runWazuhAr(deps: WazuhArDeps): Promise<number> {
  const reader = new LineReader(deps.stdin, deps.maxLineLength ?? 1 << 20);
  const timeout = deps.timeoutMs ?? 10_000;
  const say = (s: string) => deps.stderr.write(`portcullis wazuh-ar: ${s}\n`);
  try {
    const first = await readJson(reader, timeout, "the active-response message", say);
    if (first === undefined) return EXIT.badInput;
    const msg = readArMessage(first);
    if ("error" in msg) {
      say(msg.error);
      return EXIT.badInput;
    }
    const { alerts, rejected } = extractArMessage(msg, { now: deps.now, maxAlerts: 1 });
    const alert = alerts[0];
    if (!alert) {
      // Alerts without the source field (rules on other decoders) are ignored, never guessed.
      say(`ignored, no attacker address: ${rejected.map((r) => `${r.path}: ${r.reason}`).join("; ")}`);
      return EXIT.badInput;
    }
    const ip = alert.group["source.ip"]!;
    if (msg.action === "unban") {
      const reply = await safeForward(deps.forward, {
        action: "unban",
        target: ip,
        origin: "wazuh",
        reason: `wazuh ${msg.generation === 5 ? msg.command : "delete"}: ${alert.rule.name}`,
      });
      say(`${reply.outcome} ${ip}${reply.reason ? `: ${quote(reply.reason)}` : ""}`);
      return exitCodeFor(reply);
    }
    deps.stdout.write(checkKeysLine(deps.name ?? "portcullis", [ip]));
    const answer = await readJson(reader, timeout, "execd's reply to check_keys", say);
    if (answer === undefined) return EXIT.badInput;
    const command = isObject(answer) ? answer.command : undefined;
    if (command === "abort") {
      say(`abort: a response for ${ip} is already active`);
      return EXIT.ok;
    }
    if (command !== "continue") {
      say(`unexpected reply to check_keys (command ${quote(command)}): nothing done`);
      return EXIT.badInput;
    }
    const reply = await safeForward(deps.forward, { action: "ban", alert });
    say(`${reply.outcome} ${ip}${reply.reason ? `: ${quote(reply.reason)}` : ""}`);
    return exitCodeFor(reply);
  } finally {
    reader.close();
  }
}

async function readJson(
  reader: LineReader,
  timeoutMs: number,
  what: string,
  say: (s: string) => void,
): Promise<unknown> {
  const r = await reader.read(timeoutMs);
  if (r.kind === "timeout") say(`nothing on stdin within ${timeoutMs} ms (waiting for ${what})`);
  else if (r.kind === "eof") say(`stdin closed before ${what}`);
  else if (r.kind === "too_long") say(`${what}: line too long`);
  else {
    try {
      return JSON.parse(r.line) as unknown;
    } catch {
      say(`${what} is not JSON`);
    }
  }
  return undefined;
}
