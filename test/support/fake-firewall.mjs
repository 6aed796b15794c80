#!/usr/bin/env node
// A stand-in firewall for daemon tests that need no privileges: keeps its "rules" in a JSON file.
// Usage: fake-firewall.mjs STATE (apply|remove) TARGET EXPIRES_S | fake-firewall.mjs STATE list
// Set FAKE_FIREWALL_FAIL=<target>, or list targets one per line in STATE.fail, to make applying them fail
// (the daemon runs responders with a minimal environment, so tests against a daemon use the file).
// Concurrent invocations are serialised with a lock file; the state is replaced atomically (readers never see
// a half-written file).
import {
  appendFileSync,
  closeSync,
  existsSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from "node:fs";

const [state, verb, target, expires] = process.argv.slice(2);
const lock = `${state}.lock`;
const deadline = Date.now() + 10_000;
let fd;
for (;;) {
  try {
    fd = openSync(lock, "wx");
    break;
  } catch {
    if (Date.now() > deadline) {
      process.stderr.write("fake firewall: lock timeout\n");
      process.exit(75);
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 5);
  }
}
try {
  const rules = existsSync(state) ? JSON.parse(readFileSync(state, "utf8")) : {};
  appendFileSync(`${state}.calls`, `${[verb, target ?? "", expires ?? ""].join(" ").trim()}\n`);
  if (verb === "list") {
    for (const [t, e] of Object.entries(rules)) process.stdout.write(`${t} ${e || "-"}\n`);
  } else if (verb === "apply") {
    const failing = existsSync(`${state}.fail`) ? readFileSync(`${state}.fail`, "utf8").split("\n") : [];
    if (process.env.FAKE_FIREWALL_FAIL === target || failing.includes(target)) {
      process.stderr.write("simulated failure\n");
      process.exitCode = 2;
    } else rules[target] = Number(expires) || 0;
  } else if (verb === "remove") delete rules[target];
  else process.exitCode = 64;
  if (verb !== "list" && !process.exitCode) {
    writeFileSync(`${state}.tmp`, JSON.stringify(rules));
    renameSync(`${state}.tmp`, state);
  }
} finally {
  closeSync(fd);
  rmSync(lock, { force: true });
}
