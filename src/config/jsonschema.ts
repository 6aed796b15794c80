/**
 * The configuration's JSON Schema (draft 2020-12), generated from the same zod schemas the loader validates with:
 * the top level, and every source and responder type as a `oneOf` keyed by `type`. Editors (YAML language
 * server) use it for completion and checks; `schema/config.schema.json` is this output, kept fresh by a test.
 */
import { z } from "zod";
import type { Registries } from "./load.ts";
import { configSchema } from "./schema.ts";

type PluginSchema = Record<string, unknown> & {
  properties?: Record<string, Record<string, unknown>>;
  required?: string[];
};

/**
 * The `file` source reads `path: X` as `paths: [X]` (a preprocess, which JSON Schema cannot show): its schema
 * takes either key, not both, so that an editor accepts the one-file form the README and the examples use.
 */
function withPathAlias(s: PluginSchema): PluginSchema {
  const props = s.properties;
  const paths = props?.paths as { items?: Record<string, unknown> } | undefined;
  if (!props || !paths?.items || props.path) return s;
  const { required = [], ...rest } = s;
  return {
    ...rest,
    properties: {
      ...props,
      path: { ...paths.items, description: "One file to follow: the same as `paths: [path]`" },
    },
    required: required.filter((k) => k !== "paths"),
    oneOf: [
      { required: ["paths"], not: { required: ["path"] } },
      { required: ["path"], not: { required: ["paths"] } },
    ],
  };
}

export function configJsonSchema(registries: Registries): Record<string, unknown> {
  const plugins = (reg: Registries["sources"], what: string) =>
    Object.keys(reg)
      .sort()
      .map((t) => {
        const s = z.toJSONSchema(reg[t]!.schema, { io: "input", unrepresentable: "any" }) as PluginSchema;
        const type = s.properties?.type;
        if (type && type.description === undefined) type.description = `${what} type`;
        return t === "file" ? withPathAlias(s) : s;
      });
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
    items: { oneOf: plugins(registries.sources, "Source").map(strip) },
  };
  top.properties.responders = {
    ...top.properties.responders,
    items: { oneOf: plugins(registries.responders, "Responder").map(strip) },
  };
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://portcullis.invalid/schema/config.schema.json",
    title: "Portcullis configuration",
    ...strip(top),
  };
}
