/**
 * The part every local firewall responder (nftables, ipset, iptables, ufw, command) builds the same way: its
 * name (default: the type), a logger naming the instance, the injected clock, the command runner (netns
 * prefix, retry policy) and the serialiser of its operations. Each subclass adds its backend. The enforcer
 * responder runs no command and talks to a socket instead, so it is not one of them.
 */
import type { Clock } from "../core/clock.ts";
import type { ExecResult } from "../core/exec.ts";
import type { Logger } from "../core/logger.ts";
import type { PluginContext } from "../core/plugin.ts";
import { CommandRunner, Serial, type CommonConfig } from "./common.ts";

export abstract class LocalResponder<Type extends string, Config extends CommonConfig> {
  readonly type: Type;
  readonly name: string;
  /** Exposed for tests: counts the commands run. */
  readonly commands: CommandRunner;
  // Private fields behind protected getters (not protected fields): they stay off the object's own keys, as
  // the per-responder private fields they replace were.
  readonly #config: Config;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #serial = new Serial();

  /** `transient` replaces the default test for failures worth retrying (see {@link CommandRunner}). */
  protected constructor(
    type: Type,
    config: Config,
    ctx: PluginContext,
    transient?: (r: ExecResult) => boolean,
  ) {
    this.type = type;
    this.#config = config;
    this.name = config.name ?? type;
    this.#clock = ctx.clock;
    this.#logger = ctx.logger.child({ responder: this.name, type });
    this.commands = new CommandRunner({ exec: ctx.exec, config, logger: this.#logger, transient });
  }

  protected get config(): Config {
    return this.#config;
  }

  protected get clock(): Clock {
    return this.#clock;
  }

  protected get logger(): Logger {
    return this.#logger;
  }

  /** Runs the responder's operations one at a time (one change at a time per enforcement point). */
  protected get serial(): Serial {
    return this.#serial;
  }
}
