/**
 * The offline commands on the store (`status`, `bans`, `alerts`, `explain`, `token ...`): a data directory that
 * holds no state is an error (66), never a new empty state; option values are checked (64); text from logs and
 * senders is escaped before it reaches the terminal.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, test } from "node:test";
import type { Alert } from "../../src/core/alert.ts";
import { main } from "../../src/cli/main.ts";
import { SystemClock } from "../../src/core/clock.ts";
import { openSqliteStore } from "../../src/store/sqlite.ts";

const dir = mkdtempSync(join(tmpdir(), "portcullis-offline-"));
after(() => rmSync(dir, { recursive: true, force: true }));
const data = join(dir, "data");
const config = join(dir, "portcullis.yaml");
const RAW_CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/;
const HOSTILE = "ev\u001b[2Jil\u001b]0;pwned\u0007\u009b31m";
const IP = "203.0.113.66";

async function run(...args: string[]) {
  let out = "";
  let err = "";
  const io = {
    stdout: { write: (s: string) => ((out += s), true), once: () => undefined, isTTY: false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    stdin: Readable.from([]),
  } as unknown as Parameters<typeof main>[1];
  const code = await main(args, io);
  return { code, out, err };
}

before(async () => {
  writeFileSync(
    config,
    `data_dir: ${data}\npolicy:\n  allow_admin_sessions: false\n  allow_own_addresses: false\n`,
  );
  const store = await openSqliteStore(join(data, "portcullis.db"), { clock: () => SystemClock.now() });
  const now = SystemClock.now();
  const alert: Alert = {
    id: "al-hostile",
    "@timestamp": now,
    rule: { id: "ssh-brute-force", name: "SSH brute force", type: "threshold" },
    severity: "medium",
    group: { "source.ip": IP, "user.name": HOSTILE },
    count: 5,
    first_seen: now - 60_000,
    last_seen: now,
    events: [
      {
        "@timestamp": now,
        message: `Failed password for ${HOSTILE} from ${IP}`,
        event: { dataset: "sshd", action: "ssh_auth_failed", outcome: "failure" },
        source: { ip: IP },
        user: { name: HOSTILE },
      },
    ],
    attack: ["T1110.001"],
    origin: "native",
    response: "ban",
  };
  await store.insertAlert(alert, { outcome: "alert_only", reason: `because ${HOSTILE}` });
  await store.close();
});

test("explain, alerts and bans escape log and sender text; --json stays valid JSON without raw controls", async () => {
  const ban = await run("ban", IP, "--reason", `reason ${HOSTILE}`, "--config", config);
  assert.equal(ban.code, 0, ban.err);
  for (const args of [
    ["explain", IP],
    ["alerts"],
    ["bans"],
    ["explain", IP, "--json"],
    ["alerts", "--json"],
    ["bans", "--json"],
  ]) {
    const r = await run(...args, "--config", config);
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.err}`);
    assert.ok(!RAW_CONTROL.test(r.out.replaceAll("\n", "")), `${args.join(" ")}: ${JSON.stringify(r.out)}`);
    if (args.includes("--json")) for (const l of r.out.trim().split("\n")) JSON.parse(l);
  }
  const explain = await run("explain", IP, "--config", config);
  assert.match(explain.out, /reason: reason ev\\x1b\[2Jil\\x1b\]0;pwned\\x07\\x9b31m/);
  assert.match(explain.out, /Failed password for ev\\x1b\[2J/);
  assert.match(explain.out, /policy: alert_only: because ev\\x1b/);
});

test("read-only commands refuse a data directory with no state (66) and create nothing", async () => {
  const typo = join(dir, "typo");
  for (const args of [["bans"], ["status"], ["alerts"], ["explain", IP], ["unban", IP], ["token", "list"]]) {
    const r = await run(...args, "--config", config, "--data-dir", typo);
    assert.equal(r.code, 66, `${args.join(" ")}: ${r.out}${r.err}`);
    assert.match(r.err, /no Portcullis state in .*typo/);
    assert.ok(!existsSync(typo), `${args.join(" ")} created ${typo}`);
  }
  const revoke = await run("token", "revoke", "0123456789ab", "--data-dir", typo);
  assert.equal(revoke.code, 66, revoke.err);
  assert.ok(!existsSync(typo));
});

test("a data directory that is a file is an input error (66), not EEXIST (70)", async () => {
  const file = join(dir, "some-file.log");
  writeFileSync(file, "x\n");
  for (const args of [["bans"], ["ban", IP], ["token", "create", "--scope", "read"]]) {
    const r = await run(...args, "--config", config, "--data-dir", file);
    assert.equal(r.code, 66, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, /some-file\.log is not a directory/);
  }
});

test("token create/list/revoke use the config's data_dir (and --data-dir), like the other commands", async () => {
  const created = await run("token", "create", "--scope", "read", "--name", "ci", "--config", config);
  assert.equal(created.code, 0, created.err);
  const id = /Created token ([0-9a-f]{12})/.exec(created.out)![1]!;
  const list = await run("token", "list", "--json", "--config", config);
  assert.equal(list.code, 0, list.err);
  assert.ok(list.out.includes(`"id":"${id}"`), list.out);
  const viaDir = await run("token", "list", "--json", "--data-dir", data);
  assert.ok(viaDir.out.includes(`"id":"${id}"`), viaDir.out);
  const revoked = await run("token", "revoke", id, "--config", config);
  assert.equal(revoked.code, 0, revoked.err);
  // A new state directory is still created by `token create` (tokens are made before the first start).
  const fresh = join(dir, "fresh");
  const first = await run("token", "create", "--scope", "webhook", "--data-dir", fresh);
  assert.equal(first.code, 0, first.err);
  assert.ok(existsSync(join(fresh, "portcullis.db")));
});

test("option values are checked: --limit and --ip give a usage error (64), not an internal one", async () => {
  mkdirSync(data, { recursive: true });
  for (const [args, message] of [
    [["alerts", "--limit", "abc"], /--limit <n>' argument 'abc' is invalid.*1 to 1000/],
    [["alerts", "--limit", "0"], /argument '0' is invalid/],
    [["alerts", "--limit", "2.5"], /argument '2\.5' is invalid/],
    [["bans", "--all", "--limit", "abc"], /argument 'abc' is invalid/],
    [["alerts", "--ip", "notip"], /--ip: not an IP address or CIDR: notip/],
  ] as const) {
    const r = await run(...args, "--config", config);
    assert.equal(r.code, 64, `${args.join(" ")}: ${r.err}`);
    assert.match(r.err, message);
  }
  const ok = await run("alerts", "--limit", "5", "--ip", IP, "--json", "--config", config);
  assert.equal(ok.code, 0, ok.err);
  assert.equal(ok.out.trim().split("\n").length, 1);
  const all = await run("bans", "--all", "--limit", "1", "--json", "--config", config);
  assert.equal(all.code, 0, all.err);
  assert.equal(all.out.trim().split("\n").length, 1);
});
