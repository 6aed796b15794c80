import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, test } from "node:test";
import { Command } from "commander";
import { TokenStore } from "../../auth/tokens.ts";
import { SystemClock } from "../../core/clock.ts";
import { PortcullisError } from "../../core/errors.ts";
import { openSqliteStore } from "../../store/sqlite.ts";
import { registerToken } from "./token.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-token-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (c: Buffer) => (out += String(c)));
  stderr.on("data", (c: Buffer) => (err += String(c)));
  let code = -1;
  const program = new Command("portcullis").exitOverride();
  registerToken(program, { stdout, stderr, stdin: new PassThrough() }, (c) => (code = c));
  try {
    await program.parseAsync([...args, "--data-dir", dir], { from: "user" });
  } catch (e) {
    if (!(e instanceof PortcullisError)) throw e;
    err += e.message;
    code = 64;
  }
  return { code, out, err };
}

test("token create prints the token once, alone on the last line; it verifies against the store", async () => {
  const r = await run(
    "token",
    "create",
    "--scope",
    "webhook",
    "--name",
    "kibana",
    "--allow",
    "10.0.0.5",
    "--allow",
    "192.0.2.0/24",
  );
  assert.equal(r.code, 0, r.err);
  const lines = r.out.trimEnd().split("\n");
  const token = lines.at(-1)!;
  assert.match(token, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.ok(!lines.slice(0, -1).join("\n").includes(token), "printed once");
  assert.match(
    lines[0]!,
    /Created token [0-9a-f]{12} "kibana" \(scope: webhook; from: 10\.0\.0\.5, 192\.0\.2\.0\/24\)/,
  );
  const store = await openSqliteStore(join(dir, "portcullis.db"), { clock: () => SystemClock.now() });
  try {
    const v = await new TokenStore(store.db, SystemClock).verify(token);
    assert.ok(v.ok);
    assert.equal(v.token.name, "kibana");
    const audit = await store.listAudit();
    assert.equal(audit[0]?.action, "token");
    assert.equal(audit[0]?.detail?.op, "create");
    assert.ok(!JSON.stringify(audit).includes(token));
  } finally {
    await store.close();
  }
});

test("token list shows tokens without secrets; revoke revokes (by id or by the token text), once", async () => {
  const created = await run("token", "create", "--scope", "read,admin");
  const token = created.out.trimEnd().split("\n").at(-1)!;
  const id = token.slice(4, 16);
  const list = await run("token", "list", "--json");
  assert.equal(list.code, 0);
  const rows = list.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { id: string; scopes: string[]; revoked_at: string | null });
  const row = rows.find((x) => x.id === id)!;
  assert.deepEqual(row.scopes, ["read", "admin"]);
  assert.equal(row.revoked_at, null);
  assert.ok(!list.out.includes(token.slice(17)) && !list.out.includes("sha256"));
  const table = await run("token", "list");
  assert.match(table.out, /^id\s+name\s+scopes/);
  const rev = await run("token", "revoke", token);
  assert.equal(rev.code, 0);
  assert.match(rev.out, new RegExp(`Revoked token ${id}`));
  const again = await run("token", "revoke", id);
  assert.match(again.out, /already revoked/);
  const after = await run("token", "list", "--json");
  assert.notEqual(
    JSON.parse(
      after.out
        .trim()
        .split("\n")
        .find((l) => l.includes(id))!,
    ).revoked_at,
    null,
  );
  const missing = await run("token", "revoke", "ffffffffffff");
  assert.equal(missing.code, 1);
  assert.match(missing.err, /no token with id ffffffffffff/);
});

test("token create without a scope, with an unknown scope or a bad CIDR is a usage error and creates nothing", async () => {
  const before = (await run("token", "list", "--json")).out;
  for (const args of [
    [],
    ["--scope", "root"],
    ["--scope", "read", "--allow", "example.com"],
    ["--scope", "read", "--name", "a b"],
  ]) {
    const r = await run("token", "create", ...args);
    assert.equal(r.code, 64, args.join(" "));
    assert.equal(r.out, "");
  }
  assert.equal((await run("token", "list", "--json")).out, before);
});
