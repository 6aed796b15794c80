/**
 * `portcullis enforcer` as a real child process (the CLI entry point, the config file, signals) with a real
 * nftables responder, run the way the shipped systemd unit runs it: root with no capability but CAP_NET_ADMIN
 * in its bounding set (setpriv), here inside the test's server network namespace. A daemon-side client in
 * another process must exit by itself when done (an idle enforcer connection never keeps a process alive).
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { runCli } from "../../test/support/cli.ts";
import {
  ADDR,
  createPair,
  destroyPair,
  netnsSkipReason,
  probe,
  rootSnapshot,
  startListener,
  type Listener,
  type NetPair,
} from "../../test/support/netns.ts";

const skip = netnsSkipReason(["nft", "setpriv"]);
const MAIN = fileURLToPath(new URL("../cli/main.ts", import.meta.url));
const RESPONDER = fileURLToPath(new URL("../responders/enforcer/responder.ts", import.meta.url));
const CONFIG = fileURLToPath(new URL("../responders/enforcer/config.ts", import.meta.url));
const LOGGER = fileURLToPath(new URL("../core/logger.ts", import.meta.url));
const CLOCK = fileURLToPath(new URL("../core/clock.ts", import.meta.url));
const EXEC = fileURLToPath(new URL("../core/exec.ts", import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exit: Promise<number | null>;
}

function node(args: string[], script: string, prefix: string[] = []): Run {
  const argv = [...prefix, process.execPath, "--import", "tsx", "--input-type=module", "-e", script, ...args];
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => (err += b.toString()));
  const exit = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exit };
}

const cli = (args: string[], prefix: string[] = []) =>
  node(
    args,
    `import { main } from ${JSON.stringify(MAIN)}; process.exitCode = await main(process.argv.slice(1));`,
    prefix,
  );

/** Runs in namespace `ns` as root whose only capability is CAP_NET_ADMIN (the unit's CapabilityBoundingSet). */
const netAdminOnly = (ns: string) => [
  "ip",
  "netns",
  "exec",
  ns,
  "setpriv",
  "--bounding-set=-all,+net_admin",
  "--inh-caps=-all",
  "--",
];

/** Resolves with the exit code, or kills the child and fails when it does not exit (a hang is the bug). */
async function exited(run: Run, what: string, ms = 30_000): Promise<number | null> {
  const timer = setTimeout(() => run.child.kill("SIGKILL"), ms);
  const code = await run.exit;
  clearTimeout(timer);
  assert.notEqual(run.child.signalCode, "SIGKILL", `${what} did not exit by itself\n${run.stderr()}`);
  return code;
}

