/**
 * Locates `../shared/` (external corpora, payloads, contracts). CI checks it out beside the project; set
 * PORTCULLIS_SHARED to point elsewhere. Tests that need it say plainly when it is absent.
 */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");

export function sharedDir(): string | undefined {
  const candidates = [process.env.PORTCULLIS_SHARED, join(repoRoot, "..", "shared")].filter(
    (p): p is string => typeof p === "string" && p.length > 0,
  );
  return candidates.find((p) => existsSync(join(p, "conformance")));
}

/** The reason string for `t.skip(...)` when the shared folder is missing. */
export const SHARED_MISSING =
  "../shared/ not found (set PORTCULLIS_SHARED): the external corpus is not available on this machine";
