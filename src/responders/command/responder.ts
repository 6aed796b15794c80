/**
 * command responder: runs configured executables for custom ban scripts (the OSSIM story's, pfSense helpers,
 * ...). Every command is an argument array whose arguments may contain placeholders ({target}, {duration_s},
 * ...); it is spawned directly, never through a shell, and targets are validated addresses/CIDRs before they
 * reach an argument. Per-entry mode runs one process per entry, in order; stdin_batch mode runs one process
 * per batch with the entries on stdin (a failing batch is split to find the failing entries).
 */
import type { ExecResult } from "../../core/exec.ts";
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
  type Item,
  type Prepared,
} from "../common.ts";
import { LocalResponder } from "../local.ts";
import type { BanEntry, EntryResult, Responder } from "../types.ts";
import { commandConfig, substitute, type CommandConfig, type Placeholder } from "./config.ts";

type Action = "ban" | "unban";

export class CommandResponder extends LocalResponder<"command", CommandConfig> implements Responder {
  readonly nativeExpiry: boolean;

  constructor(config: CommandConfig, ctx: PluginContext) {
    const transient = new Set(config.transient_exit_codes);
    super("command", config, ctx, (r) => transient.has(r.code) || /killed by SIG/.test(r.stderr));
    this.nativeExpiry = config.native_expiry;
  }

  #values(
    item: Item | undefined,
    action: Action,
    now: number,
    count?: number,
  ): Partial<Record<Placeholder, string>> {
    const v: Partial<Record<Placeholder, string>> = { action };
    if (count !== undefined) v.count = String(count);
    if (item) {
      const ms = action === "ban" ? remainingMs(item.expires, now) : undefined;
      v.target = item.key;
      v.family = String(item.family);
      v.duration_s = ms === undefined ? "0" : String(Math.ceil(ms / 1000));
      v.expires_s = ms === undefined ? "0" : String(Math.ceil(item.expires / 1000));
    }
    return v;
  }

  #argv(template: readonly string[], values: Partial<Record<Placeholder, string>>): string[] {
    return template.map((a) => substitute(a, values));
  }

  async #run(template: readonly string[], values: Partial<Record<Placeholder, string>>, input?: string) {
    return this.commands.run(this.#argv(template, values), input);
  }

  async #change(prepared: Prepared, action: Action): Promise<EntryResult[]> {
    const c = this.config;
    const template = action === "ban" ? c.apply : (c.remove ?? c.apply);
    const now = this.clock.now();
    const failures = new Map<Item, string>();
    const fail = (r: ExecResult) => (r.code === 0 ? undefined : errorText(r));
    if (!c.stdin_batch) {
      for (const item of prepared.items) {
        const error = fail(await this.#run(template, this.#values(item, action, now)));
        if (error) failures.set(item, error);
      }
      return applyFailures(prepared, failures);
    }
    for (let i = 0; i < prepared.items.length; i += c.batch_size) {
      const batch = prepared.items.slice(i, i + c.batch_size);
      const failed = await isolate(batch, async (chunk) => {
        const lines = chunk.map((it) => {
          const v = this.#values(it, action, now);
          return `${v.target} ${v.duration_s} ${v.expires_s} ${v.family}\n`;
        });
        return chunkOutcome(
          await this.#run(template, this.#values(undefined, action, now, chunk.length), lines.join("")),
        );
      });
      for (const [k, v] of failed) failures.set(k, v);
    }
    return applyFailures(prepared, failures);
  }

  setup(): Promise<void> {
    return this.serial.run(async () => {
      if (!this.config.setup) return;
      const r = await this.#run(this.config.setup, { action: "ban" });
      if (r.code !== 0)
        throw new ResponderError(`setup command failed: ${errorText(r)}`, this.config.setup, r.code);
    });
  }

  apply(entries: readonly BanEntry[]): Promise<EntryResult[]> {
    return this.serial.run(() => this.#change(prepareEntries(entries, this.clock.now(), this.config), "ban"));
  }

  remove(targets: readonly string[]): Promise<EntryResult[]> {
    return this.serial.run(() => this.#change(prepareTargets(targets), "unban"));
  }

  list(): Promise<BanEntry[]> {
    return this.serial.run(() => this.#list());
  }

  async #list(): Promise<BanEntry[]> {
    const template = this.config.list;
    if (!template) {
      throw new ResponderError(
        `responder ${this.name}: no \`list\` command configured, so what is enforced cannot be read (reconcile needs it)`,
        [],
        0,
      );
    }
    const r = await this.#run(template, {});
    if (r.code !== 0) throw new ResponderError(`list command failed: ${errorText(r)}`, template, r.code);
    const out: BanEntry[] = [];
    for (const line of r.stdout.split("\n")) {
      const [target, exp] = line.trim().split(/\s+/);
      if (!target) continue;
      const t = parseTarget(target, { min_prefix_v4: 0, min_prefix_v6: 0 });
      if (typeof t === "string") {
        this.logger.warn({ line: line.slice(0, 200) }, "list command printed a line that is not a target");
        continue;
      }
      const s = exp === undefined || exp === "-" ? 0 : Number(exp);
      out.push({ target: t.key, expires: Number.isFinite(s) && s > 0 ? s * 1000 : Infinity });
    }
    return out;
  }

  async healthcheck(): Promise<Health> {
    const template = this.config.healthcheck;
    if (!template) return { ok: true, detail: "no healthcheck command configured" };
    const r = await this.#run(template, {});
    return r.code === 0
      ? { ok: true, detail: r.stdout.trim().slice(0, 200) || "healthcheck command succeeded" }
      : { ok: false, detail: `healthcheck command failed: ${errorText(r)}` };
  }

  teardown(): Promise<void> {
    return this.serial.run(async () => {
      const c = this.config;
      if (c.teardown) {
        const r = await this.#run(c.teardown, { action: "unban" });
        if (r.code !== 0)
          throw new ResponderError(`teardown command failed: ${errorText(r)}`, c.teardown, r.code);
        return;
      }
      if (!c.list) return;
      const listed = await this.#list();
      const res = await this.#change(prepareTargets(listed.map((e) => e.target)), "unban");
      const bad = res.filter((x) => !x.ok);
      if (bad.length)
        throw new ResponderError(`teardown: ${bad.length} removals failed: ${bad[0]!.error}`, [], 1);
    });
  }
}

export const command = {
  type: "command",
  description:
    "Runs configured executables (argument arrays with placeholders, never a shell) for custom ban scripts; " +
    "per entry or one batch on stdin",
  schema: commandConfig,
  create: (config: CommandConfig, ctx: PluginContext): Responder => new CommandResponder(config, ctx),
} satisfies PluginDefinition<CommandConfig, Responder>;
