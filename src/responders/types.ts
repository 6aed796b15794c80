/**
 * The responder stage: enforce decisions. A responder keeps a set of banned targets (addresses or CIDRs) with
 * expiries in some enforcement point (nftables set, ipset, ufw rules, a remote firewall, ...).
 *
 * Contract for implementations:
 * - every operation is idempotent: applying a present target or removing an absent one succeeds;
 * - operations are batched: `apply` of 100k entries is a handful of commands/requests, not 100k;
 * - results are per entry: one bad entry never fails the others;
 * - never build a shell string: spawn executables with argument arrays (core/exec.ts), and validate every
 *   target with core/ip.ts before it reaches a command line or file;
 * - `list` returns what is really enforced (for reconcile), not what the responder believes;
 * - `healthcheck` probes without side effects;
 * - a responder never retries on its own beyond its documented retry policy, and never reads the wall clock
 *   (expiries come in the entries; `now` where needed comes from the injected Clock).
 */
import type { Health } from "../core/plugin.ts";

export interface BanEntry {
  /** Canonical address or CIDR. */
  target: string;
  /** Epoch ms; the responder uses native expiry where it has one (nftables/ipset timeouts). */
  expires: number;
}

export interface EntryResult {
  target: string;
  ok: boolean;
  error?: string;
}

export interface Responder {
  readonly name: string;
  readonly type: string;
  /** Creates tables/sets/chains the responder needs (idempotent). Called before the first apply. */
  setup(): Promise<void>;
  apply(entries: readonly BanEntry[]): Promise<EntryResult[]>;
  remove(targets: readonly string[]): Promise<EntryResult[]>;
  /** What is currently enforced. */
  list(): Promise<BanEntry[]>;
  healthcheck(): Promise<Health>;
  /** Whether entries expire by themselves in the enforcement point (no remove needed at expiry). */
  readonly nativeExpiry: boolean;
  /** Removes everything the responder created (tables, sets, rules); used by tests and `--cleanup`. */
  teardown?(): Promise<void>;
}
