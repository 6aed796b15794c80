/**
 * The CLI hooks' forwarding (`portcullis wazuh-ar`, `portcullis block`) against the real HTTPS API with the
 * recording Control double: what they send (duration, origin), how they sign, and the --help they give.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, test } from "node:test";
import { Command } from "commander";
import { SignatureVerifier } from "../../auth/signatures.ts";
import { ManualClock } from "../../core/clock.ts";
import { startTestServer, type TestServer } from "../../api/testing.ts";
import { readSigningSecrets, signatureHeaders } from "../client.ts";
import { registerHooks } from "./hooks.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-hooks-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const SECRET = "hook-signing-secret-0123456789";
const secretFile = join(dir, "webhook.secret");
writeFileSync(secretFile, `# rotation: the new secret first\n${SECRET}\n\n`);

const ENV = [
  "PORTCULLIS_URL",
  "PORTCULLIS_TOKEN",
  "PORTCULLIS_TOKEN_FILE",
  "PORTCULLIS_CA",
  "PORTCULLIS_SIGNING_SECRET_FILE",
];

/** Runs one hook command in-process, with exactly `env` as its PORTCULLIS_* environment. */
async function run(
  args: string[],
  env: Record<string, string>,
  stdinLines: string[] = [],
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const stdin = new PassThrough();
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on("data", (c: Buffer) => {
    out += String(c);
    // execd answers the check_keys line at once.
    if (out.includes("check_keys") && stdinLines.length) stdin.write(stdinLines.shift());
  });
  stderr.on("data", (c: Buffer) => (err += String(c)));
  if (stdinLines.length) stdin.write(stdinLines.shift());
  let code = -1;
  const program = new Command("portcullis").exitOverride();
  registerHooks(program, { stdout, stderr, stdin }, (c) => (code = c));
  const saved = Object.fromEntries(ENV.map((k) => [k, process.env[k]]));
  for (const k of ENV) delete process.env[k];
  Object.assign(process.env, env);
  try {
    await program.parseAsync(args, { from: "user" });
  } finally {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  }
  return { code, out, err };
}

const line = (o: unknown) => `${JSON.stringify(o)}\n`;
const CONTINUE = line({ version: 1, origin: { name: "node01", module: "wazuh-execd" }, command: "continue" });
const v5 = (command: string, ip: string, ar: Record<string, unknown> = {}) =>
  line({
    version: 1,
    command,
    wazuh: { active_response: { name: "portcullis", ...ar } },
    rule: { id: "5712", description: "sshd brute force", level: 10 },
    source: { ip },
  });

describe("hooks against the API", () => {
  let t: TestServer;
  let env: Record<string, string>;
  let ca: string;
  before(async () => {
    t = await startTestServer();
    ca = join(dir, "api.crt");
    writeFileSync(ca, t.ca);
    env = { PORTCULLIS_URL: t.url, PORTCULLIS_TOKEN: await t.token("admin"), PORTCULLIS_CA: ca };
  });
  after(() => t.close());

  test("wazuh-ar forwards a 5.x stateful_timeout as the ban's duration", async () => {
    const r = await run(["wazuh-ar", "--ca", ca], env, [
      v5("enable", "8.8.4.4", { type: "stateful", stateful_timeout: 7200 }),
      CONTINUE,
    ]);
    assert.equal(r.code, 0, r.err);
    const call = t.control.calls.findLast((c) => c.op === "ingestAlert");
    assert.ok(call?.op === "ingestAlert");
    assert.equal(call.alert.duration, 7_200_000);
    assert.equal(call.alert.origin, "wazuh");
    const [d] = t.control.decisions.filter((x) => x.target === "8.8.4.4");
    assert.equal(d?.duration, 7_200_000);
    // Without a stateful timeout: the policy's default.
    const plain = await run(["wazuh-ar", "--ca", ca], env, [v5("enable", "8.8.4.5"), CONTINUE]);
    assert.equal(plain.code, 0, plain.err);
    const last = t.control.calls.findLast((c) => c.op === "ingestAlert");
    assert.equal(last?.op === "ingestAlert" && last.alert.duration, undefined);
  });

  test("wazuh-ar disable ends only Wazuh's ban of the address, never another origin's", async () => {
    const admin = env.PORTCULLIS_TOKEN!;
    // An operator's ban of the address (and of a range holding it) must survive Wazuh's stateful timeout.
    assert.equal((await t.post("/v1/decisions", admin, { target: "203.0.113.7" })).status, 200);
    assert.equal((await t.post("/v1/decisions", admin, { target: "203.0.113.0/24" })).status, 200);
    const off = await run(["wazuh-ar", "--ca", ca], env, [v5("disable", "203.0.113.7")]);
    assert.equal(off.code, 0, off.err);
    assert.match(off.err, /not_banned 203\.0\.113\.7/);
    const active = (target: string) =>
      t.control.decisions.filter((d) => d.target === target && d.state === "active");
    assert.equal(active("203.0.113.7").length, 1, "the operator's ban of the address stays");
    assert.equal(active("203.0.113.0/24").length, 1, "the operator's range stays");
    // Wazuh's own ban is lifted by its disable.
    assert.equal((await run(["wazuh-ar", "--ca", ca], env, [v5("enable", "192.0.2.77"), CONTINUE])).code, 0);
    assert.equal(active("192.0.2.77")[0]?.origin, "wazuh");
    const lifted = await run(["wazuh-ar", "--ca", ca], env, [v5("disable", "192.0.2.77")]);
    assert.equal(lifted.code, 0, lifted.err);
    assert.match(lifted.err, /unbanned 192\.0\.2\.77/);
    assert.equal(active("192.0.2.77").length, 0);
  });
});

