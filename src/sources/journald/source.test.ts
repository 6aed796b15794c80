import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { LineFramer } from "../../framing/framer.ts";
import { Zone } from "../../framing/zone.ts";
import { MemoryCheckpointStore } from "../checkpoints.ts";
import { RecordingSink, sourceContext, start, waitFor } from "../testing.ts";
import type { CheckpointStore } from "../types.ts";
import { isArchivedSibling, journalctlArgs, journalctlTailArgs } from "./args.ts";
import { journaldConfig } from "./config.ts";
import { cursorOf, JournaldSource } from "./source.ts";

/** Debian package systemd-journal-remote: turns journal export format into real journal files. */
const JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote";
const root = mkdtempSync(join(tmpdir(), "portcullis-journald-"));
after(() => rmSync(root, { recursive: true, force: true }));
const BOOT = "0123456789abcdef0123456789abcdef";
let seq = 0;

interface Entry {
  ident: string;
  message: string;
  unit?: string;
}

/** Appends entries to `file` (created if missing) through systemd-journal-remote. */
function writeJournal(file: string, entries: Entry[]): void {
  assert.ok(
    existsSync(JOURNAL_REMOTE),
    `${JOURNAL_REMOTE} is missing: apt-get install systemd-journal-remote (needed to build journal files)`,
  );
  const text = entries
    .map((e) => {
      seq++;
      const fields = [
        `__REALTIME_TIMESTAMP=${1_700_000_000_000_000 + seq * 1_000_000}`,
        `__MONOTONIC_TIMESTAMP=${seq}`,
        `_BOOT_ID=${BOOT}`,
        `_HOSTNAME=testhost`,
        `SYSLOG_IDENTIFIER=${e.ident}`,
        `_PID=${4000 + seq}`,
        `PRIORITY=6`,
        `MESSAGE=${e.message}`,
      ];
      if (e.unit) fields.push(`_SYSTEMD_UNIT=${e.unit}`);
      return fields.join("\n") + "\n\n";
    })
    .join("");
  const r = spawnSync(JOURNAL_REMOTE, ["-o", file, "-"], { input: text });
  assert.equal(r.status, 0, `systemd-journal-remote failed: ${String(r.stderr)}`);
}

/**
 * Rotates `file` as systemd-journal-remote (and journald) do: renames it to
 * `<stem>@<seqnum_id>-<head_seqnum>-<head_realtime>.journal` (from its first entry's cursor); the next
 * {@link writeJournal} starts a new file under the old name. Returns the archive's path.
 */
function rotate(file: string): string {
  const r = spawnSync("/usr/bin/journalctl", [`--file=${file}`, "--output=json", "--no-pager", "--quiet"]);
  assert.equal(r.status, 0, `journalctl failed: ${String(r.stderr)}`);
  const first = cursorOf(String(r.stdout).split("\n")[0] ?? "") ?? "";
  const [s, i, t] = ["s", "i", "t"].map((k) => new RegExp(`(?:^|;)${k}=([0-9a-f]+)`).exec(first)?.[1]);
  assert.ok(s && i && t, `no cursor in ${file}: ${first}`);
  const archive = join(
    dirname(file),
    `${basename(file, ".journal")}@${s}-${i.padStart(16, "0")}-${t.padStart(16, "0")}.journal`,
  );
  renameSync(file, archive);
  return archive;
}

function journalDir(): string {
  return mkdtempSync(join(root, "j"));
}

function source(opts: Record<string, unknown>, checkpoints: CheckpointStore = new MemoryCheckpointStore()) {
  const cfg = journaldConfig.parse({ type: "journald", journalctl: "/usr/bin/journalctl", ...opts });
  return new JournaldSource(cfg, sourceContext({ checkpoints }));
}

const messages = (sink: RecordingSink) =>
  sink.lines.map((l) => (JSON.parse(l) as { MESSAGE: string }).MESSAGE);

