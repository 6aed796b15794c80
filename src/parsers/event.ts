/** Helpers parsers use to build events consistently. */
import type { Outcome, SecurityEvent } from "../core/event.ts";
import { canonicalIp } from "../core/ip.ts";
import type { Frame } from "../framing/frame.ts";
import { NESTED_ONLY } from "../kql/accessor.ts";

/**
 * A new event for `frame`. `@timestamp` is the frame's time (NaN when the line carries none; the dispatcher then
 * fills in the stream's reference time). Host, process and message come from the frame.
 */
export function newEvent(frame: Frame, dataset: string, action: string, outcome: Outcome): SecurityEvent {
  const e: SecurityEvent = {
    "@timestamp": frame.time ?? NaN,
    event: { dataset, action, outcome },
    message: frame.message,
  };
  // Parsers build plain nested objects: field lookups never need the flattened-key fallback.
  (e as { [NESTED_ONLY]?: boolean })[NESTED_ONLY] = true;
  if (frame.host !== undefined) e.host = { name: frame.host };
  if (frame.program !== undefined) {
    e.process = frame.pid === undefined ? { name: frame.program } : { name: frame.program, pid: frame.pid };
  }
  return e;
}

/**
 * Sets `source.ip` (canonical) or, for a host name, `source.domain`. Returns false (and sets nothing) when
 * `text` is neither an address nor a plausible host name.
 */
export function setSource(e: SecurityEvent, text: string, port?: number): boolean {
  const ip = canonicalIp(text);
  if (ip !== undefined) {
    e.source = port === undefined ? { ip } : { ip, port };
    return true;
  }
  if (isHostName(text)) {
    e.source = port === undefined ? { domain: text.toLowerCase() } : { domain: text.toLowerCase(), port };
    return true;
  }
  return false;
}

const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,62}))*\.?$/;
/** A DNS name as daemons print them (no resolution is ever done at parse time). */
export function isHostName(text: string): boolean {
  return HOST_NAME.test(text) && !/^[\d.]+$/.test(text);
}

export function setUser(e: SecurityEvent, name: string | undefined): void {
  if (name !== undefined) e.user = { ...e.user, name };
}
