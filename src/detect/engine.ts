/**
 * DetectionEngine: runs the compiled rules over events in event time and returns alerts.
 * Rules are indexed by the `event.dataset` values their KQL requires, so an event is only evaluated against the
 * rules that can match it. Events lacking a rule's group-by fields are not counted by that rule.
 */
import type { Alert } from "../core/alert.ts";
import { eventWeight, type SecurityEvent } from "../core/event.ts";
import { cidrCovers, groupKey, parseCidr } from "../core/ip.ts";
import { fieldAccessor, type KqlNode } from "../kql/index.ts";
import { DETECTORS, type Detector } from "./detectors/index.ts";
import type { CompiledRule } from "./rule.ts";

/** Datasets of events about bans themselves (ours and fail2ban's). */
export const META_DATASETS: ReadonlySet<string> = new Set(["portcullis", "fail2ban"]);

/** Saved windows (see {@link DetectionEngine.saveState}). */
export interface EngineState {
  version: 1;
  rules: { spec: string; groups: [string, unknown][] }[];
}

export interface RuleStats {
  id: string;
  keys: number;
  evictions: number;
  alerts: number;
}

interface Grouper {
  key(e: SecurityEvent): string | undefined;
  values(key: string): Record<string, string>;
}

/**
 * IPv6 address -> its prefix key, cached per prefix length (bounded): computing a prefix is the costly part of
 * grouping. One map per prefix keeps the lookup on the address string itself (its hash is computed once and
 * kept by the string), with no key string to build per call.
 */
const prefixCaches = new Map<number, Map<string, string>>();
let lastIp: string | undefined;
let lastPrefix = 0;
let lastKey = "";
export function ipGroupKey(ip: string, prefix: number): string {
  // The same address string is usually asked for several times in a row (the ban check, then each grouper).
  if (ip === lastIp && prefix === lastPrefix) return lastKey;
  lastIp = ip;
  lastPrefix = prefix;
  return (lastKey = computeGroupKey(ip, prefix));
}

/**
 * Whether an event from `ip` is banned: a ban's target is the key of the rule that alerted (its `ipv6_prefix`,
 * or the policy's for alerts from elsewhere), so an IPv6 address is looked up under every prefix in use
 * (`prefixes`, see {@link banPrefixes}) and as itself (a manual ban of one address). An IPv4 address is its own
 * key under any prefix: one lookup.
 */
export function sourceBanned(
  bans: { active(key: string, now: number): unknown; covering?(target: string, now: number): unknown },
  ip: string,
  prefixes: readonly number[],
  now: number,
): boolean {
  if (bans.active(ipGroupKey(ip, prefixes[0]!), now) !== undefined) return true;
  if (ip.indexOf(":") >= 0) {
    for (let i = 1; i < prefixes.length; i++) {
      if (bans.active(ipGroupKey(ip, prefixes[i]!), now) !== undefined) return true;
    }
    // A ban of the single address (by hand, `portcullis ban 2001:db8::5`, or from an API caller).
    if (bans.active(ip, now) !== undefined) return true;
  }
  // A range banned by hand or by a SIEM (`203.0.113.0/24`, `2001:db8::/48`) that contains the address.
  return bans.covering !== undefined && bans.covering(ip, now) !== undefined;
}

/** The policy's IPv6 ban prefix first, then the other prefixes the engine's rules group source.ip by. */
export function banPrefixes(policyPrefix: number, engine: DetectionEngine): number[] {
  return [policyPrefix, ...engine.ipv6Prefixes.filter((p) => p !== policyPrefix)];
}

function computeGroupKey(ip: string, prefix: number): string {
  if (ip.indexOf(":") < 0) return ip;
  let cache = prefixCaches.get(prefix);
  if (cache === undefined) prefixCaches.set(prefix, (cache = new Map<string, string>()));
  let v = cache.get(ip);
  if (v === undefined) {
    v = groupKey(ip, prefix);
    if (cache.size >= 50_000) cache.clear();
    cache.set(ip, v);
  }
  return v;
}

