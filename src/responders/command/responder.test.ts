import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, it } from "node:test";
import { ManualClock, SystemClock } from "../../core/clock.ts";
import type { Exec, ExecResult } from "../../core/exec.ts";
import type { PluginContext } from "../../core/plugin.ts";
import { ADDR, inNs, netnsSkipReason, nsLines, probe } from "../../../test/support/netns.ts";
import { pairConformance, responderCtx, rootGuard, suitePair } from "../../../test/support/responder-net.ts";
import { commandConfig, substitute } from "./config.ts";
import { CommandResponder, command } from "./responder.ts";

const script = join(dirname(fileURLToPath(import.meta.url)), "testdata", "ipset-fw.sh");
const skip = netnsSkipReason(["ipset", "iptables", "ip6tables"]);
const rootUntouched = await rootGuard(skip);

/** The script's commands; `mode` selects per-entry or stdin_batch. */
function scriptConfig(netns: string, extra: Record<string, unknown> = {}) {
  const sh = ["/bin/sh", script];
  return commandConfig.parse({
    type: "command",
    netns,
    apply: [...sh, "ban", "{target}", "{family}", "{duration_s}"],
    remove: [...sh, "unban", "{target}", "{family}"],
    list: [...sh, "list"],
    setup: [...sh, "setup"],
    teardown: [...sh, "teardown"],
    native_expiry: true,
    ...extra,
  });
}

/** An Exec that records what it was asked to run and answers with `answer`. */
function fakeExec(answer: (argv: readonly string[], input: string) => Partial<ExecResult> = () => ({})) {
  const calls: { argv: readonly string[]; input: string }[] = [];
  const exec: Exec = {
    run: (argv, input) => {
      calls.push({ argv, input: input ?? "" });
      return Promise.resolve({ code: 0, stdout: "", stderr: "", ...answer(argv, input ?? "") });
    },
  };
  return { exec, calls };
}

const fakeCtx = (exec: Exec, clock = new ManualClock(1_700_000_000_000)): PluginContext =>
  responderCtx({ exec, clock });

describe("command config and placeholders", () => {
  it("rejects unknown placeholders, a placeholder as the executable, and unknown keys", () => {
    const r = commandConfig.safeParse({
      type: "command",
      apply: ["{target}", "--ip={addr}"],
      remove: ["/x"],
      shell: true,
    });
    assert.equal(r.success, false);
    const issues = r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).sort();
    assert.equal(issues.length, 3, issues.join("\n"));
    assert.ok(issues.some((i) => i.startsWith("apply.1: unknown placeholder {addr}")));
    assert.ok(issues.some((i) => i.startsWith("apply.0: the executable")));
  });

  it("stdin_batch forbids per-entry placeholders in the command line", () => {
    const r = commandConfig.safeParse({
      type: "command",
      apply: ["/x", "{target}"],
      remove: ["/y"],
      stdin_batch: true,
    });
    assert.equal(r.success, false);
    assert.match(r.error.issues[0]!.message, /per entry/);
  });

  it("without `remove`, `apply` must tell ban from unban with {action} (else an unban would ban again)", () => {
    const r = commandConfig.safeParse({ type: "command", apply: ["/opt/ban", "{target}", "{duration_s}"] });
    assert.equal(r.success, false);
    assert.deepEqual(r.error.issues[0]!.path, ["remove"]);
    assert.match(r.error.issues[0]!.message, /no \{action\} placeholder/);
    assert.ok(
      commandConfig.safeParse({ type: "command", apply: ["/opt/ban", "{action}", "{target}"] }).success,
    );
    assert.ok(
      commandConfig.safeParse({
        type: "command",
        apply: ["/opt/ban", "{target}"],
        remove: ["/opt/unban", "{target}"],
      }).success,
    );
  });

  it("substitutes inside arguments, with {{ and }} as literal braces", () => {
    assert.equal(substitute("--ip={target}/{{x}}", { target: "192.0.2.1" }), "--ip=192.0.2.1/{x}");
  });
});

