import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { setTimeout as delay } from "node:timers/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it, test } from "node:test";
import {
  createPair,
  destroyPair,
  inNs,
  netnsSkipReason,
  nsLines,
  rootSnapshot,
  type NetPair,
} from "../../test/support/netns.ts";
import { ManualClock, SystemClock } from "../core/clock.ts";
import { ProcessExec } from "../core/exec.ts";
import { memoryLogger, silentLogger } from "../core/logger.ts";
import type { PluginContext } from "../core/plugin.ts";
import { validateEnforcerConfig } from "./config.ts";
import { EnforcerServer, enforcerFromConfig, hostedFromConfig } from "./server.ts";
import { MemoryResponder, rawClient, SpyResponder, type RawClient } from "./testing.ts";

const skip = netnsSkipReason(["nft"]);
const rootBefore = skip ? undefined : await rootSnapshot();
const ctx = (): PluginContext => ({
  clock: SystemClock,
  logger: silentLogger,
  dataDir: "/nonexistent",
  exec: new ProcessExec(),
});
const now = () => SystemClock.now();

const base = mkdtempSync(join(tmpdir(), "pcl-enf-"));
// other users must be able to reach the socket's directory for the permission test; the socket decides
chmodSync(base, 0o711);
after(() => rmSync(base, { recursive: true, force: true }));
let seq = 0;
const socketIn = (name: string) => join(base, `${name}-${++seq}`, "enforcer.sock");

/** Waits (bounded) until the server has noticed that clients hung up. */
async function settled(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !cond(); i++) await delay(10);
  assert.ok(cond(), "the server did not notice closed connections");
}

function memoryServer(socket: string, extra: Partial<ConstructorParameters<typeof EnforcerServer>[0]> = {}) {
  const mem = new MemoryResponder("mem");
  const server = new EnforcerServer({
    socket,
    gid: process.getgid?.(),
    responders: [{ name: "mem", responder: mem, limits: { min_prefix_v4: 8, min_prefix_v6: 32 } }],
    logger: silentLogger,
    ...extra,
  });
  return { server, mem };
}

describe("the socket file", () => {
  it("is created with mode 0660 and the configured group, in a directory created 0750", async () => {
    const socket = socketIn("mode");
    const gid = process.getgid!();
    const { server } = memoryServer(socket, { gid });
    await server.start();
    try {
      const st = lstatSync(socket);
      assert.ok(st.isSocket());
      assert.equal((st.mode & 0o777).toString(8), "660");
      assert.equal(st.gid, gid);
      const dir = statSync(join(socket, ".."));
      assert.equal((dir.mode & 0o777).toString(8), "750");
      const c = await rawClient(socket);
      assert.equal(c.first.hello, "portcullis-enforcer");
      assert.deepEqual(c.first.responders, [
        { name: "mem", type: "memory", native_expiry: false, min_prefix_v4: 8, min_prefix_v6: 32 },
      ]);
      c.close();
    } finally {
      await server.stop();
    }
    assert.equal(existsSync(socket), false, "stop removes the socket file");
  });

  it("replaces a stale socket, refuses a regular file and a socket someone listens on", async () => {
    const socket = socketIn("stale");
    const first = memoryServer(socket).server;
    await first.start();
    await assert.rejects(memoryServer(socket).server.start(), /another enforcer is already listening/);
    await first.stop();

    // a socket file left behind by a crash: a process that bound it and died without cleaning up
    const leftover = spawnSync(process.execPath, [
      "-e",
      `const s=require("net").createServer().listen(process.argv[1],()=>process.exit(0))`,
      socket,
    ]);
    assert.equal(leftover.status, 0);
    assert.ok(lstatSync(socket).isSocket(), "a stale socket file is there");
    const second = memoryServer(socket).server;
    await second.start();
    await second.stop();

    writeFileSync(socket, "not a socket");
    await assert.rejects(memoryServer(socket).server.start(), /exists and is not a socket; refusing/);
    assert.equal(lstatSync(socket).isFile(), true, "the file is left alone");
  });

  const setpriv = spawnSync("sh", ["-c", "command -v setpriv"]).status === 0;
  const asRoot = process.getuid?.() === 0;
  it(
    "the kernel refuses other users at connect; members of the group get in",
    {
      skip: !asRoot
        ? "needs root to run clients as other users"
        : !setpriv
          ? "needs setpriv (util-linux)"
          : false,
    },
    async () => {
      const socket = socketIn("perm");
      const gid = 4242;
      const { server } = memoryServer(socket, { gid });
      await server.start();
      try {
        // the directory is 0750 root:4242; open it so the refusal below comes from the socket file's own mode
        const probe = (groups: string[]) =>
          new Promise<string>((resolve) => {
            const child = spawn(
              "setpriv",
              [
                "--reuid=65534",
                "--regid=65534",
                ...groups,
                "--",
                process.execPath,
                "-e",
                `const s=require("net").connect(process.argv[1]);` +
                  `s.on("data",d=>{console.log(JSON.parse(d.toString().split("\\n")[0]).hello);process.exit(0)});` +
                  `s.on("error",e=>{console.log(e.code);process.exit(0)})`,
                socket,
              ],
              { stdio: ["ignore", "pipe", "inherit"] },
            );
            let out = "";
            child.stdout.on("data", (b: Buffer) => (out += b.toString()));
            child.on("close", () => resolve(out.trim()));
          });
        assert.equal(await probe(["--clear-groups"]), "EACCES", "outside the group, the directory stops it");
        chmodSync(join(socket, ".."), 0o755);
        assert.equal(
          await probe(["--clear-groups"]),
          "EACCES",
          "outside the group, the socket's 0660 stops it",
        );
        assert.equal(
          await probe([`--groups=${gid}`]),
          "portcullis-enforcer",
          "a member of the group connects",
        );
      } finally {
        await server.stop();
      }
    },
  );
});