/**
 * A restart: a new source on the same checkpoint store runs until it has handed over `n` entries (`what`),
 * then stops. Returns the source (for its arguments) and the messages it read.
 */
async function rerun(opts: Record<string, unknown>, store: CheckpointStore, n: number, what: string) {
  const sink = new RecordingSink(store);
  const src = source(opts, store);
  const run = start(src, sink);
  await waitFor(
    () => sink.lines.length === n,
    what,
    () => sink.lines,
  );
  await run.stop();
  return { src, read: messages(sink) };
}

const ssh = (n: number, from = 1): Entry[] =>
  Array.from({ length: n }, (_, i) => ({
    ident: "sshd",
    message: `Failed password for root from 203.0.113.${i + from} port 22 ssh2`,
  }));

describe("journalctl arguments", () => {
  const cfg = (o: Record<string, unknown>) => journaldConfig.parse({ type: "journald", ...o });

  test("follow JSON from the end by default; units OR identifiers", () => {
    assert.deepEqual(
      journalctlArgs(cfg({ units: ["ssh", "cron.service"], identifiers: ["sudo"] }), undefined),
      [
        "--follow",
        "--output=json",
        "--all",
        "--no-pager",
        "--quiet",
        "--lines=0",
        "_SYSTEMD_UNIT=ssh.service",
        "_SYSTEMD_UNIT=cron.service",
        "+",
        "SYSLOG_IDENTIFIER=sudo",
      ],
    );
  });

  test("a cursor wins over start and since; files and directory pass through", () => {
    const a = journalctlArgs(cfg({ start: "beginning", since: "-1h", files: ["/x/a.journal"] }), "s=1;i=2");
    assert.ok(a.includes("--cursor=s=1;i=2"));
    assert.ok(a.includes("--file=/x/a.journal"));
    assert.ok(!a.some((x) => x.startsWith("--since") || x === "--no-tail"));
    assert.ok(journalctlArgs(cfg({ start: "beginning" }), undefined).includes("--no-tail"));
    const s = journalctlArgs(cfg({ since: "2025-11-23 10:00:00", directory: "/j" }), undefined);
    assert.ok(
      s.includes("--since=2025-11-23 10:00:00") && s.includes("--no-tail") && s.includes("--directory=/j"),
    );
  });

  test("the tail query (start: end): same journals, last entry only, no matches, no follow", () => {
    const c = cfg({ files: ["/x/a.journal"], identifiers: ["sshd"], units: ["ssh"] });
    assert.deepEqual(journalctlTailArgs(c), [
      "--output=json",
      "--all",
      "--no-pager",
      "--quiet",
      "--lines=1",
      "--file=/x/a.journal",
    ]);
    assert.ok(journalctlTailArgs(cfg({ directory: "/j" })).includes("--directory=/j"));
  });

  test("files: the selection passed replaces the configured list (listed files and archived siblings)", () => {
    const c = cfg({ files: ["/x/a.journal"], identifiers: ["sshd"] });
    const files = ["/x/a.journal", "/x/a@0123-0000000000000001-0000000000000002.journal"];
    const a = journalctlArgs(c, "s=1;i=2", false, files);
    assert.deepEqual(
      a.filter((x) => x.startsWith("--file=")),
      files.map((f) => `--file=${f}`),
    );
    assert.deepEqual(
      journalctlTailArgs(c, files).filter((x) => x.startsWith("--file=")),
      files.map((f) => `--file=${f}`),
    );
    // Nothing existing is never "no --file" here: the source does not start journalctl then.
    assert.equal(cfg({}).file_check_interval, 5000);
  });

  test("archived siblings: <stem>@*.journal and <stem>@*.journal~ of the listed file only", () => {
    const f = "/var/log/journal/remote/remote-10.0.0.5.journal";
    assert.ok(isArchivedSibling(f, "remote-10.0.0.5@0d2a-0000000000000001-00060a1b2c3d4e5f.journal"));
    assert.ok(isArchivedSibling(f, "remote-10.0.0.5@00060a1b2c3d4e5f-0123456789abcdef.journal~"));
    assert.ok(!isArchivedSibling(f, "remote-10.0.0.5.journal"));
    assert.ok(!isArchivedSibling(f, "remote-10.0.0.50@0d2a-01-02.journal"));
    assert.ok(!isArchivedSibling(f, "remote-10.0.0.5@0d2a-01-02.journal.tmp"));
    assert.ok(!isArchivedSibling("/x/a.log", "a@1.journal"));
  });

  test("config: unknown keys, relative paths and both directory and files are rejected", () => {
    assert.equal(journaldConfig.safeParse({ type: "journald", follow: true }).success, false);
    assert.equal(journaldConfig.safeParse({ type: "journald", directory: "j" }).success, false);
    const both = journaldConfig.safeParse({ type: "journald", directory: "/j", files: ["/j/a.journal"] });
    assert.equal(both.success, false);
    assert.equal(journaldConfig.safeParse({ type: "journald", units: ["a b"] }).success, false);
    assert.equal(journaldConfig.safeParse({ type: "journald", file_check_interval: "1ms" }).success, false);
  });

  test("cursorOf reads __CURSOR anywhere in the line", () => {
    assert.equal(cursorOf('{"MESSAGE":"x","__CURSOR":"s=ab;i=3;b=cd","_PID":"1"}'), "s=ab;i=3;b=cd");
    assert.equal(cursorOf('{"MESSAGE":"x"}'), undefined);
  });
});

