/**
 * The node options an installed `portcullis` runs with: those of the `#!` line of bin/portcullis.js (the
 * systemd units and a shell run the script itself). Benchmarks that start `node <entry>` pass them too, so
 * they measure what users run.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../test/support/shared.ts";

export function installedNodeFlags(): string[] {
  const first = readFileSync(join(repoRoot, "bin", "portcullis.js"), "utf8").split("\n", 1)[0]!;
  const m = /^#!\/usr\/bin\/env -S node((?: --[\w-]+(?:=\S+)?)*)\s*$/.exec(first);
  if (!m) throw new Error(`bin/portcullis.js: unexpected #! line: ${first}`);
  return m[1]!.split(" ").filter(Boolean);
}
