import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { memoryLogger } from "../core/logger.ts";
import { DaemonRunningError, LOCK_FILE, lockStateDirectory } from "./lock.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-lock-"));
after(() => rmSync(root, { recursive: true, force: true }));

function stateDir(name: string): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** The lock is held: a second taker is refused as another daemon. */
function assertHeld(dir: string): void {
  assert.throws(() => lockStateDirectory(dir), DaemonRunningError);
}

test("a lock file with garbage written into it is emptied and taken, with a warning; it then locks as before", () => {
  const dir = stateDir("garbage");
  writeFileSync(join(dir, LOCK_FILE), "\u0000garbage written over the lock file\n".repeat(200));
  const log = memoryLogger();
  const lock = lockStateDirectory(dir, log);
  try {
    assertHeld(dir);
    const warning = log.records.find((r) => r.level === "warn");
    assert.ok(warning, "the repair is logged");
    assert.equal(warning.path, join(dir, LOCK_FILE));
  } finally {
    lock.release();
  }
  lockStateDirectory(dir).release();
});

test("a corrupt lock database (a valid header, damaged pages) is emptied and taken", () => {
  const dir = stateDir("corrupt");
  lockStateDirectory(dir).release();
  const path = join(dir, LOCK_FILE);
  const bytes = readFileSync(path);
  bytes.fill(0x5a, 100);
  writeFileSync(path, bytes);
  const lock = lockStateDirectory(dir);
  try {
    assertHeld(dir);
  } finally {
    lock.release();
  }
});

test("a damaged lock file that cannot be emptied (a symbolic link) is reported by name; its target is left alone", () => {
  const dir = stateDir("symlink");
  const elsewhere = join(root, "not-the-lock");
  writeFileSync(elsewhere, "someone else's file, not a database");
  symlinkSync(elsewhere, join(dir, LOCK_FILE));
  assert.throws(
    () => lockStateDirectory(dir),
    (e: unknown) => {
      assert.ok(e instanceof Error && !(e instanceof DaemonRunningError), String(e));
      assert.ok(e.message.includes(join(dir, LOCK_FILE)), e.message);
      assert.match(e.message, /damaged .*cannot be emptied.*remove it/);
      return true;
    },
  );
  assert.equal(readFileSync(elsewhere, "utf8"), "someone else's file, not a database");
});
