import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Exec, ExecResult } from "../core/exec.ts";
import { memoryLogger } from "../core/logger.ts";
import {
  CommandRunner,
  Serial,
  isolate,
  isTransient,
  prepareEntries,
  prepareTargets,
  retrySchema,
} from "./common.ts";

function scripted(results: Partial<ExecResult>[]) {
  const seen: (readonly string[])[] = [];
  const exec: Exec = {
    run: (argv) => {
      seen.push(argv);
      return Promise.resolve({ code: 0, stdout: "", stderr: "", ...(results.shift() ?? {}) });
    },
  };
  return { exec, seen };
}

const fast = retrySchema.parse({ attempts: 3, initial_delay_ms: 1, max_delay_ms: 2 });
const config = { netns: undefined, ip_path: "ip", retry: fast, timeout_ms: 1000 };
const LOCK = "Another app is currently holding the xtables lock. Perhaps you want to use the -w option?";

describe("CommandRunner", () => {
  it("retries the xtables lock (exit 4) with backoff, and logs each retry", async () => {
    const { exec, seen } = scripted([{ code: 4, stderr: LOCK }, { code: 4, stderr: LOCK }, { code: 0 }]);
    const logger = memoryLogger();
    const run = new CommandRunner({ exec, config, logger });
    assert.equal((await run.run(["iptables", "-S"])).code, 0);
    assert.equal(seen.length, 3);
    assert.equal(logger.records.filter((r) => r.msg === "transient failure, retrying").length, 2);
  });

  it("gives up after `attempts`, and never retries a permanent failure", async () => {
    const lock = scripted(Array.from({ length: 5 }, () => ({ code: 4, stderr: LOCK })));
    const r1 = new CommandRunner({ exec: lock.exec, config, logger: memoryLogger() });
    assert.equal((await r1.run(["iptables", "-S"])).code, 4);
    assert.equal(lock.seen.length, 3);
    const bad = scripted([{ code: 2, stderr: "Bad argument" }]);
    const r2 = new CommandRunner({ exec: bad.exec, config, logger: memoryLogger() });
    await assert.rejects(r2.check(["iptables", "-X"]), /Bad argument/);
    assert.equal(bad.seen.length, 1);
  });

  it("prefixes every command with `ip netns exec <ns>` when configured", async () => {
    const { exec, seen } = scripted([{}]);
    await new CommandRunner({ exec, config: { ...config, netns: "pcl-x" }, logger: memoryLogger() }).run([
      "nft",
    ]);
    assert.deepEqual(seen[0], ["ip", "netns", "exec", "pcl-x", "nft"]);
  });

  it("classifies transient failures", () => {
    assert.ok(isTransient({ code: 4, stdout: "", stderr: LOCK }));
    assert.ok(isTransient({ code: 1, stdout: "", stderr: "killed by SIGTERM" }));
    assert.ok(!isTransient({ code: 1, stdout: "", stderr: "Error: No such file or directory" }));
  });
});

describe("isolate", () => {
  it("splits a failing batch until each bad item is alone; the others succeed", async () => {
    const items = Array.from({ length: 64 }, (_, i) => i);
    let calls = 0;
    const failures = await isolate(items, (chunk) => {
      calls++;
      return Promise.resolve(chunk.includes(7) || chunk.includes(40) ? "bad item" : undefined);
    });
    assert.deepEqual(
      [...failures.keys()].sort((a, b) => a - b),
      [7, 40],
    );
    assert.ok(calls <= 1 + 2 * 2 * Math.log2(64), `${calls} calls`);
  });

  it("an `all` outcome fails the chunk at once; maxCalls bounds a systemic failure", async () => {
    let calls = 0;
    const all = await isolate([1, 2, 3, 4], () => (calls++, Promise.resolve({ all: "nft: not found" })));
    assert.equal(calls, 1);
    assert.equal(all.size, 4);
    calls = 0;
    const items = Array.from({ length: 10_000 }, (_, i) => i);
    const bounded = await isolate(items, () => (calls++, Promise.resolve("always")), 50);
    assert.equal(bounded.size, 10_000);
    assert.ok(calls <= 50, `${calls} calls`);
  });
});

describe("prepareEntries", () => {
  const limits = { min_prefix_v4: 8, min_prefix_v6: 32 };
  it("validates, canonicalises, de-duplicates (latest expiry), and skips expired entries", () => {
    const p = prepareEntries(
      [
        { target: "192.0.2.1", expires: 2000 },
        { target: "::ffff:192.0.2.1", expires: 5000 },
        { target: "10.0.0.0/4", expires: 5000 },
        { target: "2001:DB8::/32", expires: 5000 },
        { target: "192.0.2.9", expires: 999 },
        { target: "10.1.2.3/32", expires: 5000 },
      ],
      1000,
      limits,
    );
    assert.deepEqual(
      p.items.map((i) => [i.key, i.expires, i.prefix, i.indexes]),
      [
        ["192.0.2.1", 5000, false, [0, 1]],
        ["2001:db8::/32", 5000, true, [3]],
        ["10.1.2.3", 5000, false, [5]],
      ],
    );
    assert.deepEqual(
      p.results.map((r) => r.ok),
      [true, true, false, true, true, true],
    );
    assert.match(p.results[2]!.error!, /shorter than the configured minimum \/8/);
  });

  it("removals accept any prefix length", () => {
    assert.deepEqual(
      prepareTargets(["0.0.0.0/0", "x"]).results.map((r) => r.ok),
      [true, false],
    );
  });
});

describe("Serial", () => {
  it("runs operations one at a time, in order, even when one fails", async () => {
    const s = new Serial();
    const log: string[] = [];
    const op = (name: string, fail = false) =>
      s.run(async () => {
        log.push(`start ${name}`);
        await new Promise((r) => setImmediate(r));
        log.push(`end ${name}`);
        if (fail) throw new Error(name);
      });
    await Promise.allSettled([op("a"), op("b", true), op("c")]);
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
  });
});
