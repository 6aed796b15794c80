/**
 * The policy turns alerts into decisions: which alerts ban and for how long, escalation for repeat offenders,
 * de-duplication against active bans, the allowlist, a cap on how wide a ban may be, a circuit breaker on the
 * rate of new bans, dry-run and per-rule shadow mode. It is pure logic over the time it is given.
 *
 * Every call returns a {@link PolicyResult} saying what happened and why, including refusals, so that the audit
 * trail records each one.
 */
import type { Alert } from "../core/alert.ts";
import type { Actor, Decision } from "../core/decision.ts";
import { canonicalIp, cidrContains, parseCidr, parseIp } from "../core/ip.ts";
import { Allowlist } from "./allowlist.ts";
import { BanTable, type ActiveBan } from "./bans.ts";
import { MAX_DURATION_MS } from "../core/duration.ts";

export interface RulePolicy {
  /** Override the rule's own suggestion. */
  response?: "ban" | "alert";
  duration?: number;
  /** Decide and record, never enforce (to try a rule on live traffic). */
  shadow?: boolean;
}

export interface PolicyConfig {
  /** Ban duration when neither the rule nor the policy says otherwise (ms). */
  defaultDuration: number;
  /** Per-rule overrides, by rule id. */
  rules: Record<string, RulePolicy>;
  escalation: { enabled: boolean; factor: number; max: number; lookback: number };
  /** Already banned: extend the ban to the later expiry, or leave it. Either way it is recorded once. */
  onDuplicate: "extend" | "noop";
  /**
   * De-duplication window (ms): a report that would move the expiry later by no more than this is a duplicate
   * (`already_banned`, nothing written or re-applied), so the same attack reported by several SIEMs and the
   * native rule within a minute is one ban and one audit record.
   */
  dedupWindow: number;
  /** Widest prefix that may be banned. */
  maxPrefix: { v4: number; v6: number };
  /** At most this many new bans per minute; beyond it, alerts only (0 disables the breaker). */
  maxBansPerMinute: number;
  dryRun: boolean;
  scope: "host" | "fleet";
  /**
   * Where decision ids' sequence starts (`d-<ms>-<seq>`). Unset: a random point, for policies whose decisions
   * are stored next to other processes' (see #seq); replay sets 0, so that its output is the same every run.
   */
  firstSequence?: number;
}

export const DEFAULT_POLICY: PolicyConfig = {
  defaultDuration: 600_000,
  rules: {},
  escalation: { enabled: false, factor: 2, max: 7 * 86_400_000, lookback: 7 * 86_400_000 },
  onDuplicate: "extend",
  dedupWindow: 60_000,
  maxPrefix: { v4: 16, v6: 48 },
  maxBansPerMinute: 0,
  dryRun: false,
  scope: "host",
};

export type PolicyOutcome =
  | "banned"
  | "extended"
  | "already_banned"
  | "alert_only"
  | "refused_allowlisted"
  | "refused_too_wide"
  | "refused_circuit_breaker"
  | "refused_invalid";

export interface PolicyResult {
  outcome: PolicyOutcome;
  reason: string;
  target?: string;
  /** New or extended decision (banned, extended). */
  decision?: Decision;
  /** Current expiry for `already_banned`/`extended`. */
  expires?: number;
  /** The decision in force, for `already_banned`/`extended`. */
  decisionId?: string;
}

export interface BanRequest {
  target: string;
  duration?: number;
  reason: string;
  actor: Actor;
  origin: string;
  rule?: { id: string; name: string };
  alertId?: string;
  /** Decide and record, never enforce. */
  shadow?: boolean;
}

export class Policy {
  readonly config: PolicyConfig;
  readonly allowlist: Allowlist;
  readonly bans: BanTable;
  readonly #recent: number[] = [];
  /**
   * Decision ids are `d-<ms>-<seq>`. The sequence starts at a random point: a reloaded daemon's new Policy, or
   * `portcullis ban` run while the daemon runs, must not make the id of a decision of the same millisecond.
   */
  #seq: number;
  /** Counts of results by outcome, for metrics and summaries. */
  readonly counts: Record<PolicyOutcome, number> = {
    banned: 0,
    extended: 0,
    already_banned: 0,
    alert_only: 0,
    refused_allowlisted: 0,
    refused_too_wide: 0,
    refused_circuit_breaker: 0,
    refused_invalid: 0,
  };
  /** Called once each time the circuit breaker starts refusing (for a loud warning). */
  onBreakerOpen: ((at: number) => void) | undefined;
  #breakerOpen = false;
  /** How to take back the in-memory effect of a `banned` or `extended` result (see {@link undo}). */
  readonly #undo = new WeakMap<PolicyResult, () => void>();

