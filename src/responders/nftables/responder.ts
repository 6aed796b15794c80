/**
 * nftables responder: an own `inet` table with four named sets (IPv4/IPv6 addresses with per-element timeouts,
 * IPv4/IPv6 prefixes in interval sets), one `ban` chain holding one rule per set, and one rule (`jump ban`) in
 * each configured base chain (`input`, `forward`). Every change is one atomic transaction through `nft -f -`;
 * the kernel expires elements by itself. Before an apply writes anything, the table's layout (sets, chains and
 * their rules) is checked (cached for {@link NFT_READY_TTL_MS}) and set up again when something is missing, so
 * bans are never reported applied into sets no rule matches.
 */
import { cidrCovers, type Cidr } from "../../core/ip.ts";
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import {
  PrefixIndex,
  ResponderError,
  applyFailures,
  chunkOutcome,
  failEntries,
  errorText,
  groupBy,
  isolate,
  parseTarget,
  prepareEntries,
  prepareTargets,
  remainingMs,
  type ChunkOutcome,
  type Item,
  type Target,
} from "../common.ts";
import { LocalResponder } from "../local.ts";
import type { BanEntry, EntryResult, Responder } from "../types.ts";
import { nftablesConfig, type NftablesConfig } from "./config.ts";

/** Set names inside the table, by family and kind. */
export const NFT_SETS = ["ban4", "ban6", "ban4net", "ban6net"] as const;

/**
 * Longest element timeout written (100,000 days, ~273 years). The kernel keeps timeouts as u64 nanoseconds and
 * refuses more than ~213,503 days ("Numerical result out of range"); a longer ban is written without timeout,
 * like ipset's, and the reconcile after its end removes it.
 */
export const NFT_MAX_TIMEOUT_S = 100_000 * 86_400;

/**
 * `seconds` as an nft time string (`400d`, `1d2h3m4s`). nft 1.0.6 refuses any single number above 99,999,999
 * ("value too large"): a millisecond count above 27.8 hours, a second count above 3.17 years. Splitting into
 * days, hours, minutes and seconds keeps every number small (10 years is `3650d`).
 */
export function nftTime(seconds: number): string {
  let rest = Math.max(0, Math.ceil(seconds));
  const parts: string[] = [];
  for (const [unit, size] of [
    ["d", 86_400],
    ["h", 3_600],
    ["m", 60],
    ["s", 1],
  ] as const) {
    const n = Math.floor(rest / size);
    rest -= n * size;
    if (n > 0) parts.push(`${n}${unit}`);
  }
  return parts.join("") || "0s";
}

/**
 * How long a check that found the table complete counts (ms of the injected clock): applies within it run no
 * extra command. A setup, a failed transaction, a teardown or a healthcheck that finds something missing ends
 * it at once; otherwise rules removed behind our back (`nft flush table`) are noticed by the first apply after
 * it.
 */
export const NFT_READY_TTL_MS = 5_000;

function setOf(t: { family: 4 | 6; prefix: boolean }): string {
  return `ban${t.family}${t.prefix ? "net" : ""}`;
}

/** A transaction script, and what to note in the known set content once it succeeded. */
interface Rendered {
  script: string;
  commit?: () => void;
}

/** One element of an interval set, as read with `nft -j list`. */
interface NetElement {
  key: string;
  cidr: Cidr;
}

/** The content of the interval sets (`ban4net`, `ban6net`), read when a batch met an overlap. */
type NetState = Map<string, NetElement[]>;

interface ChainInfo {
  name: string;
  type?: string;
  hook?: string;
  prio?: number;
}

/** The table's declarations and rules, as read with `nft -j -t list table` (terse: no set elements). */
interface TableLayout {
  sets: Set<string>;
  chains: Map<string, ChainInfo>;
  /** Each chain's rules, in order, in nft syntax as {@link ruleText} renders them. */
  rules: Map<string, string[]>;
}

/**
 * A rule of `nft -j list` output in the nft syntax setup writes (`ip saddr @ban4 counter reject`, `jump ban`),
 * for the statements we write and plain verdicts; anything else renders as its JSON key (`?log`), which matches
 * nothing we expect. Arguments of verdicts (reject's ICMP type) and counter values are left out.
 */
