/** Regenerates schema/config.schema.json and schema/rule.schema.json (run: npm run schema). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { configJsonSchema } from "../src/config/jsonschema.ts";
import { REGISTRIES } from "../src/daemon/plugins.ts";
import { ruleJsonSchema } from "../src/detect/jsonschema.ts";
import { repoRoot } from "../test/support/shared.ts";

writeFileSync(
  join(repoRoot, "schema", "config.schema.json"),
  `${JSON.stringify(configJsonSchema(REGISTRIES), null, 2)}\n`,
);
writeFileSync(join(repoRoot, "schema", "rule.schema.json"), `${JSON.stringify(ruleJsonSchema(), null, 2)}\n`);
console.log("schema/config.schema.json and schema/rule.schema.json written");
