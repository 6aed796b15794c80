/**
 * The enforcer's wire protocol: JSON lines over a unix socket, a fixed vocabulary, every argument validated.
 * Shared by the server (src/enforcer/server.ts) and the daemon-side client (src/responders/enforcer/), which is
 * why this file imports nothing from the responder registry.
 *
 * On connect the server sends one hello line:
 *   {"hello":"portcullis-enforcer","protocol":1,"version":"0.1.0","limits":{...},"responders":[{"name":"nft",
 *    "type":"nftables","native_expiry":true,"min_prefix_v4":8,"min_prefix_v6":32}]}
 * then answers each request line with exactly one reply line, in order, one request at a time:
 *   {"id":1,"verb":"apply","responder":"nft","entries":[{"target":"192.0.2.1","expires":1767225600000}]}
 *   {"id":1,"ok":true,"results":[{"target":"192.0.2.1","ok":true}]}
 *   {"id":2,"verb":"frobnicate"}
 *   {"id":2,"ok":false,"error":{"code":"UNKNOWN_VERB","message":"unknown verb \"frobnicate\" (known: ...)"}}
 *
 * A malformed request is refused whole: one malformed entry (a target that is not exactly an address or CIDR in
 * the address alphabet, an expiry that is not an integer in range, an unknown field, an entry that is not an
 * object) refuses the request and nothing reaches the firewall. The client validates with the same function
 * and the prefix limits from the hello first, so a well-behaved client never sends one.
 *
 * A well-formed apply entry the enforcer will not ban (a prefix shorter than the responder's minimum, a
 * target that would cut off the host itself: loopback, its own addresses or a range holding one, a target
 * overlapping an entry of the config's `protect:` list, or an expiry beyond the config's `max_duration`,
 * including none) is refused alone, as a per-entry result; the other entries of the request are applied (one
 * bad entry never fails the others, as for every responder):
 *   {"id":3,"verb":"apply","responder":"nft","entries":[{"target":"192.0.2.1","expires":null},
 *    {"target":"198.51.100.0/24","expires":null}]}
 *   {"id":3,"ok":true,"results":[{"target":"192.0.2.1","ok":true},{"target":"198.51.100.0/24","ok":false,
 *    "error":"not allowed: 198.51.100.0/24 would cut off this host's address 198.51.100.5"}]}
 * (An older enforcer refused the whole request instead, with NOT_ALLOWED and "apply: entries[N].target: ...";
 * the client then fails entry N alone and sends the others again.)
 */
import { z } from "zod";
import { parseCidr, type Cidr } from "../core/ip.ts";

export const PROTOCOL = 1;
export const HELLO = "portcullis-enforcer";
export const DEFAULT_SOCKET = "/run/portcullis/enforcer.sock";

/** A unix socket path: absolute, at most 107 bytes (sun_path), no NUL or newline. */
export const socketPath = z
  .string()
  .regex(/^\/[^\0\n]*$/, "an absolute path")
  .refine((p) => Buffer.byteLength(p) <= 107, "at most 107 bytes (the unix socket path limit)");

/** Latest expiry accepted: the largest valid JavaScript date (year 275760). */
export const MAX_EXPIRES = 8_640_000_000_000_000;
/** Longest target text accepted (an IPv4-mapped IPv6 CIDR in full spelling is 49 characters). */
export const MAX_TARGET_LENGTH = 64;

export const VERBS = ["apply", "health", "list", "remove", "setup", "teardown"] as const;
export type Verb = (typeof VERBS)[number];

/** Fields each verb takes besides `id`, `verb` and `responder`. */
const VERB_FIELDS: Readonly<Record<Verb, readonly string[]>> = {
  apply: ["entries"],
  health: [],
  list: [],
  remove: ["targets"],
  setup: [],
  teardown: [],
};

export type ErrorCode =
  | "BAD_REQUEST"
  | "UNKNOWN_VERB"
  | "UNKNOWN_FIELD"
  | "UNKNOWN_RESPONDER"
  | "INVALID_ARGUMENT"
  | "TOO_LARGE"
  | "BUSY"
  | "NOT_ALLOWED"
  | "FAILED";

export const RESPONDER_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** What a responder accepts, sent in the hello so the client validates exactly as the server does. */
export interface HostedInfo {
  name: string;
  type: string;
  native_expiry: boolean;
  min_prefix_v4: number;
  min_prefix_v6: number;
}

export interface ServerLimits {
  max_message_bytes: number;
  max_entries: number;
}

export interface Hello {
  hello: typeof HELLO;
  protocol: number;
  version: string;
  limits: ServerLimits;
  responders: HostedInfo[];
}

/** An entry on the wire: `expires` in epoch ms, null for a ban without expiry. */
export interface WireEntry {
  target: string;
  expires: number | null;
}

export interface WireResult {
  target: string;
  ok: boolean;
  error?: string;
}

/**
 * A validated apply entry: the text that was sent, its canonical form, the expiry (Infinity: none), and why it
 * is refused alone (`refused`, the per-entry error; the entry is not passed to the responder) if it is.
 */
