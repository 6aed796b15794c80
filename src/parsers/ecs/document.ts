/**
 * Turning an ECS JSON document (Filebeat, Elastic Agent, Winlogbeat) into a SecurityEvent without losing any
 * field: flattened dotted keys (`"source.ip": ...`) are expanded into nested objects, so that both spellings of
 * a document answer the same Kibana query and code can read `e.source?.ip`. Shared by the `ecs` and
 * `winlogbeat` parsers.
 */
import type { Outcome, SecurityEvent } from "../../core/event.ts";
import { canonicalIp } from "../../core/ip.ts";
import type { Frame } from "../../framing/frame.ts";
import { hasEcsTimestamp } from "../../framing/framer.ts";
import { isHostName } from "../event.ts";

type Obj = Record<string, unknown>;

/**
 * Objects and arrays nested deeper than this are dropped from the event (ECS documents nest a few levels): a
 * hostile document may nest thousands of levels, which JSON.stringify (`portcullis parse`, the store) and every
 * recursive reader of the event would overflow the stack on.
 */
const MAX_DEPTH = 24;

export function isObject(v: unknown): v is Obj {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * A copy of `doc` with dotted keys expanded (`{"a.b": 1}` -> `{a: {b: 1}}`); `__proto__` keys are dropped, and so
 * are objects and arrays below {@link MAX_DEPTH} levels.
 */
export function expand(doc: Obj, depth = 0): Obj {
  const out: Obj = {};
  for (const key of Object.keys(doc)) {
    if (key === "__proto__") continue;
    let v = doc[key];
    if (isObject(v)) {
      if (depth >= MAX_DEPTH) continue;
      v = expand(v, depth + 1);
    } else if (Array.isArray(v)) {
      if (depth >= MAX_DEPTH) continue;
      v = copyInArray(v, depth + 1);
    }
    const dot = key.indexOf(".");
    if (dot <= 0 || key === "@timestamp" || key.endsWith(".") || key.includes("..")) {
      merge(out, key, v, depth);
      continue;
    }
    const parts = key.split(".");
    let cur = out;
    let ok = true;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i]!;
      if (p === "__proto__") {
        ok = false;
        break;
      }
      const next = cur[p];
      if (next === undefined) cur = cur[p] = {} as Obj;
      else if (isObject(next)) cur = next;
      else {
        ok = false; // a scalar already sits there: keep the flattened key as it is
        break;
      }
    }
    const last = parts[parts.length - 1]!;
    if (ok && last !== "__proto__") merge(cur, last, v, depth);
    else merge(out, key, v, depth);
  }
  return out;
}

/**
 * A copy of `v`, a value at `depth` inside an array: objects are copied as they are (dotted keys are not expanded
 * inside arrays; `__proto__` keys are dropped); objects and arrays below {@link MAX_DEPTH} levels are dropped
 * (null in an array, left out of an object).
 */
function copyInArray(v: unknown, depth: number): unknown {
  if (v === null || typeof v !== "object") return v;
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(v)) return v.map((x) => copyInArray(x, depth + 1) ?? null);
  const o: Obj = {};
  for (const k of Object.keys(v)) {
    if (k === "__proto__") continue;
    const x = copyInArray((v as Obj)[k], depth + 1);
    if (x !== undefined) o[k] = x;
  }
  return o;
}

function merge(target: Obj, key: string, v: unknown, depth: number): void {
  const prev = target[key];
  if (isObject(prev) && isObject(v) && depth < MAX_DEPTH) {
    for (const k of Object.keys(v)) merge(prev, k, v[k], depth + 1);
  } else if (prev === undefined || !isObject(prev)) target[key] = v;
  // else: an object already holds this key and the new value is a scalar; the object (more specific) wins.
}

/** Reads a dotted path from an expanded document. */
export function get(doc: Obj, path: string): unknown {
  let cur: unknown = doc;
  for (const p of path.split(".")) {
    if (!isObject(cur)) return undefined;
    cur = cur[p];
  }
  return cur;
}

export function getString(doc: Obj, path: string): string | undefined {
  const v = get(doc, path);
  if (typeof v === "string") return v;
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  return undefined;
}

/** The object at `key` of `parent`, created when absent; undefined when a non-object occupies it. */
export function child(parent: Obj, key: string): Obj | undefined {
  const v = parent[key];
  if (v === undefined) return (parent[key] = {});
  return isObject(v) ? v : undefined;
}

const ONE = (v: unknown): unknown => (Array.isArray(v) && v.length === 1 ? v[0] : v);

/** Rejection reasons (constant strings: the daemon counts rejections by reason). */
export const REJECTED = {
  severalSources: "several addresses in source.ip",
  unreadableTime: "unreadable @timestamp",
} as const;

/**
 * Canonicalises `<holder>.ip`: IPv4-mapped to IPv4, IPv6 compressed. A value that is not an address moves to
 * `<holder>.domain` when it is a host name (and that is free), else to `<holder>.address`; `ip` is removed.
 * An array of values (Elasticsearch fields are multi-valued) that all spell one address is that address; one
 * that holds several different values names no single peer: `ip` is removed, its addresses are added to
 * `related.ip` (where ECS lists every address of an event, so that queries still find them), and the
 * document is reported through `reject` (for `source`: it has no ban target).
 */