function grouperFor(rule: CompiledRule): Grouper {
  const fields = rule.spec.group_by;
  const prefix = rule.spec.ipv6_prefix;
  if (fields.length === 1 && fields[0] === "source.ip") {
    return {
      key: (e) => {
        const ip = e.source?.ip;
        return typeof ip === "string" ? ipGroupKey(ip, prefix) : undefined;
      },
      values: (key) => ({ "source.ip": key }),
    };
  }
  const accessors = fields.map((f) => fieldAccessor(f));
  const isIp = fields.map((f) => f === "source.ip");
  return {
    key: (e) => {
      let key = "";
      for (let i = 0; i < accessors.length; i++) {
        const v = accessors[i]!(e);
        let s: string;
        if (typeof v === "string") s = isIp[i] ? ipGroupKey(v, prefix) : v;
        else if (typeof v === "number" || typeof v === "boolean") s = String(v);
        else return undefined;
        // The separator never occurs inside a value (a hostile user name could otherwise merge two groups).
        if (s.indexOf("\u0001") >= 0) s = s.replaceAll("\u0001", "\ufffd");
        key = i === 0 ? s : `${key}\u0001${s}`;
      }
      return key;
    },
    values: (key) => {
      const parts = key.split("\u0001");
      return Object.fromEntries(fields.map((f, i) => [f, parts[i] ?? ""]));
    },
  };
}

/** Field readers for the fields a rule's condition(s) need (a sequence: those both conditions need). */
/** The fields (besides the indexed ones) every event the rule may read has: see {@link requiredFields}. */
function needFieldsOf(r: CompiledRule): string[] {
  let fields = requiredFields(r.query.ast);
  if (r.then) {
    const other = requiredFields(r.then.ast);
    fields = new Set([...fields].filter((f) => other.has(f)));
  }
  // The indexed fields are checked by the candidate index already.
  return [...fields].filter((f) => !INDEXED_FIELDS.has(f));
}

/**
 * Whether the rule's equalities on `field` (event.action, event.outcome) admit the value `v`. A sequence
 * needs either of its conditions; each condition's set is a necessary condition for it. Missing value: an
 * equality cannot hold. Non-string values (arrays, numbers): admitted (the predicate decides).
 */
function admits(rule: CompiledRule, field: string, v: unknown): boolean {
  const ok = (set: Set<string> | undefined) =>
    set === undefined || (v !== undefined && (typeof v !== "string" || set.has(v)));
  if (!rule.then) return ok(rule.query.required.get(field));
  return ok(rule.query.required.get(field)) || ok(rule.then.required.get(field));
}

interface Entry {
  detector: Detector;
  group: Grouper;
  alerts: number;
  /** The rule's condition is only equalities on event.dataset/action/outcome (see {@link indexedOnly}). */
  indexed: boolean;
  /**
   * The rule's condition(s) read no field but event.dataset, event.action and event.outcome: their value for
   * a (dataset, action, outcome) combination holds for every event with it, and is computed once per combination.
   */
  indexedFieldsOnly: boolean;
  /** The fields the condition needs (see {@link requiredFields}); all must have a value. */
  needFields: string[];
  /** Their readers. */
  needs: ((e: unknown) => unknown)[];
}

/**
 * Fields that must be present for a condition to hold (`and`: any branch's; `or`: every branch's; a negation
 * requires nothing). Checked with one accessor call each before the condition is evaluated: most events lack
 * the fields of most rules (a command line, an HTTP method), and a miss is cheap.
 */
export function requiredFields(node: KqlNode): Set<string> {
  switch (node.type) {
    case "and": {
      const out = new Set<string>();
      for (const n of node.nodes) for (const f of requiredFields(n)) out.add(f);
      return out;
    }
    case "or": {
      const sets = node.nodes.map(requiredFields);
      const first = sets[0] ?? new Set<string>();
      return new Set([...first].filter((f) => sets.every((x) => x.has(f))));
    }
    case "match":
    case "exists":
    case "range":
      return node.field && node.field.wildcard === undefined && node.field.name !== "message"
        ? new Set([node.field.name])
        : new Set();
    case "nested":
      return new Set([node.path]);
    default:
      return new Set();
  }
}

/** True when every condition of the rule reads only the indexed fields (no free text, no wildcard field). */
function readsIndexedFieldsOnly(r: CompiledRule): boolean {
  const fields = r.then ? [...r.query.fields, ...r.then.fields] : r.query.fields;
  return fields.every((f) => INDEXED_FIELDS.has(f));
}

/** A candidate rule for one (dataset, action, outcome) combination. */
interface Candidate {
  entry: Entry;
  /** The combination alone decides the condition: it need not be evaluated. */
  decided: boolean;
}

const INDEXED_FIELDS = new Set(["event.dataset", "event.action", "event.outcome"]);