  constructor(config: Partial<PolicyConfig> = {}, allowlist = new Allowlist(), bans = new BanTable()) {
    this.config = { ...DEFAULT_POLICY, ...config };
    this.#seq = this.config.firstSequence ?? Math.floor(Math.random() * 36 ** 5);
    this.allowlist = allowlist;
    this.bans = bans;
    // The escalation history is read back one lookback: older bans need not be kept.
    bans.keepHistory = this.config.escalation.lookback;
  }

  /**
   * Whether a ban is in force for everything else the daemon decides: a real ban always; a simulated one only
   * in dry-run, where every ban is simulated to show what would happen. A simulated ban of a rule in shadow
   * mode on a live daemon changes nothing else: a real rule still bans the address, its events still count,
   * and it is no earlier offence for escalation.
   */
  inForce(ban: { simulated?: boolean }): boolean {
    return ban.simulated !== true || this.config.dryRun;
  }

  /** The active bans that are {@link inForce} (the pipeline's view: events of these addresses are ignored). */
  readonly blocking = {
    active: (target: string, now: number): ActiveBan | undefined => {
      const b = this.bans.active(target, now);
      return b !== undefined && this.inForce(b) ? b : undefined;
    },
    covering: (target: string, now: number): ActiveBan | undefined => {
      const b = this.bans.covering(target, now);
      return b !== undefined && this.inForce(b) ? b : undefined;
    },
  };

  /** What to do about a detection alert, at time `now`. */
  onAlert(alert: Alert, now: number): PolicyResult {
    const rp = this.config.rules[alert.rule.id] ?? {};
    const response = rp.response ?? alert.response;
    const target = alert.group["source.ip"];
    if (response !== "ban" || target === undefined) {
      return this.#count({ outcome: "alert_only", reason: `rule ${alert.rule.id} alerts only` });
    }
    const duration = rp.duration ?? alert.duration;
    return this.ban(
      {
        target,
        ...(duration !== undefined ? { duration } : {}),
        reason: `${alert.rule.name}: ${alert.count} events${alert.distinct ? ` (${alert.distinct} distinct)` : ""}`,
        actor: { type: alert.origin === "native" ? "rule" : "siem", name: alert.rule.id },
        origin: alert.origin,
        rule: { id: alert.rule.id, name: alert.rule.name },
        alertId: alert.id,
        ...(rp.shadow ? { shadow: true } : {}),
      },
      now,
    );
  }

