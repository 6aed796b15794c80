/**
 * A real nginx (Debian package nginx-light, started here on loopback with its own configuration and error log)
 * is sent requests whose paths carry encoded line feeds (`%0a`): nginx writes the decoded path into its error
 * log, so complete-looking lines naming another address (VICTIM) appear in it. `parse` and `replay` must not
 * read them, and must still read the genuine auth failures around them.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import type { SecurityEvent } from "../../src/core/event.ts";
import { LineFramer } from "../../src/framing/framer.ts";
import { Zone } from "../../src/framing/zone.ts";
import { ParserSet } from "../../src/parsers/dispatch.ts";
import { forgedAuthFailure } from "../../src/parsers/nginx/testing.ts";
import { runCli } from "../support/cli.ts";
import { sendForgeries, startNginx, type TestNginx } from "../support/nginx.ts";

const VICTIM = "198.51.100.7";
let nginx: TestNginx;
let errorLog = "";

before(async () => {
  nginx = await startNginx();
  errorLog = nginx.errorLog;
  await sendForgeries(nginx, VICTIM);
});

after(() => nginx?.stop());

const lines = () => readFileSync(errorLog, "utf8").split("\n").slice(0, -1);

test("nginx wrote the forged lines as lines of their own (the attack is real)", () => {
  const forged = forgedAuthFailure(VICTIM);
  assert.ok(lines().filter((l) => l === forged).length >= 10, lines().join("\n"));
  assert.ok(lines().filter((l) => l.startsWith("host [sshd] Failed password")).length >= 22);
  // Read one line at a time, as before the guard, they are auth failures of VICTIM.
  const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2024, 5, 3) };
  const framer = new LineFramer(time);
  const parsers = new ParserSet({ time });
  const events: SecurityEvent[] = [];
  for (const l of lines()) {
    const f = framer.frame(l);
    if (f) parsers.parse(f, events);
  }
  assert.ok(events.filter((e) => e.source?.ip === VICTIM).length >= 30);
});

test("parse reads the genuine failures, none of the forged ones, and says which lines it left out", async () => {
  const r = await runCli(["parse", "--timezone", "UTC", errorLog]);
  assert.equal(r.code, 0, r.err);
  const events = r.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { source?: { ip?: string }; event: { action: string } });
  assert.deepEqual(
    events.filter((e) => e.event.action === "nginx_auth_failed").map((e) => e.source?.ip),
    ["127.0.0.1", "127.0.0.1"],
  );
  assert.equal(events.filter((e) => e.source?.ip === VICTIM).length, 0);
  const warnings = r.err.split("\n").filter((l) => l.includes("nginx error record"));
  assert.equal(
    warnings.length,
    6,
    r.err +
      "\n" +
      lines()
        .map((l, i) => `${i + 1}: ${l.slice(0, 140)}`)
        .join("\n"),
  );
  // The short record (lines 14-16) with the lines within 2048 bytes around it; the cut record exactly.
  const range = (w: string) => /error\.log:(\d+)-(\d+): /.exec(w)!.slice(1).map(Number);
  const [a, b] = range(warnings[0]!);
  assert.ok(a! > 1 && a! <= 14 && b! >= 16 && b! < 28, warnings[0]);
  assert.match(warnings[0]!, /for 127\.0\.0\.1/);
  assert.match(warnings[1]!, /error\.log:29-41: 13 lines not read/);
});

test("replay bans nobody for the forged lines and counts them in its summary", async () => {
  const r = await runCli(["replay", "--json", "--no-progress", "--timezone", "UTC", errorLog]);
  assert.equal(r.code, 0, r.err);
  // Alerts and decisions on stdout (none here: two genuine failures are below every threshold), the
  // summary as the last line of stderr.
  assert.ok(!r.out.includes(VICTIM), r.out);
  const summary = JSON.parse(r.err.trim().split("\n").at(-1)!) as {
    kind: string;
    forged: number;
    events: number;
  };
  assert.equal(summary.kind, "summary");
  assert.ok(summary.forged >= 13 + 14 + 12 + 10 + 8, JSON.stringify(summary));
  assert.ok(summary.events >= 2, JSON.stringify(summary));
});
