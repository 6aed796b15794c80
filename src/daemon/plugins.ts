/**
 * The plugin registries the daemon and the config loader use. Getters, not values: the registries import
 * plugins that (through the SIEM and API modules) import back into the daemon, so they are read on use.
 */
import type { Registries } from "../config/load.ts";
import { RESPONDERS } from "../responders/registry.ts";
import { PULLS } from "../siem/registry.ts";
import { SOURCES } from "../sources/registry.ts";
import type { PluginFactories } from "./daemon.ts";

/** Line sources (file, journald, syslog) and alert sources (splunk searches) share the `sources:` list. */
export const REGISTRIES: Registries = {
  get sources() {
    return { ...SOURCES, ...PULLS } as unknown as Registries["sources"];
  },
  get responders() {
    return RESPONDERS as unknown as Registries["responders"];
  },
};

export const FACTORIES: PluginFactories = {
  get sources() {
    return SOURCES as unknown as PluginFactories["sources"];
  },
  get alertSources() {
    return PULLS;
  },
  get responders() {
    return RESPONDERS as unknown as PluginFactories["responders"];
  },
};