describe("journald source (real journal files from systemd-journal-remote)", () => {
  test("reads entries as JSON lines the framer understands, and saves the last cursor", async () => {
    const d = journalDir();
    writeJournal(join(d, "remote.journal"), [
      ...ssh(2),
      { ident: "CRON", message: "pam_unix(cron:session): session opened", unit: "cron.service" },
    ]);
    const store = new MemoryCheckpointStore();
    const src = source({ directory: d, start: "beginning" }, store);
    const sink = new RecordingSink(store);
    const run = start(src, sink);
    await waitFor(
      () => sink.lines.length === 3,
      "three entries",
      () => sink.lines,
    );
    await run.stop();
    const frame = new LineFramer({ zone: new Zone("UTC"), reference: () => 0 }).frame(sink.lines[0]!)!;
    assert.equal(frame.format, "journal-json");
    assert.equal(frame.program, "sshd");
    assert.equal(frame.host, "testhost");
    assert.equal(frame.message, "Failed password for root from 203.0.113.1 port 22 ssh2");
    assert.equal(store.entries()["journald:journald"], cursorOf(sink.lines[2]!));
    assert.equal(src.stats().lines, 3);
    assert.equal(src.stats().starts, 1);
  });

  test("follows entries appended while running", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, ssh(2));
    const src = source({ files: [file], start: "beginning" });
    const sink = new RecordingSink();
    const run = start(src, sink);
    await waitFor(() => sink.lines.length === 2, "existing entries");
    writeJournal(file, ssh(2, 10));
    await waitFor(
      () => sink.lines.length === 4,
      "appended entries",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(messages(sink).slice(2), [
      "Failed password for root from 203.0.113.10 port 22 ssh2",
      "Failed password for root from 203.0.113.11 port 22 ssh2",
    ]);
  });

  test("start: end reads only entries written after the start", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, ssh(2));
    const src = source({ files: [file] });
    const sink = new RecordingSink();
    const run = start(src, sink);
    // journalctl positions itself at the end at some point after its start: write probes until one arrives.
    for (let i = 1; sink.lines.length === 0; i++) {
      writeJournal(file, [{ ident: "probe", message: `probe ${i}` }]);
      await new Promise((r) => setTimeout(r, 50));
      assert.ok(i < 200, "no probe arrived");
    }
    await run.stop();
    assert.ok(
      messages(sink).every((m) => m.startsWith("probe ")),
      "old entries are not read",
    );
  });

  test("a restarted source resumes after the saved cursor: no entry twice, none missed", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, ssh(3));
    const store = new MemoryCheckpointStore();
    const sink1 = new RecordingSink(store);
    const run1 = start(source({ directory: d, start: "beginning" }, store), sink1);
    await waitFor(() => sink1.lines.length === 3, "first run");
    await run1.stop();
    writeJournal(file, ssh(2, 4));
    const { src: src2, read } = await rerun({ directory: d, start: "beginning" }, store, 2, "second run");
    assert.deepEqual(read, [
      "Failed password for root from 203.0.113.4 port 22 ssh2",
      "Failed password for root from 203.0.113.5 port 22 ssh2",
    ]);
    assert.ok(src2.argv().some((a) => a.startsWith("--cursor=")));
  });

  test("start: end: the journal's end is saved at once; entries written while down are read", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, [{ ident: "cron", message: "old" }]);
    writeJournal(file, ssh(1, 50)); // before the first start: never read
    writeJournal(file, [{ ident: "cron", message: "newer" }]);
    const store = new MemoryCheckpointStore();
    const run1 = start(source({ files: [file], identifiers: ["sshd"] }, store), new RecordingSink(store));
    await waitFor(async () => (await store.get("journald:journald")) !== undefined, "a position saved");
    await run1.stop();
    writeJournal(file, [
      { ident: "cron", message: "tick" },
      { ident: "sshd", message: "Failed password for root from 203.0.113.7 port 22 ssh2 (while down)" },
    ]);
    const { src: src2, read } = await rerun(
      { files: [file], identifiers: ["sshd"] },
      store,
      1,
      "the entry written while down",
    );
    assert.deepEqual(read, ["Failed password for root from 203.0.113.7 port 22 ssh2 (while down)"]);
    assert.ok(src2.argv().some((a) => a.startsWith("--cursor=")));
  });

  test("start: end on an empty journal: followed from its head, also after a restart before any entry", async () => {
    const d = journalDir(); // no journal file at all yet
    const store = new MemoryCheckpointStore();
    const src1 = source({ directory: d, identifiers: ["sshd"] }, store);
    const run1 = start(src1, new RecordingSink(store));
    await waitFor(async () => (await store.get("journald:journald")) === "head", "the head position saved");
    await run1.stop();
    assert.ok(src1.argv().includes("--no-tail"));
    assert.ok(!src1.argv().includes("--lines=0"));
    // Entries written while down, into the journal that was empty: all of them are new.
    writeJournal(join(d, "remote.journal"), ssh(2, 20));
    const { read } = await rerun(
      { directory: d, identifiers: ["sshd"] },
      store,
      2,
      "the entries written while down",
    );
    assert.deepEqual(read, [
      "Failed password for root from 203.0.113.20 port 22 ssh2",
      "Failed password for root from 203.0.113.21 port 22 ssh2",
    ]);
    assert.match((await store.get("journald:journald")) ?? "", /^s=/, "a real cursor once entries were read");
  });

  test("start: end with no matching entry in the journal yet: entries written while down are read", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, [{ ident: "cron", message: "old" }]);
    const store = new MemoryCheckpointStore();
    const src1 = source({ files: [file], identifiers: ["sshd"] }, store);
    const run1 = start(src1, new RecordingSink(store));
    await waitFor(() => src1.stats().starts === 1, "journalctl started");
    await run1.stop();
    writeJournal(file, [
      { ident: "cron", message: "tick" },
      { ident: "sshd", message: "Failed password for root from 203.0.113.8 port 22 ssh2 (while down)" },
    ]);
    const { read } = await rerun(
      { files: [file], identifiers: ["sshd"] },
      store,
      1,
      "the entry written while down",
    );
    assert.deepEqual(read, ["Failed password for root from 203.0.113.8 port 22 ssh2 (while down)"]);
  });

  test("unit and identifier matches: entries of either are read, others not", async () => {
    const d = journalDir();
    writeJournal(join(d, "remote.journal"), [
      { ident: "sshd", message: "ssh entry" },
      { ident: "CRON", message: "cron entry", unit: "cron.service" },
      { ident: "kernel", message: "kernel entry" },
      { ident: "sudo", message: "sudo entry" },
    ]);
    const sink = new RecordingSink();
    const run = start(
      source({ directory: d, start: "beginning", units: ["cron"], identifiers: ["sshd", "sudo"] }),
      sink,
    );
    await waitFor(
      () => sink.lines.length === 3,
      "matching entries",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(messages(sink), ["ssh entry", "cron entry", "sudo entry"]);
  });

  test("a cursor journalctl rejects is reset (logged, counted) and reading starts per `start`", async () => {
    const d = journalDir();
    writeJournal(join(d, "remote.journal"), ssh(2));
    const store = new MemoryCheckpointStore({ "journald:journald": "not-a-cursor" });
    const src = source({ directory: d, start: "beginning", restart_backoff: "10ms" }, store);
    const sink = new RecordingSink();
    const run = start(src, sink);
    await waitFor(
      () => sink.lines.length === 2,
      "entries after the reset",
      () => src.stats(),
    );
    await run.stop();
    assert.equal(src.stats().cursor_resets, 1);
  });

  test("back-pressure: while the sink blocks nothing more is pushed; everything arrives once", async () => {
    const d = journalDir();
    writeJournal(join(d, "remote.journal"), ssh(3000));
    const src = source({ directory: d, start: "beginning", batch_lines: 100 });
    const sink = new RecordingSink();
    sink.block();
    const run = start(src, sink);
    await waitFor(() => sink.calls === 1, "first push blocked");
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sink.calls, 1);
    sink.release();
    await waitFor(
      () => sink.lines.length === 3000,
      "all entries",
      () => sink.lines.length,
    );
    await run.stop();
    assert.equal(new Set(sink.lines.map((l) => cursorOf(l))).size, 3000);
    assert.equal(src.stats().drops, 0);
  });

  test("a stop that arrives while journalctl is being started stops it (run returns, no journalctl left)", async () => {
    const d = journalDir();
    const file = join(d, "remote.journal");
    writeJournal(file, ssh(1));
    // The abort lands after the saved cursor was read and the loop checked the signal, while the listed
    // files are being looked at (stat, readdir): journalctl --follow was then started and never stopped.
    const ac = new AbortController();
    const store = new MemoryCheckpointStore();
    store.get = () => {
      setImmediate(() => ac.abort());
      return Promise.resolve(undefined);
    };
    // No entry matches: journalctl follows without printing anything, so only the stop can end it.
    const src = source({ files: [file], start: "beginning", identifiers: ["nothing-matches"] }, store);
    let returned = false;
    const done = src.run(new RecordingSink(), ac.signal).finally(() => (returned = true));
    await waitFor(
      () => returned,
      "run() to return after the stop",
      () => src.stats(),
    );
    await done;
    assert.equal((await src.healthcheck()).detail.endsWith("not started"), true);
  });

  test("an entry longer than max_line_bytes is dropped and counted; the others pass", async () => {
    const d = journalDir();
    writeJournal(join(d, "remote.journal"), [
      { ident: "sshd", message: "short" },
      { ident: "sshd", message: "x".repeat(5000) },
      { ident: "sshd", message: "after" },
    ]);
    const src = source({ directory: d, start: "beginning", max_line_bytes: 1024 });
    const sink = new RecordingSink();
    const run = start(src, sink);
    await waitFor(
      () => sink.lines.length === 2,
      "short entries",
      () => sink.lines,
    );
    await run.stop();
    assert.deepEqual(messages(sink), ["short", "after"]);
    assert.equal(src.stats().drops, 1);
  });
});