export interface RequestEntry {
  sent: string;
  target: string;
  expires: number;
  refused?: string;
}

/** A validated request; targets are canonical (`targets`/`entries` keep the text that was sent, too). */
export type Request =
  | { id: number | null; verb: "apply"; responder: string; entries: RequestEntry[] }
  | { id: number | null; verb: "remove"; responder: string; targets: { sent: string; target: string }[] }
  | { id: number | null; verb: "setup" | "list" | "health" | "teardown"; responder: string };

export interface ErrorReply {
  id: number | null;
  ok: false;
  error: { code: ErrorCode; message: string };
}

export function errorReply(id: number | null, code: ErrorCode, message: string): ErrorReply {
  return { id, ok: false, error: { code, message } };
}

/** Hostile input quoted in an error message: JSON-escaped (inert in logs) and bounded. */
export function quote(v: unknown): string {
  const s = typeof v === "string" ? v : String(v);
  return JSON.stringify(s.length > 64 ? `${s.slice(0, 63)}…` : s);
}

export interface PrefixLimits {
  min_prefix_v4: number;
  min_prefix_v6: number;
}

const TARGET_ALPHABET = /^[0-9A-Fa-f:.]+(?:\/[0-9]{1,3})?$/;

/** The parsed form of `v` when it is exactly an address or CIDR in the address alphabet, else why not. */
function parseTargetText(v: unknown): { cidr: Cidr } | { error: string } {
  if (typeof v !== "string") return { error: "not a string" };
  if (v.length === 0 || v.length > MAX_TARGET_LENGTH || !TARGET_ALPHABET.test(v))
    return { error: `not an IP address or CIDR: ${quote(v)}` };
  const cidr = parseCidr(v);
  if (!cidr) return { error: `not an IP address or CIDR: ${quote(v)}` };
  return { cidr };
}

/** Why the prefix of `cidr` is too wide for `limits`, or undefined. */
function prefixError(cidr: Cidr, limits: PrefixLimits): string | undefined {
  const min = cidr.family === 4 ? limits.min_prefix_v4 : limits.min_prefix_v6;
  return cidr.prefix < min ? `prefix /${cidr.prefix} is shorter than the minimum /${min}` : undefined;
}

/**
 * The canonical text of `v` when it is exactly an IPv4/IPv6 address or CIDR (any spelling of the address
 * alphabet: digits, hex letters, `:`, `.`, one `/len`; no brackets, zones, spaces or anything else), with a
 * prefix no shorter than `limits` when given; otherwise the reason it is refused.
 */
export function checkTarget(v: unknown, limits?: PrefixLimits): { target: string } | { error: string } {
  const p = parseTargetText(v);
  if ("error" in p) return p;
  const wide = limits && prefixError(p.cidr, limits);
  return wide ? { error: wide } : { target: p.cidr.text };
}

