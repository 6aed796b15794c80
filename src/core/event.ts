/**
 * SecurityEvent: one thing that happened, in Elastic Common Schema (ECS) field names as nested objects, so that
 * a Kibana query written for Filebeat data works on Portcullis events as is.
 *
 * Internally `@timestamp` is epoch milliseconds (a number) for speed; it is written as ISO-8601 text
 * wherever an event leaves the process (JSON lines, API). Addresses are canonical (see core/ip.ts).
 */
export type Outcome = "failure" | "success" | "unknown";

export interface SecurityEvent {
  "@timestamp": number;
  event: {
    /** Which parser or integration produced it: `sshd`, `nginx`, `system.auth` (Filebeat), ... */
    dataset: string;
    /** What happened, stable per parser, e.g. `ssh_auth_failed`, `ssh_invalid_user`, `http_auth_failed`. */
    action: string;
    outcome: Outcome;
    category?: string[];
    type?: string[];
    reason?: string;
    module?: string;
    code?: string;
    /** rsyslog's `message repeated N times: [ ... ]`: this one line stands for N events. */
    count?: number;
    [k: string]: unknown;
  };
  source?: { ip?: string; domain?: string; port?: number; [k: string]: unknown };
  destination?: { ip?: string; port?: number; [k: string]: unknown };
  user?: { name?: string; [k: string]: unknown };
  host?: { name?: string; [k: string]: unknown };
  process?: { name?: string; pid?: number; command_line?: string; [k: string]: unknown };
  url?: { path?: string; original?: string; [k: string]: unknown };
  http?: { request?: { method?: string }; response?: { status_code?: number }; [k: string]: unknown };
  user_agent?: { original?: string };
  log?: { file?: { path?: string; line?: number }; [k: string]: unknown };
  message?: string;
  /** Any further ECS or integration fields (Filebeat documents keep theirs, e.g. `system.auth.ssh.event`). */
  [k: string]: unknown;
}

/** The weight of an event in a count: `event.count` (repeated messages) or 1. */
export function eventWeight(e: SecurityEvent): number {
  const c = e.event.count;
  return typeof c === "number" && c > 1 ? c : 1;
}

/** Reads a dotted ECS path (`source.ip`), accepting both nested objects and flattened dotted keys. */
export function getField(e: unknown, path: string): unknown {
  if (e === null || typeof e !== "object") return undefined;
  const obj = e as Record<string, unknown>;
  if (path in obj) return obj[path];
  const dot = path.indexOf(".");
  if (dot < 0) return undefined;
  // Try every split point so that both `a.b.c` nested and `a` -> `b.c` flattened keys resolve.
  for (let i = dot; i >= 0; i = path.indexOf(".", i + 1)) {
    const head = path.slice(0, i);
    if (head in obj) {
      const v = getField(obj[head], path.slice(i + 1));
      if (v !== undefined) return v;
    }
  }
  return undefined;
}

/** Converts an event for output: `@timestamp` as ISO-8601, everything else unchanged. */
export function toJsonEvent(e: SecurityEvent): Record<string, unknown> {
  return { ...e, "@timestamp": new Date(e["@timestamp"]).toISOString() };
}
