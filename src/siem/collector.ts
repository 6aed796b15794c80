/**
 * Builds one request's ExtractResult: validates addresses, merges everything said about one address into
 * one Alert, enforces the per-request budget and bounds the rejected list. Extractors only say where they
 * found what; the collector decides what an Alert looks like, so every kind fills it the same way.
 */
import type { Alert, Severity } from "../core/alert.ts";
import type { SecurityEvent } from "../core/event.ts";
import { checkAddress, forbiddenField } from "./address.ts";
import {
  DEFAULT_MAX_ALERTS,
  MAX_MAX_ALERTS,
  type ExtractOptions,
  type ExtractResult,
  type Rejected,
} from "./types.ts";
import { clean, isObject, lookup, maxSeverity, preview } from "./values.ts";

/** What a payload says about the alert an address belongs to; the collector fills the rest. */
export interface Facts {
  rule?: {
    id?: string | undefined;
    name?: string | undefined;
    type?: string | undefined;
    description?: string | undefined;
  };
  severity?: Severity | undefined;
  count?: number | undefined;
  /** Alert time (when the SIEM raised it). */
  time?: number | undefined;
  first?: number | undefined;
  last?: number | undefined;
  attack?: Iterable<string> | undefined;
  /** The SIEM's own id for this alert (Kibana alert uuid, Wazuh alert id, Splunk sid...). */
  sourceId?: string | undefined;
  /** Suggested ban duration (ms). */
  duration?: number | undefined;
  /** A few fields for the sample event (the address is added by the collector). */
  event?: SampleFields | undefined;
}

export interface SampleFields {
  time?: number | undefined;
  dataset?: string | undefined;
  action?: string | undefined;
  outcome?: string | undefined;
  reason?: string | undefined;
  user?: string | undefined;
  host?: string | undefined;
  message?: string | undefined;
  destination?: { ip?: string; port?: number } | undefined;
}

const SAMPLE = 5;
const MAX_REJECTED = 100;

export class Collector {
  readonly kind: string;
  readonly now: number;
  readonly max: number;
  #alerts = new Map<string, Alert>();
  #rejected: Rejected[] = [];
  #moreRejected = 0;
  #examined = 0;
  /** Addresses the payload itself names as the monitored host, a relay or the collector, with why. */
  #excluded = new Map<string, string>();

  constructor(kind: string, options: ExtractOptions) {
    this.kind = kind;
    this.now = Number.isFinite(options.now) ? options.now : 0;
    const m = options.maxAlerts;
    this.max = typeof m === "number" && m >= 1 ? Math.min(Math.floor(m), MAX_MAX_ALERTS) : DEFAULT_MAX_ALERTS;
  }

  get size(): number {
    return this.#alerts.size;
  }

