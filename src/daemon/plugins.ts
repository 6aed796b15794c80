/** The plugin registries the daemon and the config loader use. */
import type { Registries } from "../config/load.ts";
import { RESPONDERS } from "../responders/registry.ts";
import { SOURCES } from "../sources/registry.ts";
import type { PluginFactories } from "./daemon.ts";

export const REGISTRIES: Registries = {
  sources: SOURCES,
  responders: RESPONDERS,
};

export const FACTORIES: PluginFactories = {
  sources: SOURCES,
  responders: RESPONDERS,
};
