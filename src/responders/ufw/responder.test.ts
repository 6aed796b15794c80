import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it, test } from "node:test";
import { SystemClock } from "../../core/clock.ts";
import { ProcessExec } from "../../core/exec.ts";
import type { PluginContext } from "../../core/plugin.ts";
import {
  ADDR,
  createPair,
  destroyPair,
  hostUfwFiles,
  netnsSkipReason,
  pairNetwork,
  probe,
  rootSnapshot,
  startListener,
  startUfwSandbox,
  type Listener,
  type UfwSandbox,
} from "../../../test/support/netns.ts";
import { responderCtx } from "../../../test/support/responder-net.ts";
import { responderConformance } from "../conformance.ts";
import { ufwConfig } from "./config.ts";
import { UfwResponder, ufw } from "./responder.ts";

const skip = netnsSkipReason(["ufw", "unshare", "nsenter", "iptables"]);
const rootBefore = skip ? undefined : await rootSnapshot();
const hostUfwBefore = skip ? undefined : hostUfwFiles();

/** A pair whose server runs ufw (private config) as an admin set it up: port 8080 allowed, ufw enabled. */
async function ufwServer(tag: string) {
  const pair = await createPair(tag);
  let sandbox: UfwSandbox | undefined;
  let listener: Listener | undefined;
  try {
    sandbox = await startUfwSandbox(pair);
    await sandbox.ufw("allow", `${ADDR.port}/tcp`);
    await sandbox.ufw("--force", "enable");
    listener = await startListener(pair);
  } catch (e) {
    await listener?.stop();
    await sandbox?.stop();
    await destroyPair(pair);
    throw e;
  }
  const files = ["user.rules", "user6.rules"].map((f) => join(sandbox.dir, "etc-ufw", f));
  const baseline = files.map((f) => readFileSync(f, "utf8"));
  const s = sandbox;
  const l = listener;
  return {
    pair,
    sandbox: s,
    ctx: (): PluginContext => responderCtx({ exec: new ProcessExec({ prefix: s.prefix }) }),
    /** Config management restores the admin's rules files, then `ufw reload`: our bans are gone. */
    async restoreAndReload() {
      files.forEach((f, i) => writeFileSync(f, baseline[i]!));
      await s.ufw("reload");
    },
    async stop() {
      await l.stop();
      await s.stop();
      await destroyPair(pair);
    },
  };
}

test("config: strict, deny by default, safe comment", () => {
  const c = ufwConfig.parse({ type: "ufw" });
  assert.equal(c.action, "deny");
  assert.equal(c.comment, "portcullis");
  assert.equal(ufwConfig.safeParse({ type: "ufw", comment: "a b'; rm" }).success, false);
  assert.equal(ufwConfig.safeParse({ type: "ufw", position: 1 }).success, false);
  assert.equal(ufw.type, "ufw");
});

let server: Awaited<ReturnType<typeof ufwServer>> | undefined;

responderConformance({
  name: "ufw",
  skip,
  supports: { ipv6: true, cidr: true },
  async start() {
    server = await ufwServer("ufw");
    const s = server;
    const responder = ufw.create(ufwConfig.parse({ type: "ufw", action: "reject" }), s.ctx());
    return {
      responder,
      net: pairNetwork(s.pair),
      flush: () => s.restoreAndReload(),
      residue: async () =>
        (await s.sandbox.ufw("show", "added")).split("\n").filter((l) => l.includes("portcullis")),
    };
  },
  async stop() {
    await server?.stop();
  },
});

describe("ufw specifics", { skip }, () => {
  let s!: Awaited<ReturnType<typeof ufwServer>>;
  before(async () => {
    s = await ufwServer("ufws");
  });
  after(async () => {
    await s?.stop();
  });

  it("deny (the default) blocks; rules go on top of the admin's rules; other comments are left alone", async () => {
    const r = new UfwResponder(ufwConfig.parse({ type: "ufw" }), s.ctx());
    await r.setup();
    await s.sandbox.ufw("prepend", "deny", "from", "192.0.2.99", "comment", "admin");
    const res = await r.apply([{ target: ADDR.clientV4, expires: SystemClock.now() + 60_000 }]);
    assert.ok(res[0]!.ok, res[0]!.error);
    const status = await s.sandbox.ufw("status", "numbered");
    assert.match(status, /\[ 1\] Anywhere\s+DENY IN\s+10\.200\.0\.2\s+# portcullis/);
    assert.equal(await probe(s.pair, ADDR.clientV4), false);
    assert.deepEqual(
      (await r.list()).map((e) => [e.target, e.expires]),
      [[ADDR.clientV4, Infinity]],
    );
    await r.teardown();
    assert.equal(await probe(s.pair, ADDR.clientV4), true);
    assert.match(await s.sandbox.ufw("show", "added"), /deny from 192\.0\.2\.99 comment 'admin'/);
  });

  it("an address the admin has a rule for (allow from X) is reported not banned, not silently skipped", async () => {
    const r = new UfwResponder(ufwConfig.parse({ type: "ufw" }), s.ctx());
    await r.setup();
    await s.sandbox.ufw("allow", "from", "192.0.2.77", "comment", "partner");
    try {
      const [res] = await r.apply([{ target: "192.0.2.77", expires: SystemClock.now() + 60_000 }]);
      assert.equal(res!.ok, false);
      assert.match(res!.error ?? "", /existing rule for 192\.0\.2\.77.*not banned/);
      assert.deepEqual(await r.list(), []);
    } finally {
      await s.sandbox.ufw("delete", "allow", "from", "192.0.2.77", "comment", "partner");
    }
  });

  it("healthcheck reports an inactive ufw", async () => {
    const r = new UfwResponder(ufwConfig.parse({ type: "ufw" }), s.ctx());
    assert.equal((await r.healthcheck()).ok, true);
    await s.sandbox.ufw("disable");
    try {
      const h = await r.healthcheck();
      assert.equal(h.ok, false);
      assert.match(h.detail, /inactive/);
    } finally {
      await s.sandbox.ufw("--force", "enable");
    }
  });
});

test("the host's ufw files and root network namespace are untouched", { skip }, async () => {
  assert.equal(hostUfwFiles(), hostUfwBefore);
  assert.deepEqual(await rootSnapshot(), rootBefore);
});
