/** Writes samples/auth.log from the demo scenario (run: node --import tsx scripts/make-sample.ts). */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { scenario, syslogLine } from "../src/demo/scenario.ts";
import { repoRoot } from "../test/support/shared.ts";

const start = Date.UTC(2026, 2, 2, 9, 0, 0);
const lines = scenario(1, 3600).map((l) => syslogLine(start, "bastion", l));
writeFileSync(join(repoRoot, "samples", "auth.log"), `${lines.join("\n")}\n`);
console.log(`samples/auth.log: ${lines.length} lines`);
