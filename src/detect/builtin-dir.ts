/** Where the built-in rule pack lives (no imports: cheap for modules that only need the path). */
import { fileURLToPath } from "node:url";

/** Path of the built-in rules (works from src/ under tsx and from dist/ after the build). */
export const BUILTIN_RULES_DIR = fileURLToPath(new URL("../../rules", import.meta.url));