describe("command responder with a recording exec", () => {
  it("runs argument arrays (no shell), one per entry, with the placeholders filled in", async () => {
    const { exec, calls } = fakeExec();
    const clock = new ManualClock(1_700_000_000_000);
    const r = new CommandResponder(
      commandConfig.parse({
        type: "command",
        apply: ["/opt/ban", "{action}", "--ip={target}", "{duration_s}", "{expires_s}"],
      }),
      fakeCtx(exec, clock),
    );
    const res = await r.apply([
      { target: "192.0.2.1; rm -rf /", expires: clock.now() + 90_500 },
      { target: "2001:DB8::1", expires: clock.now() + 1000 },
      { target: "198.51.100.0/24", expires: Infinity },
    ]);
    assert.deepEqual(
      res.map((x) => x.ok),
      [false, true, true],
    );
    assert.deepEqual(
      calls.map((c) => c.argv),
      [
        ["/opt/ban", "ban", "--ip=2001:db8::1", "1", "1700000001"],
        ["/opt/ban", "ban", "--ip=198.51.100.0/24", "0", "0"],
      ],
    );
    await r.remove(["2001:db8::1"]);
    assert.deepEqual(calls.at(-1)!.argv, ["/opt/ban", "unban", "--ip=2001:db8::1", "0", "0"]);
  });

  it("retries transient exit codes (EX_TEMPFAIL) within the retry policy, then reports the error", async () => {
    let n = 0;
    const { exec, calls } = fakeExec(() => (++n <= 2 ? { code: 75, stderr: "busy" } : {}));
    const config = commandConfig.parse({
      type: "command",
      apply: ["/opt/ban", "{target}"],
      remove: ["/opt/unban", "{target}"],
      retry: { attempts: 3, initial_delay_ms: 1, max_delay_ms: 2 },
    });
    const r = new CommandResponder(config, fakeCtx(exec));
    assert.deepEqual(await r.apply([{ target: "192.0.2.1", expires: Infinity }]), [
      { target: "192.0.2.1", ok: true },
    ]);
    assert.equal(calls.length, 3);
    const failing = fakeExec(() => ({ code: 75, stderr: "still busy" }));
    const r2 = new CommandResponder(config, fakeCtx(failing.exec));
    const res = await r2.apply([{ target: "192.0.2.1", expires: Infinity }]);
    assert.equal(res[0]!.ok, false);
    assert.match(res[0]!.error!, /still busy/);
    assert.equal(failing.calls.length, 3, "bounded by attempts");
    const other = fakeExec(() => ({ code: 1, stderr: "denied" }));
    await new CommandResponder(config, fakeCtx(other.exec)).apply([
      { target: "192.0.2.1", expires: Infinity },
    ]);
    assert.equal(other.calls.length, 1, "non-transient failures are not retried");
  });

  it("stdin_batch: one process per batch; a failing batch is split down to the failing entries", async () => {
    const { exec, calls } = fakeExec((_argv, input) =>
      input.includes("192.0.2.13 ") ? { code: 1, stderr: "refused 192.0.2.13" } : {},
    );
    const config = commandConfig.parse({
      type: "command",
      apply: ["/opt/ban-batch", "{action}", "{count}"],
      stdin_batch: true,
      batch_size: 16,
    });
    const clock = new ManualClock(1_700_000_000_000);
    const r = new CommandResponder(config, fakeCtx(exec, clock));
    const entries = Array.from({ length: 32 }, (_, i) => ({
      target: `192.0.2.${i}`,
      expires: clock.now() + 60_000,
    }));
    const res = await r.apply(entries);
    assert.deepEqual(
      res.filter((x) => !x.ok).map((x) => x.target),
      ["192.0.2.13"],
    );
    assert.match(res[13]!.error!, /refused/);
    assert.deepEqual(calls[0]!.argv, ["/opt/ban-batch", "ban", "16"]);
    assert.equal(calls[0]!.input.split("\n")[0], "192.0.2.0 60 1700000060 4");
    // 2 batches; the failing one is split 16 -> 8 -> 4 -> 2 -> 1: at most 2 * log2(16) extra runs
    assert.ok(calls.length <= 2 + 8, `${calls.length} runs`);
  });

  it("without a list command, list() says so instead of guessing", async () => {
    const r = new CommandResponder(
      commandConfig.parse({ type: "command", apply: ["/opt/ban", "{action}"] }),
      fakeCtx(fakeExec().exec),
    );
    await assert.rejects(r.list(), /no `list` command configured/);
    assert.equal(r.nativeExpiry, false);
  });

  it("parses the list output: target, optional expiry in Unix seconds", async () => {
    const { exec } = fakeExec(() => ({
      stdout: "192.0.2.1 1700000100\n2001:DB8::/32 -\nnonsense\n\n198.51.100.7\n",
    }));
    const r = new CommandResponder(
      commandConfig.parse({ type: "command", apply: ["/opt/ban", "{action}"], list: ["/opt/list"] }),
      fakeCtx(exec),
    );
    assert.deepEqual(await r.list(), [
      { target: "192.0.2.1", expires: 1_700_000_100_000 },
      { target: "2001:db8::/32", expires: Infinity },
      { target: "198.51.100.7", expires: Infinity },
    ]);
  });
});

pairConformance({
  name: "command (ipset script, per entry)",
  tag: "cmd",
  skip,
  supports: { ipv6: true, cidr: true },
  start: (p) => ({
    responder: command.create(scriptConfig(p.server), responderCtx()),
    flush: async () => void (await inNs(p.server, ["ipset", "flush"])),
    residue: async () => [
      ...(await nsLines(p.server, ["ipset", "list", "-n"])),
      ...(await nsLines(p.server, ["iptables", "-S", "INPUT"])).filter((l) => l.includes("match-set")),
    ],
  }),
});

describe("command responder in stdin_batch mode, for real", { skip }, () => {
  const p = suitePair("cmdb");

  it("bans and unbans 300 entries in two script runs each way", async () => {
    const sh = ["/bin/sh", script];
    const r = new CommandResponder(
      scriptConfig(p.server, {
        apply: [...sh, "batch", "{action}"],
        remove: [...sh, "batch", "{action}"],
        stdin_batch: true,
        batch_size: 200,
      }),
      responderCtx(),
    );
    await r.setup();
    const now = SystemClock.now();
    const entries = Array.from({ length: 299 }, (_, i) => ({
      target: `10.${50 + (i >> 8)}.${i & 255}.1`,
      expires: now + 600_000,
    }));
    entries.push({ target: ADDR.clientV4, expires: now + 600_000 });
    const before = r.commands.calls;
    assert.ok((await r.apply(entries)).every((x) => x.ok));
    assert.equal(r.commands.calls - before, 2);
    assert.equal(await probe(p, ADDR.clientV4), false);
    assert.equal((await r.list()).length, 300);
    assert.ok((await r.remove(entries.map((e) => e.target))).every((x) => x.ok));
    assert.equal(await probe(p, ADDR.clientV4), true);
    assert.deepEqual(await r.list(), []);
    await r.teardown();
  });
});

rootUntouched();
