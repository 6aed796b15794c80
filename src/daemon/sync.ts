/**
 * DecisionSync: keeps every responder in line with the decision store.
 * - `applyNow`/`removeNow`: the fast path after a decision (coalesced per responder: while one batch runs,
 *   new entries queue up and go out together in the next one);
 * - `syncPending`: decisions made by other processes (CLI, API replicas) and retries of failed ones;
 * - `reconcileAll`: on start and periodically, compare what each firewall really holds with the store and
 *   repair it in one batch (a flushed firewall gets its bans back; bans that expired while down are removed).
 * Bans and unbans of one target may cross on a responder (an unban while the ban's apply is still running, a new
 * ban while the removal of an ended one is under way): each batch settles them against the store, inside the
 * responder's queue, so that the firewall ends in the state of the last request (see #runJobs).
 * Every result is recorded per decision and responder, with an audit record for failures and repairs.
 */
import type { Clock } from "../core/clock.ts";
import type { Decision } from "../core/decision.ts";
import type { Logger } from "../core/logger.ts";
import { cidrCovers, parseCidr } from "../core/ip.ts";
import { reconcile } from "../responders/reconcile.ts";
import type { BanEntry, Responder } from "../responders/types.ts";
import type { AuditRecord, Store, StoredDecision } from "../store/store.ts";
import type { Metrics } from "./metrics.ts";

interface Job {
  op: "apply" | "remove";
  decision: Decision;
  done: () => void;
  /** Why the daemon removes this entry on its own, audited once it is removed (see #removeEndedMeanwhile). */
  why?: string;
}

const SYSTEM = { type: "rule" as const, name: "portcullis" };
const RETRY_BASE_MS = 2_000;
const RETRY_MAX_MS = 300_000;

/** Work that runs alone on a responder: nothing is applied or removed while it runs (reconcile). */
interface Exclusive {
  exclusive: () => Promise<void>;
}

class ResponderQueue {
  readonly responder: Responder;
  #jobs: (Job | Exclusive)[] = [];
  #running: Promise<void> | undefined;
  constructor(
    responder: Responder,
    readonly run: (q: ResponderQueue, jobs: Job[]) => Promise<void>,
  ) {
    this.responder = responder;
  }
  push(job: Job): void {
    this.#jobs.push(job);
    this.#running ??= this.#drain();
  }
  /** Runs `fn` when the jobs queued before it are done, with no other job running until it ends. */
  exclusive(fn: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#jobs.push({ exclusive: () => fn().then(resolve, reject) });
      this.#running ??= this.#drain();
    });
  }
  async #drain(): Promise<void> {
    try {
      while (this.#jobs.length) {
        const first = this.#jobs[0]!;
        if ("exclusive" in first) {
          this.#jobs.shift();
          await first.exclusive().catch(() => undefined);
          continue;
        }
        // A batch: every job up to the next exclusive one.
        const cut = this.#jobs.findIndex((j) => "exclusive" in j);
        const jobs = (cut < 0 ? this.#jobs.splice(0) : this.#jobs.splice(0, cut)) as Job[];
        await this.run(this, jobs);
      }
    } finally {
      this.#running = undefined;
    }
  }
  idle(): Promise<void> {
    return this.#running ?? Promise.resolve();
  }
}

export class DecisionSync {
  readonly responders: readonly Responder[];
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #metrics: Metrics | undefined;
  readonly #queues: ResponderQueue[];
  /**
   * Entries a responder refused, by decision and responder: retries back off exponentially (2 s doubling to
   * 5 min) instead of running every sync tick, and only the first failure is audited.
   */
  readonly #failing = new Map<string, { count: number; next: number }>();

  constructor(opts: {
    responders: readonly Responder[];
    store: Store;
    clock: Clock;
    logger: Logger;
    metrics?: Metrics;
  }) {
    this.responders = opts.responders;
    this.#store = opts.store;
    this.#clock = opts.clock;
    this.#log = opts.logger;
    this.#metrics = opts.metrics;
    this.#queues = opts.responders.map((r) => new ResponderQueue(r, (q, jobs) => this.#runJobs(q, jobs)));
  }

  get names(): string[] {
    return this.responders.map((r) => r.name);
  }

  /** Sets up every responder (tables, sets, chains). Failures are logged and surface in health. */
  async setup(): Promise<void> {
    for (const r of this.responders) {
      try {
        await r.setup();
      } catch (e) {
        this.#log.error({ responder: r.name, err: (e as Error).message }, "responder setup failed");
      }
    }
  }