describe("portcullis enforcer (child process)", { skip }, () => {
  let pair!: NetPair;
  let listener: Listener | undefined;
  let rootBefore: Awaited<ReturnType<typeof rootSnapshot>>;
  const dir = mkdtempSync(join(tmpdir(), "pcl-enf-cli-"));
  chmodSync(dir, 0o711);
  const socket = join(dir, "run", "enforcer.sock");
  const config = join(dir, "enforcer.yaml");

  before(async () => {
    rootBefore = await rootSnapshot();
    pair = await createPair("enfcli");
    listener = await startListener(pair);
    writeFileSync(
      config,
      [`socket: ${socket}`, "group: 0", "responders:", "  - type: nftables", "    name: nft", ""].join("\n"),
    );
  });
  after(async () => {
    await listener?.stop();
    await destroyPair(pair);
    rmSync(dir, { recursive: true, force: true });
  });

  it("an invalid config is refused before anything starts, with file:line", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "socket: /run/x.sock\nresponders:\n  - type: enforcer\n    responder: nft\n");
    const run = cli(["enforcer", "--config", bad]);
    assert.equal(await exited(run, "enforcer with a bad config"), 65);
    assert.match(
      run.stderr(),
      /bad\.yaml:3 responders\[0\]\.type: an enforcer cannot host an `enforcer` responder/,
    );
    assert.equal(existsSync("/run/x.sock"), false);
  });

  it("with only CAP_NET_ADMIN: serves bans to a client process, logs them, stops cleanly on SIGTERM", async () => {
    const enf = cli(["enforcer", "--config", config, "--log-level", "debug"], netAdminOnly(pair.server));
    try {
      for (let i = 0; i < 200 && !existsSync(socket); i++) await delay(50);
      assert.ok(existsSync(socket), `socket not created\n${enf.stderr()}`);
      assert.equal((lstatSync(socket).mode & 0o777).toString(8), "660");

      // the daemon's side, in its own process, which must exit on its own without closing anything
      const client = node(
        [socket, ADDR.clientV4],
        [
          `import { EnforcerResponder } from ${JSON.stringify(RESPONDER)};`,
          `import { enforcerResponderConfig } from ${JSON.stringify(CONFIG)};`,
          `import { silentLogger } from ${JSON.stringify(LOGGER)};`,
          `import { SystemClock } from ${JSON.stringify(CLOCK)};`,
          `import { ProcessExec } from ${JSON.stringify(EXEC)};`,
          `const [socket, target] = process.argv.slice(1);`,
          `const r = new EnforcerResponder(enforcerResponderConfig.parse({ type: "enforcer", socket, responder: "nft" }),`,
          `  { clock: SystemClock, logger: silentLogger, dataDir: "/nonexistent", exec: new ProcessExec() });`,
          `await r.setup();`,
          `console.log(JSON.stringify(await r.apply([{ target, expires: SystemClock.now() + 600000 }])));`,
        ].join("\n"),
      );
      assert.equal(await exited(client, "the client process"), 0, client.stderr());
      assert.deepEqual(JSON.parse(client.stdout()), [{ target: ADDR.clientV4, ok: true }]);
      assert.equal(await probe(pair, ADDR.clientV4), false, "the ban is enforced");
      assert.equal(await probe(pair, ADDR.clientV4b), true);
    } finally {
      enf.child.kill("SIGTERM");
    }
    assert.equal(await exited(enf, "the enforcer after SIGTERM"), 0, enf.stderr());
    assert.equal(existsSync(socket), false, "the socket file is removed");
    const logs = enf
      .stderr()
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const listening = logs.find((l) => l.msg === "enforcer listening");
    assert.equal(listening?.mode, "0660");
    const change = logs.find((l) => l.msg === "firewall change");
    assert.ok(change, enf.stderr());
    assert.equal(change.who, "socket");
    assert.equal(change.verb, "apply");
    assert.deepEqual(change.targets, [
      `${ADDR.clientV4} until ${(change.targets as string[])[0]!.split(" until ")[1]}`,
    ]);
    assert.ok(logs.some((l) => l.msg === "shutting down" && l.signal === "SIGTERM"));
    // the bans stay in the kernel when the enforcer stops (the daemon's store is the truth; reconcile repairs)
    assert.equal(await probe(pair, ADDR.clientV4), false);
  });

  it("the root network namespace is untouched", async () => {
    assert.deepEqual(await rootSnapshot(), rootBefore);
  });
});

/** `portcullis enforcer ARGS` in this process (`--check` starts nothing: no root, no namespace needed). */
const inProcess = (args: string[]) => runCli(["enforcer", ...args]);

