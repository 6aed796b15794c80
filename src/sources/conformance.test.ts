/**
 * One suite every source passes (the contract in types.ts): lines arrive as batches of its stream; a sink
 * error ends `run` with that error; `run` returns once the signal aborts; counters are kept.
 */
import assert from "node:assert/strict";
import { appendFileSync, chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createSocket } from "node:dgram";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { SOURCES, type SourceType } from "./registry.ts";
import { RecordingSink, sourceContext, start, waitFor } from "./testing.ts";
import type { InstrumentedSource, LineSink } from "./types.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-conf-"));
after(() => rmSync(root, { recursive: true, force: true }));

interface Fixture {
  source: InstrumentedSource;
  /** Makes the source see one line, "hello" (after `run` started). */
  feed: () => Promise<void>;
}

const fixtures: Record<SourceType, () => Fixture> = {
  file() {
    const d = mkdtempSync(join(root, "file"));
    const p = join(d, "a.log");
    // The file exists (empty) before the source starts: a source with no file to follow is not healthy.
    writeFileSync(p, "");
    // `beginning`: with the default `end`, a line written while the first scan runs could be skipped, as tail -F would.
    const cfg = SOURCES.file.schema.parse({
      type: "file",
      paths: [p],
      start: "beginning",
      poll_interval: "20ms",
    });
    return {
      source: SOURCES.file.create(cfg, sourceContext()),
      feed: () => Promise.resolve(appendFileSync(p, "hello\n")),
    };
  },
  journald() {
    const d = mkdtempSync(join(root, "journald"));
    const fake = join(d, "journalctl");
    writeFileSync(
      fake,
      [
        "#!/bin/sh",
        `[ "$1" = --version ] && { echo "systemd 252 (fake)"; exit 0; }`,
        // The query for the journal's last entry (start: end, no --follow): an empty journal.
        `case "$*" in *--follow*) ;; *) exit 0 ;; esac`,
        `echo '{"__CURSOR":"c1","MESSAGE":"hello"}'`,
        "exec sleep 30",
      ].join("\n"),
    );
    chmodSync(fake, 0o755);
    const cfg = SOURCES.journald.schema.parse({ type: "journald", journalctl: fake });
    return { source: SOURCES.journald.create(cfg, sourceContext()), feed: () => Promise.resolve() };
  },
  syslog() {
    const cfg = SOURCES.syslog.schema.parse({ type: "syslog", udp: ["127.0.0.1:0"], tcp: [] });
    const source = SOURCES.syslog.create(cfg, sourceContext());
    return {
      source,
      feed: async () => {
        const { udp } = await source.listening();
        const s = createSocket("udp4");
        await new Promise<void>((r) => s.send("hello", udp[0]!.port, "127.0.0.1", () => r()));
        s.close();
      },
    };
  },
};

const lineOf = (l: string) => (l.startsWith("{") ? (JSON.parse(l) as { MESSAGE: string }).MESSAGE : l);

for (const type of Object.keys(SOURCES) as SourceType[]) {
  describe(`source contract: ${type}`, () => {
    test("delivers lines, counts them, and returns when aborted", async () => {
      const { source, feed } = fixtures[type]();
      const sink = new RecordingSink();
      const run = start(source, sink);
      await waitFor(async () => (await source.healthcheck()).ok, "healthy");
      await feed();
      await waitFor(() => sink.lines.length === 1, "one line");
      await run.stop();
      assert.equal(lineOf(sink.lines[0]!), "hello");
      assert.ok(sink.lineBatches.every((b) => typeof b.stream === "string" && b.stream.length > 0));
      const s = source.stats();
      assert.equal(s.lines, 1);
      assert.ok(s.bytes >= 5);
      assert.equal(s.drops, 0);
    });

    test("a failing sink ends run with the sink's error", async () => {
      const { source, feed } = fixtures[type]();
      const boom = new Error("pipeline down");
      const sink: LineSink = {
        push: (b) => (b.lines.length ? Promise.reject(boom) : Promise.resolve()),
      };
      const ac = new AbortController();
      const run = source.run(sink, ac.signal);
      run.catch(() => {}); // asserted below
      await waitFor(async () => (await source.healthcheck()).ok, "healthy");
      await feed();
      await assert.rejects(run, (e) => e === boom);
      ac.abort();
    });
  });
}
