/**
 * Every source, in one explicit map sorted by type. Nothing registers itself on import; `registry.test.ts`
 * fails when a source folder is missing from here. An unknown type and a known one that is not enabled in the
 * config are different errors (the latter is the config loader's).
 */
import { PortcullisError } from "../core/errors.ts";
import { file } from "./file/index.ts";
import { journald } from "./journald/index.ts";
import { syslog } from "./syslog/index.ts";
import type { SourceDefinition } from "./types.ts";

export const SOURCES = {
  file,
  journald,
  syslog,
} as const satisfies Record<string, SourceDefinition<unknown>>;

export type SourceType = keyof typeof SOURCES;

export function sourceByType(type: string): SourceDefinition<unknown> {
  if (!Object.hasOwn(SOURCES, type)) {
    throw new PortcullisError(
      "UNKNOWN_PLUGIN",
      `unknown source type "${type}" (known: ${Object.keys(SOURCES).join(", ")})`,
    );
  }
  return SOURCES[type as SourceType];
}
