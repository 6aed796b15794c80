/** The rule file format's JSON Schema, generated from the zod schema the loader validates with. */
import { z } from "zod";
import { ruleSchema } from "./schema.ts";

export function ruleJsonSchema(): Record<string, unknown> {
  const s = z.toJSONSchema(ruleSchema, { io: "input", unrepresentable: "any" }) as Record<string, unknown>;
  const { $schema: _omit, ...rest } = s;
  return {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    $id: "https://portcullis.invalid/schema/rule.schema.json",
    title: "Portcullis detection rule",
    ...rest,
  };
}