/**
 * True when a condition is nothing but equalities (and value lists) on event.dataset, event.action and
 * event.outcome: then the candidate index, built from the same equalities, decides it exactly for string values.
 */
export function indexedOnly(node: KqlNode): boolean {
  switch (node.type) {
    case "and":
      return node.nodes.every(indexedOnly);
    case "or": {
      const fields = new Set(node.nodes.map((n) => (n.type === "match" ? n.field?.name : undefined)));
      return fields.size === 1 && node.nodes.every(indexedOnly);
    }
    case "match":
      return (
        node.field !== null &&
        node.field.wildcard === undefined &&
        INDEXED_FIELDS.has(node.field.name) &&
        node.value.kind === "text"
      );
    default:
      return false;
  }
}

export class DetectionEngine {
  readonly rules: readonly CompiledRule[];
  readonly #entries: Entry[];
  readonly #byDataset = new Map<string, Entry[]>();
  readonly #anyDataset: Entry[];
  /** Entries grouped by source.ip alone: what a ban resets. */
  readonly #bySource: Entry[];
  /** The distinct `ipv6_prefix` of the rules grouping by source.ip (the prefixes ban targets are made with). */
  readonly ipv6Prefixes: readonly number[];

  /**
   * `previous`: an engine being replaced (config reload). Rules whose definition did not change keep their
   * detector, so windows and counts survive the reload; new and changed rules start empty.
   */
  constructor(rules: readonly CompiledRule[], previous?: DetectionEngine) {
    this.rules = rules;
    const kept = new Map<string, Entry>();
    // One grouper per distinct (group_by, ipv6_prefix): the engine computes each event's key once per grouper.
    const groupers = new Map<string, Grouper>();
    const grouperOf = (r: CompiledRule) => {
      const sig = JSON.stringify([r.spec.group_by, r.spec.ipv6_prefix]);
      let g = groupers.get(sig);
      if (!g) groupers.set(sig, (g = grouperFor(r)));
      return g;
    };
    for (const e of previous ? previous.#entries : []) kept.set(JSON.stringify(e.detector.rule.spec), e);
    this.#entries = rules
      .filter((r) => r.spec.enabled)
      .map(
        (r) =>
          kept.get(JSON.stringify(r.spec)) ?? {
            detector: DETECTORS[r.spec.type](r),
            group: grouperOf(r),
            alerts: 0,
            indexed: r.then === undefined && indexedOnly(r.query.ast),
            indexedFieldsOnly: readsIndexedFieldsOnly(r),
            needFields: needFieldsOf(r),
            needs: needFieldsOf(r).map((f) => fieldAccessor(f)),
          },
      );
    this.#anyDataset = this.#entries.filter((e) => e.detector.rule.datasets === undefined);
    for (const entry of this.#entries) {
      for (const ds of entry.detector.rule.datasets ?? []) {
        let list = this.#byDataset.get(ds);
        if (!list) this.#byDataset.set(ds, (list = []));
        list.push(entry);
      }
    }
    // Keep rule order within each dataset list, with dataset-agnostic rules after them.
    for (const [ds, list] of this.#byDataset) this.#byDataset.set(ds, [...list, ...this.#anyDataset]);
    // Rules about bans themselves (repeat offenders) keep their counts across bans.
    const meta = (r: CompiledRule) =>
      r.datasets !== undefined && [...r.datasets].every((d) => META_DATASETS.has(d));
    this.ipv6Prefixes = [
      ...new Set(
        this.#entries
          .filter((e) => e.detector.rule.spec.group_by.includes("source.ip"))
          .map((e) => e.detector.rule.spec.ipv6_prefix),
      ),
    ];
    this.#bySource = this.#entries.filter(
      (e) =>
        e.detector.rule.spec.group_by.length === 1 &&
        e.detector.rule.spec.group_by[0] === "source.ip" &&
        !meta(e.detector.rule),
    );
  }

  /**
   * Candidate rules per (dataset, action, outcome), built lazily from each rule's required equalities: a rule
   * whose KQL forces `event.action: (a or b)` is never evaluated on other actions. Bounded: the vocabulary of
   * datasets, actions and outcomes is small; the cache is cleared if it ever grows past 10,000 combinations.
   */
  readonly #candidates = new Map<unknown, Map<unknown, Map<unknown, Candidate[]>>>();
  #cached = 0;

  // The last combination looked up and its list: the replay asks for an event's list twice in a row.
  #lastDs: unknown;
  #lastAction: unknown;
  #lastOutcome: unknown;
  #lastList: Candidate[] | undefined;

  #candidatesFor(ds: unknown, action: unknown, outcome: unknown): Candidate[] {
    if (this.#lastList && ds === this.#lastDs && action === this.#lastAction && outcome === this.#lastOutcome)
      return this.#lastList;
    const list = this.#lookupCandidates(ds, action, outcome);
    this.#lastDs = ds;
    this.#lastAction = action;
    this.#lastOutcome = outcome;
    this.#lastList = list;
    return list;
  }

  #lookupCandidates(ds: unknown, action: unknown, outcome: unknown): Candidate[] {
    // Keys are the values themselves (strings in practice); non-primitive values are not cached.
    const cacheable = [ds, action, outcome].every((v) => v === undefined || typeof v === "string");
    let byAction = this.#candidates.get(ds);
    let byOutcome = byAction?.get(action);
    let list = byOutcome?.get(outcome);
    if (list) return list;
    let base = (typeof ds === "string" ? this.#byDataset.get(ds) : undefined) ?? this.#anyDataset;
    // Events about bans themselves (the ones replay and the daemon feed back, fail2ban's) go only to the rules
    // that name their dataset: a rule on `event.outcome: failure` alone must not count a ban as a failure.
    if (typeof ds === "string" && META_DATASETS.has(ds))
      base = base.filter((e) => e.detector.rule.datasets !== undefined);
    // Decided without evaluation only when every indexed value is a string (what the index compared).
    const strings = [ds, action, outcome].every((v) => typeof v === "string");
    // A condition reading only the indexed fields is evaluated here, once, on an event made of the
    // combination alone: accessors read the same three strings from it as from any real event with them.
    const probe = strings ? { event: { dataset: ds, action, outcome } } : undefined;
    list = [];
    for (const entry of base) {
      const rule = entry.detector.rule;
      if (!admits(rule, "event.action", action) || !admits(rule, "event.outcome", outcome)) continue;
      if (probe && entry.indexedFieldsOnly) {
        if (entry.detector.accepts(probe as unknown as SecurityEvent)) list.push({ entry, decided: true });
        continue;
      }
      list.push({ entry, decided: strings && entry.indexed });
    }
    if (!cacheable) return list;
    if (++this.#cached > 10_000) {
      this.#candidates.clear();
      this.#cached = 1;
      byAction = undefined;
      byOutcome = undefined;
    }
    if (!byAction) this.#candidates.set(ds, (byAction = new Map<unknown, Map<unknown, Candidate[]>>()));
    if (!byOutcome) byAction.set(action, (byOutcome = new Map<unknown, Candidate[]>()));
    byOutcome.set(outcome, list);
    return list;
  }

  /**
   * Whether any rule may read an event of `dataset` and `action` (whatever its outcome) whose fields can only
   * be among those `has` accepts: the rule's dataset and action equalities admit them, and every field its
   * condition needs may be present (a field is present if `has` accepts it or a field below it). Replay asks
   * this of the parsers that declare their fields, and skips making the events no rule can read. Rules about
   * bans (META_DATASETS) are fed by replay itself, not by parsers.
   */
  mayRead(dataset: string, action: string, has: (field: string) => boolean): boolean {
    const base = this.#byDataset.get(dataset) ?? this.#anyDataset;
    return base.some(
      (entry) => admits(entry.detector.rule, "event.action", action) && entry.needFields.every((f) => has(f)),
    );
  }

  /**
   * Whether any rule may be evaluated on `e` (from the candidate index only): when false, {@link process}
   * does nothing with it and keeps no reference to it.
   */
  hasCandidates(e: SecurityEvent): boolean {
    const ev = e.event;
    return this.#candidatesFor(ev?.dataset, ev?.action, ev?.outcome).length > 0;
  }

  /** Runs every applicable rule on `e`; appends alerts to `out`. */
  process(e: SecurityEvent, out: Alert[]): void {
    const ev = e.event;
    const candidates = this.#candidatesFor(ev?.dataset, ev?.action, ev?.outcome);
    if (!candidates.length) return;
    const t = e["@timestamp"];
    const w = eventWeight(e);
    for (let i = 0; i < candidates.length; i++) {
      const c = candidates[i]!;
      const entry = c.entry;
      if (!c.decided) {
        const needs = entry.needs;
        let missing = false;
        for (let j = 0; j < needs.length; j++) {
          if (needs[j]!(e) === undefined) {
            missing = true;
            break;
          }
        }
        if (missing || !entry.detector.accepts(e)) continue;
      }
      const key = entry.group.key(e);
      if (key === undefined) continue;
      const a = entry.detector.observe(e, key, t, w);
      if (a) {
        a.group = entry.group.values(key);
        entry.alerts++;
        out.push(a);
      }
    }
  }

  #lastSweep = 0;

  /**
   * Drops groups with nothing left in their windows. Cheap to call often: it runs at most every 5 minutes of
   * event time while few groups are tracked (under 10,000), and every minute above that.
   */
  sweep(t: number): void {
    const since = t - this.#lastSweep;
    if (since < 60_000) return;
    if (since < 300_000 && this.#trackedKeys() < 10_000) return;
    this.#lastSweep = t;
    for (const e of this.#entries) e.detector.sweep(t);
  }

  #trackedKeys(): number {
    let n = 0;
    for (const e of this.#entries) n += e.detector.keys;
    return n;
  }

  /**
   * After a ban of `key` (an address or IPv6 prefix): counting starts afresh for the rule that made it
   * (`ruleId`), or, for a ban no rule of this engine made (an operator's, a SIEM's) and after an unban, for
   * every rule whose response is a ban. Other rules keep their counts: the failures before a ban still count
   * towards a slow brute force, password spraying, or a compromise (failures then a success once the ban ends).
   */
  forgetSource(key: string, ruleId?: string): void {
    const own = ruleId === undefined ? [] : this.#bySource.filter((e) => e.detector.rule.id === ruleId);
    const entries = own.length ? own : this.#bySource.filter((e) => e.detector.rule.spec.response === "ban");
    for (const entry of entries) entry.detector.forget(key);
    if (key.indexOf(":") < 0) return;
    // Rules grouping IPv6 by a longer prefix than the ban's hold several groups inside it (a /64 ban covers the
    // /128 groups of its addresses): those are forgotten too. A group wider than the ban is kept: most of it
    // is not banned.
    const banned = parseCidr(key);
    if (banned === undefined) return;
    for (const entry of entries) {
      if (entry.detector.rule.spec.ipv6_prefix <= banned.prefix) continue;
      entry.detector.forgetWhere((k) => {
        const c = parseCidr(k);
        return c !== undefined && cidrCovers(banned, c);
      });
    }
  }

  /**
   * The windows of every rule as JSON-compatible data, for a restart (the daemon saves it at a clean
   * shutdown). Each rule's groups are filed under its definition, so a rule changed in between starts empty.
   * At most `limit` groups in all (the most recently created of each rule first).
   */
  saveState(limit = 100_000): EngineState {
    const rules: EngineState["rules"] = [];
    let left = limit;
    for (const e of this.#entries) {
      if (left <= 0) break;
      const groups = e.detector.save(left);
      left -= groups.length;
      if (groups.length) rules.push({ spec: JSON.stringify(e.detector.rule.spec), groups });
    }
    return { version: 1, rules };
  }

  /**
   * Restores windows {@link saveState} wrote: those of rules whose definition is unchanged; anything malformed
   * is skipped (the state is only a head start: detection works without it).
   */
  restoreState(state: unknown): { rules: number; groups: number } {
    const done = { rules: 0, groups: 0 };
    if (typeof state !== "object" || state === null) return done;
    const { version, rules } = state as Partial<EngineState>;
    if (version !== 1 || !Array.isArray(rules)) return done;
    const bySpec = new Map(this.#entries.map((e) => [JSON.stringify(e.detector.rule.spec), e]));
    for (const r of rules as unknown[]) {
      if (typeof r !== "object" || r === null) continue;
      const { spec, groups } = r as { spec?: unknown; groups?: unknown };
      const entry = typeof spec === "string" ? bySpec.get(spec) : undefined;
      if (!entry || !Array.isArray(groups)) continue;
      bySpec.delete(spec as string);
      const n = entry.detector.restore(groups as [string, unknown][]);
      if (n > 0) done.rules++;
      done.groups += n;
    }
    return done;
  }

  stats(): RuleStats[] {
    return this.#entries.map((e) => ({
      id: e.detector.rule.id,
      keys: e.detector.keys,
      evictions: e.detector.evictions,
      alerts: e.alerts,
    }));
  }
}
