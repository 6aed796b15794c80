/**
 * What the CLI does to the operator's terminal: text from logs is escaped (no ESC/OSC/BEL reaches the
 * terminal), and the progress bar never outlives the command (no hang after an error, cursor shown again after
 * an error, Ctrl-C or SIGTERM, output never glued onto the bar). The terminal cases run the CLI under
 * `script` (a real pseudo-terminal) and are skipped where it is missing.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { after, test } from "node:test";
import { main } from "../../src/cli/main.ts";
import { progressBar } from "../../src/cli/progress.ts";
import { jsonLine, printable, printableLines, table } from "../../src/cli/table.ts";
import { repoRoot } from "../support/shared.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-tty-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const TZ = ["--timezone", "UTC", "--reference-time", "2026-03-03T00:00:00Z"];
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;

function io() {
  let out = "";
  let err = "";
  return {
    io: {
      stdout: { write: (s: string) => ((out += s), true), once: () => undefined, isTTY: false },
      stderr: { write: (s: string) => ((err += s), true), isTTY: false },
      stdin: Readable.from([]),
    } as unknown as Parameters<typeof main>[1],
    out: () => out,
    err: () => err,
  };
}

test("printable escapes C0, DEL, C1 and bidi overrides; printableLines keeps line feeds; jsonLine stays JSON", () => {
  assert.equal(printable("ev\u001b[2Jil\u001b]0;pwned\u0007"), "ev\\x1b[2Jil\\x1b]0;pwned\\x07");
  assert.equal(printable("a\nb\tc\u007f\u009b\u202e"), "a\\x0ab\\x09c\\x7f\\x9b\\u202e");
  assert.equal(printable("plain DOMAIN\\user é"), "plain DOMAIN\\user é");
  assert.equal(printableLines("one\u001b[1m\ntwo"), "one\\x1b[1m\ntwo");
  const v = { user: "x\u001b]0;t\u0007\u009b\u007f\u2028" };
  const line = jsonLine(v);
  assert.ok(!RAW_CONTROL.test(line) && !line.includes("\u2028"), line);
  assert.deepEqual(JSON.parse(line), v);
  const t = table(["a", "b"], [["x\u001b[31m", "y\u0007"]]);
  assert.ok(!RAW_CONTROL.test(t.replaceAll("\n", "")), t);
  assert.match(t, /x\\x1b\[31m {2}y\\x07/);
});

test("replay (text) escapes group values from the logs: a user name cannot drive the terminal", async () => {
  const p = join(dir, "esc.log");
  writeFileSync(
    p,
    "Mar  2 10:00:00 srv sudo: ev\u001b[2Jil\u001b]0;pwned\u0007 : TTY=pts/0 ; PWD=/home/x ; USER=root ; COMMAND=/bin/nc -l 4444\n",
  );
  const c = io();
  assert.equal(await main(["replay", ...TZ, p], c.io), 0, c.err());
  assert.match(c.out(), /ALERT .*user\.name=ev\\x1b\[2Jil\\x1b\]0;pwned\\x07/);
  assert.ok(!RAW_CONTROL.test(c.out().replaceAll("\n", "")), JSON.stringify(c.out()));
  const j = io();
  assert.equal(await main(["replay", "--json", ...TZ, p], j.io), 0, j.err());
  assert.ok(!RAW_CONTROL.test(j.out().replaceAll("\n", "")));
  const alert = JSON.parse(j.out().trim().split("\n")[0]!) as { group: Record<string, string> };
  assert.equal(alert.group["user.name"], "ev\u001b[2Jil\u001b]0;pwned\u0007");
});

function fakeTerminal() {
  const stream = new PassThrough() as PassThrough & { columns: number };
  stream.columns = 80;
  let written = "";
  stream.on("data", (c: Buffer) => (written += String(c)));
  const handlers = new Map<string, (...a: unknown[]) => void>();
  let exitCode: number | undefined;
  const proc = {
    once: (ev: string, f: (...a: unknown[]) => void) => handlers.set(ev, f),
    removeListener: (ev: string) => handlers.delete(ev),
    exit: (c: number) => {
      exitCode = c;
    },
  } as unknown as Parameters<typeof progressBar>[3];
  return { stream, handlers, written: () => written, exitCode: () => exitCode, proc };
}

test("progress bar: stop() erases it and shows the cursor; no listener is left behind", () => {
  const t = fakeTerminal();
  let now = 0;
  const bar = progressBar(t.stream, 1000, () => now, t.proc);
  assert.ok(t.written().startsWith("\u001b[?25l"));
  now = 500;
  bar.update(500);
  assert.match(t.written(), /50% \| 0\.0\/0\.0 MB/);
  bar.stop();
  bar.stop();
  assert.ok(t.written().endsWith("\r\u001b[K\u001b[?25h"), JSON.stringify(t.written()));
  assert.equal(t.handlers.size, 0);
  assert.ok(!t.written().includes("\u001b[?7l"), "line wrapping is never turned off");
});

test("progress bar: SIGINT and SIGTERM restore the terminal, then exit 130 and 143; exit restores too", () => {
  for (const [signal, code] of [
    ["SIGINT", 130],
    ["SIGTERM", 143],
  ] as const) {
    const t = fakeTerminal();
    progressBar(t.stream, 1000, () => 0, t.proc);
    t.handlers.get(signal)!(signal);
    assert.equal(t.exitCode(), code);
    assert.ok(t.written().endsWith("\u001b[?25h"));
    assert.equal(t.handlers.size, 0);
  }
  const t = fakeTerminal();
  progressBar(t.stream, 1000, () => 0, t.proc);
  t.handlers.get("exit")!();
  assert.ok(t.written().endsWith("\u001b[?25h"));
});

test("progress bar: clear() erases the bar's line; the next update draws it again", () => {
  const t = fakeTerminal();
  const bar = progressBar(t.stream, 1000, () => 0, t.proc);
  bar.clear();
  assert.ok(t.written().endsWith("\r\u001b[K"));
  const before = t.written().length;
  bar.update(10);
  assert.ok(t.written().length > before, "redrawn at once after a clear");
  bar.stop();
});

// --- On a real terminal (script(1) gives the CLI a pseudo-terminal) ---

const hasScript = spawnSync("script", ["--version"]).status === 0;
const entry = join(dir, "pc.mts");
writeFileSync(
  entry,
  `import { main } from ${JSON.stringify(join(repoRoot, "src/cli/main.ts"))};\n` +
    "void main(process.argv.slice(2)).then((c) => (process.exitCode = c));\n",
);
const sh = (s: string) => `'${s.replaceAll("'", "'\\''")}'`;

/** Runs `portcullis ARGS` on a pseudo-terminal; `prefix`/`suffix` wrap the command line (a shell's). */
function onTerminal(args: string[], { prefix = "", suffix = "", timeout = 30_000 } = {}) {
  const cmd = `${prefix}node --import tsx ${sh(entry)} ${args.map(sh).join(" ")}${suffix}`;
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], {
    cwd: repoRoot,
    timeout,
    encoding: "utf8",
    env: { ...process.env, SHELL: "/bin/bash", COLUMNS: "100" },
  });
  return { status: r.status, signal: r.signal, out: r.stdout, timedOut: r.error !== undefined };
}