export function ruleText(expr: unknown): string {
  if (!Array.isArray(expr)) return "?";
  return expr
    .map((stmt: unknown) => {
      if (!stmt || typeof stmt !== "object") return "?";
      const [key, v] = Object.entries(stmt as Record<string, unknown>)[0] ?? ["?", undefined];
      if (key === "match") {
        const m = (v ?? {}) as {
          op?: unknown;
          left?: { payload?: { protocol?: unknown; field?: unknown } };
          right?: unknown;
        };
        const p = m.left?.payload;
        if (
          (m.op === "==" || m.op === "in") &&
          p &&
          typeof p.protocol === "string" &&
          typeof p.field === "string" &&
          typeof m.right === "string"
        )
          return `${p.protocol} ${p.field} ${m.right}`;
        return "?match";
      }
      if (key === "jump" || key === "goto") {
        const target = (v as { target?: unknown } | null)?.target;
        return typeof target === "string" ? `${key} ${target}` : `?${key}`;
      }
      if (["counter", "reject", "drop", "accept", "return", "continue"].includes(key)) return key;
      return `?${key}`;
    })
    .join(" ");
}

/** Whether a failed `nft list table` says the table does not exist (not that nft could not run at all). */
function tableMissing(stderr: string): boolean {
  return /Error: No such file or directory/.test(stderr) && !/exec of .* failed/i.test(stderr);
}

/** The value of one element of `nft -j list set` output, or undefined for shapes we do not write. */
function elementText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (v && typeof v === "object" && "prefix" in v) {
    const p = (v as { prefix: { addr?: unknown; len?: unknown } }).prefix;
    if (typeof p.addr === "string" && typeof p.len === "number") return `${p.addr}/${p.len}`;
  }
  return undefined;
}

export class NftablesResponder extends LocalResponder<"nftables", NftablesConfig> implements Responder {
  readonly nativeExpiry = true;
  /** Clock time of the last check that found the table complete (or of the setup that made it so). */
  #verifiedAt: number | undefined;
  /** What the last check of the table found missing (for the log). */
  #problems: string[] = [];

  constructor(config: NftablesConfig, ctx: PluginContext) {
    super("nftables", config, ctx);
  }

