/** The built-in rule pack shipped in the package's `rules/` folder. */
import { BUILTIN_RULES_DIR } from "./builtin-dir.ts";
import { loadRules } from "./load.ts";
import type { CompiledRule } from "./rule.ts";

export { BUILTIN_RULES_DIR };

export function builtinRules(): CompiledRule[] {
  return loadRules([BUILTIN_RULES_DIR]);
}