  reject(value: unknown, path: string, reason: string): void {
    if (this.#rejected.length < MAX_REJECTED) this.#rejected.push({ value: preview(value), path, reason });
    else this.#moreRejected++;
  }

  /**
   * Declares the addresses at `paths` in `obj` (one or an array) as the monitored host's, a relay's or the
   * collector's: they are never taken as the attacker in this request, even if an attacker field repeats
   * them (an injected or mis-mapped value). Applies to addresses taken before or after.
   */
  exclude(obj: unknown, paths: readonly string[], what: string): void {
    for (const p of paths) {
      const v = lookup(obj, p);
      for (const e of Array.isArray(v) ? v.slice(0, 16) : [v]) {
        const c = checkAddress(e);
        if (c.ok && !this.#excluded.has(c.ip)) this.#excluded.set(c.ip, `${what} (${p}), never the attacker`);
      }
    }
  }

  /**
   * Visits the elements of an array within the request's budget; elements past it are rejected as one
   * entry. `visit` returns nothing: it adds addresses or rejections itself.
   */
  each(arr: readonly unknown[], path: string, visit: (item: unknown, path: string) => void): void {
    let i = 0;
    for (; i < arr.length && this.#examined < this.max; i++) {
      this.#examined++;
      visit(arr[i], `${path}[${i}]`);
    }
    if (i < arr.length) {
      this.reject(
        arr.length - i,
        `${path}[${i}..${arr.length - 1}]`,
        `over the limit of ${this.max} items per request: not examined`,
      );
    }
  }

  /**
   * Reads the attacker from the first of `fields` (dotted paths into `obj`) that holds a usable address; a
   * field may hold one address or an array of them. Fields that only held unusable values are rejected
   * with their reason; if no field is present, one rejection says so. Returns the addresses taken.
   */
  fromFields(obj: unknown, fields: readonly string[], path: string, facts: Facts): string[] {
    const tried: Rejected[] = [];
    for (const f of fields) {
      const at = path ? `${path}.${f}` : f;
      const forbidden = forbiddenField(f);
      if (forbidden) {
        tried.push({ value: f, path: at, reason: forbidden });
        continue;
      }
      const v = lookup(obj, f);
      if (v === undefined || v === null || v === "") continue;
      const here: Rejected[] = [];
      const taken = Array.isArray(v) ? this.#many(v, at, facts, here) : this.#one(v, at, facts, here);
      if (taken.length) {
        // the field that named the attacker: its unusable values are reported, earlier fields' are not
        for (const t of here) this.reject(t.value, t.path, t.reason);
        return taken;
      }
      tried.push(...here);
    }
    if (tried.length) for (const t of tried) this.reject(t.value, t.path, t.reason);
    else
      this.reject(
        null,
        path || "(body)",
        `no attacker address: none of ${fields.join(", ")} is present${isObject(obj) ? "" : " (not an object)"}`,
      );
    return [];
  }

  /** Takes `value` as the attacker's address (or rejects it). */
  address(value: unknown, path: string, facts: Facts): string | undefined {
    const tried: Rejected[] = [];
    const [ip] = this.#one(value, path, facts, tried);
    for (const t of tried) this.reject(t.value, t.path, t.reason);
    return ip;
  }

  #many(values: unknown[], path: string, facts: Facts, tried: Rejected[]): string[] {
    const out: string[] = [];
    this.each(values, path, (v, p) => out.push(...this.#one(v, p, facts, tried)));
    return out;
  }

  #one(value: unknown, path: string, facts: Facts, tried: Rejected[]): string[] {
    const c = checkAddress(value);
    if (!c.ok) {
      tried.push({ value, path, reason: c.reason });
      return [];
    }
    const excluded = this.#excluded.get(c.ip);
    if (excluded) {
      tried.push({ value, path, reason: `the payload's own ${excluded}` });
      return [];
    }
    this.#add(c.ip, facts);
    return [c.ip];
  }

  #add(ip: string, f: Facts): void {
    const at = (t: number | undefined) => (t === undefined ? undefined : Math.min(t, this.now));
    const time = at(f.time ?? f.last ?? f.first) ?? this.now;
    const first = at(f.first) ?? time;
    const last = Math.max(at(f.last) ?? time, first);
    const sample = this.#sample(ip, f.event, time);
    const old = this.#alerts.get(ip);
    if (old) {
      old["@timestamp"] = Math.max(old["@timestamp"], time);
      old.first_seen = Math.min(old.first_seen, first);
      old.last_seen = Math.max(old.last_seen, last);
      old.count += f.count ?? 1;
      if (f.severity) old.severity = maxSeverity(old.severity, f.severity);
      for (const t of f.attack ?? []) if (!old.attack.includes(t)) old.attack.push(t);
      if (old.events.length < SAMPLE) old.events.push(sample);
      if (f.duration !== undefined) old.duration = Math.max(old.duration ?? 0, f.duration);
      return;
    }
    const ruleId = f.rule?.id ? `${this.kind}:${clean(f.rule.id, 128)}` : this.kind;
    const alert: Alert = {
      id: f.sourceId ? `${this.kind}:${clean(f.sourceId, 128)}:${ip}` : `${ruleId}:${time}:${ip}`,
      "@timestamp": time,
      rule: {
        id: ruleId,
        name: f.rule?.name ? clean(f.rule.name, 200) : `${this.kind} alert`,
        type: f.rule?.type ? clean(f.rule.type, 40) : "siem",
      },
      severity: f.severity ?? "high",
      group: { "source.ip": ip },
      count: Math.max(1, f.count ?? 1),
      first_seen: first,
      last_seen: last,
      events: [sample],
      attack: [...(f.attack ?? [])],
      origin: this.kind,
      response: "ban",
    };
    if (f.rule?.description) alert.rule.description = clean(f.rule.description, 500);
    if (f.duration !== undefined) alert.duration = f.duration;
    this.#alerts.set(ip, alert);
  }

  #sample(ip: string, s: SampleFields | undefined, time: number): SecurityEvent {
    const outcome = s?.outcome === "failure" || s?.outcome === "success" ? s.outcome : "unknown";
    const e: SecurityEvent = {
      "@timestamp": s?.time !== undefined ? Math.min(s.time, this.now) : time,
      event: {
        dataset: s?.dataset ? clean(s.dataset, 64) : this.kind,
        action: s?.action ? clean(s.action, 64) : "siem_alert",
        outcome,
        module: this.kind,
      },
      source: { ip },
    };
    if (s?.reason) e.event.reason = clean(s.reason, 300);
    if (s?.user) e.user = { name: clean(s.user, 64) };
    if (s?.host) e.host = { name: clean(s.host, 128) };
    if (s?.destination) e.destination = s.destination;
    if (s?.message) e.message = clean(s.message, 300);
    return e;
  }

  result(): ExtractResult {
    const alerts: Alert[] = [];
    for (const [ip, a] of this.#alerts) {
      const excluded = this.#excluded.get(ip);
      if (excluded) this.reject(ip, "group.source.ip", `the payload's own ${excluded}`);
      else alerts.push(a);
    }
    const rejected = this.#rejected.slice();
    if (this.#moreRejected) {
      rejected.push({
        value: this.#moreRejected,
        path: "(more)",
        reason: `${this.#moreRejected} more rejected values not listed`,
      });
    }
    return { alerts, rejected };
  }
}