describe("journald source restarts journalctl when it exits", () => {
  test("with backoff, after the cursor of the last entry handed over", async () => {
    const d = mkdtempSync(join(root, "fake"));
    const log = join(d, "argv.log");
    const fake = join(d, "journalctl");
    // A stand-in that records its arguments, prints two entries (numbered per run) and exits. It cannot
    // answer the query for the journal's last entry (no --follow): the source then starts with --lines=0.
    writeFileSync(
      fake,
      `#!/bin/sh
case "$*" in *--follow*) ;; *) exit 1 ;; esac
echo "$*" >> ${log}
n=$(wc -l < ${log})
echo "{\\"__CURSOR\\":\\"c$n-1\\",\\"MESSAGE\\":\\"run $n a\\"}"
echo "{\\"__CURSOR\\":\\"c$n-2\\",\\"MESSAGE\\":\\"run $n b\\"}"
exit 3
`,
    );
    chmodSync(fake, 0o755);
    const store = new MemoryCheckpointStore();
    const src = source({ journalctl: fake, restart_backoff: "5ms", restart_backoff_max: "20ms" }, store);
    const sink = new RecordingSink(store);
    const run = start(src, sink);
    await waitFor(
      () => sink.lines.length >= 6,
      "three runs",
      () => sink.lines,
    );
    await run.stop();
    const argv = readFileSync(log, "utf8").trim().split("\n");
    assert.ok(argv[0]!.includes("--lines=0") && !argv[0]!.includes("--cursor"));
    assert.ok(argv[1]!.includes("--cursor=c1-2"), argv[1]);
    assert.ok(argv[2]!.includes("--cursor=c2-2"), argv[2]);
    assert.deepEqual(messages(sink).slice(0, 4), ["run 1 a", "run 1 b", "run 2 a", "run 2 b"]);
    assert.ok(src.stats().starts >= 3);
    assert.ok(src.stats().errors >= 2);
  });
});