  /** A ban request from a rule, a SIEM, the API or the CLI. */
  ban(req: BanRequest, now: number): PolicyResult {
    const target = normalizeTarget(req.target);
    if (!target)
      return this.#count({ outcome: "refused_invalid", reason: `not an IP address or CIDR: ${req.target}` });
    const cidr = parseCidr(target)!;
    const limit = cidr.family === 4 ? this.config.maxPrefix.v4 : this.config.maxPrefix.v6;
    if (cidr.prefix < limit) {
      return this.#count({
        outcome: "refused_too_wide",
        target,
        reason: `/${cidr.prefix} is wider than the allowed /${limit} for IPv${cidr.family}`,
      });
    }
    const allowed = this.allowlist.match(target);
    if (allowed) {
      return this.#count({
        outcome: "refused_allowlisted",
        target,
        reason: `${target} is allowlisted (${allowed.why}: ${allowed.cidr})`,
      });
    }
    // Bounded whoever asks (a rule, a SIEM, an operator): an expiry must stay a valid date.
    const base = Math.min(req.duration ?? this.config.defaultDuration, MAX_DURATION_MS);
    const simulated = this.config.dryRun || req.shadow === true;
    // A shadow rule's simulated ban does not stand in the way of a real one (which replaces it in memory).
    const found = this.bans.active(target, now);
    const active = found !== undefined && (this.inForce(found) || simulated) ? found : undefined;
    if (active) {
      const wanted = now + base;
      if (this.config.onDuplicate === "extend" && wanted > active.expires + this.config.dedupWindow) {
        const before = active.expires;
        active.expires = wanted;
        const extended = this.#count({
          outcome: "extended",
          target,
          expires: wanted,
          decisionId: active.decisionId,
          reason: `already banned; extended to ${new Date(wanted).toISOString()}`,
        });
        this.#undo.set(extended, () => {
          if (active.expires === wanted) active.expires = before;
        });
        return extended;
      }
      return this.#count({
        outcome: "already_banned",
        target,
        expires: active.expires,
        decisionId: active.decisionId,
        reason: `already banned until ${new Date(active.expires).toISOString()}`,
      });
    }
    // Inside a banned range (a /24 banned by hand, a /48 from a SIEM): blocked already, unless this ban would
    // outlast the range's, which then leaves the address banned on its own.
    const range = this.bans.covering(target, now);
    if (
      range !== undefined &&
      (this.inForce(range) || simulated) &&
      now + base <= range.expires + this.config.dedupWindow
    ) {
      return this.#count({
        outcome: "already_banned",
        target,
        expires: range.expires,
        decisionId: range.decisionId,
        reason: `already banned until ${new Date(range.expires).toISOString()} (in ${range.target})`,
      });
    }
    if (this.config.maxBansPerMinute > 0) {
      while (this.#recent.length && this.#recent[0]! <= now - 60_000) this.#recent.shift();
      if (this.#recent.length >= this.config.maxBansPerMinute) {
        if (!this.#breakerOpen) {
          this.#breakerOpen = true;
          this.onBreakerOpen?.(now);
        }
        return this.#count({
          outcome: "refused_circuit_breaker",
          target,
          reason: `circuit breaker: ${this.#recent.length} new bans in the last minute (limit ${this.config.maxBansPerMinute})`,
        });
      }
      this.#breakerOpen = false;
      this.#recent.push(now);
    }
    let escalation = 0;
    let duration = base;
    if (this.config.escalation.enabled) {
      escalation = this.bans.previousBans(target, now - this.config.escalation.lookback);
      duration = Math.min(
        base * this.config.escalation.factor ** escalation,
        Math.max(base, Math.min(this.config.escalation.max, MAX_DURATION_MS)),
      );
    }
    const decision: Decision = {
      id: `d-${now.toString(36)}-${(++this.#seq).toString(36)}`,
      "@timestamp": now,
      target,
      action: "ban",
      scope: this.config.scope,
      duration,
      expires: now + duration,
      reason: req.reason,
      origin: req.origin,
      actor: req.actor,
      escalation,
      simulated,
      status: {},
    };
    if (req.rule) decision.rule = req.rule;
    if (req.alertId !== undefined) decision.alert_id = req.alertId;
    const inForce = this.inForce(decision);
    this.bans.set(
      { target, decisionId: decision.id, expires: decision.expires, escalation, simulated },
      now,
      inForce,
    );
    const banned = this.#count({
      outcome: "banned",
      target,
      decision,
      expires: decision.expires,
      reason: req.reason,
    });
    this.#undo.set(banned, () => {
      if (this.bans.active(target, now)?.decisionId === decision.id) {
        this.bans.remove(target);
        if (found !== undefined && found.expires > now) this.bans.set(found, now, false);
      }
      if (inForce) this.bans.unrecord(target, now);
      const i = this.#recent.lastIndexOf(now);
      if (i >= 0) this.#recent.splice(i, 1);
    });
    return banned;
  }

  /**
   * Takes back what {@link ban} changed in memory for `result` (a new ban, or an extension) when it could not
   * be recorded: the store refused the write and the sender is told to retry, so the retry must decide
   * afresh instead of finding a ban that exists nowhere else ("already banned"). A no-op for other results
   * and for a result already taken back.
   */
  undo(result: PolicyResult): void {
    const undo = this.#undo.get(result);
    if (!undo) return;
    this.#undo.delete(result);
    undo();
    this.counts[result.outcome]--;
  }

  #count(r: PolicyResult): PolicyResult {
    this.counts[r.outcome]++;
    return r;
  }
}

/** Canonical address or CIDR text (a /32 or /128 becomes the bare address), or undefined. */
export function normalizeTarget(text: string): string | undefined {
  if (typeof text !== "string" || text.length > 64) return undefined;
  if (text.indexOf("/") < 0) return canonicalIp(text);
  return parseCidr(text)?.text;
}

/**
 * The targets whose bans block `target`: itself, and when it is a single address, every banned range that
 * contains it (an IPv6 attacker is banned per /64, so `unban 2001:db8::5` must lift `2001:db8::/64`).
 * `banned` lists the targets currently banned; the result keeps `target` first.
 */
export function coveringTargets(target: string, banned: Iterable<string>): string[] {
  const out = [target];
  if (target.indexOf("/") >= 0) return out;
  const ip = parseIp(target);
  if (!ip) return out;
  for (const b of banned) {
    if (b === target || b.indexOf("/") < 0 || out.includes(b)) continue;
    const c = parseCidr(b);
    if (c && cidrContains(c, ip)) out.push(b);
  }
  return out;
}
