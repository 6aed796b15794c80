#!/usr/bin/env node
// Entry point installed as `portcullis`. Runs the compiled CLI from dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script).
import { main } from "../dist/cli/main.js";

// A reader that goes away (`portcullis bans --json | head`) is not an error: stop quietly, like other tools.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  throw err;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 70;
  },
);
