#!/usr/bin/env node
// Runs every *.test.ts under src/ and test/ with node's built-in test runner (through tsx).
// Node 20's `node --test` takes no globs, so the files are listed here. Extra arguments are passed on
// (e.g. `node scripts/run-tests.mjs --test-name-pattern sshd`), and a path argument narrows the file list.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function walk(dir, out) {
  for (const name of readdirSync(dir)) {
    if (name === "node_modules" || name.startsWith(".")) continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const args = process.argv.slice(2);
const paths = args.filter((a) => !a.startsWith("-"));
const flags = args.filter((a) => a.startsWith("-"));
let files = [...walk("src", []), ...walk("test", [])].sort();
if (paths.length) files = files.filter((f) => paths.some((p) => f.includes(p)));
if (!files.length) {
  console.error("no test files matched");
  process.exit(1);
}
const res = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=2",
    // A test file that leaves a handle open must not hang the run; a single test may take at most 3 minutes.
    "--test-force-exit",
    "--test-timeout=180000",
    "--test-reporter=spec",
    ...flags,
    ...files,
  ],
  { stdio: "inherit" },
);
process.exit(res.status ?? 1);
