import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import {
  ADDR,
  inNs,
  netnsSkipReason,
  nsLines,
  probe,
  startListener,
  type NetPair,
} from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { SystemClock } from "../../core/clock.ts";
import { memoryLogger, silentLogger } from "../../core/logger.ts";
import { validateEnforcerConfig } from "../../enforcer/config.ts";
import { EnforcerServer, hostedFromConfig } from "../../enforcer/server.ts";
import { MemoryResponder, SpyResponder } from "../../enforcer/testing.ts";
import { reconcile } from "../reconcile.ts";
import { createResponder } from "../registry.ts";
import { enforcerResponderConfig } from "./config.ts";
import { EnforcerResponder, enforcer } from "./responder.ts";

const skip = netnsSkipReason(["nft"]);
const rootUntouched = await rootGuard(skip);
const now = () => SystemClock.now();

const base = mkdtempSync(join(tmpdir(), "pcl-enfr-"));
chmodSync(base, 0o711);
after(() => rmSync(base, { recursive: true, force: true }));
let seq = 0;
const socketIn = () => join(base, `s${++seq}`, "enforcer.sock");

/**
 * An enforcer hosting the real nftables responder inside the server namespace of `p`; `interfaces` stands for
 * the host's addresses (never banned).
 */
async function startEnforcer(
  p: NetPair,
  socket: string,
  extra: Record<string, unknown> = {},
  interfaces?: () => string[],
) {
  const loaded = validateEnforcerConfig(
    {
      socket,
      group: process.getgid!(),
      allow_teardown: true,
      responders: [{ type: "nftables", name: "nft", netns: p.server }],
      ...extra,
    },
    "(test)",
  );
  const [hosted] = hostedFromConfig(loaded, responderCtx());
  const spy = new SpyResponder(hosted!.responder);
  const server = new EnforcerServer({
    socket,
    gid: process.getgid!(),
    responders: [{ ...hosted!, responder: spy }],
    logger: silentLogger,
    allowTeardown: loaded.raw.allow_teardown,
    maxEntries: loaded.raw.max_entries,
    ...(interfaces ? { interfaces } : {}),
  });
  await server.start();
  return { server, spy };
}

/** An enforcer hosting the in-memory responder `mem` as "nft". */
async function startMemoryEnforcer(socket: string, mem: MemoryResponder): Promise<EnforcerServer> {
  const server = new EnforcerServer({
    socket,
    responders: [{ name: "nft", responder: mem, limits: { min_prefix_v4: 8, min_prefix_v6: 32 } }],
    logger: silentLogger,
  });
  await server.start();
  return server;
}

const client = (socket: string, extra: Record<string, unknown> = {}) =>
  enforcer.create(
    enforcerResponderConfig.parse({
      type: "enforcer",
      socket,
      responder: "nft",
      reconnect: { attempts: 3, initial_delay_ms: 20, max_delay_ms: 100 },
      ...extra,
    }),
    responderCtx(),
  ) as EnforcerResponder;

test("config: strict, described, with defaults; created through the registry", () => {
  const c = enforcerResponderConfig.parse({ type: "enforcer", responder: "nft" });
  assert.equal(c.socket, "/run/portcullis/enforcer.sock");
  assert.equal(c.reconnect.attempts, 5);
  assert.equal(c.batch_size, 20_000);
  const bad = enforcerResponderConfig.safeParse({
    type: "enforcer",
    responder: "NFT; x",
    socket: "rel.sock",
    sokcet: 1,
  });
  assert.equal(bad.success, false);
  assert.deepEqual(bad.error.issues.map((i) => `${i.path.join(".")}:${i.code}`).sort(), [
    ":unrecognized_keys",
    "responder:invalid_format",
    "socket:invalid_format",
  ]);
  assert.equal(
    enforcerResponderConfig.safeParse({ type: "enforcer" }).success,
    false,
    "responder is required",
  );
  const r = createResponder({ type: "enforcer", name: "fw", responder: "nft" }, responderCtx());
  assert.equal(r.type, "enforcer");
  assert.equal(r.name, "fw");
  assert.equal(r.nativeExpiry, false, "false until the enforcer said otherwise");
});

let conformanceServer: EnforcerServer | undefined;
let conformanceClient: EnforcerResponder | undefined;