describe("portcullis enforcer --check", () => {
  const dir = mkdtempSync(join(tmpdir(), "pcl-enf-check-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };
  const socket = join(dir, "run", "enforcer.sock");

  it("a valid config: OK and a summary on stdout, exit 0; nothing is created", async () => {
    const p = file(
      "ok.yaml",
      [
        `socket: ${socket}`,
        "group: 0",
        "protect: [192.0.2.7]",
        "max_duration: 30d",
        "responders:",
        "  - type: nftables",
        "    name: nft",
        "  - type: ufw",
        "",
      ].join("\n"),
    );
    const r = await inProcess(["--check", "--config", p]);
    assert.equal(r.code, 0, r.err);
    assert.equal(
      r.out,
      `${p}: OK (socket ${socket}, group 0, responders: nft (nftables), ufw; protect: 1 entry, ` +
        "max_duration: 30d)\n",
    );
    assert.equal(r.err, "");
    assert.equal(existsSync(join(dir, "run")), false, "no socket directory");
    // --socket is checked and shown as the socket used
    const other = await inProcess(["--check", "-c", p, "--socket", "/run/other.sock"]);
    assert.match(other.out, /OK \(socket \/run\/other\.sock,/);
    assert.equal((await inProcess(["--check", "-c", p, "--socket", "relative.sock"])).code, 64);
  });

  it("allow_teardown: true is valid, with a warning at its line", async () => {
    const p = file("teardown.yaml", "group: 0\nallow_teardown: true\nresponders: [{type: nftables}]\n");
    const r = await inProcess(["--check", "--config", p]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.err, /^portcullis: warning: .*teardown\.yaml:2 allow_teardown: any member of group 0/);
  });

  it("every problem with file:line and path, exit 65, no stack trace", async () => {
    const cases: [string, string | Buffer, RegExp][] = [
      [
        "types.yaml",
        "socket: 42\nmax_connections: '16'\nresponders: [{type: nftables, tabel: x}]\n",
        /types\.yaml:1 socket: .*\n.*types\.yaml:2 max_connections: .*\n.*types\.yaml:3 responders\[0\]\.tabel: unknown key/,
      ],
      [
        "dup.yaml",
        "group: 0\ngroup: 1\nresponders: [{type: nftables}]\n",
        /dup\.yaml:2 group: duplicate key/,
      ],
      ["tag.yaml", "group: !gid 0\nresponders: [{type: nftables}]\n", /tag\.yaml:1: Unresolved tag: !gid/],
      [
        "neg.yaml",
        "group: 0\nmax_duration: -5\nresponders: [{type: nftables}]\n",
        /neg\.yaml:2 max_duration: expected a duration/,
      ],
      [
        "cidr.yaml",
        "group: 0\nprotect: [10.0.0.0/33]\nresponders: [{type: nftables}]\n",
        /cidr\.yaml:2 protect\[0\]: expected an IP address or CIDR/,
      ],
      [
        "latin1.yaml",
        Buffer.from("group: 0\n# caf\xe9\nresponders: [{type: nftables}]\n", "latin1"),
        /latin1\.yaml:2: bytes that are not UTF-8/,
      ],
      ["empty.yaml", "", /empty\.yaml:1 responders: missing/],
      [
        "nogroup.yaml",
        "group: pcl-no-such-group\nresponders: [{type: nftables}]\n",
        /nogroup\.yaml:1 group: group "pcl-no-such-group" does not exist/,
      ],
    ];
    for (const [name, text, expected] of cases) {
      const r = await inProcess(["--check", "--config", file(name, text as string)]);
      assert.equal(r.code, 65, `${name}: ${r.err}`);
      assert.equal(r.out, "", name);
      assert.match(r.err, expected, name);
      assert.doesNotMatch(r.err, /\n\s+at /, `${name}: a stack trace`);
    }
    mkdirSync(join(dir, "enforcer.d"));
    for (const [p, expected] of [
      [join(dir, "absent.yaml"), /cannot read enforcer configuration .*absent\.yaml: no such file/],
      [join(dir, "enforcer.d"), /cannot read enforcer configuration .*enforcer\.d: it is a directory/],
    ] as const) {
      const r = await inProcess(["--check", "--config", p]);
      // A configuration that cannot be read is an unreadable input (66), like a log file.
      assert.equal(r.code, 66, r.err);
      assert.match(r.err, expected);
    }
  });
});
