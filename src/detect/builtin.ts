/** The built-in rule pack shipped in the package's `rules/` folder. */
import { fileURLToPath } from "node:url";
import { loadRules } from "./load.ts";
import type { CompiledRule } from "./rule.ts";

/** Path of the built-in rules (works from src/ under tsx and from dist/ after the build). */
export const BUILTIN_RULES_DIR = fileURLToPath(new URL("../../rules", import.meta.url));

export function builtinRules(): CompiledRule[] {
  return loadRules([BUILTIN_RULES_DIR]);
}