describe("journald source: rotation of listed files (systemd-journal-remote renames x.journal to x@...journal)", () => {
  const msg = (from: number, n: number) =>
    Array.from({ length: n }, (_, i) => `Failed password for root from 203.0.113.${from + i} port 22 ssh2`);

  test("while following: the new file is read, none twice, none lost; the saved cursor resumes", async () => {
    const d = journalDir();
    const file = join(d, "remote-10.0.0.5.journal");
    writeJournal(file, ssh(2, 1));
    const store = new MemoryCheckpointStore();
    const opts = { files: [file], start: "beginning", file_check_interval: "20ms" };
    const src = source(opts, store);
    const sink = new RecordingSink(store);
    const run = start(src, sink);
    await waitFor(() => sink.lines.length === 2, "entries of the first file");
    writeJournal(file, ssh(1, 3)); // just before the rotation: read before or after the restart, once
    const archive = rotate(file);
    writeJournal(file, ssh(3, 4)); // the new file
    await waitFor(
      () => sink.lines.length >= 6,
      "entries of the new file",
      () => ({ read: messages(sink), stats: src.stats() }),
    );
    writeJournal(file, ssh(3, 7)); // appended to the new file while following it
    await waitFor(
      () => sink.lines.length >= 9,
      "entries appended to the new file",
      () => ({ read: messages(sink), stats: src.stats() }),
    );
    await run.stop();
    assert.deepEqual(messages(sink), msg(1, 9));
    assert.ok(src.stats().file_rotations >= 1, JSON.stringify(src.stats()));
    assert.equal(src.stats().errors, 0);
    assert.ok(src.argv().includes(`--file=${archive}`), "the archive is read with the new file");
    // A daemon restart resumes after the cursor saved from the new file.
    writeJournal(file, ssh(2, 10));
    const { read } = await rerun(opts, store, 2, "entries written while down");
    assert.deepEqual(read, msg(10, 2));
  });

  test("entries written into the new file before the restart are read; health does not claim following", async () => {
    const d = journalDir();
    const file = join(d, "remote-10.0.0.5.journal");
    writeJournal(file, ssh(2, 1));
    // No periodic check within the test: the replacement is found by the health probe itself.
    const src = source({ files: [file], start: "beginning", file_check_interval: "1h" });
    const sink = new RecordingSink();
    const run = start(src, sink);
    await waitFor(() => sink.lines.length === 2, "entries of the first file");
    assert.match((await src.healthcheck()).detail, /; following$/);
    rotate(file);
    writeJournal(file, ssh(6, 3)); // the reviewer's repro: six entries in the new file
    const h = await src.healthcheck();
    assert.doesNotMatch(h.detail, /following$/);
    assert.match(h.detail, /remote-10\.0\.0\.5\.journal was replaced/);
    await waitFor(
      () => sink.lines.length >= 8,
      "the six entries of the new file",
      () => ({ read: messages(sink), stats: src.stats() }),
    );
    await waitFor(
      async () => /; following$/.test((await src.healthcheck()).detail),
      "following the new file",
    );
    await run.stop();
    assert.deepEqual(messages(sink), msg(1, 8));
    assert.equal(src.stats().file_rotations, 1);
    assert.equal(src.stats().errors, 0);
  });

  test("rotated while the daemon was down: the cursor in the archive is found; its later entries are read", async () => {
    const d = journalDir();
    const file = join(d, "remote-10.0.0.5.journal");
    writeJournal(file, ssh(2, 1));
    const store = new MemoryCheckpointStore();
    const opts = { files: [file], start: "beginning", file_check_interval: "20ms" };
    const first = await rerun(opts, store, 2, "first run");
    assert.deepEqual(first.read, msg(1, 2));
    writeJournal(file, ssh(2, 3)); // after the saved cursor, in the file that is then archived
    rotate(file);
    writeJournal(file, ssh(2, 5));
    const { read } = await rerun(opts, store, 4, "entries of the archive and of the new file");
    assert.deepEqual(read, msg(3, 4));
  });

  test("a listed file that does not exist yet is read once it appears (no error, others read meanwhile)", async () => {
    const d = journalDir();
    const a = join(d, "remote-10.0.0.5.journal");
    const b = join(d, "remote-10.0.0.6.journal");
    writeJournal(a, ssh(1, 1));
    const src = source({ files: [a, b], start: "beginning", file_check_interval: "20ms" });
    const sink = new RecordingSink();
    const run = start(src, sink);
    await waitFor(
      () => sink.lines.length === 1,
      "the existing file",
      () => src.stats(),
    );
    writeJournal(b, ssh(2, 2));
    await waitFor(
      () => sink.lines.length >= 3,
      "the file that appeared",
      () => ({ read: messages(sink), stats: src.stats() }),
    );
    await run.stop();
    assert.deepEqual(messages(sink), msg(1, 3));
    assert.equal(src.stats().errors, 0);
  });

  test("start: end and no listed file exists: health says so; once written, all its entries are read", async () => {
    const d = journalDir();
    const file = join(d, "remote-10.0.0.5.journal");
    const store = new MemoryCheckpointStore();
    const src = source({ files: [file], file_check_interval: "20ms" }, store);
    const sink = new RecordingSink(store);
    const run = start(src, sink);
    await waitFor(async () => /waiting for/.test((await src.healthcheck()).detail), "waiting for the file");
    assert.equal((await src.healthcheck()).ok, false);
    assert.equal(src.stats().starts, 0, "journalctl without --file would read the system journal");
    writeJournal(file, ssh(2, 1));
    await waitFor(
      () => sink.lines.length >= 2,
      "the entries of the new file",
      () => ({ read: messages(sink), stats: src.stats() }),
    );
    await run.stop();
    assert.deepEqual(messages(sink), msg(1, 2));
    assert.match((await store.get("journald:journald")) ?? "", /^s=/);
  });
});
