/** The `splunk` alert source plugin (a `sources:` entry with `type: splunk`; see README.md). */
import { splunkPullConfig, type SplunkPullConfig } from "./config.ts";
import { SplunkPullSource } from "./source.ts";
import type { AlertSourceDefinition } from "./types.ts";

export const splunkPull = {
  type: "splunk",
  description:
    "Runs a Splunk search on a schedule over the REST API (port 8089) and bans the addresses its results name",
  schema: splunkPullConfig,
  create: (config, ctx) => new SplunkPullSource(config, ctx),
} satisfies AlertSourceDefinition<SplunkPullConfig>;
