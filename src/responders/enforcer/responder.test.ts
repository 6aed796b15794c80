import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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

/** An enforcer hosting the real nftables responder inside the server namespace of `p`. */
async function startEnforcer(p: NetPair, socket: string, extra: Record<string, unknown> = {}) {
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

rootUntouched();
