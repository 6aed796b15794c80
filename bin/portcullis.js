#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point installed as `portcullis`. Runs the compiled CLI from dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script).
// The young generation is capped at 2 x 8 MB (V8's default: 2 x 16 MB, most of it dead strings of lines
// already processed); see docs/adr/0013-v8-heap-limits.md. `node bin/portcullis.js` runs without the cap.
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