pairConformance({
  name: "enforcer -> nftables (through the socket)",
  tag: "enfc",
  skip,
  supports: { ipv6: true, cidr: true },
  async start(p) {
    const socket = socketIn();
    conformanceServer = (await startEnforcer(p, socket)).server;
    conformanceClient = client(socket);
    return {
      responder: conformanceClient,
      flush: async () => void (await inNs(p.server, ["nft", "flush", "ruleset"])),
      residue: () => nsLines(p.server, ["nft", "list", "ruleset"]),
    };
  },
  async stop() {
    conformanceClient?.close();
    await conformanceServer?.stop();
  },
});

describe("enforcer responder specifics", { skip }, () => {
  const p = suitePair("enfs", { listener: false });

  it("reports the enforcer's nativeExpiry and health; an unknown responder name is a clear error", async () => {
    const socket = socketIn();
    const { server } = await startEnforcer(p, socket);
    try {
      const r = client(socket);
      assert.equal(r.nativeExpiry, false);
      await r.setup();
      assert.equal(r.nativeExpiry, true, "nftables expires elements natively, as the hello says");
      const h = await r.healthcheck();
      assert.ok(h.ok, h.detail);
      assert.match(h.detail, /enforcer .*enforcer\.sock -> nft \(nftables\): table inet portcullis present/);
      r.close();

      const wrong = client(socket, { responder: "ipset" });
      await assert.rejects(wrong.setup(), /has no responder named "ipset" \(it has: nft\)/);
      const res = await wrong.apply([{ target: "192.0.2.1", expires: now() + 60_000 }]);
      assert.equal(res[0]!.ok, false);
      assert.match(res[0]!.error!, /no responder named "ipset"/);
      assert.equal((await wrong.healthcheck()).ok, false);
      wrong.close();
    } finally {
      await server.stop();
    }
  });

  it("big batches are split within the enforcer's limits; results come back in input order", async () => {
    const socket = socketIn();
    const { server, spy } = await startEnforcer(p, socket, { max_entries: 40 });
    try {
      const r = client(socket, { batch_size: 25 });
      await r.setup();
      const entries = Array.from({ length: 100 }, (_, i) => ({
        target: i === 50 ? "not-an-address" : `198.51.100.${i}`,
        expires: now() + 600_000,
      }));
      const res = await r.apply(entries);
      assert.deepEqual(
        res.map((x) => x.target),
        entries.map((e) => e.target),
      );
      assert.deepEqual(
        res.flatMap((x, i) => (x.ok ? [] : [i])),
        [50],
      );
      assert.equal(spy.calls.apply, 4, "100 entries (one invalid, filtered here) in requests of at most 25");
      assert.equal((await r.list()).length, 99);
      const removed = await r.remove(entries.map((e) => e.target));
      assert.equal(removed.filter((x) => x.ok).length, 99);
      assert.deepEqual(await r.list(), []);
      await r.teardown();
      r.close();
    } finally {
      await server.stop();
    }
  });

  it("reconnects when the enforcer restarts; fails per entry (not forever) while it is down", async () => {
    const socket = socketIn();
    let { server } = await startEnforcer(p, socket);
    const listener = await startListener(p);
    const log = memoryLogger();
    const r = new EnforcerResponder(
      enforcerResponderConfig.parse({
        type: "enforcer",
        socket,
        responder: "nft",
        reconnect: { attempts: 3, initial_delay_ms: 10, max_delay_ms: 50 },
      }),
      responderCtx({ logger: log }),
    );
    try {
      await r.setup();
      await server.stop();
      const down = await r.apply([
        { target: ADDR.clientV4, expires: now() + 600_000 },
        { target: "bogus", expires: now() + 600_000 },
      ]);
      assert.equal(down[0]!.ok, false);
      assert.match(down[0]!.error!, /cannot connect to .*enforcer\.sock: (ENOENT|ECONNREFUSED)/);
      assert.match(down[1]!.error!, /not an IP address/, "an invalid entry keeps its own error");
      assert.equal(
        log.records.filter((x) => x.msg === "enforcer unreachable, retrying").length,
        2,
        "3 attempts",
      );
      const h = await r.healthcheck();
      assert.equal(h.ok, false);
      assert.match(h.detail, /cannot connect/);

      ({ server } = await startEnforcer(p, socket));
      const up = await r.apply([{ target: ADDR.clientV4, expires: now() + 600_000 }]);
      assert.deepEqual(up, [{ target: ADDR.clientV4, ok: true }]);
      assert.equal(await probe(p, ADDR.clientV4), false, "banned through the new connection");
      await r.teardown();
      assert.equal(await probe(p, ADDR.clientV4), true);
    } finally {
      r.close();
      await listener.stop();
      await server.stop();
    }
  });

  it("an entry that would cut off the enforcer's host fails alone; the rest of the batch is banned", async () => {
    const socket = socketIn();
    const { server, spy } = await startEnforcer(p, socket, {}, () => ["198.51.100.5"]);
    try {
      const r = client(socket);
      await r.setup();
      const res = await r.apply([
        { target: "192.0.2.1", expires: now() + 3_600_000 },
        { target: "192.0.2.2", expires: now() + 3_600_000 },
        { target: "198.51.100.0/24", expires: now() + 3_600_000 },
      ]);
      assert.deepEqual(res, [
        { target: "192.0.2.1", ok: true },
        { target: "192.0.2.2", ok: true },
        {
          target: "198.51.100.0/24",
          ok: false,
          error: "not allowed: 198.51.100.0/24 would cut off this host's address 198.51.100.5",
        },
      ]);
      assert.equal(spy.calls.apply, 1, "one request, one responder call");
      assert.deepEqual((await r.list()).map((e) => e.target).sort(), ["192.0.2.1", "192.0.2.2"]);
      const ban4 = (await nsLines(p.server, ["nft", "list", "set", "inet", "portcullis", "ban4"])).join(" ");
      assert.match(ban4, /192\.0\.2\.1 timeout .*192\.0\.2\.2 timeout/);
      const ban4net = (await nsLines(p.server, ["nft", "list", "set", "inet", "portcullis", "ban4net"])).join(
        " ",
      );
      assert.doesNotMatch(ban4net, /198\.51\.100/);

      // reconcile after a flush restores everything else in one batched apply
      await inNs(p.server, ["nft", "flush", "ruleset"]);
      const desired = [
        { target: "192.0.2.1", expires: now() + 3_600_000 },
        { target: "198.51.100.5", expires: now() + 3_600_000 },
        { target: "192.0.2.2", expires: now() + 3_600_000 },
      ];
      const rec = await reconcile(r, desired, now());
      assert.deepEqual(rec.added.sort(), ["192.0.2.1", "192.0.2.2"]);
      assert.deepEqual(
        rec.failed.map((f) => f.target),
        ["198.51.100.5"],
      );
      assert.deepEqual((await r.list()).map((e) => e.target).sort(), ["192.0.2.1", "192.0.2.2"]);
      await r.teardown();
      r.close();
    } finally {
      await server.stop();
    }
  });

  it("teardown is refused unless the enforcer's config allows it", async () => {
    const socket = socketIn();
    const { server, spy } = await startEnforcer(p, socket, { allow_teardown: false });
    try {
      const r = client(socket);
      await r.setup();
      await assert.rejects(r.teardown(), /NOT_ALLOWED.*teardown is not allowed/);
      assert.equal(spy.calls.teardown ?? 0, 0);
      r.close();
    } finally {
      await server.stop();
      await inNs(p.server, ["nft", "delete", "table", "inet", "portcullis"]);
    }
  });
});