  /** Enforces decisions on every responder; resolves when every responder has finished (or failed) them. */
  applyNow(decisions: readonly Decision[]): Promise<void> {
    return this.#enqueue("apply", decisions);
  }

  removeNow(decisions: readonly Decision[]): Promise<void> {
    return this.#enqueue("remove", decisions);
  }

  #enqueue(op: "apply" | "remove", decisions: readonly Decision[]): Promise<void> {
    const live = decisions.filter((d) => !d.simulated);
    if (!live.length || !this.#queues.length) return Promise.resolve();
    return Promise.all(
      this.#queues.flatMap((q) =>
        live.map((decision) => new Promise<void>((done) => q.push({ op, decision, done }))),
      ),
    ).then(() => undefined);
  }

  async idle(): Promise<void> {
    await Promise.all(this.#queues.map((q) => q.idle()));
  }

  async #runJobs(q: ResponderQueue, jobs: Job[]): Promise<void> {
    const r = q.responder;
    const now = this.#clock.now();
    const updates: {
      decisionId: string;
      responder: string;
      status: "applied" | "failed" | "removed";
      error?: string;
    }[] = [];
    const audit: AuditRecord[] = [];
    /** Decisions whose entry this batch enforced: checked afterwards for an end that came meanwhile. */
    const applied: Decision[] = [];
    try {
      // The requests for one target in a batch (what queued up while the previous batch ran) are settled
      // together, and the ones not sent are answered as superseded:
      // - a decision's remove (it ended) beats its own apply: a ban revoked before it was enforced is never
      //   applied;
      // - a decision left to apply owns the target: the removes of other, ended decisions of that target are not
      //   sent. The queue's order is not the store's: the removal of an expired ban can be queued after the
      //   apply of the ban that replaced it (both decided at the same time), and sending it would lift the new one.
      const removing = new Set(jobs.filter((j) => j.op === "remove").map((j) => j.decision.id));
      const wanted = new Set(
        jobs.filter((j) => j.op === "apply" && !removing.has(j.decision.id)).map((j) => j.decision.target),
      );
      // A target owned by an active decision outside the batch keeps its entry too: banned again after the
      // removal was decided, its apply already done (sending the remove would lift it) or queued behind this one.
      // Read here, inside the responder's queue, where no apply of this responder runs meanwhile.
      const removals = jobs.filter((j) => j.op === "remove" && !wanted.has(j.decision.target));
      const owned = removals.length
        ? await this.#store.enforcedTargets(
            removals.map((j) => j.decision.target),
            now,
            removing,
          )
        : new Set<string>();
      const sent = (j: Job) =>
        j.op === "apply"
          ? !removing.has(j.decision.id)
          : !wanted.has(j.decision.target) && !owned.has(j.decision.target);
      for (const j of jobs) {
        if (!sent(j)) updates.push({ decisionId: j.decision.id, responder: r.name, status: "removed" });
      }
      for (const op of ["remove", "apply"] as const) {
        const batch = jobs.filter((j) => j.op === op && sent(j));
        if (!batch.length) continue;
        const why = new Map(batch.flatMap((j) => (j.why ? [[j.decision.id, j.why] as const] : [])));
        // The latest decision per target wins within a batch. A decision asked twice (the removal decided at
        // its end and the one after its in-flight apply, see #removeEndedMeanwhile) is answered once.
        const byTarget = new Map<string, Decision[]>();
        for (const j of batch) {
          const ds = byTarget.get(j.decision.target) ?? [];
          if (!ds.some((d) => d.id === j.decision.id)) byTarget.set(j.decision.target, [...ds, j.decision]);
        }
        const started = performance.now();
        let results: { target: string; ok: boolean; error?: string }[];
        try {
          if (op === "apply") {
            const entries: BanEntry[] = [...byTarget.values()].map((ds) => ({
              target: ds[0]!.target,
              expires: Math.max(...ds.map((d) => d.expires)),
            }));
            results = await r.apply(entries);
          } else {
            results = await r.remove([...byTarget.keys()]);
          }
        } catch (e) {
          results = [...byTarget.keys()].map((target) => ({
            target,
            ok: false,
            error: (e as Error).message,
          }));
        }
        this.#metrics?.responderSeconds.observe(
          { responder: r.name, op },
          (performance.now() - started) / 1000,
        );
        const byResult = new Map(results.map((x) => [x.target, x]));
        for (const [target, ds] of byTarget) {
          const res = byResult.get(target) ?? {
            target,
            ok: false,
            error: "responder returned no result for this entry",
          };
          this.#metrics?.responderOps.inc({ responder: r.name, op, result: res.ok ? "ok" : "error" });
          for (const d of ds) {
            updates.push({
              decisionId: d.id,
              responder: r.name,
              status: res.ok ? (op === "apply" ? "applied" : "removed") : "failed",
              ...(res.ok ? {} : { error: res.error ?? "failed" }),
            });
            const key = `${d.id}\u0000${r.name}`;
            if (res.ok) {
              this.#failing.delete(key);
              if (op === "apply") applied.push(d);
              const reason = why.get(d.id);
              if (reason) {
                audit.push({
                  at: now,
                  actor: SYSTEM,
                  action: "remove",
                  target,
                  decisionId: d.id,
                  detail: { responder: r.name, reason },
                });
              }
            } else {
              // Retried with backoff (see #failing); audited and logged once, not at every retry.
              const f = this.#failing.get(key);
              const count = (f?.count ?? 0) + 1;
              this.#failing.set(key, {
                count,
                next: now + Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** (count - 1)),
              });
              if (f) continue;
              audit.push({
                at: now,
                actor: SYSTEM,
                action: op === "apply" ? "apply_failed" : "remove_failed",
                target,
                decisionId: d.id,
                detail: { responder: r.name, error: res.error ?? "failed" },
              });
              this.#log.warn({ responder: r.name, op, target, err: res.error }, "responder entry failed");
            }
          }
        }
      }
      await this.#store.setStatus(updates, now, audit);
      if (applied.length) await this.#removeEndedMeanwhile(q, applied, now);
    } catch (e) {
      this.#log.error({ responder: r.name, err: (e as Error).message }, "recording responder results failed");
    } finally {
      for (const j of jobs) j.done();
    }
  }

  /**
   * Removes at once the entries just applied for decisions that ended while their apply was in flight (an
   * operator's or a SIEM's unban, the expiry). The removal decided at that end found the entry not applied yet
   * (status pending, or no status for a ban made by another process) and left it alone; waiting for the next
   * periodic pass would leave the address blocked while the store says it is not. The store is read after this
   * batch's status was written, so every end is seen by one side: either that removal read "applied" and queued
   * a remove, or this reads the end (both may: a remove is idempotent).
   *
   * The removes are queued on this responder behind what is already waiting (never awaited here: this runs
   * inside the queue), and the next batch settles them against the store: a newer ban of the target keeps its
   * entry. Narrower range bans that an ended range covered are applied again after them, as
   * {@link #restoreCovered} does.
   */
  async #removeEndedMeanwhile(q: ResponderQueue, decisions: readonly Decision[], now: number): Promise<void> {
    const ended = await this.#store.endedAmong(decisions.map((d) => d.id));
    if (!ended.length) return;
    const r = q.responder;
    // Like #removeEnded: an expired entry of a native-expiry responder is gone by itself.
    const gone = r.nativeExpiry ? ended.filter((d) => d.state === "expired" && d.expires <= now) : [];
    if (gone.length) {
      await this.#store.setStatus(
        gone.map((d) => ({ decisionId: d.id, responder: r.name, status: "removed" as const })),
        now,
      );
    }
    const remove = ended.filter((d) => !gone.includes(d));
    const why = "the decision ended while its apply was in flight";
    for (const decision of remove) q.push({ op: "remove", decision, done: () => undefined, why });
    for (const decision of await this.#covered(remove)) {
      q.push({ op: "apply", decision, done: () => undefined });
    }
  }

  /** Applies what the store says is pending or failed, removes what ended but is still applied. */
  async syncPending(): Promise<{ applied: number; removed: number }> {
    const now = this.#clock.now();
    const work = await this.#store.pendingWork(this.names, now);
    const remove = work.remove;
    // A decision whose entry failed waits for its retry time (on every responder it failed on).
    const apply = work.apply.filter((d) =>
      this.names.every((n) => (this.#failing.get(`${d.id}\u0000${n}`)?.next ?? 0) <= now),
    );
    await Promise.all([this.applyNow(apply), this.#removeEnded(remove)]);
    return { applied: apply.length, removed: remove.length };
  }

  /**
   * Removes ended decisions; for native-expiry responders an expired entry is already gone. A target banned
   * again since (a new decision is active) keeps its firewall entry: the new ban owns it, the ended decision is
   * only marked removed.
   */
  async #removeEnded(all: StoredDecision[]): Promise<void> {
    if (!all.length) return;
    const now = this.#clock.now();
    const native: { decisionId: string; responder: string; status: "removed" }[] = [];
    const owned = await this.#store.enforcedTargets(
      all.map((d) => d.target),
      now,
    );
    const ended = all.filter((d) => !owned.has(d.target));
    for (const d of all) for (const n of this.names) this.#failing.delete(`${d.id}\u0000${n}`);
    for (const d of all) {
      if (!owned.has(d.target)) continue;
      for (const r of this.responders) {
        if (d.status[r.name] === "applied")
          native.push({ decisionId: d.id, responder: r.name, status: "removed" });
      }
    }
    const jobs: Promise<void>[] = [];
    for (const q of this.#queues) {
      const r = q.responder;
      const mine = ended.filter((d) => d.status[r.name] === "applied");
      const gone = r.nativeExpiry ? mine.filter((d) => d.state === "expired" && d.expires <= now) : [];
      for (const d of gone) native.push({ decisionId: d.id, responder: r.name, status: "removed" });
      const toRemove = mine.filter((d) => !gone.includes(d));
      jobs.push(
        ...toRemove.map((decision) => new Promise<void>((done) => q.push({ op: "remove", decision, done }))),
      );
    }
    if (native.length) await this.#store.setStatus(native, now);
    await Promise.all(jobs);
    await this.#restoreCovered(ended);
  }

  /**
   * A range ban that ended may have covered narrower range bans still in force (a firewall may keep only the
   * widest of overlapping prefixes, as nftables interval sets do): apply those again at once rather than at the
   * next reconcile. Idempotent where the narrower entries were kept.
   */
  async #restoreCovered(ended: readonly StoredDecision[]): Promise<void> {
    await this.applyNow(await this.#covered(ended));
  }

  /** The active range bans, narrower than one of the `ended` ranges, that it covered. */
  async #covered(ended: readonly StoredDecision[]): Promise<Decision[]> {
    const wide = ended.flatMap((d) => {
      const c = d.target.indexOf("/") > 0 ? parseCidr(d.target) : undefined;
      return c ? [c] : [];
    });
    if (!wide.length) return [];
    const gone = new Set(ended.map((d) => d.target));
    const inner = (await this.#store.activeRanges()).filter((t) => {
      if (gone.has(t)) return false;
      const c = parseCidr(t);
      return c !== undefined && wide.some((w) => w.prefix < c.prefix && cidrCovers(w, c));
    });
    if (!inner.length) return [];
    const now = this.#clock.now();
    const decisions: Decision[] = [];
    for (const t of inner) {
      for (const d of await this.#store.listDecisions({ state: "active", target: t, limit: 10 })) {
        if (!d.simulated && d.expires > now) decisions.push(d);
      }
    }
    return decisions;
  }

  async removeEnded(ended: StoredDecision[]): Promise<void> {
    return this.#removeEnded(ended);
  }

  /**
   * Compares each responder with the store and repairs it in one batch; records what changed. Each runs as an
   * exclusive job of its responder's queue, and reads the store inside it: a ban made meanwhile is either in
   * the snapshot or applied after the reconcile, never removed by it as "not wanted".
   */
  async reconcileAll(): Promise<void> {
    await Promise.all(this.#queues.map((q) => q.exclusive(() => this.#reconcileOne(q.responder))));
  }

  async #reconcileOne(r: Responder): Promise<void> {
    const now = this.#clock.now();
    const active = (await this.#store.activeDecisions(now)).filter((d) => !d.simulated);
    const desired: BanEntry[] = active.map((d) => ({ target: d.target, expires: d.expires }));
    try {
      const res = await reconcile(r, desired, now);
      const failed = new Set(res.failed.map((f) => f.target));
      const updates = active
        .filter((d) => !failed.has(d.target) && d.status[r.name] !== "applied")
        .map((d) => ({ decisionId: d.id, responder: r.name, status: "applied" as const }));
      const changed = res.added.length + res.removed.length + res.refreshed.length + res.failed.length;
      const audit: AuditRecord[] = changed
        ? [
            {
              at: now,
              actor: SYSTEM,
              action: "reconcile",
              detail: {
                responder: r.name,
                added: res.added.length,
                removed: res.removed.length,
                refreshed: res.refreshed.length,
                kept: res.kept.length,
                failed: res.failed.slice(0, 20),
              },
            },
          ]
        : [];
      await this.#store.setStatus(updates, now, audit);
      if (changed) {
        this.#log.info(
          {
            responder: r.name,
            added: res.added.length,
            removed: res.removed.length,
            refreshed: res.refreshed.length,
            failed: res.failed.length,
          },
          "reconciled responder with the store",
        );
      }
    } catch (e) {
      this.#log.error({ responder: r.name, err: (e as Error).message }, "reconcile failed");
    }
  }
}
