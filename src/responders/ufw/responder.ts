/**
 * ufw responder, as the ufw story does it: `ufw prepend deny from <target> comment portcullis` (the rule goes
 * on top of the IPv4 or IPv6 list, before the admin's allow rules), `ufw delete deny from <target> comment
 * portcullis` to unban. The truth is ufw's own rule set (`ufw show added`), restricted to rules carrying our
 * comment; ufw restores it on every `ufw reload`/boot.
 *
 * Limits: ufw has no expiry (the daemon removes bans at expiry, `nativeExpiry` is false) and no batch mode:
 * every rule is one ufw run (~150-300 ms, each reloading ufw's chains), so this responder suits tens or
 * hundreds of bans, not 100k (use nftables or ipset beside ufw for that). Rules are applied one at a time,
 * in order; one failing entry does not stop the others.
 */
import type { ExecResult } from "../../core/exec.ts";
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import {
  ResponderError,
  applyFailures,
  errorText,
  failEntries,
  parseTarget,
  prepareEntries,
  prepareTargets,
  type Item,
  type Prepared,
} from "../common.ts";
import { LocalResponder } from "../local.ts";
import type { BanEntry, EntryResult, Responder } from "../types.ts";
import { ufwConfig, type UfwConfig } from "./config.ts";

interface UfwRule {
  action: string;
  key: string;
}

export class UfwResponder extends LocalResponder<"ufw", UfwConfig> implements Responder {
  readonly nativeExpiry = false;

  constructor(config: UfwConfig, ctx: PluginContext) {
    super("ufw", config, ctx);
  }

  #ufw(...args: string[]): Promise<ExecResult> {
    return this.commands.run([this.config.ufw_path, ...args]);
  }

  /** Our rules (with our comment), by canonical target. */
  async #rules(): Promise<Map<string, UfwRule[]>> {
    const r = await this.#ufw("show", "added");
    if (r.code !== 0)
      throw new ResponderError(`ufw show added: ${errorText(r)}`, ["ufw", "show", "added"], r.code);
    const out = new Map<string, UfwRule[]>();
    for (const line of r.stdout.split("\n")) {
      const m = /^ufw (?:prepend |insert \d+ )?(deny|reject) from (\S+) comment '([^']*)'\s*$/.exec(
        line.trim(),
      );
      if (!m || m[3] !== this.config.comment) continue;
      const t = parseTarget(m[2]!, { min_prefix_v4: 0, min_prefix_v6: 0 });
      if (typeof t === "string") continue;
      const list = out.get(t.key) ?? [];
      list.push({ action: m[1]!, key: m[2]! });
      out.set(t.key, list);
    }
    return out;
  }

  setup(): Promise<void> {
    return this.serial.run(async () => {
      // Nothing to create: ufw keeps the rules. Enabling ufw is the admin's decision, never ours.
      const r = await this.#ufw("status");
      if (r.code !== 0) throw new ResponderError(`ufw status: ${errorText(r)}`, ["ufw", "status"], r.code);
      if (!/Status: active/.test(r.stdout))
        this.logger.warn({}, "ufw is inactive: bans are stored, not enforced");
    });
  }

  /** Runs one ufw command per item, in order; collects per-item failures. */
  async #each(prepared: Prepared, argsOf: (item: Item) => string[][] | undefined): Promise<EntryResult[]> {
    const failures = new Map<Item, string>();
    for (const item of prepared.items) {
      for (const args of argsOf(item) ?? []) {
        const r = await this.#ufw(...args);
        if (r.code !== 0 || /^ERROR/m.test(r.stdout + r.stderr)) failures.set(item, errorText(r));
        // ufw exits 0 but adds nothing when a rule for the same source exists already (e.g. the admin's own
        // `allow from ADDR`): ours are skipped before this (by comment), so that rule is someone else's and
        // the address is NOT banned.
        else if (/^Skipping (?:inserting|adding) existing rule/m.test(r.stdout + r.stderr)) {
          failures.set(
            item,
            `ufw kept an existing rule for ${item.key} (see \`ufw status\`) and added none: not banned`,
          );
        }
      }
    }
    return applyFailures(prepared, failures);
  }

  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const c = this.config;
      const prepared = prepareEntries(entries, this.clock.now(), c);
      try {
        const current = await this.#rules();
        return await this.#each(prepared, (i) =>
          current.has(i.key) ? undefined : [["prepend", c.action, "from", i.key, "comment", c.comment]],
        );
      } catch (e) {
        return failEntries(prepared, e);
      }
    });
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const c = this.config;
      const prepared = prepareTargets(targets);
      try {
        const current = await this.#rules();
        return await this.#each(prepared, (i) =>
          current.get(i.key)?.map((rule) => ["delete", rule.action, "from", rule.key, "comment", c.comment]),
        );
      } catch (e) {
        return failEntries(prepared, e);
      }
    });
  }

  list(): Promise<BanEntry[]> {
    return this.serial.run(async () =>
      [...(await this.#rules()).keys()].map((target) => ({ target, expires: Infinity })),
    );
  }

  async healthcheck(): Promise<Health> {
    const r = await this.#ufw("status");
    if (r.code !== 0) return { ok: false, detail: `ufw status failed: ${errorText(r)}` };
    if (!/Status: active/.test(r.stdout))
      return { ok: false, detail: "ufw is inactive: bans are not enforced" };
    const ours = r.stdout.split("\n").filter((l) => l.endsWith(`# ${this.config.comment}`)).length;
    return { ok: true, detail: `ufw active, ${ours} rules with comment ${this.config.comment}` };
  }

  teardown(): Promise<void> {
    return this.serial.run(async () => {
      for (const rules of (await this.#rules()).values()) {
        for (const rule of rules) {
          const args = ["delete", rule.action, "from", rule.key, "comment", this.config.comment];
          const r = await this.#ufw(...args);
          if (r.code !== 0) throw new ResponderError(`ufw ${args.join(" ")}: ${errorText(r)}`, args, r.code);
        }
      }
    });
  }
}

export const ufw = {
  type: "ufw",
  description:
    "ufw rules (`ufw prepend deny from <target>`), one per target, marked with a comment; no native expiry, " +
    "no batching: for small numbers of bans",
  schema: ufwConfig,
  create: (config: UfwConfig, ctx: PluginContext): Responder => new UfwResponder(config, ctx),
} satisfies PluginDefinition<UfwConfig, Responder>;