test("the caller's spelling comes back, expiries go out as integers, close() is safe and the next call reconnects", async () => {
  const socket = socketIn();
  const mem = new MemoryResponder("nft");
  const server = await startMemoryEnforcer(socket, mem);
  try {
    const r = client(socket);
    const res = await r.apply([{ target: "2001:DB8::7", expires: 1_900_000_000_000.5 }]);
    assert.deepEqual(res, [{ target: "2001:DB8::7", ok: true }], "the caller's spelling comes back");
    assert.deepEqual([...mem.bans], [["2001:db8::7", 1_900_000_000_001]], "canonical target, integer expiry");
    r.close();
    r.close();
    assert.deepEqual((await r.list()).length, 1, "the next operation reconnects");
    r.close();

    // a connection left idle is closed by the client itself (a responder dropped by a reload frees its slot)
    const idle = client(socket, { idle_close_ms: 1_000 });
    await idle.setup();
    assert.equal(server.connections, 1);
    for (let i = 0; i < 100 && server.connections > 0; i++) await delay(50);
    assert.equal(server.connections, 0, "the idle connection was closed");
    assert.equal((await idle.healthcheck()).ok, true, "and the next call reconnects");
    idle.close();
  } finally {
    await server.stop();
  }
});

test("operations from several callers share the one connection, one request at a time", async () => {
  const socket = socketIn();
  const mem = new MemoryResponder("nft");
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const apply = mem.apply.bind(mem);
  mem.apply = async (entries) => {
    await gate;
    return apply(entries);
  };
  const server = await startMemoryEnforcer(socket, mem);
  try {
    const r = client(socket);
    const banned = r.apply([{ target: "192.0.2.5", expires: 1_900_000_000_000 }]);
    const health = r.healthcheck();
    const listed = r.list();
    release();
    assert.deepEqual(await banned, [{ target: "192.0.2.5", ok: true }]);
    assert.equal((await health).ok, true);
    assert.deepEqual(await listed, [{ target: "192.0.2.5", expires: 1_900_000_000_000 }]);
    assert.equal(server.connections, 1);
    r.close();
  } finally {
    await server.stop();
  }
});