describe("lifecycle", () => {
  it("stop lets a running request answer, then closes its connection and removes the socket", async () => {
    const socket = socketIn("stop");
    const { server, mem } = memoryServer(socket);
    let release!: () => void;
    let entered!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const running = new Promise<void>((r) => (entered = r));
    const apply = mem.apply.bind(mem);
    mem.apply = async (entries) => {
      entered();
      await gate;
      return apply(entries);
    };
    await server.start();
    const c = await rawClient(socket);
    const idle = await rawClient(socket);
    c.write(
      `${JSON.stringify({ id: 1, verb: "apply", responder: "mem", entries: [{ target: "192.0.2.1", expires: null }] })}\n`,
    );
    await running; // the request is running (held by the gate) when stop begins
    const stopping = server.stop();
    await idle.closed;
    release();
    assert.deepEqual(await c.next(), { id: 1, ok: true, results: [{ target: "192.0.2.1", ok: true }] });
    await c.closed;
    await stopping;
    assert.equal(existsSync(socket), false);
    assert.deepEqual([...mem.bans], [["192.0.2.1", Infinity]]);
  });
});

describe("the host's own addresses", () => {
  it("loopback, the host's interface addresses and ranges holding them are refused alone; others pass", async () => {
    const socket = socketIn("own");
    const log = memoryLogger();
    const { server, mem } = memoryServer(socket, {
      interfaces: () => ["127.0.0.1", "192.0.2.10", "2001:db8:5::10", "fe80::1%eth0"],
      logger: log,
    });
    await server.start();
    const c = await rawClient(socket);
    try {
      const apply = async (target: string) => {
        const r = (await c.request({
          verb: "apply",
          responder: "mem",
          entries: [{ target, expires: null }],
        })) as { ok: boolean; results: { ok: boolean; error?: string }[] };
        assert.equal(r.ok, true, "the request stands: the entry fails alone");
        return r.results[0]!.ok ? "ok" : r.results[0]!.error!;
      };
      for (const t of [
        "127.0.0.1",
        "127.8.0.0/16",
        "::1",
        "192.0.2.10",
        "192.0.2.0/24",
        "2001:db8:5::/64",
        "fe80::/64",
      ]) {
        assert.match(await apply(t), /^not allowed: .*would cut off/, t);
      }
      assert.match(await apply("192.0.2.0/24"), /this host's address 192\.0\.2\.10/);
      assert.equal(await apply("192.0.2.11"), "ok");
      assert.equal(await apply("2001:db8:6::/64"), "ok");
      assert.deepEqual([...mem.bans.keys()].sort(), ["192.0.2.11", "2001:db8:6::/64"]);

      // one protected entry (or one too wide) in a batch fails alone; the others are applied, in order
      const mixed = await c.request({
        id: 5,
        verb: "apply",
        responder: "mem",
        entries: [
          { target: "198.51.100.1", expires: null },
          { target: "192.0.2.0/24", expires: null },
          { target: "198.51.100.2", expires: null },
          { target: "0.0.0.0/0", expires: null },
          { target: "2001:DB8:7::1", expires: null },
        ],
      });
      assert.deepEqual(mixed, {
        id: 5,
        ok: true,
        results: [
          { target: "198.51.100.1", ok: true },
          {
            target: "192.0.2.0/24",
            ok: false,
            error: "not allowed: 192.0.2.0/24 would cut off this host's address 192.0.2.10",
          },
          { target: "198.51.100.2", ok: true },
          { target: "0.0.0.0/0", ok: false, error: "not allowed: prefix /0 is shorter than the minimum /8" },
          { target: "2001:DB8:7::1", ok: true },
        ],
      });
      assert.deepEqual(
        [...mem.bans.keys()].sort(),
        ["192.0.2.11", "198.51.100.1", "198.51.100.2", "2001:db8:6::/64", "2001:db8:7::1"],
        "the refused entries never reached the responder",
      );
      const refusals = log.records.filter((r) => r.msg === "entries refused");
      assert.ok(refusals.length > 0, "refused entries are logged");
      assert.deepEqual(refusals.at(-1)!.refused, [
        "192.0.2.0/24: not allowed: 192.0.2.0/24 would cut off this host's address 192.0.2.10",
        "0.0.0.0/0: not allowed: prefix /0 is shorter than the minimum /8",
      ]);
      const change = log.records.filter((r) => r.msg === "firewall change").at(-1)!;
      assert.deepEqual([change.count, change.ok, change.failed], [5, 3, 2]);
    } finally {
      c.close();
      await server.stop();
    }
  });
});

describe("protect: and max_duration (the root-owned config's own limits)", () => {
  type Results = { ok: boolean; results: { target: string; ok: boolean; error?: string }[] };

  it("protected addresses, ranges holding them and targets inside protected ranges are refused alone; others applied", async () => {
    // the whole path from the config: a `command` responder that records what reaches it (no firewall)
    const dir = mkdtempSync(join(base, "protect-"));
    const applied = join(dir, "applied");
    writeFileSync(applied, "");
    const loaded = validateEnforcerConfig(
      {
        group: process.getgid!(),
        protect: ["192.0.2.7", "198.51.100.0/24", "2001:DB8:77::/48"],
        responders: [
          {
            type: "command",
            name: "cmd",
            apply: ["sh", "-c", 'echo "$1 $2" >> "$0"', applied, "{action}", "{target}"],
          },
        ],
      },
      "(test)",
    );
    const socket = socketIn("protect");
    const log = memoryLogger();
    // the test host's own addresses (whatever they are) must not decide these results
    const server = await enforcerFromConfig(
      loaded,
      { ...ctx(), logger: log },
      { socket, interfaces: () => ["192.0.2.10"] },
    );
    await server.start();
    const c = await rawClient(socket);
    try {
      const future = now() + 600_000;
      const entries = [
        { target: "192.0.2.7", expires: null }, // the report's request: the admin's address, forever
        { target: "192.0.2.7", expires: future },
        { target: "192.0.2.0/24", expires: future }, // a range holding a protected address
        { target: "::ffff:192.0.2.7", expires: future }, // another spelling of it
        { target: "198.51.100.9", expires: future }, // inside a protected range
        { target: "198.51.100.128/25", expires: future },
        { target: "198.51.0.0/16", expires: future }, // holding a protected range
        { target: "2001:db8:77:1::/64", expires: future },
        { target: "192.0.2.8", expires: future },
        { target: "203.0.113.5", expires: future },
        { target: "2001:db8:78::1", expires: future },
        { target: "203.0.113.6", expires: null }, // not protected, but longer than the default max_duration
        { target: "192.0.2.10", expires: future }, // the host's own address: still refused
      ];
      const r = (await c.request({ id: 1, verb: "apply", responder: "cmd", entries })) as Results;
      const refused = (what: string) => `not allowed: ${what}`;
      assert.deepEqual(r, {
        id: 1,
        ok: true,
        results: [
          {
            target: "192.0.2.7",
            ok: false,
            error: refused("192.0.2.7 would cut off the protected address 192.0.2.7"),
          },
          {
            target: "192.0.2.7",
            ok: false,
            error: refused("192.0.2.7 would cut off the protected address 192.0.2.7"),
          },
          {
            target: "192.0.2.0/24",
            ok: false,
            error: refused("192.0.2.0/24 would cut off the protected address 192.0.2.7"),
          },
          {
            target: "::ffff:192.0.2.7",
            ok: false,
            error: refused("192.0.2.7 would cut off the protected address 192.0.2.7"),
          },
          {
            target: "198.51.100.9",
            ok: false,
            error: refused("198.51.100.9 would cut off the protected range 198.51.100.0/24"),
          },
          {
            target: "198.51.100.128/25",
            ok: false,
            error: refused("198.51.100.128/25 would cut off the protected range 198.51.100.0/24"),
          },
          {
            target: "198.51.0.0/16",
            ok: false,
            error: refused("198.51.0.0/16 would cut off the protected range 198.51.100.0/24"),
          },
          {
            target: "2001:db8:77:1::/64",
            ok: false,
            error: refused("2001:db8:77:1::/64 would cut off the protected range 2001:db8:77::/48"),
          },
          { target: "192.0.2.8", ok: true },
          { target: "203.0.113.5", ok: true },
          { target: "2001:db8:78::1", ok: true },
          {
            target: "203.0.113.6",
            ok: false,
            error: refused("a ban without expiry (the enforcer's max_duration is 3650d)"),
          },
          {
            target: "192.0.2.10",
            ok: false,
            error: refused("192.0.2.10 would cut off this host's address 192.0.2.10"),
          },
        ],
      });
      assert.deepEqual(
        readFileSync(applied, "utf8").trim().split("\n").sort(),
        ["ban 192.0.2.8", "ban 2001:db8:78::1", "ban 203.0.113.5"],
        "only the allowed entries reached the responder",
      );
      // removing is never dangerous: a protected target may be unbanned (a ban made before it was protected)
      const removed = (await c.request({
        id: 2,
        verb: "remove",
        responder: "cmd",
        targets: ["192.0.2.7"],
      })) as Results;
      assert.deepEqual(removed.results, [{ target: "192.0.2.7", ok: true }]);
      const listening = log.records.find((l) => l.msg === "enforcer listening")!;
      assert.deepEqual(listening.protect, ["192.0.2.7", "198.51.100.0/24", "2001:DB8:77::/48"]);
      assert.equal(listening.max_duration, "3650d");
      const refusals = log.records.find((l) => l.msg === "entries refused")!;
      assert.equal(refusals.level, "warn");
      assert.equal(refusals.count, 10);
    } finally {
      c.close();
      await server.stop();
    }
  });

  it("max_duration: no expiry and expiries beyond it are refused alone; bans within it are applied", async () => {
    const NOW = Date.UTC(2026, 0, 1);
    const DAY = 86_400_000;
    const socket = socketIn("maxdur");
    const { server, mem } = memoryServer(socket, {
      maxDurationMs: 30 * DAY,
      clock: new ManualClock(NOW),
      interfaces: () => [],
    });
    await server.start();
    const c = await rawClient(socket);
    try {
      const r = (await c.request({
        verb: "apply",
        responder: "mem",
        entries: [
          { target: "192.0.2.1", expires: null },
          { target: "192.0.2.2", expires: NOW + 30 * DAY + 1 },
          { target: "192.0.2.3", expires: NOW + 30 * DAY },
          { target: "192.0.2.4", expires: NOW + 600_000 },
          { target: "192.0.2.5", expires: NOW - 1 }, // already expired: harmless, as before
        ],
      })) as Results;
      assert.deepEqual(r.results, [
        {
          target: "192.0.2.1",
          ok: false,
          error: "not allowed: a ban without expiry (the enforcer's max_duration is 30d)",
        },
        {
          target: "192.0.2.2",
          ok: false,
          error:
            "not allowed: expires 2026-01-31T00:00:00.001Z, beyond the enforcer's max_duration (30d from now)",
        },
        { target: "192.0.2.3", ok: true },
        { target: "192.0.2.4", ok: true },
        { target: "192.0.2.5", ok: true },
      ]);
      assert.deepEqual([...mem.bans.keys()].sort(), ["192.0.2.3", "192.0.2.4", "192.0.2.5"]);
    } finally {
      c.close();
      await server.stop();
    }
  });

  it("without protect and max_duration (the server's own defaults) nothing more is refused", async () => {
    const socket = socketIn("nolimits");
    const { server, mem } = memoryServer(socket, { interfaces: () => [] });
    await server.start();
    const c = await rawClient(socket);
    try {
      const r = (await c.request({
        verb: "apply",
        responder: "mem",
        entries: [{ target: "192.0.2.7", expires: null }],
      })) as Results;
      assert.deepEqual(r.results, [{ target: "192.0.2.7", ok: true }]);
      assert.deepEqual([...mem.bans], [["192.0.2.7", Infinity]]);
    } finally {
      c.close();
      await server.stop();
    }
  });
});

describe("hostile clients against a real nftables responder (network namespace)", { skip }, () => {
  let pair!: NetPair;
  let server!: EnforcerServer;
  let spy!: SpyResponder;
  const log = memoryLogger();
  const socket = socketIn("hostile");
  let baseline!: { ruleset: string[]; targets: string[] };
  const state = async () => ({
    ruleset: await nsLines(pair.server, ["nft", "-t", "list", "ruleset"]),
    targets: (await spy.inner.list()).map((e) => e.target).sort(),
  });

  before(async () => {
    pair = await createPair("enfh");
    const loaded = validateEnforcerConfig(
      { responders: [{ type: "nftables", name: "nft", netns: pair.server }] },
      "(test)",
    );
    const [hosted] = hostedFromConfig(loaded, ctx());
    spy = new SpyResponder(hosted!.responder);
    server = new EnforcerServer({
      socket,
      responders: [{ ...hosted!, responder: spy }],
      logger: log,
      maxConnections: 8,
      maxMessageBytes: 64 * 1024,
      maxEntries: 100,
      lineTimeoutMs: 300,
    });
    await server.start();
    // a legitimate client sets up and bans two addresses: the state hostile requests must not change
    const c = await rawClient(socket);
    assert.deepEqual(await c.request({ id: 1, verb: "setup", responder: "nft" }), { id: 1, ok: true });
    const reply = await c.request({
      id: 2,
      verb: "apply",
      responder: "nft",
      entries: [
        { target: "192.0.2.1", expires: now() + 600_000 },
        { target: "2001:DB8::1", expires: now() + 600_000 },
      ],
    });
    assert.deepEqual(reply, {
      id: 2,
      ok: true,
      results: [
        { target: "192.0.2.1", ok: true },
        { target: "2001:DB8::1", ok: true },
      ],
    });
    c.close();
    baseline = await state();
    assert.deepEqual(baseline.targets, ["192.0.2.1", "2001:db8::1"]);
    assert.ok(baseline.ruleset.some((l) => l.includes("table inet portcullis")));
    for (const k of Object.keys(spy.calls)) spy.calls[k] = 0;
  });

  after(async () => {
    await server?.stop();
    await destroyPair(pair);
  });

  const errorOf = (r: Record<string, unknown> | undefined) => {
    assert.ok(r, "a reply");
    assert.equal(r.ok, false, JSON.stringify(r));
    return (r.error as { code: string; message: string }).code;
  };

  it("changes are logged with who asked and what changed", () => {
    const change = log.records.find((r) => r.msg === "firewall change");
    assert.ok(change, "a firewall change record");
    assert.equal(change.who, "socket");
    assert.equal(change.verb, "apply");
    assert.equal(change.responder, "nft");
    assert.equal(change.count, 2);
    assert.equal(change.ok, 2);
    assert.match(String((change.targets as string[])[1]), /^2001:db8::1 until \d{4}-/);
    assert.ok(log.records.some((r) => r.msg === "setup done" && r.who === "socket"));
  });

  it("garbage gets an error reply and the connection stays usable", async () => {
    const c = await rawClient(socket);
    const garbage: (string | Buffer)[] = [
      "not json\n",
      "{\n",
      '{"verb":"apply"\n',
      "[]\n",
      "null\n",
      "42\n",
      '"apply"\n',
      `${"[".repeat(100_000).slice(0, 60_000)}\n`,
      Buffer.from([0xff, 0xfe, 0x7b, 0x7d, 0x0a]),
      "\u0000\u0001\u0002\n",
    ];
    for (const g of garbage) {
      c.write(g);
      assert.equal(errorOf(await c.next()), "BAD_REQUEST", JSON.stringify(String(g).slice(0, 20)));
    }
    c.write("\n\n   \n");
    const h = await c.request({ id: 3, verb: "health", responder: "nft" });
    assert.equal(h.ok, true, "blank lines are ignored; the connection still works");
    assert.equal(h.id, 3);
    c.close();
  });

  it("unknown verbs, fields and responder names get an error reply", async () => {
    const c = await rawClient(socket);
    const cases: [unknown, string][] = [
      [{ id: 1, verb: "exec", responder: "nft", argv: ["nft", "flush", "ruleset"] }, "UNKNOWN_VERB"],
      [{ id: 2, verb: "flush", responder: "nft" }, "UNKNOWN_VERB"],
      [{ id: 3, verb: "__proto__", responder: "nft" }, "UNKNOWN_VERB"],
      [{ id: 4, verb: "constructor", responder: "nft" }, "UNKNOWN_VERB"],
      [{ id: 5, verb: "list", responder: "nft", command: "nft flush ruleset" }, "UNKNOWN_FIELD"],
      [{ id: 6, verb: "apply", responder: "nft", entries: [], table: "filter" }, "UNKNOWN_FIELD"],
      [
        { id: 7, verb: "apply", responder: "nft", entries: [{ target: "192.0.2.9", expires: 1, set: "x" }] },
        "UNKNOWN_FIELD",
      ],
      [{ id: 8, verb: "setup", responder: "ipset" }, "UNKNOWN_RESPONDER"],
      [{ id: 9, verb: "setup", responder: "nft; nft flush ruleset" }, "UNKNOWN_RESPONDER"],
      [{ id: 10, verb: "setup", responder: "__proto__" }, "UNKNOWN_RESPONDER"],
      [{ id: 11, verb: "setup", responder: "NFT" }, "UNKNOWN_RESPONDER"],
      [{ id: 12, verb: "setup" }, "BAD_REQUEST"],
      [{ id: 13, verb: "teardown", responder: "nft" }, "NOT_ALLOWED"],
      [{ id: -1, verb: "setup", responder: "nft" }, "INVALID_ARGUMENT"],
    ];
    for (const [req, want] of cases) {
      const r = await c.request(req);
      assert.equal(errorOf(r), want, JSON.stringify(req));
    }
    c.close();
  });

  it("injected targets and bad expiries get an error reply, too wide prefixes fail alone; nothing is applied", async () => {
    const c = await rawClient(socket);
    const future = now() + 600_000;
    const targets = [
      "1.2.3.4; nft flush ruleset",
      "1.2.3.4 && nft flush ruleset",
      "$(nft flush ruleset)",
      "`reboot`",
      "1.2.3.4\nflush ruleset",
      "1.2.3.4%; nft flush ruleset",
      "192.0.2.7 }; flush ruleset; add element inet portcullis ban4 { 192.0.2.8",
      "0.0.0.0/0 ",
      "::/0;",
      "[::1]",
      "fe80::1%eth0",
      "-f /etc/passwd",
      "",
      "a".repeat(5000),
    ];
    for (const target of targets) {
      // a valid entry first: the batch is refused whole, so the valid one is not applied either
      const r = await c.request({
        verb: "apply",
        responder: "nft",
        entries: [
          { target: "198.51.100.1", expires: future },
          { target, expires: future },
        ],
      });
      assert.equal(errorOf(r), "INVALID_ARGUMENT", target);
    }
    for (const target of targets) {
      assert.equal(
        errorOf(await c.request({ verb: "remove", responder: "nft", targets: ["192.0.2.1", target] })),
        "INVALID_ARGUMENT",
      );
    }
    for (const expires of [-1, 1.5, "1", 1e300, true, {}, [], undefined]) {
      assert.equal(
        errorOf(
          await c.request({
            verb: "apply",
            responder: "nft",
            entries: [{ target: "198.51.100.1", expires }],
          }),
        ),
        "INVALID_ARGUMENT",
        JSON.stringify(expires) ?? "undefined",
      );
    }
    for (const bad of [
      { target: 3232235777, expires: future },
      "198.51.100.1",
      null,
      ["198.51.100.1", future],
    ]) {
      assert.equal(
        errorOf(await c.request({ verb: "apply", responder: "nft", entries: [bad] })),
        "INVALID_ARGUMENT",
      );
    }
    // well-formed but too wide: refused alone (the request stands); alone in its request, nothing is applied
    for (const target of ["0.0.0.0/0", "::/0", "10.0.0.0/7", "2000::/3"]) {
      const r = await c.request({
        id: 1,
        verb: "apply",
        responder: "nft",
        entries: [{ target, expires: future }],
      });
      assert.equal(r.ok, true, JSON.stringify(r));
      assert.deepEqual(r.results, [
        {
          target,
          ok: false,
          error: `not allowed: prefix /${target.split("/")[1]} is shorter than the minimum /${target.includes(":") ? 32 : 8}`,
        },
      ]);
    }
    const many = Array.from({ length: 101 }, (_, i) => ({ target: `198.51.100.${i}`, expires: future }));
    assert.equal(errorOf(await c.request({ verb: "apply", responder: "nft", entries: many })), "TOO_LARGE");
    c.close();
  });

  it("an oversized line gets TOO_LARGE and the connection is closed", async () => {
    const c = await rawClient(socket);
    c.write(
      `{"verb":"apply","responder":"nft","entries":[${'{"target":"198.51.100.1","expires":1},'.repeat(3000)}`,
    );
    assert.equal(errorOf(await c.next()), "TOO_LARGE");
    await c.closed;
    const d = await rawClient(socket);
    d.write(Buffer.alloc(200 * 1024, 0x41));
    assert.equal(errorOf(await d.next()), "TOO_LARGE");
    await d.closed;
  });

  it("a line never finished gets an error reply and the connection is closed", async () => {
    const c = await rawClient(socket);
    c.write('{"verb":"apply","responder":"nft","entries":[');
    assert.equal(errorOf(await c.next()), "BAD_REQUEST");
    await c.closed;
  });

  it("pipelined requests are answered one at a time, in order", async () => {
    const c = await rawClient(socket);
    c.write(
      [1, 2, 3, 4, 5]
        .map((id) => JSON.stringify({ id, verb: id % 2 ? "health" : "nope", responder: "nft" }))
        .join("\n") + "\n",
    );
    const ids: unknown[] = [];
    for (let i = 0; i < 5; i++) ids.push((await c.next())!.id);
    assert.deepEqual(ids, [1, 2, 3, 4, 5]);
    c.close();
  });

  it("many connections: beyond the limit BUSY, the server keeps serving", async () => {
    const open: RawClient[] = [];
    for (let i = 0; i < 8; i++) open.push(await rawClient(socket));
    assert.ok(open.every((c) => c.first.hello === "portcullis-enforcer"));
    const extra = await rawClient(socket);
    assert.equal(errorOf(extra.first), "BUSY");
    await extra.closed;
    for (const c of open) c.close();
    await Promise.all(open.map((c) => c.closed));
    await settled(() => server.connections === 0);
    // a burst of hostile clients at once, and some that hang up mid-request
    const burst = await Promise.allSettled(
      Array.from({ length: 40 }, async (_, i) => {
        const c = await rawClient(socket);
        if (c.first.ok === false) return "BUSY";
        if (i % 4 === 0) {
          c.write('{"id":1,"verb":"list","responder":"nft"}\n');
          c.close();
          return "hung up";
        }
        const r = await c.request({
          verb: "apply",
          responder: "nft",
          entries: [{ target: "0.0.0.0/0", expires: 1 }],
        });
        c.close();
        assert.equal(r.ok, true, JSON.stringify(r));
        return (r.results as { ok: boolean }[])[0]!.ok ? "applied" : "refused alone";
      }),
    );
    for (const b of burst) {
      assert.equal(b.status, "fulfilled", b.status === "rejected" ? String(b.reason) : "");
      assert.ok(["BUSY", "hung up", "refused alone"].includes(b.value), b.value);
    }
    await settled(() => server.connections === 0);
    const ok = await rawClient(socket);
    assert.equal((await ok.request({ id: 1, verb: "health", responder: "nft" })).ok, true);
    ok.close();
  });

  it("nothing reached the firewall: no setup/apply/remove/teardown call, the ruleset and bans unchanged", async () => {
    assert.equal(spy.changes, 0, JSON.stringify(spy.calls));
    assert.deepEqual(await state(), baseline);
    assert.ok(log.records.filter((r) => r.msg === "request refused").length > 50, "refusals are logged");
    const r = await inNs(pair.server, ["nft", "list", "set", "inet", "portcullis", "ban4"]);
    assert.match(r.stdout, /192\.0\.2\.1/);
  });
});

test("the root network namespace is untouched", { skip }, async () => {
  assert.deepEqual(await rootSnapshot(), rootBefore);
});