describe("hooks with api.signatures.required", () => {
  let t: TestServer;
  let env: Record<string, string>;
  let ca: string;
  before(async () => {
    t = await startTestServer({
      api: { signatures: { required: true, secret_env: "UNUSED_IN_TESTS" } },
      signatureSecrets: [Buffer.from(SECRET)],
    });
    // The server checks timestamps against its clock; the hooks sign with the wall clock.
    t.clock.advanceTo(Date.now());
    ca = join(dir, "signed-api.crt");
    writeFileSync(ca, t.ca);
    env = { PORTCULLIS_URL: t.url, PORTCULLIS_TOKEN: await t.token("admin"), PORTCULLIS_CA: ca };
  });
  after(() => t.close());

  test("unsigned: exit 2 with the server's reason; nothing reaches the daemon", async () => {
    const r = await run(["block", "9.9.9.2"], env);
    assert.equal(r.code, 2, r.out + r.err);
    assert.match(r.err, /x-portcullis-timestamp and x-portcullis-signature are required/);
    assert.equal(t.control.mutations.length, 0);
  });

  test("block signs with PORTCULLIS_SIGNING_SECRET_FILE; the same ban again is no replay", async () => {
    const signed = { ...env, PORTCULLIS_SIGNING_SECRET_FILE: secretFile };
    const r = await run(["block", "9.9.9.2"], signed);
    assert.equal(r.code, 0, r.out + r.err);
    assert.match(r.out, /banned 9\.9\.9\.2/);
    const again = await run(["block", "9.9.9.2"], signed);
    assert.equal(again.code, 0, again.out + again.err);
    assert.match(again.out, /already_banned/);
  });

  test("wazuh-ar signs with --signing-secret-file (ban and unban)", async () => {
    const args = ["wazuh-ar", "--ca", ca, "--signing-secret-file", secretFile];
    const on = await run(args, env, [v5("enable", "9.9.9.3"), CONTINUE]);
    assert.equal(on.code, 0, on.err);
    assert.equal(t.control.decisions.find((d) => d.target === "9.9.9.3")?.state, "active");
    const off = await run(args, env, [v5("disable", "9.9.9.3")]);
    assert.equal(off.code, 0, off.err);
    assert.equal(t.control.decisions.find((d) => d.target === "9.9.9.3")?.state, "revoked");
  });

  test("a wrong secret or an unreadable file: exit 2, and the secret is never printed", async () => {
    const wrong = join(dir, "wrong.secret");
    writeFileSync(wrong, "another-secret-0123456789\n");
    const bad = await run(["block", "9.9.9.4"], { ...env, PORTCULLIS_SIGNING_SECRET_FILE: wrong });
    assert.equal(bad.code, 2, bad.out + bad.err);
    assert.match(bad.err, /signature does not match/);
    const missing = await run(["block", "9.9.9.4"], {
      ...env,
      PORTCULLIS_SIGNING_SECRET_FILE: join(dir, "nope"),
    });
    assert.equal(missing.code, 2);
    assert.match(missing.err, /cannot read the signing secret file .*nope: ENOENT/);
    assert.ok(!(bad.err + missing.err).includes("another-secret"));
  });
});

test("signing secrets: read like the server's secret_file; headers verify as the server verifies", () => {
  assert.deepEqual(readSigningSecrets(secretFile), [SECRET]);
  const short = join(dir, "short.secret");
  writeFileSync(short, "too-short\n");
  assert.throws(() => readSigningSecrets(short), /at least 16 characters/);
  const empty = join(dir, "empty.secret");
  writeFileSync(empty, "# nothing\n\n");
  assert.throws(() => readSigningSecrets(empty), /holds no secret/);
  const now = Date.UTC(2026, 10, 23, 12);
  const verifier = new SignatureVerifier(
    { secrets: [Buffer.from(SECRET)], window: 300_000 },
    new ManualClock(now),
  );
  const body = '{"ip":"203.0.113.7"}';
  // Two secrets (rotation): the server accepts the one it knows.
  const h = signatureHeaders(["old-secret-0123456789", SECRET], body, now);
  assert.equal(h["x-portcullis-timestamp"], String(now / 1000));
  assert.deepEqual(
    verifier.verify(h["x-portcullis-timestamp"], h["x-portcullis-signature"], Buffer.from(body)),
    { ok: true },
  );
});

test("--help documents the signing secret file (option and environment), never a secret argument", () => {
  const program = new Command("portcullis");
  const io = { stdout: new PassThrough(), stderr: new PassThrough(), stdin: new PassThrough() };
  registerHooks(program, io, () => undefined);
  const ar = program.commands.find((c) => c.name() === "wazuh-ar")!.helpInformation();
  assert.match(ar, /--signing-secret-file <file>/);
  assert.match(ar, /PORTCULLIS_SIGNING_SECRET_FILE/);
  const block = program.commands.find((c) => c.name() === "block")!.description();
  assert.match(block, /PORTCULLIS_SIGNING_SECRET_FILE/);
  assert.doesNotMatch(ar, /--signing-secret </);
});
