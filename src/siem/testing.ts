/** Helpers for the SIEM extractor tests. */
import type { ExtractResult } from "./types.ts";

/** 2024-07-03T00:00:00Z: after every fixture's time. */
export const NOW = Date.UTC(2024, 6, 3);

/** The attacker addresses of a result, in order. */
export function ips(r: ExtractResult): string[] {
  return r.alerts.map((a) => a.group["source.ip"]!);
}

/** `reason` of every rejected entry, for `assert.match` over the whole list. */
export function reasons(r: ExtractResult): string {
  return r.rejected.map((x) => `${x.path}: ${x.reason}`).join("\n");
}

/** An object nested `depth` levels deep under `key`. */
export function deep(depth: number, key = "a", leaf: unknown = "203.0.113.9"): unknown {
  let v: unknown = leaf;
  for (let i = 0; i < depth; i++) v = { [key]: v };
  return v;
}
