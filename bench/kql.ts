/**
 * KQL micro-benchmark: compiled predicates over 1M in-memory events, evaluations per second.
 *
 *   node --import tsx bench/kql.ts [--events 1000000] [--runs 5]
 *
 * Events are generated deterministically: a mix of sshd failures and successes, nginx requests and sudo
 * lines, in our nested shape, plus Filebeat-style documents with flattened dotted keys for the last query.
 * Each query is warmed up, then timed `runs` times over all events; the best run is reported.
 */
import { compileKql } from "../src/kql/index.ts";
import { mulberry32 } from "../src/core/random.ts";

const args = new Map<string, string>();
for (let i = 2; i < process.argv.length; i += 2)
  args.set(process.argv[i]!.replace(/^--/, ""), process.argv[i + 1] ?? "");
const N = Number(args.get("events") ?? 1_000_000);
const RUNS = Number(args.get("runs") ?? 5);

const next = mulberry32(42);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
const USERS = ["root", "admin", "oracle", "ubuntu", "test", "git", "postgres", "alice"];
const SSH_ACTIONS = ["ssh_auth_failed", "ssh_invalid_user", "ssh_auth_success", "ssh_disconnect"];

function ip(): string {
  const first = next() < 0.3 ? 10 : 1 + Math.floor(next() * 223);
  return `${first}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}.${Math.floor(next() * 256)}`;
}

function makeEvent(i: number): object {
  const r = next();
  const ts = Date.UTC(2024, 0, 15) + i * 10;
  if (r < 0.5) {
    const action = pick(SSH_ACTIONS);
    const user = pick(USERS);
    const addr = ip();
    return {
      "@timestamp": ts,
      event: { dataset: "sshd", action, outcome: action === "ssh_auth_success" ? "success" : "failure" },
      source: { ip: addr, port: 1024 + Math.floor(next() * 60000) },
      user: { name: user },
      process: { name: "sshd", pid: 1000 + (i % 5000) },
      message: `Failed password for ${user} from ${addr} port 22 ssh2`,
    };
  }
  if (r < 0.8) {
    const status = pick([200, 200, 200, 301, 401, 403, 404, 500]);
    return {
      "@timestamp": ts,
      event: { dataset: "nginx", action: "http_request", outcome: status >= 400 ? "failure" : "success" },
      source: { ip: ip() },
      url: { path: pick(["/", "/login", "/wp-login.php", "/api/v1/items", "/.env"]) },
      http: { request: { method: "GET" }, response: { status_code: status } },
      message: "GET / HTTP/1.1",
    };
  }
  if (r < 0.9) {
    return {
      "@timestamp": ts,
      event: { dataset: "sudo", action: "sudo_command", outcome: "success" },
      user: { name: pick(USERS) },
      process: {
        name: "sudo",
        command_line: pick(["/usr/bin/apt update", "/usr/bin/wget http://x/y.sh", "/bin/ls"]),
      },
      message: "sudo: alice : TTY=pts/0 ; COMMAND=/bin/ls",
    };
  }
  // Filebeat system module document: flattened dotted keys mixed with nested objects, ISO timestamp.
  return {
    "@timestamp": new Date(ts).toISOString(),
    "event.dataset": "system.auth",
    system: { "auth.ssh": { event: pick(["Failed", "Accepted", "Invalid"]), method: "password" } },
    "source.ip": ip(),
    "user.name": pick(USERS),
    message: "Failed password for root from 10.0.0.1 port 22 ssh2",
  };
}

const QUERIES: [label: string, query: string][] = [
  ["1 clause (exact)", "event.dataset: sshd"],
  [
    "4 clauses (exact, list, not)",
    "event.dataset: sshd and event.outcome: failure and event.action: (ssh_auth_failed or ssh_invalid_user) and not user.name: root",
  ],
  ["CIDR + numeric range", "source.ip: 10.0.0.0/8 and http.response.status_code >= 400"],
  ["keyword wildcard", "process.command_line: *wget*"],
  ["message phrase", 'message: "failed password for root"'],
  ["@timestamp range (ISO)", "@timestamp >= 2024-01-15T01:00:00Z"],
  ["Filebeat flattened keys", 'event.dataset: "system.auth" and system.auth.ssh.event: "Failed"'],
];

console.log(`generating ${N.toLocaleString("en")} events...`);
const events: object[] = Array.from({ length: N }, (_, i) => makeEvent(i));

console.log(
  `${"query".padEnd(30)} ${"matches".padStart(9)} ${"evals/s".padStart(14)} ${"ns/eval".padStart(8)}`,
);
for (const [label, query] of QUERIES) {
  const p = compileKql(query);
  let matches = 0;
  for (let w = 0; w < 3; w++) for (let i = 0; i < Math.min(N, 200_000); i++) if (p(events[i]!)) matches++;
  let best = Infinity;
  for (let r = 0; r < RUNS; r++) {
    matches = 0;
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) if (p(events[i]!)) matches++;
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (s < best) best = s;
  }
  const rate = N / best;
  console.log(
    `${label.padEnd(30)} ${String(matches).padStart(9)} ${Math.round(rate).toLocaleString("en").padStart(14)} ${((best / N) * 1e9).toFixed(1).padStart(8)}`,
  );
}
