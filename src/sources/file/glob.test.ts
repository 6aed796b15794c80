import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { fileConfig } from "./config.ts";
import { compileSegment, expandGlob, hasMagic, matchesGlob, ROTATED_NAME } from "./glob.ts";
import { isRotatedName, namesRotatedFrom } from "./identity.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-glob-"));
after(() => rmSync(root, { recursive: true, force: true }));

test("segments compile like a shell's", () => {
  assert.ok(compileSegment("*.log").test("access.log"));
  assert.ok(!compileSegment("*.log").test(".hidden.log"));
  assert.ok(compileSegment(".*.log").test(".hidden.log"));
  assert.ok(compileSegment("site-?.log").test("site-a.log"));
  assert.ok(compileSegment("[ab]*.log").test("b.log"));
  assert.ok(!compileSegment("[!ab]*.log").test("b.log"));
  assert.ok(compileSegment("a+b(1).log").test("a+b(1).log"));
  assert.ok(hasMagic("/var/log/*.log") && !hasMagic("/var/log/auth.log"));
});

test("a path matches a glob segment by segment, as expandGlob would list it", () => {
  assert.ok(matchesGlob("/var/log/nginx/*.log", "/var/log/nginx/access.log"));
  assert.ok(matchesGlob("/var/log/*/access.log", "/var/log/nginx/access.log"));
  assert.ok(matchesGlob("/var/log//nginx/*.log", "/var/log/nginx/access.log"));
  assert.ok(!matchesGlob("/var/log/nginx/*.log", "/var/log/nginx/sub/access.log"));
  assert.ok(!matchesGlob("/var/log/nginx/*.log", "/var/log/apache/access.log"));
  assert.ok(!matchesGlob("/var/log/nginx/*.log", "/var/log/nginx/.hidden.log"));
  assert.ok(!matchesGlob("/var/log/nginx/*.log*", "/var/log/nginx/access.log.1"), "rotated names never");
});

test("rotated names are recognised", () => {
  for (const n of ["auth.log.1", "auth.log.2.gz", "auth.log-20251123", "auth.log-2025112301", "x.xz"]) {
    assert.ok(ROTATED_NAME.test(n), n);
  }
  for (const n of ["auth.log", "access-2025.log", "app.log.bak"]) assert.ok(!ROTATED_NAME.test(n), n);
});

test("rotated names of a live file, including those keeping the extension (logrotate's `extension`)", () => {
  for (const n of [
    "auth.log.1",
    "auth.log-20251123",
    "auth-20251123.log",
    "auth-2025112301.log",
    "auth.1.log",
  ]) {
    assert.ok(isRotatedName("auth.log", n), n);
  }
  assert.ok(isRotatedName("auth.log", "auth_2025-11-23.log"));
  for (const n of ["auth.log", "auth-extra.log", "authx-20251123.log", "auth-20251123.txt", "other.log.1"]) {
    assert.ok(!isRotatedName("auth.log", n), n);
  }
  assert.ok(isRotatedName("auth", "auth.1") && !isRotatedName("auth", "other.1"));
  assert.deepEqual(namesRotatedFrom("auth-20251123.log"), ["auth.log"]);
  assert.deepEqual(namesRotatedFrom("my-app.1.log"), ["my-app.log"]);
  assert.deepEqual(namesRotatedFrom("site-1-20251123.log"), ["site.log", "site-1.log"]);
  assert.deepEqual(namesRotatedFrom("auth.log"), []);
  assert.deepEqual(namesRotatedFrom("auth-extra.log"), []);
});

test("expansion walks directories, keeps files only, skips rotated names", async () => {
  for (const site of ["a", "b"]) {
    mkdirSync(join(root, site, "logs"), { recursive: true });
    writeFileSync(join(root, site, "logs", "access.log"), "");
    writeFileSync(join(root, site, "logs", "access.log.1"), "");
  }
  mkdirSync(join(root, "a", "logs", "sub.log"));
  assert.deepEqual(await expandGlob(join(root, "*", "logs", "*")), [
    join(root, "a", "logs", "access.log"),
    join(root, "b", "logs", "access.log"),
  ]);
  assert.deepEqual(await expandGlob(join(root, "missing", "*.log")), []);
});

test("file config: absolute paths, no **, defaults", () => {
  assert.equal(fileConfig.safeParse({ type: "file", paths: ["auth.log"] }).success, false);
  assert.equal(fileConfig.safeParse({ type: "file", paths: ["/var/log/**/*.log"] }).success, false);
  assert.equal(fileConfig.safeParse({ type: "file", paths: [] }).success, false);
  assert.equal(fileConfig.safeParse({ type: "file", paths: ["/x"], poll_interval: "soon" }).success, false);
  const c = fileConfig.parse({ type: "file", paths: ["/var/log/auth.log"] });
  assert.equal(c.start, "end");
  assert.equal(c.poll_interval, 1000);
  assert.equal(c.rotate_wait, 10_000);
  assert.equal(c.max_line_bytes, 65536);
  assert.equal(c.watch, true);
});
