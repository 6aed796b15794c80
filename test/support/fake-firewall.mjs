#!/usr/bin/env node
// A stand-in firewall for daemon tests that need no privileges: keeps its "rules" in a JSON file.
// Usage: fake-firewall.mjs STATE (apply|remove) TARGET EXPIRES_S | fake-firewall.mjs STATE list
// Set FAKE_FIREWALL_FAIL=<target> to make applying that target fail.
import { existsSync, readFileSync, writeFileSync, appendFileSync } from "node:fs";
const [state, verb, target, expires] = process.argv.slice(2);
const rules = existsSync(state) ? JSON.parse(readFileSync(state, "utf8")) : {};
appendFileSync(`${state}.calls`, `${[verb, target ?? "", expires ?? ""].join(" ").trim()}\n`);
if (verb === "list") {
  for (const [t, e] of Object.entries(rules)) process.stdout.write(`${t} ${e || "-"}\n`);
  process.exit(0);
}
if (verb === "apply") {
  if (process.env.FAKE_FIREWALL_FAIL === target) {
    process.stderr.write("simulated failure\n");
    process.exit(2);
  }
  rules[target] = Number(expires) || 0;
} else if (verb === "remove") delete rules[target];
else process.exit(64);
writeFileSync(state, JSON.stringify(rules));
