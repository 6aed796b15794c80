#!/usr/bin/env -S node --max-semi-space-size=8
// Entry point installed as `portcullis`. Runs the compiled CLI from dist/ (built by `npm run build`,
// which `npm ci` runs through the `prepare` script).
// The young generation is capped at 2 x 8 MB (V8's default: 2 x 16 MB, most of it dead strings of lines
// already processed); see docs/adr/0013-v8-heap-limits.md. `node bin/portcullis.js` runs without the cap.
import { main } from "../dist/cli/main.js";

// A reader that goes away (`portcullis bans --json | head`) is not an error: stop quietly, like other tools.
// Any other failure to write the output (a full disk: ENOSPC) is one line and exit 74 (EX_IOERR), not a
// stack trace.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(0);
  process.stderr.write(
    `portcullis: cannot write the output: ${err.code === "ENOSPC" ? "no space left on device" : err.message}\n`,
  );
  process.exit(74);
});
// Nothing can be said when stderr itself fails (its reader went away): the exit code stays the command's.
process.stderr.on("error", () => {});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`portcullis: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 70;
  },
);
