/**
 * Bans and unbans that meet on the firewall: an unban (operator, SIEM) or an expiry while the ban's apply is
 * still running, a ban while the removal of an earlier one of the same address is under way, and ban/unban/ban
 * during one slow apply. The daemon runs with the real `command` responder driving the stand-in firewall script
 * (test/support/fake-firewall.mjs); the test holds a chosen firewall command until it releases it (an explicit
 * promise, no timer), and the daemon's clock only moves when the test moves it.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { validateConfig } from "../../src/config/load.ts";
import type { Alert } from "../../src/core/alert.ts";
import { ManualClock, SystemClock } from "../../src/core/clock.ts";
import { ProcessExec, type Exec, type ExecResult } from "../../src/core/exec.ts";
import { memoryLogger } from "../../src/core/logger.ts";
import { Daemon } from "../../src/daemon/daemon.ts";
import { FACTORIES, REGISTRIES } from "../../src/daemon/plugins.ts";
import type { StoredAudit } from "../../src/store/store.ts";
import { fakeFirewall, until } from "../support/daemon.ts";

const root = mkdtempSync(join(tmpdir(), "portcullis-inflight-"));
after(() => rmSync(root, { recursive: true, force: true }));

/**
 * Runs the stand-in firewall's commands for real, except that a command the test names (`apply` or `remove` of
 * one target) waits, once started, until the test releases it: a firewall as slow as the test wants.
 */
class GatedExec implements Exec {
  readonly #real = new ProcessExec();
  readonly #gates: { verb: string; target: string; started: () => void; gate: Promise<void> }[] = [];
  readonly #releases: (() => void)[] = [];

  /** Holds the next `verb target` command; `running` settles once it has started (and waits). */
  hold(verb: "apply" | "remove", target: string): { running: Promise<void>; release: () => void } {
    let started!: () => void;
    let release!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    this.#gates.push({ verb, target, started, gate });
    this.#releases.push(release);
    return { running, release };
  }