export function canonicalizeIp(e: Obj, holder: string, reject?: (reason: string) => void): void {
  const h = e[holder];
  if (!isObject(h) || h.ip === undefined) return;
  let raw = ONE(h.ip);
  if (Array.isArray(raw)) {
    const values = new Set<string>();
    for (const v of raw) {
      if (typeof v !== "string") continue;
      values.add(canonicalIp(v.trim()) ?? v);
    }
    if (values.size === 1) raw = [...values][0];
    else {
      delete h.ip;
      if (values.size === 0) return;
      const addresses = [...values].filter((v) => canonicalIp(v) !== undefined);
      addRelatedIps(e, addresses);
      if (holder === "source") reject?.(REJECTED.severalSources);
      return;
    }
  }
  const ip = typeof raw === "string" ? canonicalIp(raw.trim()) : undefined;
  if (ip !== undefined) {
    h.ip = ip;
    return;
  }
  delete h.ip;
  if (typeof raw !== "string") return;
  if (h.domain === undefined && isHostName(raw)) h.domain = raw.toLowerCase();
  else if (h.address === undefined) h.address = raw;
}

/** Adds `ips` to the document's `related.ip` (made a list when needed), each once. */
export function addRelatedIps(e: Obj, ips: readonly string[]): void {
  if (ips.length === 0) return;
  const related = child(e, "related");
  if (!related) return;
  const cur = related.ip;
  const list = Array.isArray(cur) ? cur : cur === undefined ? [] : [cur];
  const seen = new Set(list);
  for (const ip of ips) {
    if (seen.has(ip)) continue;
    seen.add(ip);
    list.push(ip);
  }
  related.ip = list;
}

/** The first non-empty string of `v` (itself, or an element of an array), or undefined. */
function firstString(v: unknown): string | undefined {
  if (typeof v === "string") return v === "" ? undefined : v;
  if (Array.isArray(v)) for (const x of v) if (typeof x === "string" && x !== "") return x;
  return undefined;
}

export function normalizeOutcome(v: unknown): Outcome | undefined {
  if (typeof v !== "string") return undefined;
  switch (v.toLowerCase()) {
    case "failure":
    case "failed":
    case "fail":
      return "failure";
    case "success":
    case "succeeded":
      return "success";
    case "unknown":
      return "unknown";
    default:
      return undefined;
  }
}

export interface DocumentDefaults {
  dataset: string;
  action: string;
  outcome: Outcome;
  category?: string[];
}

/**
 * The document as a SecurityEvent: every field kept, `@timestamp` in epoch ms (from the frame; NaN when the
 * document has none, the dispatcher then uses the reference time), `source.ip`/`destination.ip` canonical
 * (see {@link canonicalizeIp}; `reject` hears of a document with several source addresses),
 * `event.dataset`/`action`/`outcome` present (the document's own values win; `defaults` fill the gaps; an
 * outcome that is not failure/success/unknown becomes `unknown`). The engine indexes rules by one dataset and
 * action per event: a multi-valued `event.dataset` or `event.action` becomes its first string, and an outcome
 * list of one value that value.
 */
export function documentEvent(
  frame: Frame,
  e: Obj,
  defaults: DocumentDefaults,
  reject?: (reason: string) => void,
): SecurityEvent {
  let ev = e.event;
  if (!isObject(ev)) {
    ev = typeof ev === "string" ? { original: ev } : {};
    e.event = ev;
  }
  const event = ev as Obj;
  event.dataset =
    firstString(event.dataset) ?? firstString(getString(e, "data_stream.dataset")) ?? defaults.dataset;
  event.action = firstString(event.action) ?? defaults.action;
  const given = ONE(event.outcome);
  event.outcome = normalizeOutcome(given) ?? (given === undefined ? defaults.outcome : "unknown");
  if (event.category === undefined && defaults.category) event.category = defaults.category;
  canonicalizeIp(e, "source", reject);
  canonicalizeIp(e, "destination");
  e["@timestamp"] = frame.time ?? NaN;
  return e as SecurityEvent;
}

/**
 * Whether the document has an `@timestamp` that the framer could not read (see framer.ts readEcsTimestamp): the
 * ecs and winlogbeat parsers refuse such a document (reported through onRejected) rather than let it take the
 * reference time, where a file of them would all fall on one instant.
 */
export function unreadableTime(frame: Frame, e: Obj): boolean {
  return frame.time === undefined && hasEcsTimestamp(e);
}

/**
 * Windows event log documents (Winlogbeat, the Elastic Agent Windows/System integrations): they are the
 * `winlogbeat` parser's, and the `ecs` parser declines them.
 */
export function isWindowsDocument(doc: Obj): boolean {
  if (isObject(doc.winlog)) return true;
  for (const k of Object.keys(doc)) if (k.startsWith("winlog.")) return true;
  const provider = doc["event.provider"] ?? (isObject(doc.event) ? doc.event.provider : undefined);
  return provider === "Microsoft-Windows-Security-Auditing";
}
