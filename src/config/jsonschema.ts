/**
 * The configuration's JSON Schema (draft 2020-12), generated from the same zod schemas the loader validates with:
 * the top level, and every source and responder type as a `oneOf` keyed by `type`. Editors (YAML language
 * server) use it for completion and checks; `schema/config.schema.json` is this output, kept fresh by a test.
 */
import { z } from "zod";
import type { Registries } from "./load.ts";
import { configSchema } from "./schema.ts";

export function configJsonSchema(registries: Registries): Record<string, unknown> {
  const plugins = (reg: Registries["sources"]) =>
    Object.keys(reg)
      .sort()
      .map(
        (t) =>
          z.toJSONSchema(reg[t]!.schema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>,
      );
  const top = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as Record<
    string,
    unknown
  > & {
    properties: Record<string, Record<string, unknown>>;
  };
  const strip = (s: Record<string, unknown>) => {
    const { $schema: _omit, ...rest } = s;
    return rest;
  };
  top.properties.sources = {
    ...top.properties.sources,
    items: { oneOf: plugins(registries.sources).map(strip) },
  };
  top.properties.responders = {
    ...top.properties.responders,
    items: { oneOf: plugins(registries.responders).map(strip) },
  };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://portcullis.invalid/schema/config.schema.json",
    title: "Portcullis configuration",
    ...strip(top),
  };
}
