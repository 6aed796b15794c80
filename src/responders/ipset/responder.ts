/**
 * ipset responder: four sets created with `timeout 0` (entries carry their own timeout; 0 = permanent):
 * `<p>4`/`<p>6` (hash:ip) for addresses and `<p>4net`/`<p>6net` (hash:net) for prefixes, each matched by one
 * `-m set --match-set <set> src -j REJECT|DROP` rule at the top of INPUT and FORWARD (iptables/ip6tables).
 * Entries are changed in batches through `ipset restore -exist`, which makes add (and timeout refresh) and
 * delete idempotent; the kernel expires entries by itself.
 */
import type { Health, PluginContext, PluginDefinition } from "../../core/plugin.ts";
import {
  ResponderError,
  applyFailures,
  chunkOutcome,
  errorText,
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
import { deleteArgs, listRules, verdictTarget, xtFamilies, type XtFamily } from "../xtables.ts";
import { ipsetConfig, type IpsetConfig } from "./config.ts";

/** ipset's largest timeout (seconds); longer bans are stored without timeout and removed by reconcile. */
export const IPSET_MAX_TIMEOUT_S = 2_147_483;

export class IpsetResponder extends LocalResponder<"ipset", IpsetConfig> implements Responder {
  readonly nativeExpiry = true;

  constructor(config: IpsetConfig, ctx: PluginContext) {
    super("ipset", config, ctx);
  }

  setName(t: { family: 4 | 6; prefix: boolean }): string {
    return `${this.config.set_prefix}${t.family}${t.prefix ? "net" : ""}`;
  }

  #sets(f: XtFamily): { name: string; kind: "hash:ip" | "hash:net" }[] {
    return [
      { name: this.setName({ family: f.family, prefix: false }), kind: "hash:ip" },
      { name: this.setName({ family: f.family, prefix: true }), kind: "hash:net" },
    ];
  }

  #accept = (t: Target): string | undefined =>
    t.family === 6 && !this.config.ipv6
      ? "IPv6 is disabled in this responder's config (ipv6: false)"
      : undefined;

  async #restore(script: string): Promise<ChunkOutcome> {
    const r = await this.commands.run([this.config.ipset_path, "-exist", "restore"], script);
    return chunkOutcome(r, /exec of .* failed|Operation not permitted|Cannot open network/i);
  }

  setup(): Promise<void> {
    return this.serial.run(() => this.#setup());
  }

  async #setup(): Promise<void> {
    const c = this.config;
    let script = "";
    for (const f of xtFamilies(c)) {
      for (const s of this.#sets(f)) {
        script += `create ${s.name} ${s.kind} family ${f.family === 4 ? "inet" : "inet6"} timeout 0 maxelem ${c.maxelem}\n`;
      }
    }
    const outcome = await this.#restore(script);
    if (outcome !== undefined) {
      throw new ResponderError(
        `ipset setup failed: ${typeof outcome === "string" ? outcome : outcome.all} ` +
          "(a set of that name with other parameters? run teardown)",
        [c.ipset_path, "restore"],
        1,
      );
    }
    const target = verdictTarget(c.verdict);
    for (const f of xtFamilies(c)) {
      const { lines } = await listRules(this.commands, f.bin);
      for (const chain of ["INPUT", "FORWARD"] as const) {
        for (const s of this.#sets(f)) {
          // exactly one rule with the configured verdict in each configured chain, none elsewhere
          const head = `-A ${chain} -m set --match-set ${s.name} src -j `;
          const ours = lines.filter((l) => l.startsWith(head));
          const keep = c.chains.includes(chain) ? ours.findIndex((l) => l.startsWith(head + target)) : -1;
          for (const [i, l] of ours.entries()) {
            if (i !== keep) await this.commands.check([f.bin, "-w", ...deleteArgs(l)]);
          }
          if (c.chains.includes(chain) && keep < 0) {
            await this.commands.check([
              f.bin,
              "-w",
              "-I",
              chain,
              "1",
              "-m",
              "set",
              "--match-set",
              s.name,
              "src",
              "-j",
              target,
            ]);
          }
        }
      }
    }
  }

  async #ready(): Promise<boolean> {
    for (const f of xtFamilies(this.config)) {
      for (const s of this.#sets(f)) {
        const r = await this.commands.run([this.config.ipset_path, "list", "-n", s.name]);
        if (r.code !== 0) return false;
      }
    }
    return true;
  }

  async #batch(
    items: readonly Item[],
    render: (chunk: readonly Item[]) => string,
  ): Promise<Map<Item, string>> {
    let checked = false;
    return isolate(items, async (chunk) => {
      let outcome = await this.#restore(render(chunk));
      if (typeof outcome === "string" && !checked) {
        checked = true;
        if (!(await this.#ready())) {
          this.logger.warn({}, "ipset sets missing; setting them up again");
          try {
            await this.#setup();
          } catch (e) {
            return { all: (e as Error).message };
          }
          outcome = await this.#restore(render(chunk));
        }
      }
      return outcome;
    });
  }

  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const now = this.clock.now();
      const prepared = prepareEntries(entries, now, this.config, this.#accept);
      const render = (chunk: readonly Item[]) =>
        chunk
          .map((i) => {
            const ms = remainingMs(i.expires, now);
            const s = ms === undefined ? 0 : Math.ceil(ms / 1000);
            return `add ${this.setName(i)} ${i.key} timeout ${s > IPSET_MAX_TIMEOUT_S ? 0 : s}\n`;
          })
          .join("");
      return applyFailures(prepared, await this.#batch(prepared.items, render));
    });
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.serial.run(async () => {
      const prepared = prepareTargets(targets, this.#accept);
      const render = (chunk: readonly Item[]) =>
        chunk.map((i) => `del ${this.setName(i)} ${i.key}\n`).join("");
      return applyFailures(prepared, await this.#batch(prepared.items, render));
    });
  }

  list(): Promise<BanEntry[]> {
    return this.serial.run(async () => {
      const now = this.clock.now();
      const out: BanEntry[] = [];
      for (const f of xtFamilies(this.config)) {
        for (const s of this.#sets(f)) {
          const r = await this.commands.run([this.config.ipset_path, "save", s.name]);
          if (r.code !== 0) {
            if (/does not exist/i.test(r.stderr)) continue;
            throw new ResponderError(`ipset save ${s.name}: ${errorText(r)}`, ["ipset", "save"], r.code);
          }
          for (const line of r.stdout.split("\n")) {
            const m = /^add (\S+) (\S+)(?:.*? timeout (\d+))?/.exec(line);
            if (!m || m[1] !== s.name) continue;
            const t = parseTarget(m[2]!, { min_prefix_v4: 0, min_prefix_v6: 0 });
            if (typeof t === "string") continue;
            const left = m[3] === undefined ? 0 : Number(m[3]);
            out.push({ target: t.key, expires: left > 0 ? now + left * 1000 : Infinity });
          }
        }
      }
      return out;
    });
  }

  async healthcheck(): Promise<Health> {
    const c = this.config;
    try {
      const counts: string[] = [];
      for (const f of xtFamilies(c)) {
        const { lines } = await listRules(this.commands, f.bin);
        for (const s of this.#sets(f)) {
          const r = await this.commands.run([c.ipset_path, "list", "-t", s.name]);
          if (r.code !== 0) return { ok: false, detail: `set ${s.name} missing: ${errorText(r)}` };
          counts.push(`${s.name}=${/Number of entries: (\d+)/.exec(r.stdout)?.[1] ?? "?"}`);
          for (const chain of c.chains) {
            if (!lines.some((l) => l.startsWith(`-A ${chain} -m set --match-set ${s.name} src -j `))) {
              return { ok: false, detail: `no ${f.bin} rule in ${chain} matches set ${s.name}` };
            }
          }
        }
      }
      return { ok: true, detail: `sets ${counts.join(", ")}; rules in ${c.chains.join(", ")}` };
    } catch (e) {
      return { ok: false, detail: (e as Error).message };
    }
  }

  teardown(): Promise<void> {
    return this.serial.run(async () => {
      const c = this.config;
      for (const f of xtFamilies(c)) {
        const names = this.#sets(f).map((s) => s.name);
        const { lines } = await listRules(this.commands, f.bin);
        for (const l of lines) {
          const m = /^-A (\S+) -m set --match-set (\S+) src /.exec(l);
          if (m && names.includes(m[2]!)) await this.commands.check([f.bin, "-w", ...deleteArgs(l)]);
        }
        for (const name of names) {
          const r = await this.commands.run([c.ipset_path, "destroy", name]);
          if (r.code !== 0 && !/does not exist/i.test(r.stderr)) {
            throw new ResponderError(
              `ipset destroy ${name}: ${errorText(r)}`,
              [c.ipset_path, "destroy"],
              r.code,
            );
          }
        }
      }
    });
  }
}

export const ipset = {
  type: "ipset",
  description:
    "Local ipset hash:ip/hash:net sets (IPv4 and IPv6) with per-entry timeouts, one iptables/ip6tables rule per " +
    "set in INPUT and FORWARD, batches through `ipset restore`",
  schema: ipsetConfig,
  create: (config: IpsetConfig, ctx: PluginContext): Responder => new IpsetResponder(config, ctx),
} satisfies PluginDefinition<IpsetConfig, Responder>;