  /** Lets every held command go (a failed test must not leave the daemon's stop waiting on one). */
  releaseAll(): void {
    for (const release of this.#releases) release();
  }

  async run(argv: readonly string[], input?: string, options?: { timeoutMs?: number }): Promise<ExecResult> {
    // fake-firewall.mjs STATE VERB TARGET [EXPIRES_S]
    const i = this.#gates.findIndex((g) => argv[3] === g.verb && argv[4] === g.target);
    if (i >= 0) {
      const [g] = this.#gates.splice(i, 1);
      g!.started();
      await g!.gate;
    }
    return this.#real.run(argv, input, options);
  }
}

const ops = { type: "cli", name: "ops" } as const;

async function startDaemon(name: string) {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const fw = join(dir, "fw.json");
  const config = validateConfig(
    {
      data_dir: join(dir, "data"),
      sources: [],
      responders: [{ type: "command", name: "fakefw", ...fakeFirewall(fw) }],
      policy: { allow_admin_sessions: false },
      api: { enabled: false },
    },
    `${name}.yaml`,
    REGISTRIES,
  );
  const clock = new ManualClock(SystemClock.now());
  const exec = new GatedExec();
  const d = new Daemon({ config, clock, logger: memoryLogger(), plugins: FACTORIES, exec });
  await d.start();
  // The periodic pass over the store (every 2 s) also removes a ban that ended but is applied: it is kept out of
  // the way, so that what is checked is that the removal follows the apply at once, not at the next pass.
  d.sync.syncPending = () => Promise.resolve({ applied: 0, removed: 0 });
  const firewall = () =>
    existsSync(fw) ? (JSON.parse(readFileSync(fw, "utf8")) as Record<string, number>) : {};
  const calls = (target: string) =>
    (existsSync(`${fw}.calls`) ? readFileSync(`${fw}.calls`, "utf8").trim().split("\n") : [])
      .map((c) => c.split(" "))
      .filter((c) => c[1] === target)
      .map((c) => c[0]);
  return { d, clock, exec, firewall, calls };
}

/** A decision's audit records, oldest first, as `action` or `action:responder`. */
function trail(audit: StoredAudit[], decisionId: string): string[] {
  return audit
    .filter((a) => a.decisionId === decisionId)
    .reverse()
    .map((a) => (typeof a.detail?.responder === "string" ? `${a.action}:${a.detail.responder}` : a.action));
}

test("an operator's unban while the ban's apply is in flight removes it as soon as the apply finishes", async () => {
  const { d, exec, firewall, calls } = await startDaemon("unban-inflight");
  const ip = "203.0.113.10";
  try {
    const slow = exec.hold("apply", ip);
    const ban = await d.ban({ target: ip, actor: ops, origin: "cli" });
    await slow.running;
    const out = await d.unban(ip, ops, "false positive");
    assert.equal(out.revoked, 1);
    slow.release();
    await d.sync.idle();
    assert.deepEqual(firewall(), {}, "not blocked once the apply has finished");
    assert.deepEqual(calls(ip), ["apply", "remove"]);
    const dec = await d.store.getDecision(ban.decision!.id);
    assert.equal(dec?.state, "revoked");
    assert.deepEqual(dec.status, { fakefw: "removed" });
    // The trail says why the address was removed after the unban.
    const audit = await d.store.auditFor(ip);
    assert.deepEqual(trail(audit, dec.id), ["ban", "unban", "remove:fakefw"]);
    assert.match(String(audit.find((a) => a.action === "remove")?.detail?.reason), /apply was in flight/);
  } finally {
    exec.releaseAll();
    await d.stop();
  }
});

test("a SIEM's unban while the ban's apply is in flight removes it as soon as the apply finishes", async () => {
  const { d, clock, exec, firewall, calls } = await startDaemon("siem-unban-inflight");
  const ip = "198.51.100.20";
  const now = clock.now();
  const alert: Alert = {
    id: "kibana-1",
    "@timestamp": now,
    rule: { id: "kibana-ssh", name: "SSH brute force (Kibana)", type: "threshold" },
    severity: "high",
    group: { "source.ip": ip },
    count: 20,
    first_seen: now,
    last_seen: now,
    events: [],
    attack: [],
    origin: "kibana",
    response: "ban",
  };
  const siem = { type: "siem", name: "kibana" } as const;
  try {
    const slow = exec.hold("apply", ip);
    const ban = await d.ingestAlert(alert, siem);
    assert.equal(ban.outcome, "banned");
    await slow.running;
    assert.equal((await d.unban(ip, siem, "closed in Kibana", { origin: "kibana" })).revoked, 1);
    slow.release();
    await d.sync.idle();
    assert.deepEqual(firewall(), {});
    assert.deepEqual(calls(ip), ["apply", "remove"]);
    const dec = await d.store.getDecision(ban.decision!.id);
    assert.deepEqual(dec?.status, { fakefw: "removed" });
    assert.deepEqual(trail(await d.store.auditFor(ip), dec.id), ["ban", "unban", "remove:fakefw"]);
  } finally {
    exec.releaseAll();
    await d.stop();
  }
});

test("a ban that expires while its apply is in flight is removed as soon as the apply finishes", async () => {
  const { d, clock, exec, firewall, calls } = await startDaemon("expire-inflight");
  const ip = "203.0.113.11";
  try {
    const slow = exec.hold("apply", ip);
    const ban = await d.ban({ target: ip, duration: 60_000, actor: ops, origin: "cli" });
    await slow.running;
    clock.advanceBy(61_000);
    // The expiry pass (every second) ends it while the firewall is still applying it.
    await until("the decision expired", async () =>
      (await d.store.getDecision(ban.decision!.id))?.state === "expired" ? true : undefined,
    );
    slow.release();
    await until("the expired ban settled", async () => {
      const dec = await d.store.getDecision(ban.decision!.id);
      return dec?.status.fakefw !== "pending";
    });
    await d.sync.idle();
    assert.deepEqual(firewall(), {});
    assert.deepEqual(calls(ip), ["apply", "remove"]);
    const dec = await d.store.getDecision(ban.decision!.id);
    assert.deepEqual(dec?.status, { fakefw: "removed" });
    assert.deepEqual(trail(await d.store.auditFor(ip), dec.id), ["ban", "expire", "remove:fakefw"]);
  } finally {
    exec.releaseAll();
    await d.stop();
  }
});

test("ban, unban, ban, unban during one slow apply ends unbanned; one more ban ends banned", async () => {
  const { d, exec, firewall } = await startDaemon("flip-flop");
  const ip = "203.0.113.12";
  const ban = async () => (await d.ban({ target: ip, actor: ops, origin: "cli" })).decision!.id;
  const unban = async () => assert.equal((await d.unban(ip, ops)).revoked, 1);
  try {
    const slow = exec.hold("apply", ip);
    const a = await ban();
    await slow.running;
    await unban();
    const b = await ban();
    await unban();
    slow.release();
    await d.sync.idle();
    assert.deepEqual(firewall(), {}, "the last request was an unban");
    for (const id of [a, b]) {
      const dec = await d.store.getDecision(id);
      assert.equal(dec?.state, "revoked");
      assert.deepEqual(dec.status, { fakefw: "removed" }, id);
    }

    const again = exec.hold("apply", ip);
    const c = await ban();
    await again.running;
    await unban();
    const e = await ban();
    again.release();
    await d.sync.idle();
    assert.ok(firewall()[ip], "the last request was a ban");
    assert.deepEqual((await d.store.getDecision(c))?.status, { fakefw: "removed" });
    const last = await d.store.getDecision(e);
    assert.equal(last?.state, "active");
    assert.deepEqual(last.status, { fakefw: "applied" });
  } finally {
    exec.releaseAll();
    await d.stop();
  }
});

test("a ban made while the expiry's removal of the same address is under way stays on the firewall", async () => {
  const { d, clock, exec, firewall } = await startDaemon("ban-during-remove");
  const ip = "203.0.113.13";
  let release = () => {};
  try {
    const first = await d.ban({ target: ip, duration: 60_000, actor: ops, origin: "cli" });
    await d.sync.idle();
    assert.ok(firewall()[ip]);
    // The expiry pass reads which ended bans a newer one took over; it is held right after that read.
    const enforced = d.store.enforcedTargets.bind(d.store);
    const gate = new Promise<void>((resolve) => (release = resolve));
    let held = false;
    d.store.enforcedTargets = async (targets, now) => {
      const result = await enforced(targets, now);
      if (!held) {
        held = true;
        await gate;
      }
      return result;
    };
    clock.advanceBy(61_000);
    // (The expiry pass runs on the daemon's unreferenced timer: polled, so that the test keeps the process up.)
    await until("the expiry pass at that read", () => held);
    // Banned again before that removal is queued: the new ban is enforced at once.
    const second = await d.ban({ target: ip, actor: ops, origin: "cli" });
    assert.equal(second.outcome, "banned");
    await d.sync.idle();
    assert.ok(firewall()[ip]);
    release();
    await until("the expired ban settled", async () =>
      (await d.store.getDecision(first.decision!.id))?.status.fakefw === "removed" ? true : undefined,
    );
    await d.sync.idle();
    assert.ok(firewall()[ip], "the new ban is still on the firewall");
    assert.deepEqual((await d.store.getDecision(second.decision!.id))?.status, { fakefw: "applied" });
  } finally {
    release();
    exec.releaseAll();
    await d.stop();
  }
});
