/**
 * The store conformance suite: every backend (SQLite now, PostgreSQL in fleet mode) must pass the same tests.
 * Call `storeConformance(name, open)` from a backend's test file; `open` returns a fresh, migrated store.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Alert } from "../core/alert.ts";
import type { Decision } from "../core/decision.ts";
import type { Store } from "./store.ts";

const T0 = Date.UTC(2026, 2, 2, 10, 0, 0);

export function decision(id: string, target: string, at = T0, duration = 600_000): Decision {
  return {
    id,
    "@timestamp": at,
    target,
    action: "ban",
    scope: "host",
    duration,
    expires: at + duration,
    reason: "test",
    rule: { id: "ssh-brute-force", name: "SSH brute force" },
    origin: "native",
    actor: { type: "rule", name: "ssh-brute-force" },
    escalation: 0,
    simulated: false,
    status: {},
  };
}

function alert(id: string, ip: string, at = T0): Alert {
  return {
    id,
    "@timestamp": at,
    rule: { id: "ssh-brute-force", name: "SSH brute force", type: "threshold" },
    severity: "medium",
    group: { "source.ip": ip },
    count: 5,
    first_seen: at - 60_000,
    last_seen: at,
    events: [
      {
        "@timestamp": at,
        event: { dataset: "sshd", action: "ssh_auth_failed", outcome: "failure" },
        source: { ip },
      },
    ],
    attack: ["T1110.001"],
    origin: "native",
    response: "ban",
  };
}

export function storeConformance(name: string, open: () => Promise<Store>): void {
  const withStore = (title: string, fn: (s: Store) => Promise<void>) =>
    test(`${name}: ${title}`, async () => {
      const s = await open();
      try {
        await fn(s);
      } finally {
        await s.close();
      }
    });

  withStore("a decision round-trips with per-responder status and audit", async (s) => {
    const d = decision("d1", "203.0.113.7");
    await s.insertDecision(
      d,
      ["nftables", "ufw"],
      [{ at: T0, actor: d.actor, action: "ban", target: d.target, decisionId: d.id }],
    );
    const [got] = await s.activeDecisions(T0 + 1);
    assert.equal(got?.target, "203.0.113.7");
    assert.deepEqual(got?.status, { nftables: "pending", ufw: "pending" });
    assert.deepEqual(got?.rule, { id: "ssh-brute-force", name: "SSH brute force" });
    await s.setStatus([{ decisionId: "d1", responder: "nftables", status: "applied" }], T0 + 5, [
      {
        at: T0 + 5,
        actor: d.actor,
        action: "apply",
        target: d.target,
        decisionId: "d1",
        detail: { responder: "nftables" },
      },
    ]);
    assert.deepEqual((await s.getDecision("d1"))?.status, { nftables: "applied", ufw: "pending" });
    const audit = await s.auditFor("203.0.113.7");
    assert.deepEqual(
      audit.map((a) => a.action),
      ["apply", "ban"],
    );
    assert.deepEqual(audit[0]?.detail, { responder: "nftables" });
  });

  withStore("range bans and enforced targets are found for unban and removal", async (s) => {
    await s.insertDecision(decision("r", "2001:db8:7:7::/64"), ["nftables"], []);
    await s.insertDecision(decision("a", "192.0.2.1"), ["nftables"], []);
    await s.insertDecision({ ...decision("sim", "192.0.2.2"), simulated: true }, ["nftables"], []);
    await s.insertDecision(decision("old", "198.51.100.0/24", T0 - 3_600_000), ["nftables"], []);
    await s.expireDue(T0);
    assert.deepEqual(await s.activeRanges(), ["2001:db8:7:7::/64"]);
    const enforced = await s.enforcedTargets(
      ["192.0.2.1", "192.0.2.2", "198.51.100.0/24", "2001:db8:7:7::/64", "192.0.2.1"],
      T0 + 1,
    );
    assert.deepEqual([...enforced].sort(), ["192.0.2.1", "2001:db8:7:7::/64"]);
    assert.equal((await s.enforcedTargets(["192.0.2.1"], T0 + 600_000)).size, 0, "past its expiry");
    // The decisions being removed do not own their own targets.
    assert.deepEqual(
      [...(await s.enforcedTargets(["192.0.2.1", "2001:db8:7:7::/64"], T0 + 1, new Set(["a"])))],
      ["2001:db8:7:7::/64"],
    );
  });

  withStore("the ended ones among given decisions are found with their status", async (s) => {
    for (const [id, target] of [
      ["a", "192.0.2.1"],
      ["b", "192.0.2.2"],
      ["c", "192.0.2.3"],
    ] as const) {
      await s.insertDecision(decision(id, target), ["nftables"], []);
    }
    await s.setStatus([{ decisionId: "b", responder: "nftables", status: "applied" }], T0 + 1);
    await s.revoke("192.0.2.2", { type: "cli", name: "t" }, "r", T0 + 2);
    await s.insertDecision(decision("old", "192.0.2.4", T0 - 3_600_000), ["nftables"], []);
    await s.expireDue(T0);
    const ended = await s.endedAmong(["a", "b", "b", "old", "missing"]);
    assert.deepEqual(ended.map((d) => [d.id, d.state]).sort(), [
      ["b", "revoked"],
      ["old", "expired"],
    ]);
    assert.deepEqual(ended.find((d) => d.id === "b")?.status, { nftables: "applied" });
    assert.deepEqual(await s.endedAmong([]), []);
  });

  withStore("expiry and revocation end decisions once, with audit", async (s) => {
    await s.insertDecision(decision("a", "192.0.2.1"), ["nftables"], []);
    await s.insertDecision(decision("b", "192.0.2.2", T0, 3_600_000), ["nftables"], []);
    assert.equal((await s.activeDecisions(T0)).length, 2);
    const expired = await s.expireDue(T0 + 600_000);
    assert.deepEqual(
      expired.map((d) => d.id),
      ["a"],
    );
    assert.deepEqual(await s.expireDue(T0 + 600_000), []);
    assert.deepEqual(
      (await s.activeDecisions(T0 + 600_000)).map((d) => d.id),
      ["b"],
    );
    const revoked = await s.revoke(
      "192.0.2.2",
      { type: "cli", name: "root" },
      "false positive",
      T0 + 700_000,
    );
    assert.deepEqual(
      revoked.map((d) => [d.id, d.state]),
      [["b", "revoked"]],
    );
    assert.deepEqual(await s.revoke("192.0.2.2", { type: "cli", name: "root" }, "again", T0 + 700_001), []);
    assert.equal((await s.getDecision("b"))?.ended_by, "cli:root");
    const audit = await s.auditFor("192.0.2.2");
    assert.equal(audit[0]?.action, "unban");
    assert.deepEqual(audit[0]?.detail, { reason: "false positive" });
  });

  withStore("revocation by origin ends only that origin's decisions", async (s) => {
    await s.insertDecision({ ...decision("w", "192.0.2.3"), origin: "wazuh" }, ["nftables"], []);
    await s.insertDecision({ ...decision("a", "192.0.2.3", T0 + 1), origin: "api" }, ["nftables"], []);
    const actor = { type: "api", name: "hook" } as const;
    assert.deepEqual(await s.revoke("192.0.2.3", actor, "timeout", T0 + 10, { origin: "ossim" }), []);
    const ended = await s.revoke("192.0.2.3", actor, "timeout", T0 + 10, { origin: "wazuh" });
    assert.deepEqual(
      ended.map((d) => [d.id, d.state, d.origin]),
      [["w", "revoked", "wazuh"]],
    );
    assert.equal((await s.getDecision("a"))?.state, "active");
    const audit = await s.auditFor("192.0.2.3");
    assert.deepEqual(
      audit.filter((x) => x.action === "unban").map((x) => x.decisionId),
      ["w"],
    );
    // Without an origin: every active decision of the target.
    assert.deepEqual(
      (await s.revoke("192.0.2.3", actor, "operator", T0 + 20)).map((d) => d.id),
      ["a"],
    );
  });

  withStore("ban history counts enforced bans only, and survives extension", async (s) => {
    await s.insertDecision(decision("h1", "198.51.100.9", T0), [], []);
    await s.insertDecision({ ...decision("h2", "198.51.100.9", T0 + 1000), simulated: true }, [], []);
    await s.insertDecision(decision("h3", "198.51.100.9", T0 + 2000), [], []);
    assert.equal(await s.banCount("198.51.100.9", T0), 2);
    assert.equal(await s.banCount("198.51.100.9", T0 + 1500), 1);
    await s.extendDecision("h3", T0 + 5_000_000, {
      at: T0 + 3000,
      actor: { type: "rule", name: "x" },
      action: "extend",
      decisionId: "h3",
    });
    const d = await s.getDecision("h3");
    assert.equal(d?.expires, T0 + 5_000_000);
    assert.equal(d?.duration, 5_000_000 - 2000);
    assert.equal((await s.banHistory(T0)).length, 2);
  });

  withStore("alerts keep their sample events and policy outcome; listing filters and pages", async (s) => {
    for (let i = 0; i < 5; i++)
      await s.insertAlert(alert(`al${i}`, i % 2 ? "192.0.2.9" : "192.0.2.8", T0 + i), undefined);
    await s.insertAlert(alert("al0", "192.0.2.8"), undefined); // duplicate id: ignored
    const all = await s.listAlerts({ limit: 10 });
    assert.deepEqual(
      all.map((a) => a.id),
      ["al4", "al3", "al2", "al1", "al0"],
    );
    assert.equal(all[0]?.events[0]?.["@timestamp"], new Date(T0 + 4).toISOString());
    assert.deepEqual(
      (await s.listAlerts({ sourceIp: "192.0.2.9" })).map((a) => a.id),
      ["al3", "al1"],
    );
    assert.deepEqual(
      (await s.listAlerts({ limit: 2, offset: 1 })).map((a) => a.id),
      ["al3", "al2"],
    );
  });

  withStore("checkpoints upsert", async (s) => {
    assert.equal(await s.checkpoints.get("file:/var/log/auth.log"), undefined);
    await s.checkpoints.set("file:/var/log/auth.log", '{"offset":1}');
    await s.checkpoints.set("file:/var/log/auth.log", '{"offset":2}');
    assert.equal(await s.checkpoints.get("file:/var/log/auth.log"), '{"offset":2}');
  });

  withStore("a batch's source position commits with its outcomes, or not at all", async (s) => {
    const key = "file:/var/log/auth.log";
    await s.recordOutcomes([], [{ key, value: "p1" }]); // a batch of lines that decided nothing
    assert.equal(await s.checkpoints.get(key), "p1");
    await s.recordOutcomes(
      [{ decision: { d: decision("pos1", "192.0.2.40"), responders: [] }, audit: [] }],
      [{ key, value: "p2" }],
    );
    assert.equal(await s.checkpoints.get(key), "p2");
    // The same decision again fails the transaction (duplicate id): the position stays where it was.
    await assert.rejects(
      s.recordOutcomes(
        [{ decision: { d: decision("pos1", "192.0.2.40"), responders: [] }, audit: [] }],
        [{ key, value: "p3" }],
      ),
    );
    assert.equal(await s.checkpoints.get(key), "p2");
  });

  withStore(
    "pending work: what a responder has not applied, and what ended but is still applied",
    async (s) => {
      const ids = [
        "pending",
        "done",
        "half",
        "failed",
        "norow",
        "sim",
        "past",
        "ended",
        "gone",
        "ended-pending",
      ];
      // One target each (a revocation ends every active decision of its target).
      const at = (id: string, duration = 600_000) =>
        decision(id, `192.0.2.${100 + ids.indexOf(id)}`, T0, duration);
      await s.insertDecision(at("pending"), ["nft", "ufw"], []);
      await s.insertDecision(at("done"), ["nft", "ufw"], []);
      await s.insertDecision(at("half", 900_000), ["nft", "ufw"], []);
      await s.insertDecision(at("failed"), ["nft"], []);
      await s.insertDecision(at("norow", 300_000), [], []); // made elsewhere: no status row yet
      await s.insertDecision({ ...at("sim"), simulated: true }, ["nft"], []);
      await s.insertDecision(at("past", 1000), ["nft"], []); // past its expiry, not yet ended
      await s.insertDecision(at("ended"), ["nft", "ufw"], []);
      await s.insertDecision(at("gone"), ["nft"], []);
      await s.insertDecision(at("ended-pending"), ["nft"], []);
      const set = (decisionId: string, responder: string, status: "applied" | "failed" | "removed") =>
        s.setStatus([{ decisionId, responder, status }], T0 + 1);
      for (const r of ["nft", "ufw"]) await set("done", r, "applied");
      await set("half", "nft", "applied");
      await set("failed", "nft", "failed");
      await set("ended", "ufw", "applied");
      await set("gone", "nft", "removed");
      await s.revoke(at("ended").target, { type: "cli", name: "root" }, "x", T0 + 10);
      await s.revoke(at("gone").target, { type: "cli", name: "root" }, "x", T0 + 20);
      await s.revoke(at("ended-pending").target, { type: "cli", name: "root" }, "x", T0 + 30);
      const now = T0 + 2000;
      const both = await s.pendingWork(["nft", "ufw"], now);
      // In expiry order.
      assert.deepEqual(
        both.apply.map((d) => d.id),
        ["norow", "failed", "pending", "half"],
      );
      assert.deepEqual(both.apply[3]?.status, { nft: "applied", ufw: "pending" });
      assert.deepEqual(
        both.remove.map((d) => [d.id, d.state]),
        [["ended", "revoked"]],
      );
      assert.deepEqual(
        (await s.pendingWork(["nft"], now)).apply.map((d) => d.id),
        ["norow", "failed", "pending"],
      );
      assert.deepEqual(
        (await s.pendingWork(["ufw"], now)).apply.map((d) => d.id),
        ["norow", "failed", "pending", "half"],
      );
      assert.deepEqual(await s.pendingWork([], now), { apply: [], remove: [] });
      await set("ended", "ufw", "removed");
      assert.deepEqual((await s.pendingWork(["nft", "ufw"], now)).remove, []);
    },
  );

  withStore("changes since a time: decisions created or ended after it, in creation order", async (s) => {
    await s.insertDecision(decision("old", "192.0.2.50", T0 - 10_000), [], []);
    await s.insertDecision(decision("old-ended", "192.0.2.51", T0 - 20_000), [], []);
    await s.insertDecision(decision("new", "192.0.2.52", T0 + 5), [], []);
    await s.insertDecision(decision("newer", "192.0.2.53", T0 + 1), [], []);
    await s.revoke("192.0.2.51", { type: "cli", name: "root" }, "x", T0 + 2);
    assert.deepEqual(
      (await s.changedSince(T0)).map((d) => [d.id, d.state]),
      [
        ["old-ended", "revoked"],
        ["newer", "active"],
        ["new", "active"],
      ],
    );
    assert.deepEqual(
      (await s.changedSince(T0 + 2)).map((d) => d.id),
      ["new"],
    );
    assert.deepEqual(
      (await s.activeDecisions(T0 + 6)).map((d) => d.id),
      ["old", "newer", "new"],
    );
  });

  withStore("retention removes only ended records past their period", async (s) => {
    await s.insertDecision(decision("r1", "192.0.2.30"), [], []);
    await s.insertDecision(decision("r2", "192.0.2.31", T0, 10 * 86_400_000), [], []);
    await s.expireDue(T0 + 600_000);
    await s.insertAlert(alert("old", "192.0.2.30", T0), undefined);
    const removed = await s.applyRetention(T0 + 3 * 86_400_000, {
      decisions: 86_400_000,
      alerts: 86_400_000,
      audit: 365 * 86_400_000,
    });
    assert.deepEqual(removed, { decisions: 1, alerts: 1, audit: 0 });
    assert.deepEqual(
      (await s.listDecisions()).map((d) => d.id),
      ["r2"],
    );
  });
}
