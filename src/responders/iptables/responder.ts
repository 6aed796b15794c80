/**
 * Plain iptables responder for systems without ipset or nftables: an own chain (`portcullis`) in the filter
 * table, jumped to from the top of INPUT and FORWARD, holding one `-s <target> -j REJECT|DROP` rule per ban.
 * The chain is read with `-S` before each change, so apply and remove only touch what differs, and each change
 * is one `iptables-restore --noflush` transaction per family. There is no expiry: the daemon removes bans.
 * Lookups are linear in the number of rules: fine for hundreds of bans, not for 100k (use nftables or ipset).
 */
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import {
  ResponderError,
  applyFailures,
  chunkOutcome,
  failEntries,
  groupBy,
  isolate,
  parseTarget,
  prepareEntries,
  prepareTargets,
  type ChunkOutcome,
  type Item,
  type Prepared,
  type Target,
} from "../common.ts";
import { LocalResponder } from "../local.ts";
import type { BanEntry, EntryResult, Responder } from "../types.ts";
import {
  deleteArgs,
  listRules,
  restoreBinary,
  restoreScript,
  verdictTarget,
  xtFamilies,
  type XtFamily,
} from "../xtables.ts";
import { iptablesConfig, type IptablesConfig } from "./config.ts";

export class IptablesResponder extends LocalResponder<"iptables", IptablesConfig> implements Responder {
  readonly nativeExpiry = false;

  constructor(config: IptablesConfig, ctx: PluginContext) {
    super("iptables", config, ctx);
  }

  #accept = (t: Target): string | undefined =>
    t.family === 6 && !this.config.ipv6
      ? "IPv6 is disabled in this responder's config (ipv6: false)"
      : undefined;