/** The terminal is left as found: every hidden cursor shown again, no line wrapping left off. */
function assertRestored(out: string) {
  const hidden = out.lastIndexOf("\u001b[?25l");
  if (hidden >= 0) assert.ok(out.indexOf("\u001b[?25h", hidden) > hidden, "cursor left hidden");
  const nowrap = out.lastIndexOf("\u001b[?7l");
  if (nowrap >= 0) assert.ok(out.indexOf("\u001b[?7h", nowrap) > nowrap, "line wrapping left off");
}

/** `n` sshd failures, ten a second from 10:00, from 300 addresses in turn (each one every 30 s: banned). */
function lines(n: number): string {
  const two = (v: number) => String(v).padStart(2, "0");
  return Array.from({ length: n }, (_, i) => {
    const t = Math.floor(i / 10);
    const at = `${two(10 + Math.floor(t / 3600))}:${two(Math.floor(t / 60) % 60)}:${two(t % 60)}`;
    return `Mar  2 ${at} srv sshd[${i}]: Failed password for root from ${i % 300 < 250 ? "198.51.100" : "203.0.113"}.${(i % 300) % 250} port 5${i % 10} ssh2`;
  }).join("\n");
}

test(
  "replay of a truncated .gz on a terminal: exits 66 at once, error shown, cursor restored",
  {
    skip: !hasScript && "script(1) is not installed",
  },
  () => {
    const gz = gzipSync(`${lines(20_000)}\n`);
    const p = join(dir, "trunc.gz");
    writeFileSync(p, gz.subarray(0, Math.floor(gz.length / 2)));
    const r = onTerminal(["replay", ...TZ, p], { timeout: 20_000 });
    assert.ok(!r.timedOut, "replay kept running after the error (the progress bar's timer)");
    assert.equal(r.status, 66, r.out);
    assert.match(r.out, /portcullis: cannot read .*trunc\.gz: corrupt or truncated gzip data/);
    assertRestored(r.out);
    // The error is the last thing on screen: nothing drawn over it.
    assert.ok(r.out.trimEnd().endsWith("corrupt or truncated gzip data"), JSON.stringify(r.out.slice(-200)));
  },
);

test(
  "replay on a terminal: Ctrl-C (SIGINT) and SIGTERM restore the cursor and exit 130 / 143",
  {
    skip: !hasScript && "script(1) is not installed",
  },
  () => {
    const p = join(dir, "some.log");
    writeFileSync(p, `${lines(100)}\n`);
    for (const [signal, code] of [
      ["INT", 130],
      ["TERM", 143],
    ] as const) {
      // stdin never ends (a pipe from sleep), so replay is still running, bar on screen, when the signal comes.
      const r = onTerminal(["replay", ...TZ, p, "-"], {
        prefix: `timeout --preserve-status -s ${signal} 3 `,
        suffix: " < <(sleep 20)",
      });
      assert.equal(r.status, code, r.out);
      assert.ok(r.out.includes("\u001b[?25l"), "the bar was shown");
      assertRestored(r.out);
    }
  },
);

test(
  "replay on a terminal: alert lines are never glued onto the progress bar",
  {
    skip: !hasScript && "script(1) is not installed",
  },
  () => {
    const p = join(dir, "many.log");
    writeFileSync(p, `${lines(60_000)}\n`);
    const r = onTerminal(["replay", ...TZ, p]);
    assert.equal(r.status, 0, r.out.slice(-2000));
    // Split what the terminal shows into lines (CR returns to the line's start): every ALERT/BAN line starts
    // with its timestamp, never after bar characters.
    const shown = r.out.replaceAll("\u001b[K", "").split(/\r\n|\r|\n/);
    const hits = shown.filter((l) => /\b(ALERT|BAN) /.test(l));
    assert.ok(hits.length > 10, `${hits.length} alert lines`);
    for (const l of hits) assert.match(l, /^20\d\d-/, JSON.stringify(l));
    assertRestored(r.out);
  },
);
