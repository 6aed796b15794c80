/**
 * `Prefer: wait=N` (RFC 7240): a caller that must know whether the firewall holds the ban (the Wazuh and OSSIM
 * hooks, whose exit code 2 means "enforcement failed") asks the API to wait up to N seconds (at most 30) for
 * the responders before answering. Without it, an accepted ban is answered as soon as it is recorded and
 * enforcement follows (the decision's per-responder status tells how it went).
 *
 * With it, each accepted result gets `enforcement`: `applied`, `pending` (the wait ran out), `simulated`
 * (dry-run or shadow), or the result becomes `failed` (503: a responder failed; the daemon keeps retrying).
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Control } from "./control.ts";
import { isAccepted } from "./errors.ts";
import type { TargetResult } from "./present.ts";

export const MAX_WAIT_SECONDS = 30;

/** The wait asked for by `Prefer: wait=N`, in ms (bounded), or undefined. */
export function preferredWait(req: FastifyRequest): number | undefined {
  const h = req.headers.prefer;
  const text = Array.isArray(h) ? h.join(",") : h;
  if (!text) return undefined;
  const m = /(?:^|[,;\s])wait\s*=\s*"?(\d{1,6})"?/i.exec(text);
  if (!m) return undefined;
  return Math.min(Number(m[1]), MAX_WAIT_SECONDS) * 1000;
}

/** Completes accepted results with their enforcement (see the module comment); sets Preference-Applied. */
export async function awaitEnforcement(
  control: Control,
  results: TargetResult[],
  waitMs: number,
  reply: FastifyReply,
): Promise<void> {
  const end = performance.now() + waitMs;
  // One result at a time: the responders apply a request's bans together, so once the first is in force the
  // others are read once each; waiting on all at once would poll the store once per address (1000 per request).
  for (const r of results) {
    if (!isAccepted(r.outcome) || r.decision_id === undefined) continue;
    const e = await control.enforcement(r.decision_id, Math.max(0, end - performance.now()));
    r.enforcement = e.state;
    if (e.state === "failed") {
      r.outcome = "failed";
      r.reason = `${r.target} is recorded as banned but enforcement failed (${e.failed
        .map((f) => `${f.responder}: ${f.error}`)
        .join("; ")}); the daemon retries it`;
    } else if (e.state === "pending") {
      r.reason = `${r.reason}; not yet enforced on ${e.pending.join(", ")} after ${Math.round(waitMs / 1000)} s`;
    }
  }
  void reply.header("preference-applied", `wait=${Math.round(waitMs / 1000)}`);
}