  #family(family: 4 | 6): XtFamily | undefined {
    return xtFamilies(this.config).find((f) => f.family === family);
  }

  async #restore(f: XtFamily, lines: readonly string[]): Promise<ChunkOutcome> {
    const r = await this.commands.run([restoreBinary(f.bin), "--noflush"], restoreScript(lines));
    return chunkOutcome(r, /exec of .* failed|Permission denied|Cannot open network/i);
  }

  setup(): Promise<void> {
    return this.serial.run(() => this.#setup());
  }

  async #setup(): Promise<void> {
    const c = this.config;
    const target = verdictTarget(c.verdict);
    for (const f of xtFamilies(c)) {
      const { lines } = await listRules(this.commands, f.bin);
      if (!lines.includes(`-N ${c.chain}`)) await this.commands.check([f.bin, "-w", "-N", c.chain]);
      for (const hook of ["INPUT", "FORWARD"] as const) {
        const jumps = lines.filter((l) => l === `-A ${hook} -j ${c.chain}`);
        const keep = c.hooks.includes(hook) ? 1 : 0;
        for (const l of jumps.slice(keep)) await this.commands.check([f.bin, "-w", ...deleteArgs(l)]);
        if (keep && !jumps.length) await this.commands.check([f.bin, "-w", "-I", hook, "1", "-j", c.chain]);
      }
      // bans added with another verdict are rewritten, in one transaction
      const stale = lines.filter((l) => l.startsWith(`-A ${c.chain} -s `) && !l.includes(` -j ${target}`));
      if (stale.length) {
        const rewrite = stale.flatMap((l) => {
          const src = /^-A \S+ -s (\S+) /.exec(l)?.[1];
          return [deleteArgs(l).join(" "), ...(src ? [`-A ${c.chain} -s ${src} -j ${target}`] : [])];
        });
        const outcome = await this.#restore(f, rewrite);
        if (outcome !== undefined) {
          const msg = typeof outcome === "string" ? outcome : outcome.all;
          throw new ResponderError(`${f.bin}: rewriting rules failed: ${msg}`, [f.bin], 1);
        }
      }
    }
  }

  /** Rules of our chain by canonical target; undefined when the chain does not exist. */
  async #current(f: XtFamily): Promise<Map<string, string[]> | undefined> {
    const { lines, missing } = await listRules(this.commands, f.bin, this.config.chain);
    if (missing) return undefined;
    const out = new Map<string, string[]>();
    for (const l of lines) {
      const src = /^-A \S+ -s (\S+) /.exec(l)?.[1];
      const t = src === undefined ? undefined : parseTarget(src, { min_prefix_v4: 0, min_prefix_v6: 0 });
      if (!t || typeof t === "string") continue;
      const list = out.get(t.key);
      if (list) list.push(l);
      else out.set(t.key, [l]);
    }
    return out;
  }

  /** Runs `change` per family on the items that need it, with the chain set up when missing. */
  async #change(
    prepared: Prepared,
    pick: (item: Item, current: Map<string, string[]>) => string[],
  ): Promise<EntryResult[]> {
    const failures = new Map<Item, string>();
    for (const [family, items] of groupBy(prepared.items, (i) => i.family)) {
      const f = this.#family(family)!;
      let current = await this.#current(f);
      if (!current) {
        this.logger.warn({ chain: this.config.chain }, "chain missing; setting it up again");
        await this.#setup();
        current = (await this.#current(f)) ?? new Map<string, string[]>();
      }
      const cur = current;
      const work = items.filter((i) => pick(i, cur).length > 0);
      const failed = await isolate(work, (chunk) =>
        this.#restore(
          f,
          chunk.flatMap((i) => pick(i, cur)),
        ),
      );
      for (const [k, v] of failed) failures.set(k, v);
    }
    return applyFailures(prepared, failures);
  }

  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const prepared = prepareEntries(entries, this.clock.now(), this.config, this.#accept);
      const line = (i: Item) =>
        `-A ${this.config.chain} -s ${i.key} -j ${verdictTarget(this.config.verdict)}`;
      try {
        return await this.#change(prepared, (i, cur) => (cur.has(i.key) ? [] : [line(i)]));
      } catch (e) {
        return failEntries(prepared, e);
      }
    });
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const prepared = prepareTargets(targets, this.#accept);
      try {
        return await this.#change(prepared, (i, cur) =>
          (cur.get(i.key) ?? []).map((l) => deleteArgs(l).join(" ")),
        );
      } catch (e) {
        return failEntries(prepared, e);
      }
    });
  }

  list(): Promise<BanEntry[]> {
    return this.serial.run(async () => {
      const out: BanEntry[] = [];
      for (const f of xtFamilies(this.config)) {
        for (const key of (await this.#current(f))?.keys() ?? [])
          out.push({ target: key, expires: Infinity });
      }
      return out;
    });
  }

  async healthcheck(): Promise<Health> {
    const c = this.config;
    try {
      let count = 0;
      for (const f of xtFamilies(c)) {
        const { lines } = await listRules(this.commands, f.bin);
        if (!lines.includes(`-N ${c.chain}`))
          return { ok: false, detail: `${f.bin}: chain ${c.chain} missing` };
        for (const hook of c.hooks) {
          if (!lines.includes(`-A ${hook} -j ${c.chain}`)) {
            return { ok: false, detail: `${f.bin}: ${hook} does not jump to ${c.chain}` };
          }
        }
        count += lines.filter((l) => l.startsWith(`-A ${c.chain} `)).length;
      }
      return { ok: true, detail: `chain ${c.chain} hooked into ${c.hooks.join(", ")}, ${count} rules` };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }

  teardown(): Promise<void> {
    return this.serial.run(async () => {
      const c = this.config;
      for (const f of xtFamilies(c)) {
        const { lines } = await listRules(this.commands, f.bin);
        for (const l of lines) {
          if (/^-A \S+ /.test(l) && l.endsWith(` -j ${c.chain}`)) {
            await this.commands.check([f.bin, "-w", ...deleteArgs(l)]);
          }
        }
        if (lines.includes(`-N ${c.chain}`)) {
          await this.commands.check([f.bin, "-w", "-F", c.chain]);
          await this.commands.check([f.bin, "-w", "-X", c.chain]);
        }
      }
    });
  }
}

export const iptables = {
  type: "iptables",
  description:
    "Plain iptables/ip6tables rules (one per target) in an own chain jumped to from INPUT and FORWARD; for old " +
    "systems; no native expiry",
  schema: iptablesConfig,
  create: (config: IptablesConfig, ctx: PluginContext): Responder => new IptablesResponder(config, ctx),
} satisfies PluginDefinition<IptablesConfig, Responder>;
