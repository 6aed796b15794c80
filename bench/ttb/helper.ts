/**
 * Small network helpers started inside the benchmark's namespaces (`ip netns exec <ns> node --import tsx
 * bench/ttb/helper.ts ...`):
 *
 *   listen <addr> <port>   TCP listener in the server namespace: accepts and closes every connection.
 *   probe                  In the client namespace, reads JSON commands on stdin, one per line:
 *     {"op":"arm","id":1,"addr":"10.77.1.5","intervalMs":1,"timeoutMs":20000}
 *         connects from `addr` to the listener again and again (a pause of intervalMs between attempts)
 *         until one is refused; prints {"op":"armed","id":1} after the first accepted connection, then
 *         {"op":"refused","id":1,"at":<monotonic ms>,"attempts":n,"lastOk":<monotonic ms>} (or "timeout" /
 *         "error"). `at` is taken when the refusal is reported by the kernel (the ICMP port unreachable that
 *         the `reject` verdict sends).
 *   nftcost <n>            In the server namespace: times n runs of `nft -f -` adding one element to a scratch
 *                          table (spawn to exit, as the nftables responder runs it); prints a JSON array (ms).
 *
 * Timestamps are CLOCK_MONOTONIC, the same clock as the other benchmark processes (see common.ts `mono`).
 */
import { spawn } from "node:child_process";
import { connect, createServer } from "node:net";
import { createInterface } from "node:readline";
import { mono } from "./common.ts";

const [mode, ...rest] = process.argv.slice(2);

function out(o: unknown): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

if (mode === "listen") {
  const [addr, port] = rest;
  const server = createServer((s) => {
    s.on("error", () => {});
    s.destroy();
  });
  server.on("error", (e) => {
    process.stderr.write(`listener: ${e.message}\n`);
    process.exit(1);
  });
  server.listen({ host: addr, port: Number(port), backlog: 4096 }, () => out({ op: "listening" }));
  process.on("SIGTERM", () => server.close(() => process.exit(0)));
} else if (mode === "probe") {
  const [server, port] = rest;
  interface Arm {
    op: "arm";
    id: number;
    addr: string;
    intervalMs: number;
    timeoutMs: number;
  }
  const attempt = (addr: string, cb: (err: NodeJS.ErrnoException | undefined, at: number) => void) => {
    let done = false;
    const s = connect({ host: server!, port: Number(port), localAddress: addr });
    s.setTimeout(2000);
    const finish = (err: NodeJS.ErrnoException | undefined) => {
      const at = mono();
      if (done) return;
      done = true;
      s.destroy();
      cb(err, at);
    };
    s.once("connect", () => finish(undefined));
    s.once("error", (e: NodeJS.ErrnoException) => finish(e));
    s.once("timeout", () => finish(Object.assign(new Error("connect timeout"), { code: "ETIMEDOUT" })));
  };
  const arm = (c: Arm) => {
    const deadline = mono() + c.timeoutMs;
    let attempts = 0;
    let lastOk = NaN;
    let armed = false;
    const next = () => {
      attempts++;
      attempt(c.addr, (err, at) => {
        if (!err) {
          lastOk = at;
          if (!armed) {
            armed = true;
            out({ op: "armed", id: c.id });
          }
          if (at > deadline) return out({ op: "timeout", id: c.id, attempts });
          if (c.intervalMs > 0) setTimeout(next, c.intervalMs);
          else setImmediate(next);
          return;
        }
        if (err.code === "ECONNREFUSED") {
          if (!armed)
            return out({ op: "error", id: c.id, error: "refused before the crossing line", attempts });
          return out({ op: "refused", id: c.id, at, attempts, lastOk });
        }
        out({ op: "error", id: c.id, error: `${err.code ?? ""} ${err.message}`, attempts });
      });
    };
    next();
  };
  const rl = createInterface({ input: process.stdin });
  rl.on("line", (line) => {
    const c = JSON.parse(line) as Arm;
    if (c.op === "arm") arm(c);
  });
  rl.on("close", () => process.exit(0));
  out({ op: "ready" });
} else if (mode === "nftcost") {
  const n = Number(rest[0] ?? 100);
  const nft = (input: string) =>
    new Promise<number>((resolve, reject) => {
      const t0 = mono();
      const c = spawn("nft", ["-f", "-"], { stdio: ["pipe", "ignore", "inherit"] });
      c.on("error", reject);
      c.on("close", (code) => (code === 0 ? resolve(mono() - t0) : reject(new Error(`nft exit ${code}`))));
      c.stdin.end(input);
    });
  const T = "inet pclbenchcost";
  await nft(`add table ${T}\nadd set ${T} s { type ipv4_addr; flags timeout; }\n`);
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    times.push(await nft(`add element ${T} s { 192.0.2.${1 + (i % 250)} timeout 10m }\n`));
  }
  await nft(`delete table ${T}\n`);
  out(times);
} else {
  process.stderr.write("usage: helper.ts listen <addr> <port> | probe <server> <port>\n");
  process.exit(64);
}