  get #t(): string {
    return `inet ${this.config.table}`;
  }

  /** Runs one `nft -f -` transaction; returns undefined on success, the error otherwise. */
  async #transaction(script: string): Promise<ChunkOutcome> {
    const r = await this.commands.run([this.config.nft_path, "-f", "-"], script);
    return chunkOutcome(r, /Operation not permitted|exec of .* failed|Cannot open network namespace/i);
  }

  /**
   * The table's sets, chains and rules (`nft -j -t list table`: terse, so without set elements, as cheap with
   * 100k bans as with none), or undefined when the table does not exist. Throws when nft cannot be run.
   */
  async #layout(): Promise<TableLayout | undefined> {
    const c = this.config;
    const argv = [c.nft_path, "-j", "-t", "list", "table", "inet", c.table];
    const r = await this.commands.run(argv);
    if (r.code !== 0) {
      if (tableMissing(r.stderr)) return undefined;
      throw new ResponderError(`nft list table ${this.#t}: ${errorText(r)}`, argv, r.code);
    }
    const doc = JSON.parse(r.stdout) as {
      nftables?: {
        set?: { name: string; table: string; family: string };
        chain?: ChainInfo & { family: string; table: string };
        rule?: { family: string; table: string; chain: string; expr?: unknown };
      }[];
    };
    const layout: TableLayout = { sets: new Set(), chains: new Map(), rules: new Map() };
    const ours = (o: { family: string; table: string }) => o.family === "inet" && o.table === c.table;
    for (const o of doc.nftables ?? []) {
      if (o.set && ours(o.set)) layout.sets.add(o.set.name);
      if (o.chain && ours(o.chain)) layout.chains.set(o.chain.name, o.chain);
      if (o.rule && ours(o.rule)) {
        const list = layout.rules.get(o.rule.chain) ?? [];
        list.push(ruleText(o.rule.expr));
        layout.rules.set(o.rule.chain, list);
      }
    }
    return layout;
  }

  /** The rules of the `ban` chain, in the order setup writes them. */
  #banRules(): string[] {
    const stmt = `${this.config.counters ? "counter " : ""}${this.config.verdict}`;
    return [
      `ip saddr @ban4 ${stmt}`,
      `ip saddr @ban4net ${stmt}`,
      `ip6 saddr @ban6 ${stmt}`,
      `ip6 saddr @ban6net ${stmt}`,
    ];
  }

  /**
   * What the table lacks against the config (sets, the `ban` chain and exactly its rules, each configured base
   * chain with its hook and priority holding exactly `jump ban`, no base chain of ours on another hook); empty
   * when it is complete. Throws when nft cannot be run.
   */
  async #check(): Promise<string[]> {
    const c = this.config;
    const layout = await this.#layout();
    if (!layout) return [`table ${this.#t} missing (setup not run, or flushed)`];
    const problems: string[] = [];
    const sets = NFT_SETS.filter((n) => !layout.sets.has(n));
    if (sets.length) problems.push(`sets missing: ${sets.join(", ")}`);
    const chains = ["ban", ...c.hooks].filter((h) => !layout.chains.has(h));
    if (chains.length) problems.push(`chains missing: ${chains.join(", ")}`);
    const exactly = (chain: string, want: readonly string[], what: string) => {
      if (!layout.chains.has(chain)) return;
      const have = layout.rules.get(chain) ?? [];
      const missing = want.filter((w) => !have.includes(w));
      const extra = have.filter((h) => !want.includes(h) || have.filter((x) => x === h).length > 1);
      if (missing.length)
        problems.push(`${what}${missing.length < want.length ? ` (${missing.join(", ")})` : ""}`);
      if (extra.length)
        problems.push(`chain ${chain} holds rules setup did not write: ${[...new Set(extra)].join(", ")}`);
    };
    exactly("ban", this.#banRules(), "chain ban lacks its rules");
    for (const hook of ["input", "forward"] as const) {
      const chain = layout.chains.get(hook);
      if (!c.hooks.includes(hook)) {
        if (chain?.hook)
          problems.push(`chain ${hook} hooked into ${chain.hook}, but ${hook} is not configured`);
        continue;
      }
      if (!chain) continue;
      if (chain.type !== "filter" || chain.hook !== hook || chain.prio !== c.priority)
        problems.push(
          `chain ${hook} is not a filter chain on hook ${hook} priority ${c.priority} ` +
            `(${chain.type ?? "no type"}, hook ${chain.hook ?? "none"}, priority ${chain.prio ?? "none"})`,
        );
      exactly(hook, ["jump ban"], `${hook} does not jump to ban`);
    }
    return problems;
  }

  /**
   * Whether the table is complete. A check that found it so counts for {@link NFT_READY_TTL_MS}: apply asks
   * this before writing, and most applies then run no extra command. Any doubt is "not ready" (set it up).
   */
  async #ready(): Promise<boolean> {
    const now = this.clock.now();
    const at = this.#verifiedAt;
    if (at !== undefined && now >= at && now - at < NFT_READY_TTL_MS) return true;
    this.#verifiedAt = undefined;
    try {
      this.#problems = await this.#check();
    } catch (e) {
      this.#problems = [`nft not usable: ${(e as Error).message}`];
    }
    if (this.#problems.length) return false;
    this.#verifiedAt = now;
    return true;
  }

  /** Sets the table up again after {@link #ready} said it is not complete; returns the error when that failed. */
  async #repair(): Promise<Error | undefined> {
    this.logger.warn(
      { table: this.#t, problems: this.#problems },
      "table missing or incomplete; setting it up again",
    );
    try {
      await this.#setup();
      return undefined;
    } catch (e) {
      return e as Error;
    }
  }

  setup(): Promise<void> {
    return this.serial.run(() => this.#setup());
  }

  async #setup(): Promise<void> {
    const c = this.config;
    const T = this.#t;
    this.#verifiedAt = undefined;
    const chains = (await this.#layout())?.chains ?? new Map<string, ChainInfo>();
    const lines = [
      `add table ${T}`,
      `add set ${T} ban4 { type ipv4_addr; flags timeout; }`,
      `add set ${T} ban6 { type ipv6_addr; flags timeout; }`,
      `add set ${T} ban4net { type ipv4_addr; flags interval, timeout; }`,
      `add set ${T} ban6net { type ipv6_addr; flags interval, timeout; }`,
      `add chain ${T} ban`,
      `flush chain ${T} ban`,
      ...this.#banRules().map((rule) => `add rule ${T} ban ${rule}`),
    ];
    for (const hook of ["input", "forward"] as const) {
      const existing = chains.get(hook);
      const wanted = c.hooks.includes(hook);
      const same = existing && existing.hook === hook && existing.prio === c.priority;
      if (existing) lines.push(`flush chain ${T} ${hook}`);
      // A base chain's hook or priority cannot be changed in place: replace it in the same transaction.
      if (existing && (!wanted || !same)) lines.push(`delete chain ${T} ${hook}`);
      if (wanted) {
        if (!same) {
          lines.push(
            `add chain ${T} ${hook} { type filter hook ${hook} priority ${c.priority}; policy accept; }`,
          );
        }
        lines.push(`add rule ${T} ${hook} jump ban`);
      }
    }
    const outcome = await this.#transaction(lines.join("\n") + "\n");
    if (outcome !== undefined) {
      const msg = typeof outcome === "string" ? outcome : outcome.all;
      throw new ResponderError(
        `nftables setup of table ${T} failed: ${msg} (a table of that name with another layout? run teardown)`,
        [c.nft_path, "-f", "-"],
        1,
      );
    }
    // one atomic transaction wrote the whole layout: it is complete now
    this.#verifiedAt = this.clock.now();
    this.logger.debug({ table: T, hooks: c.hooks }, "nftables table ready");
  }

  /**
   * Runs `render(chunk)` as transactions, isolating failing entries. On the first failure it checks the table:
   * if it vanished (`nft flush ruleset`), it is set up again and the chunk retried. When a chunk fails and
   * `reload(error)` says it learnt something (the interval sets' content after an overlap), the chunk is
   * rendered and run once more.
   */
  async #batch(
    items: readonly Item[],
    render: (chunk: readonly Item[]) => Rendered,
    reload?: (error: string) => Promise<boolean>,
  ): Promise<Map<Item, string>> {
    let checked = false;
    const run = async (r: Rendered): Promise<ChunkOutcome> => {
      // Everything of the chunk is already in force (covered prefixes): nothing to run.
      const outcome = r.script === "" ? undefined : await this.#transaction(r.script);
      if (outcome === undefined) r.commit?.();
      return outcome;
    };
    return isolate(items, async (chunk) => {
      let outcome = await run(render(chunk));
      // An overlap means the table is there: no need to check it.
      if (outcome !== undefined) this.#verifiedAt = undefined;
      if (typeof outcome === "string" && !checked && !/overlap/i.test(outcome)) {
        checked = true;
        if (!(await this.#ready())) {
          const failed = await this.#repair();
          if (failed) return { all: failed.message };
          outcome = await run(render(chunk));
        }
      }
      if (typeof outcome === "string" && reload && (await reload(outcome)))
        outcome = await run(render(chunk));
      return outcome;
    });
  }

  /**
   * The interval sets' content for one apply or remove: unknown until a transaction fails with an overlap,
   * then read once (`reload` says whether it was); later chunks keep it current through their commits.
   */
  #lazyNetState(now: number): { state: NetState | undefined; reload: (error: string) => Promise<boolean> } {
    const known: { state: NetState | undefined; reload: (error: string) => Promise<boolean> } = {
      state: undefined,
      reload: async (error) => {
        if (known.state || !/overlap/i.test(error)) return false;
        known.state = await this.#netState(now);
        return known.state !== undefined;
      },
    };
    return known;
  }

  /** Reads the interval sets' content (for overlaps); undefined when it cannot be read. */
  async #netState(now: number): Promise<NetState | undefined> {
    try {
      const state: NetState = new Map([
        ["ban4net", []],
        ["ban6net", []],
      ]);
      for (const e of await this.#elements(now))
        state.get(e.set)?.push({ key: e.target.key, cidr: e.target.cidr });
      return state;
    } catch (e) {
      this.logger.warn({ err: (e as Error).message }, "cannot read the interval sets");
      return undefined;
    }
  }

  /**
   * Overlapping prefixes. An interval set holds no overlapping elements ("interval overlaps with an existing
   * one"), so each covered range is held by ONE element, the widest ban ("widest wins"):
   * - a prefix inside a wider element already in force is not written and reported ok: the wider one enforces
   *   it. If the wider one ends first, the narrower ban is absent from then on until reconcile (which treats a
   *   narrower target as present only while a wider desired prefix lasting as long covers it) applies it again;
   * - a prefix wider than elements in force deletes them and adds itself in the same transaction (they are
   *   covered); narrower bans outliving it come back the same way, through reconcile, after it ends or is
   *   removed.
   * The gap (at most one `reconcile_interval`) only hits a narrower ban that outlives a wider one covering it.
   * Splitting the wider element around the narrower one would close it, but would make the set hold fragments
   * that `list`, `remove` and reconcile would have to map back to bans; not worth it for a rare case.
   *
   * Inside a batch the same rule applies before anything runs (prefixes covered by a wider one of the batch are
   * not written; they fail when it fails). Against the sets' content it applies only after a transaction failed
   * with an overlap: the content is read then (one `nft -j list`), so a batch without overlaps stays one command.
   */
  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const now = this.clock.now();
      const prepared = prepareEntries(entries, now, this.config);
      const T = this.#t;
      const write: Item[] = [];
      const coveredBy = new Map<Item, Item>();
      const widest = new PrefixIndex<Item>();
      const prefixes = prepared.items.filter((i) => i.prefix).sort((a, b) => a.cidr.prefix - b.cidr.prefix);
      for (const i of prefixes) {
        const cover = widest.covering(i.cidr)[0];
        if (cover) coveredBy.set(i, cover);
        else {
          widest.add(i.cidr, i);
          write.push(i);
        }
      }
      write.push(...prepared.items.filter((i) => !i.prefix));
      // elements in sets no rule matches would be reported applied and enforce nothing: check the rules first
      if (write.length && !(await this.#ready())) {
        const failed = await this.#repair();
        if (failed) return failEntries(prepared, failed);
      }
      const known = this.#lazyNetState(now);
      const timed = (i: Item) => {
        const ms = remainingMs(i.expires, now);
        const s = ms === undefined ? Infinity : Math.ceil(ms / 1000);
        // Whole seconds, spelled in days/hours/minutes/seconds (see nftTime).
        return s > NFT_MAX_TIMEOUT_S ? i.key : `${i.key} timeout ${nftTime(s)}`;
      };
      const render = (chunk: readonly Item[]): Rendered => {
        let script = "";
        const commits: (() => void)[] = [];
        for (const [set, items] of groupBy(chunk, setOf)) {
          const elements = known.state?.get(set);
          if (!elements) {
            // Content unknown (or an address set): add (no-op when present) + delete + add with the timeout:
            // the element ends up with exactly the new timeout whether or not it existed, on every kernel
            // (re-adding does not refresh timeouts everywhere).
            const plain = items.map((i) => i.key).join(", ");
            script += `add element ${T} ${set} { ${plain} }\n`;
            script += `delete element ${T} ${set} { ${plain} }\n`;
            script += `add element ${T} ${set} { ${items.map(timed).join(", ")} }\n`;
            continue;
          }
          // Content known: delete exactly what is there (the element itself and narrower ones it covers), then
          // add. nft 1.0.6 refuses the add + delete trick in a transaction that also deletes a covered element.
          const deletes: string[] = [];
          const adds: string[] = [];
          for (const i of items) {
            if (elements.some((e) => e.cidr.prefix < i.cidr.prefix && cidrCovers(e.cidr, i.cidr))) continue;
            const inside = elements.filter((e) => cidrCovers(i.cidr, e.cidr));
            deletes.push(...inside.map((e) => e.key));
            adds.push(timed(i));
            commits.push(() => {
              for (const e of inside) elements.splice(elements.indexOf(e), 1);
              elements.push({ key: i.key, cidr: i.cidr });
            });
          }
          if (deletes.length) script += `delete element ${T} ${set} { ${deletes.join(", ")} }\n`;
          if (adds.length) script += `add element ${T} ${set} { ${adds.join(", ")} }\n`;
        }
        return { script, commit: () => commits.forEach((c) => c()) };
      };
      const failures = await this.#batch(write, render, known.reload);
      for (const [i, cover] of coveredBy) {
        const error = failures.get(cover);
        if (error !== undefined) failures.set(i, error);
      }
      this.logger.debug(
        { applied: prepared.items.length - failures.size, covered: coveredBy.size, failed: failures.size },
        "apply",
      );
      return applyFailures(prepared, failures);
    });
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const now = this.clock.now();
      const prepared = prepareTargets(targets);
      const T = this.#t;
      const known = this.#lazyNetState(now);
      const render = (chunk: readonly Item[]): Rendered => {
        let script = "";
        const commits: (() => void)[] = [];
        for (const [set, items] of groupBy(chunk, setOf)) {
          const elements = known.state?.get(set);
          if (!elements) {
            // add + delete: succeeds whether or not the element exists (`destroy element` needs nft >= 1.0.8).
            // A prefix overlapping another element cannot be added, so this fails for it: see reload.
            const plain = items.map((i) => i.key).join(", ");
            script += `add element ${T} ${set} { ${plain} }\ndelete element ${T} ${set} { ${plain} }\n`;
            continue;
          }
          // Content known: delete exactly the element of that prefix, never a wider or narrower one (a prefix
          // absent because a wider one covers it is removed by removing nothing; the wider ban is another one).
          const present = elements.filter((e) => items.some((i) => i.key === e.key));
          if (present.length)
            script += `delete element ${T} ${set} { ${present.map((e) => e.key).join(", ")} }\n`;
          commits.push(() => {
            for (const e of present) elements.splice(elements.indexOf(e), 1);
          });
        }
        return { script, commit: () => commits.forEach((c) => c()) };
      };
      const failures = await this.#batch(prepared.items, render, known.reload);
      if (failures.size) {
        // A failure for a target that is absent is what removal wants. Check against the real content.
        const present = new Set(
          (await this.#list(this.clock.now()).catch(() => undefined))?.map((e) => e.target),
        );
        for (const item of [...failures.keys()]) if (!present.has(item.key)) failures.delete(item);
      }
      return applyFailures(prepared, failures);
    });
  }

  list(): Promise<BanEntry[]> {
    return this.serial.run(() => this.#list(this.clock.now()));
  }

  async #list(now: number): Promise<BanEntry[]> {
    return (await this.#elements(now)).map((e) => ({ target: e.target.key, expires: e.expires }));
  }

  /** The elements of the four sets, by set. */
  async #elements(now: number): Promise<{ set: string; target: Target; expires: number }[]> {
    const c = this.config;
    const r = await this.commands.run([c.nft_path, "-j", "list", "table", "inet", c.table]);
    if (r.code !== 0) {
      if (tableMissing(r.stderr)) return [];
      throw new ResponderError(
        `nft list table ${this.#t}: ${errorText(r)}`,
        [c.nft_path, "-j", "list"],
        r.code,
      );
    }
    const doc = JSON.parse(r.stdout) as {
      nftables?: { set?: { name: string; table: string; elem?: unknown[] } }[];
    };
    const out: { set: string; target: Target; expires: number }[] = [];
    for (const o of doc.nftables ?? []) {
      const s = o.set;
      if (!s || s.table !== c.table || !(NFT_SETS as readonly string[]).includes(s.name)) continue;
      for (const e of s.elem ?? []) {
        let text: string | undefined;
        let expires = Infinity;
        if (e && typeof e === "object" && "elem" in e) {
          const inner = (e as { elem: { val: unknown; timeout?: number; expires?: number } }).elem;
          text = elementText(inner.val);
          const left = inner.expires ?? inner.timeout;
          if (typeof left === "number") expires = now + left * 1000;
        } else text = elementText(e);
        const t = text === undefined ? undefined : parseTarget(text, { min_prefix_v4: 0, min_prefix_v6: 0 });
        if (!t || typeof t === "string") {
          this.logger.warn({ set: s.name, element: JSON.stringify(e) }, "element not written by portcullis");
          continue;
        }
        out.push({ set: s.name, target: t, expires });
      }
    }
    return out;
  }

  async healthcheck(): Promise<Health> {
    let problems: string[];
    try {
      problems = await this.#check();
    } catch (e) {
      return { ok: false, detail: `nft not usable: ${(e as Error).message}` };
    }
    if (problems.length) {
      // the next apply checks again (and sets the table up) instead of trusting an earlier check
      this.#verifiedAt = undefined;
      const [first] = problems;
      if (problems.length === 1 && first!.startsWith(`table ${this.#t} missing`))
        return { ok: false, detail: first! };
      return { ok: false, detail: `table ${this.#t}: ${problems.join("; ")}` };
    }
    return { ok: true, detail: `table ${this.#t} present, hooked into ${this.config.hooks.join(", ")}` };
  }

  teardown(): Promise<void> {
    return this.serial.run(async () => {
      this.#verifiedAt = undefined;
      const outcome = await this.#transaction(`add table ${this.#t}\ndelete table ${this.#t}\n`);
      if (outcome !== undefined) {
        const msg = typeof outcome === "string" ? outcome : outcome.all;
        throw new ResponderError(`nftables teardown of ${this.#t} failed: ${msg}`, [this.config.nft_path], 1);
      }
    });
  }
}

export const nftables = {
  type: "nftables",
  description:
    "Local nftables: own inet table, IPv4/IPv6 sets with per-element timeouts and interval sets for prefixes, " +
    "one rule per set in input and forward hooks, atomic `nft -f` batches",
  schema: nftablesConfig,
  create: (config: NftablesConfig, ctx: PluginContext): Responder => new NftablesResponder(config, ctx),
} satisfies PluginDefinition<NftablesConfig, Responder>;
