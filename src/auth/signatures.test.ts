import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { ManualClock } from "../core/clock.ts";
import { PortcullisError } from "../core/errors.ts";
import { readSecrets, sign, SignatureVerifier } from "./signatures.ts";

const SECRET = Buffer.from("0123456789abcdef-secret");
const T0 = Date.UTC(2026, 10, 23, 12);
const body = Buffer.from('{"ip":"203.0.113.7"}');

function setup(opts: { maxCache?: number; secrets?: Buffer[] } = {}) {
  const clock = new ManualClock(T0);
  const v = new SignatureVerifier(
    {
      secrets: opts.secrets ?? [SECRET],
      window: 300_000,
      ...(opts.maxCache ? { maxCache: opts.maxCache } : {}),
    },
    clock,
  );
  return { clock, v };
}

const ts = (ms: number) => String(Math.floor(ms / 1000));

test("signatures: a fresh signature over timestamp and raw body passes once, then is a replay", () => {
  const { v } = setup();
  const sig = sign(SECRET, ts(T0), body);
  assert.match(sig, /^sha256=[0-9a-f]{64}$/);
  assert.deepEqual(v.verify(ts(T0), sig, body), { ok: true });
  const again = v.verify(ts(T0), sig, body);
  assert.equal(again.ok ? "ok" : again.code, "SIGNATURE_REPLAYED");
});

test("signatures: expired, future, tampered, wrong secret, malformed and missing have distinct codes", () => {
  const { v } = setup();
  const code = (t: string | undefined, s: string | undefined, b = body) => {
    const r = v.verify(t, s, b);
    return r.ok ? "ok" : r.code;
  };
  const old = T0 - 301_000;
  assert.equal(code(ts(old), sign(SECRET, ts(old), body)), "SIGNATURE_EXPIRED");
  const future = T0 + 301_000;
  assert.equal(code(ts(future), sign(SECRET, ts(future), body)), "SIGNATURE_EXPIRED");
  assert.equal(
    code(ts(T0), sign(SECRET, ts(T0), body), Buffer.from('{"ip":"203.0.113.8"}')),
    "SIGNATURE_INVALID",
  );
  assert.equal(code(ts(T0), sign("another-secret-1234", ts(T0), body)), "SIGNATURE_INVALID");
  assert.equal(code(ts(T0 - 1000), sign(SECRET, ts(T0), body)), "SIGNATURE_INVALID", "timestamp is signed");
  assert.equal(code(undefined, undefined), "SIGNATURE_MISSING");
  assert.equal(code(undefined, sign(SECRET, ts(T0), body)), "SIGNATURE_MALFORMED");
  assert.equal(code("yesterday", sign(SECRET, ts(T0), body)), "SIGNATURE_MALFORMED");
  assert.equal(code(ts(T0), "sha1=abc"), "SIGNATURE_MALFORMED");
  assert.equal(code(ts(T0), undefined), "SIGNATURE_MALFORMED");
  assert.equal(code(ts(T0 - 299_000), sign(SECRET, ts(T0 - 299_000), body)), "ok", "inside the window");
});

test("signatures: rotation: any configured secret, any of several signatures", () => {
  const next = Buffer.from("next-secret-0123456789");
  const { v } = setup({ secrets: [SECRET, next] });
  assert.ok(v.verify(ts(T0), sign(next, ts(T0), body), body).ok);
  const b2 = Buffer.from('{"ip":"203.0.113.9"}');
  const both = `${sign("retired-secret-000000", ts(T0), b2)}, ${sign(SECRET, ts(T0), b2)}`;
  assert.ok(v.verify(ts(T0), both, b2).ok);
});

test("signatures: with two secrets, the same request signed by the other secret is still a replay", () => {
  const next = Buffer.from("next-secret-0123456789");
  const { v } = setup({ secrets: [SECRET, next] });
  const code = (sig: string) => {
    const r = v.verify(ts(T0), sig, body);
    return r.ok ? "ok" : r.code;
  };
  assert.equal(code(sign(SECRET, ts(T0), body)), "ok");
  assert.equal(code(sign(next, ts(T0), body)), "SIGNATURE_REPLAYED", "second secret's signature");
  assert.equal(
    code(`${sign(next, ts(T0), body)}, ${sign(SECRET, ts(T0), body)}`),
    "SIGNATURE_REPLAYED",
    "both signatures at once",
  );
  assert.equal(v.cached, 1);
});

test("signatures: a full replay cache shortens the window instead of forgetting a signature", () => {
  const { clock, v } = setup({ maxCache: 2 });
  const sigs: [string, string][] = [];
  for (let i = 0; i < 3; i++) {
    const t = ts(clock.now());
    sigs.push([t, sign(SECRET, t, body)]);
    assert.ok(v.verify(t, sigs[i]![1], body).ok);
    clock.advanceBy(1000);
  }
  assert.equal(v.cached, 2);
  const first = v.verify(sigs[0]![0], sigs[0]![1], body);
  assert.equal(
    first.ok ? "ok" : first.code,
    "SIGNATURE_EXPIRED",
    "the dropped signature is not accepted again",
  );
  const last = v.verify(sigs[2]![0], sigs[2]![1], body);
  assert.equal(last.ok ? "ok" : last.code, "SIGNATURE_REPLAYED");
});

test("signatures: secrets from a file (comments, rotation) or an environment variable; too short is an error", () => {
  const dir = mkdtempSync(join(tmpdir(), "portcullis-sig-"));
  try {
    const f = join(dir, "secret");
    writeFileSync(f, "# current\nfirst-secret-0123456789\n\nsecond-secret-0123456789\n");
    assert.deepEqual(readSecrets({ file: f }).map(String), [
      "first-secret-0123456789",
      "second-secret-0123456789",
    ]);
    assert.deepEqual(readSecrets({ env: "SIG" }, { SIG: "env-secret-0123456789" }).map(String), [
      "env-secret-0123456789",
    ]);
    assert.deepEqual(readSecrets({}), []);
    writeFileSync(f, "short\n");
    const isConfig = (e: unknown) => e instanceof PortcullisError && e.code === "CONFIG_INVALID";
    assert.throws(() => readSecrets({ file: f }), isConfig);
    assert.throws(() => readSecrets({ env: "NOPE" }, {}), isConfig);
    assert.throws(() => readSecrets({ file: join(dir, "missing") }), isConfig);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