/** Whether `v` is an expiry the protocol accepts: an integer epoch ms in [0, MAX_EXPIRES], or null. */
export function checkExpires(v: unknown): v is number | null {
  return v === null || (typeof v === "number" && Number.isSafeInteger(v) && v >= 0 && v <= MAX_EXPIRES);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export interface ValidationContext {
  /** The configured responders, by name. */
  responders: ReadonlyMap<string, PrefixLimits>;
  maxEntries: number;
  /**
   * Why a ban of this target (canonical) would cut off the host itself (loopback, its own addresses) or a
   * protected network (the config's `protect:`), or undefined. The daemon's policy refuses those first; this
   * is the second line, should the daemon's account be abused. Such an entry is refused alone (see
   * {@link RequestEntry}), not the request.
   */
  protectedBy?: (target: string) => string | undefined;
  /**
   * Why an entry with this expiry (epoch ms; Infinity: none) may not be applied (the config's `max_duration`),
   * or undefined. Refused alone, like {@link protectedBy}.
   */
  expiryRefused?: (expires: number) => string | undefined;
}

/**
 * Validates one parsed request line. Never throws; returns the request or the error reply to send.
 * Unknown fields, verbs and responder names, wrong types and out-of-range values are all refused. A
 * well-formed apply entry that may not be banned (prefix too wide, the host's own address, a protected
 * network, an expiry beyond `max_duration`) is kept with its `refused` reason: the request stands, that entry
 * fails alone.
 */
export function validateRequest(value: unknown, ctx: ValidationContext): Request | ErrorReply {
  if (!isPlainObject(value)) return errorReply(null, "BAD_REQUEST", "a request is a JSON object");
  const rawId = value.id;
  const idOk =
    rawId === undefined || (typeof rawId === "number" && Number.isSafeInteger(rawId) && rawId >= 0);
  const id = idOk && typeof rawId === "number" ? rawId : null;
  if (!idOk) return errorReply(null, "INVALID_ARGUMENT", "id: a non-negative integer");

  const verb = value.verb;
  if (typeof verb !== "string" || !Object.hasOwn(VERB_FIELDS, verb)) {
    return errorReply(
      id,
      verb === undefined ? "BAD_REQUEST" : "UNKNOWN_VERB",
      verb === undefined ? "missing verb" : `unknown verb ${quote(verb)} (known: ${VERBS.join(", ")})`,
    );
  }
  const v = verb as Verb;
  const allowed = new Set(["id", "verb", "responder", ...VERB_FIELDS[v]]);
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) return errorReply(id, "UNKNOWN_FIELD", `${v}: unknown field ${quote(key)}`);
  }

  const name = value.responder;
  if (typeof name !== "string") return errorReply(id, "BAD_REQUEST", `${v}: missing responder`);
  const limits = RESPONDER_NAME.test(name) ? ctx.responders.get(name) : undefined;
  if (!limits) return errorReply(id, "UNKNOWN_RESPONDER", `no responder named ${quote(name)}`);

  if (v === "apply") {
    const list = value.entries;
    if (!Array.isArray(list)) return errorReply(id, "INVALID_ARGUMENT", "apply: entries must be an array");
    if (list.length > ctx.maxEntries)
      return errorReply(id, "TOO_LARGE", `apply: ${list.length} entries, at most ${ctx.maxEntries}`);
    const entries: RequestEntry[] = [];
    for (let i = 0; i < list.length; i++) {
      const e: unknown = list[i];
      const where = `apply: entries[${i}]`;
      if (!isPlainObject(e))
        return errorReply(id, "INVALID_ARGUMENT", `${where}: an object {target, expires}`);
      for (const key of Object.keys(e)) {
        if (key !== "target" && key !== "expires")
          return errorReply(id, "UNKNOWN_FIELD", `${where}: unknown field ${quote(key)}`);
      }
      const t = parseTargetText(e.target);
      if ("error" in t) return errorReply(id, "INVALID_ARGUMENT", `${where}.target: ${t.error}`);
      if (!checkExpires(e.expires))
        return errorReply(
          id,
          "INVALID_ARGUMENT",
          `${where}.expires: an integer epoch ms in [0, ${MAX_EXPIRES}], or null for no expiry`,
        );
      const target = t.cidr.text;
      const entry: RequestEntry = { sent: e.target as string, target, expires: e.expires ?? Infinity };
      // well-formed but not to be banned: this entry fails alone, the others are applied
      const wide = prefixError(t.cidr, limits);
      const guard = wide ? undefined : ctx.protectedBy?.(target);
      const tooLong = wide || guard ? undefined : ctx.expiryRefused?.(entry.expires);
      if (wide) entry.refused = `not allowed: ${wide}`;
      else if (guard) entry.refused = `not allowed: ${target} would cut off ${guard}`;
      else if (tooLong) entry.refused = `not allowed: ${tooLong}`;
      entries.push(entry);
    }
    return { id, verb: v, responder: name, entries };
  }
  if (v === "remove") {
    const list = value.targets;
    if (!Array.isArray(list)) return errorReply(id, "INVALID_ARGUMENT", "remove: targets must be an array");
    if (list.length > ctx.maxEntries)
      return errorReply(id, "TOO_LARGE", `remove: ${list.length} targets, at most ${ctx.maxEntries}`);
    const targets: { sent: string; target: string }[] = [];
    for (let i = 0; i < list.length; i++) {
      // no prefix minimum for removal: taking away a wide prefix is never dangerous
      const t = checkTarget(list[i]);
      if ("error" in t) return errorReply(id, "INVALID_ARGUMENT", `remove: targets[${i}]: ${t.error}`);
      targets.push({ sent: list[i] as string, target: t.target });
    }
    return { id, verb: v, responder: name, targets };
  }
  return { id, verb: v, responder: name };
}

/** Validates a hello line (client side); returns undefined when it is not one this client speaks. */
export function parseHello(value: unknown): Hello | undefined {
  if (!isPlainObject(value) || value.hello !== HELLO || value.protocol !== PROTOCOL) return undefined;
  const limits = value.limits;
  const list = value.responders;
  if (!isPlainObject(limits) || !Array.isArray(list)) return undefined;
  const int = (x: unknown, min: number, max: number): x is number =>
    typeof x === "number" && Number.isSafeInteger(x) && x >= min && x <= max;
  if (!int(limits.max_message_bytes, 1, 2 ** 31) || !int(limits.max_entries, 1, 2 ** 31)) return undefined;
  const responders: HostedInfo[] = [];
  for (const r of list) {
    if (
      !isPlainObject(r) ||
      typeof r.name !== "string" ||
      typeof r.type !== "string" ||
      typeof r.native_expiry !== "boolean" ||
      !int(r.min_prefix_v4, 0, 32) ||
      !int(r.min_prefix_v6, 0, 128)
    )
      return undefined;
    responders.push({
      name: r.name,
      type: r.type,
      native_expiry: r.native_expiry,
      min_prefix_v4: r.min_prefix_v4,
      min_prefix_v6: r.min_prefix_v6,
    });
  }
  return {
    hello: HELLO,
    protocol: PROTOCOL,
    version: typeof value.version === "string" ? value.version : "?",
    limits: { max_message_bytes: limits.max_message_bytes, max_entries: limits.max_entries },
    responders,
  };
}
