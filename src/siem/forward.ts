/**
 * What the CLI hooks (`portcullis wazuh-ar`, `portcullis block`) hand to the daemon, and the exit codes they
 * answer with. The CLI wires `forward` to the daemon's Control (`ingestAlert` for a ban, `unban`); the
 * hooks never touch the store, the policy or a firewall.
 */
import type { Alert } from "../core/alert.ts";
import type { PolicyOutcome } from "../policy/policy.ts";

export type ForwardRequest =
  | { action: "ban"; alert: Alert }
  | { action: "unban"; target: string; origin: string; reason: string };

export interface ForwardReply {
  /**
   * The policy's outcome for a ban; `unbanned` / `not_banned` for an unban; `failed` when the daemon took
   * the request but enforcement failed (a responder reported an error).
   */
  outcome: PolicyOutcome | "refused_own_address" | "unbanned" | "not_banned" | "failed";
  reason?: string;
}

/** Throws (or rejects) when the daemon cannot be reached: that is exit code 2 too. */
export type Forward = (req: ForwardRequest) => Promise<ForwardReply>;

/**
 * Exit codes, the ufw story's `block_ip` contract extended by one:
 * 0 banned, already banned (or extended), unbanned or not banned, or nothing to do by design (Wazuh
 *   `abort`: the same response is already active);
 * 1 bad input (unusable arguments or message, protocol error, timeout on stdin);
 * 2 enforcement failed (daemon unreachable, or a responder failed);
 * 3 refused by policy (allowlisted, the caller's own address, range too wide, circuit breaker, rule set to
 *   alert only): nothing is wrong with the input or the firewall, but the address is not banned, which the
 *   caller should see.
 */
export const EXIT = { ok: 0, badInput: 1, failed: 2, refused: 3 } as const;

export function exitCodeFor(reply: ForwardReply): number {
  switch (reply.outcome) {
    case "banned":
    case "extended":
    case "already_banned":
    case "unbanned":
    case "not_banned":
      return EXIT.ok;
    case "refused_invalid":
      return EXIT.badInput;
    case "failed":
      return EXIT.failed;
    case "alert_only":
    case "refused_allowlisted":
    case "refused_own_address":
    case "refused_too_wide":
    case "refused_circuit_breaker":
      return EXIT.refused;
    default:
      return EXIT.failed;
  }
}

/** `forward`, with a throw or a malformed reply turned into `failed`. */
export async function safeForward(forward: Forward, req: ForwardRequest): Promise<ForwardReply> {
  try {
    const r = await forward(req);
    if (r && typeof r.outcome === "string") return r;
    return { outcome: "failed", reason: "the daemon gave no outcome" };
  } catch (e) {
    return {
      outcome: "failed",
      reason: `cannot reach the daemon: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
}

/** One output line about a value that may be hostile: JSON-quoted and bounded. */
export function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}
