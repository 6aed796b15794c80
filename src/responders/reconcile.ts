/**
 * Reconcile: make a responder's enforcement point hold exactly the desired bans (the store's active decisions).
 * Run on start and periodically by the daemon. It reads the truth with `list()` and repairs with ONE batched
 * `remove` and ONE batched `apply`, so restoring 100k bans after `nft flush ruleset` is one transaction.
 *
 * - desired entries already expired at `now` are not desired (bans that expired while the daemon was down are
 *   removed: they are in `list()` but not desired);
 * - for responders with native expiry, an enforced entry whose expiry differs from the desired one by more than
 *   `toleranceMs` is re-applied (`refreshed`): an extended ban must not expire early, a shortened one not late.
 *   An entry enforced without expiry (e.g. ipset stores bans longer than 24.8 days as permanent) is left alone:
 *   the reconcile after the desired expiry removes it;
 * - removal runs before apply, so a prefix that replaces an overlapping one can be added;
 * - a desired target missing from `list()` but inside a wider listed prefix that stays (it is desired too) and
 *   lasts at least as long (within `toleranceMs`) is enforced by that prefix: it is `kept`, not re-applied.
 *   nftables' interval sets hold no overlapping elements, so a narrower ban is absent while a wider one covers
 *   it. When the wider prefix is removed, or lasts shorter than the narrower ban, the narrower one is applied
 *   again (and a wider prefix that is not desired does not count: it is removed in this same run).
 */
import { parseCidr } from "../core/ip.ts";
import { PrefixIndex } from "./common.ts";
import type { BanEntry, EntryResult, Responder } from "./types.ts";

export interface ReconcileResult {
  /** Desired targets that were missing and are now applied. */
  added: string[];
  /** Enforced targets that were not desired and are now removed. */
  removed: string[];
  /** Desired targets already enforced (with a close enough expiry). */
  kept: string[];
  /** Desired targets enforced with a different expiry, re-applied. */
  refreshed: string[];
  /** Per-entry failures of the repair (and desired targets that are not addresses or CIDRs). */
  failed: EntryResult[];
}

export interface ReconcileOptions {
  /** Expiry difference tolerated before a native-expiry entry is re-applied (default 10 s). */
  toleranceMs?: number;
  /** Call `setup()` first (default true): a flushed firewall lost its tables and sets too. */
  setup?: boolean;
}

function key(target: string): string | undefined {
  return parseCidr(target)?.text;
}

export async function reconcile(
  responder: Responder,
  desired: readonly BanEntry[],
  now: number,
  options: ReconcileOptions = {},
): Promise<ReconcileResult> {
  const tolerance = options.toleranceMs ?? 10_000;
  const result: ReconcileResult = { added: [], removed: [], kept: [], refreshed: [], failed: [] };
  const want = new Map<string, BanEntry>();
  for (const e of desired) {
    const k = key(e.target);
    if (!k) {
      result.failed.push({ target: e.target, ok: false, error: "not an IP address or CIDR" });
      continue;
    }
    if (!(e.expires > now)) continue;
    const seen = want.get(k);
    if (!seen || e.expires > seen.expires) want.set(k, { target: k, expires: e.expires });
  }

  if (options.setup ?? true) await responder.setup();
  const have = new Map<string, number>();
  for (const e of await responder.list()) {
    const k = key(e.target) ?? e.target;
    have.set(k, Math.max(have.get(k) ?? -Infinity, e.expires));
  }

  const toRemove: string[] = [];
  for (const k of have.keys()) if (!want.has(k)) toRemove.push(k);
  // Enforced prefixes that stay, by the expiry they will have after this run (the desired one).
  const wider = new PrefixIndex<number>();
  for (const k of have.keys()) {
    const c = parseCidr(k);
    const stays = want.get(k);
    if (c && stays) wider.add(c, stays.expires);
  }
  const covered = (e: BanEntry) => {
    const c = parseCidr(e.target);
    return !!c && wider.covering(c).some((expires) => expires >= e.expires - tolerance);
  };
  const toAdd: BanEntry[] = [];
  const refresh = new Set<string>();
  for (const [k, e] of want) {
    const current = have.get(k);
    if (current === undefined) {
      if (covered(e)) result.kept.push(k);
      else toAdd.push(e);
    } else if (
      responder.nativeExpiry &&
      Number.isFinite(current) &&
      Math.abs(current - e.expires) > tolerance
    ) {
      toAdd.push(e);
      refresh.add(k);
    } else result.kept.push(k);
  }

  if (toRemove.length) {
    for (const res of await responder.remove(toRemove)) {
      if (res.ok) result.removed.push(res.target);
      else result.failed.push(res);
    }
  }
  if (toAdd.length) {
    for (const res of await responder.apply(toAdd)) {
      if (!res.ok) result.failed.push(res);
      else if (refresh.has(res.target)) result.refreshed.push(res.target);
      else result.added.push(res.target);
    }
  }
  return result;
}
