import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { test } from "node:test";
import { ManualClock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { openSqliteStore } from "../store/sqlite.ts";
import { hashToken, scopeAllows, tokenId, TokenStore } from "./tokens.ts";

async function setup(opts: ConstructorParameters<typeof TokenStore>[2] = {}) {
  const clock = new ManualClock(Date.UTC(2026, 10, 23));
  const store = await openSqliteStore(":memory:", { clock: () => clock.now() });
  return { clock, store, tokens: new TokenStore(store.db, clock, opts) };
}

test("tokens: pcl_<12 hex id>_<43 base64url>; only the SHA-256 of the token is stored", async () => {
  const { store, tokens } = await setup();
  const { token, info } = await tokens.create({ scopes: ["webhook"], name: "kibana" });
  assert.match(token, /^pcl_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
  assert.equal(tokenId(token), info.id);
  const row = await store.db.selectFrom("tokens").selectAll().executeTakeFirstOrThrow();
  assert.equal(row.hash, `sha256:${createHash("sha256").update(token).digest("hex")}`);
  assert.equal(row.hash, hashToken(token));
  assert.ok(!JSON.stringify(row).includes(token.slice(17)), "the secret is not in the row");
  assert.deepEqual(info.scopes, ["webhook"]);
  assert.equal(info.name, "kibana");
  await store.close();
});

test("tokens: verify accepts the token, refuses a wrong secret, a malformed text and an unknown id", async () => {
  const { store, tokens } = await setup();
  const { token, info } = await tokens.create({ scopes: ["read"] });
  const ok = await tokens.verify(token);
  assert.ok(ok.ok);
  assert.equal(ok.token.id, info.id);
  assert.equal(ok.token.name, `read-${info.id}`);
  const last = token.at(-1) === "A" ? "B" : "A";
  assert.deepEqual(await tokens.verify(token.slice(0, -1) + last), { ok: false, reason: "invalid" });
  assert.deepEqual(await tokens.verify("pcl_000000000000_" + "A".repeat(43)), {
    ok: false,
    reason: "invalid",
  });
  for (const bad of ["", "Bearer x", token + "x", token.replace("pcl_", "pcx_"), token.toUpperCase()]) {
    assert.deepEqual(await tokens.verify(bad), { ok: false, reason: "malformed" }, bad);
  }
  await store.close();
});

test("tokens: revocation is immediate in the same process and within the cache time in another", async () => {
  const { clock, store, tokens } = await setup({ cacheTtl: 2000 });
  const other = new TokenStore(store.db, clock, { cacheTtl: 2000 });
  const { token, info } = await tokens.create({ scopes: ["admin"] });
  assert.ok((await tokens.verify(token)).ok);
  assert.ok((await other.verify(token)).ok);
  const revoked = await tokens.revoke(info.id);
  assert.equal(revoked?.revoked_at, clock.now());
  assert.deepEqual(await tokens.verify(token), { ok: false, reason: "revoked" });
  assert.ok((await other.verify(token)).ok, "the other process still has it cached");
  clock.advanceBy(2000);
  assert.deepEqual(await other.verify(token), { ok: false, reason: "revoked" });
  assert.equal(
    (await tokens.revoke(info.id))?.revoked_at,
    revoked?.revoked_at,
    "revoking twice keeps the first time",
  );
  assert.equal(await tokens.revoke("ffffffffffff"), undefined);
  await store.close();
});

test("tokens: last_used_at is written on first use and then at most once per interval", async () => {
  const { clock, store, tokens } = await setup({ cacheTtl: 10, lastUsedInterval: 60_000 });
  const { token, info } = await tokens.create({ scopes: ["webhook"] });
  assert.equal((await tokens.get(info.id))?.last_used_at, undefined);
  const t0 = clock.now();
  await tokens.verify(token);
  await tokens.flush();
  assert.equal((await tokens.get(info.id))?.last_used_at, t0);
  clock.advanceBy(30_000);
  await tokens.verify(token);
  await tokens.flush();
  assert.equal((await tokens.get(info.id))?.last_used_at, t0, "throttled");
  clock.advanceBy(30_000);
  await tokens.verify(token);
  await tokens.flush();
  assert.equal((await tokens.get(info.id))?.last_used_at, t0 + 60_000);
  await store.close();
});

test("tokens: list shows every token without secrets; allowlists are canonical", async () => {
  const { store, tokens } = await setup();
  await tokens.create({
    scopes: ["webhook"],
    name: "kibana",
    allow: ["10.1.2.3", "192.0.2.77/24", "2001:DB8::1/64"],
  });
  await tokens.create({ scopes: ["read", "webhook"] });
  const list = await tokens.list();
  assert.equal(list.length, 2);
  const kibana = list.find((x) => x.name === "kibana")!;
  assert.deepEqual(kibana.allow, ["10.1.2.3", "192.0.2.0/24", "2001:db8::/64"]);
  assert.deepEqual(list.find((x) => x !== kibana)!.scopes, ["read", "webhook"]);
  assert.ok(!JSON.stringify(list).includes("sha256"));
  await store.close();
});

test("tokens: bad scopes, names and allowlists are usage errors", async () => {
  const { store, tokens } = await setup();
  for (const req of [
    { scopes: [] },
    { scopes: ["root"] },
    { scopes: ["read"], name: "has space" },
    { scopes: ["read"], name: "x".repeat(65) },
    { scopes: ["read"], name: "evil\nline" },
    { scopes: ["read"], allow: ["example.com"] },
  ]) {
    await assert.rejects(
      tokens.create(req),
      (e: unknown) => e instanceof PortcullisError && e.code === "USAGE",
    );
  }
  assert.equal((await tokens.list()).length, 0);
  await store.close();
});

test("scopes: admin implies every scope; webhook and read imply only themselves", () => {
  assert.ok(scopeAllows(["admin"], "read"));
  assert.ok(scopeAllows(["admin"], "webhook"));
  assert.ok(scopeAllows(["read"], "read"));
  assert.ok(!scopeAllows(["webhook"], "read"));
  assert.ok(!scopeAllows(["read"], "webhook"));
  assert.ok(!scopeAllows(["read", "webhook"], "admin"));
});
