import assert from "node:assert/strict";
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { after, test } from "node:test";
import { isPortcullisError, type PortcullisError } from "../core/errors.ts";
import { openSqliteStore } from "./sqlite.ts";
import { openError } from "./sqlite-errors.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-store-open-"));
chmodSync(dir, 0o755); // the permission checks run as an unprivileged user when the tests run as root
after(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});
const clock = () => Date.UTC(2026, 2, 2);
const SQLITE = JSON.stringify(new URL("./sqlite.ts", import.meta.url).href);

/**
 * A child process that opens each store path it reads on stdin and answers one JSON line per path:
 * `{ ok: true }` or the error's message, code and cause's code. It says "ready" once loaded.
 */
function opener(opts: { uid?: number } = {}): {
  child: ChildProcessWithoutNullStreams;
  ready: Promise<boolean>;
  open: (path: string) => Promise<Record<string, unknown>>;
} {
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      "-e",
      `
      const { openSqliteStore } = await import(${SQLITE});
      const { createInterface } = await import("node:readline");
      process.stdout.write("ready\\n");
      for await (const path of createInterface({ input: process.stdin })) {
        try {
          const s = await openSqliteStore(path, { clock: () => 0 });
          await s.close();
          process.stdout.write(JSON.stringify({ ok: true }) + "\\n");
        } catch (e) {
          process.stdout.write(JSON.stringify({ message: e.message, code: e.code, cause: e.cause?.code }) + "\\n");
        }
      }
    `,
    ],
    { stdio: ["pipe", "pipe", "pipe"], ...(opts.uid === undefined ? {} : { uid: opts.uid, gid: opts.uid }) },
  );
  const waiting: ((line: string) => void)[] = [];
  let onReady: (ok: boolean) => void = () => undefined;
  const ready = new Promise<boolean>((resolve) => (onReady = resolve));
  createInterface({ input: child.stdout }).on("line", (line) => {
    if (line === "ready") onReady(true);
    else waiting.shift()?.(line);
  });
  child.on("exit", () => onReady(false));
  return {
    child,
    ready,
    open: (path) =>
      new Promise((resolve) => {
        waiting.push((line) => resolve(JSON.parse(line) as Record<string, unknown>));
        child.stdin.write(`${path}\n`);
      }),
  };
}

test("sqlite: processes opening a new database at the same time all succeed (migrations run once)", async () => {
  // The daemon and a CLI command starting together: the second used to fail with `database migration
  // 0001-initial failed: table "decisions" already exists`.
  const openers = Array.from({ length: 6 }, () => opener());
  try {
    assert.ok((await Promise.all(openers.map((o) => o.ready))).every(Boolean), "an opener did not start");
    for (let round = 0; round < 8; round++) {
      const path = join(dir, `race${round}.db`);
      const results = await Promise.all(openers.map((o) => o.open(path)));
      assert.deepEqual(
        results,
        openers.map(() => ({ ok: true })),
        `round ${round}`,
      );
      const s = await openSqliteStore(path, { clock });
      try {
        assert.ok(await s.isMigrated());
        assert.deepEqual(await s.listDecisions(), []);
      } finally {
        await s.close();
      }
    }
  } finally {
    for (const o of openers) o.child.kill();
  }
});

async function openFailure(path: string): Promise<PortcullisError> {
  const e = await openSqliteStore(path, { clock }).then(
    async (s) => {
      await s.close();
      return undefined;
    },
    (err: unknown) => err,
  );
  assert.ok(isPortcullisError(e), `expected a PortcullisError, got ${String(e)}`);
  assert.equal(e.code, "INPUT_UNREADABLE");
  assert.ok(e.message.startsWith(`cannot open the store ${path}: `), e.message);
  assert.ok(e.cause instanceof Error, "the original error is the cause");
  return e;
}

test("sqlite: a file that is not a database is named, with the cause in words", async () => {
  const path = join(dir, "random.db");
  writeFileSync(path, Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 251)));
  const e = await openFailure(path);
  assert.match(e.message, /: not a SQLite database \(file is not a database\); move it away/);
  assert.equal((e.cause as { code?: string }).code, "SQLITE_NOTADB");
});

test("sqlite: a store path that is a directory, or under a file, is named, with the cause in words", async () => {
  const sub = join(dir, "a-directory");
  mkdirSync(sub);
  assert.match((await openFailure(sub)).message, /: it is a directory/);
  writeFileSync(join(dir, "a-file"), "");
  assert.match(
    (await openFailure(join(dir, "a-file", "portcullis.db"))).message,
    /: a component of the path is not a directory/,
  );
});

test("sqlite: an unwritable directory or a read-only database is named, with the cause in words", async (t) => {
  // As root, permissions do not apply: the opener then runs as nobody.
  const root = process.getuid?.() === 0;
  const noWrite = join(dir, "no-write");
  mkdirSync(noWrite, { mode: 0o755 });
  const ro = join(dir, "read-only");
  mkdirSync(ro, { mode: 0o755 });
  const made = await openSqliteStore(join(dir, "made.db"), { clock });
  await made.close();
  copyFileSync(join(dir, "made.db"), join(ro, "portcullis.db"));
  chmodSync(join(ro, "portcullis.db"), 0o444);
  chmodSync(ro, 0o555);
  if (!root) chmodSync(noWrite, 0o555);
  const o = opener(root ? { uid: 65534 } : {});
  try {
    if (!(await o.ready)) return t.skip("cannot run a process as an unprivileged user here");
    const created = await o.open(join(noWrite, "portcullis.db"));
    if (created.ok) return t.skip("this user can write where permissions say it may not");
    assert.equal(created.code, "INPUT_UNREADABLE");
    assert.equal(created.cause, "SQLITE_CANTOPEN");
    assert.equal(
      created.message,
      `cannot open the store ${join(noWrite, "portcullis.db")}: permission denied: cannot create a file in ` +
        `${noWrite} (unable to open database file)`,
    );
    const readOnly = await o.open(join(ro, "portcullis.db"));
    assert.equal(readOnly.code, "INPUT_UNREADABLE");
    assert.match(String(readOnly.cause), /^SQLITE_READONLY/);
    assert.equal(
      readOnly.message,
      `cannot open the store ${join(ro, "portcullis.db")}: read-only: the file is not writable by this user ` +
        `(attempt to write a readonly database)`,
    );
  } finally {
    o.child.kill();
    chmodSync(ro, 0o755);
  }
});

test("sqlite: open errors name the cause in words for a full disk and a lock", () => {
  const sqliteError = (code: string, message: string) => Object.assign(new Error(message), { code });
  assert.equal(
    openError("/var/lib/portcullis/portcullis.db", sqliteError("SQLITE_FULL", "database or disk is full"))
      .message,
    "cannot open the store /var/lib/portcullis/portcullis.db: disk full (database or disk is full)",
  );
  const migration = new Error("database migration 0002-query-indexes failed: database is locked", {
    cause: sqliteError("SQLITE_BUSY", "database is locked"),
  });
  assert.equal(
    openError("/d/p.db", migration).message,
    "cannot open the store /d/p.db: locked: another process holds the database " +
      "(database migration 0002-query-indexes failed: database is locked)",
  );
});