/**
 * An enforcer as it was before entries were refused alone: one apply entry naming a protected target refuses the
 * whole request with NOT_ALLOWED ("apply: entries[N].target: ..."), the first such entry only.
 */
async function startOlderEnforcer(socket: string, protectedTargets: readonly string[]) {
  const requests: { verb: string; entries?: { target: string }[] }[] = [];
  const hello = {
    hello: "portcullis-enforcer",
    protocol: 1,
    version: "0.1.0",
    limits: { max_message_bytes: 65_536, max_entries: 100 },
    responders: [{ name: "nft", type: "memory", native_expiry: false, min_prefix_v4: 8, min_prefix_v6: 32 }],
  };
  const answer = (req: { id: number; verb: string; entries?: { target: string }[] }) => {
    requests.push(req);
    if (req.verb !== "apply") return { id: req.id, ok: true };
    const at = req.entries!.findIndex((e) => protectedTargets.includes(e.target));
    if (at >= 0) {
      const t = req.entries![at]!.target;
      const message = `apply: entries[${at}].target: ${t} would cut off this host's address ${t}`;
      return { id: req.id, ok: false, error: { code: "NOT_ALLOWED", message } };
    }
    return { id: req.id, ok: true, results: req.entries!.map((e) => ({ target: e.target, ok: true })) };
  };
  mkdirSync(dirname(socket), { recursive: true });
  const server = createServer((conn) => {
    let pending = "";
    conn.write(`${JSON.stringify(hello)}\n`);
    conn.on("data", (b) => {
      pending += b.toString("utf8");
      let nl: number;
      while ((nl = pending.indexOf("\n")) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        conn.write(`${JSON.stringify(answer(JSON.parse(line)))}\n`);
      }
    });
    conn.on("error", () => conn.destroy());
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return {
    requests,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

test("an older enforcer refusing a whole request for one protected entry: that entry fails, the others are sent again", async () => {
  const socket = socketIn();
  const old = await startOlderEnforcer(socket, ["198.51.100.0/24", "203.0.113.5"]);
  try {
    const r = client(socket);
    const res = await r.apply([
      { target: "192.0.2.1", expires: 1_900_000_000_000 },
      { target: "198.51.100.0/24", expires: 1_900_000_000_000 },
      { target: "not-an-address", expires: 1_900_000_000_000 },
      { target: "192.0.2.2", expires: 1_900_000_000_000 },
      { target: "203.0.113.5", expires: 1_900_000_000_000 },
    ]);
    assert.deepEqual(
      res.map((x) => [x.target, x.ok]),
      [
        ["192.0.2.1", true],
        ["198.51.100.0/24", false],
        ["not-an-address", false],
        ["192.0.2.2", true],
        ["203.0.113.5", false],
      ],
    );
    assert.equal(
      res[1]!.error,
      "not allowed: 198.51.100.0/24 would cut off this host's address 198.51.100.0/24",
    );
    assert.match(res[4]!.error!, /^not allowed: 203\.0\.113\.5 would cut off/);
    assert.deepEqual(
      old.requests.map((q) => q.entries?.map((e) => e.target)),
      [
        ["192.0.2.1", "198.51.100.0/24", "192.0.2.2", "203.0.113.5"],
        ["192.0.2.1", "192.0.2.2", "203.0.113.5"],
        ["192.0.2.1", "192.0.2.2"],
      ],
      "one retry per refused entry, without it",
    );
    // every entry protected: nothing is left to send
    const none = await r.apply([{ target: "203.0.113.5", expires: 1_900_000_000_000 }]);
    assert.equal(none[0]!.ok, false);
    assert.equal(old.requests.length, 4);
    r.close();
  } finally {
    await old.stop();
  }
});

rootUntouched();
