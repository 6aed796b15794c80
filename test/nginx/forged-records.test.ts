/**
 * A real nginx (Debian package nginx-light, started here on loopback with its own configuration and error log)
 * is sent requests whose paths carry encoded line feeds (`%0a`): nginx writes the decoded path into its error
 * log, so complete-looking lines naming another address (VICTIM) appear in it. `parse` and `replay` must not
 * read them, and must still read the genuine auth failures around them.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import type { SecurityEvent } from "../../src/core/event.ts";
import { LineFramer } from "../../src/framing/framer.ts";
import { Zone } from "../../src/framing/zone.ts";
import { ParserSet } from "../../src/parsers/dispatch.ts";
import { encodePath, forgedAuthFailure } from "../../src/parsers/nginx/testing.ts";
import { runCli } from "../support/cli.ts";

const NGINX = "/usr/sbin/nginx";
const VICTIM = "198.51.100.7";
const dir = mkdtempSync(join(tmpdir(), "portcullis-nginx-"));
const errorLog = join(dir, "logs", "error.log");
let nginx: ChildProcess | undefined;
let port = 0;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/** Sends one raw HTTP/1.1 request and waits for the response to end (nginx has logged by then). */
function request(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(port, "127.0.0.1");
    let got = "";
    c.on("data", (d) => (got += d.toString("latin1")));
    c.on("error", reject);
    c.on("end", () => resolve(got));
    c.write(`${head}\r\nHost: example.com\r\nConnection: close\r\n\r\n`, "latin1");
  });
}

before(async () => {
  assert.ok(
    existsSync(NGINX),
    `${NGINX} is missing: apt-get install nginx-light (a real nginx writes the log)`,
  );
  port = await freePort();
  for (const d of ["logs", "html", "tmp"]) mkdirSync(join(dir, d));
  // user bob, password "secret" (nginx reads {PLAIN} passwords).
  writeFileSync(join(dir, "htpasswd"), "bob:{PLAIN}secret\n");
  const tmp = join(dir, "tmp");
  writeFileSync(
    join(dir, "nginx.conf"),
    `daemon off;
master_process off;
pid ${join(dir, "nginx.pid")};
error_log ${errorLog} error;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${tmp}; proxy_temp_path ${tmp}; fastcgi_temp_path ${tmp};
  uwsgi_temp_path ${tmp}; scgi_temp_path ${tmp};
  server {
    listen 127.0.0.1:${port};
    server_name example.com;
    root ${join(dir, "html")};
    location /secret { auth_basic "x"; auth_basic_user_file ${join(dir, "htpasswd")}; }
  }
}
`,
  );
  nginx = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  nginx.stderr!.on("data", (d) => (stderr += String(d)));
  const t0 = Date.now();
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1", () => (c.end(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (up) break;
    if (nginx.exitCode !== null || Date.now() - t0 > 10_000)
      throw new Error(`nginx did not start: ${stderr}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const basic = (user: string, pass: string) =>
    `Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  const forged = forgedAuthFailure(VICTIM);
  // Ordinary missing files (about 200 bytes of log each): more than 2048 bytes between the genuine failures
  // and the injections, so that the lines left unread around an injection are not the genuine ones.
  const traffic = async () => {
    for (let i = 0; i < 12; i++) await request(`GET /missing-${i}.html HTTP/1.1`);
  };
  // Genuine failures from 127.0.0.1, around the injections.
  await request(`GET /secret HTTP/1.1\r\n${basic("bob", "wrong")}`);
  await traffic();
  // One forged line in a short record (its whole request fits), then twelve in one record cut at 2048 bytes.
  // Its referrer holds a fake `, client: ` (nginx writes it last on the line).
  await request(`GET /x${encodePath(`\n${forged}\ny`)} HTTP/1.1\r\nReferer: a, client: b`);
  await traffic();
  await request(`GET /z${encodePath(`\n${forged}`.repeat(12))} HTTP/1.1`);
  await traffic();
  // Found by a second review: a Basic-auth user name carrying line feeds (colon-free lines, which sshd's parser
  // reads), and an HTTP/0.9 request (no version in the request line) carrying %0a.
  const sshd = `host [sshd] Failed password for root from ${VICTIM} port 22 ssh2`;
  await request(`GET /secret/ HTTP/1.1\r\n${basic(`x${`\n${sshd}`.repeat(12)}\ny`, "pw")}`);
  await traffic();
  await request(`GET /h9/x${encodePath(`\n${sshd}`.repeat(10))}%0ay`);
  await traffic();
  await request(`GET /secret HTTP/1.1\r\n${basic("bob", "wrong-again")}`);
});

after(() => {
  nginx?.kill("SIGTERM");
  rmSync(dir, { recursive: true, force: true });
});

const lines = () => readFileSync(errorLog, "utf8").split("\n").slice(0, -1);

test("nginx wrote the forged lines as lines of their own (the attack is real)", () => {
  const forged = forgedAuthFailure(VICTIM);
  assert.ok(lines().filter((l) => l === forged).length >= 10, lines().join("\n"));
  assert.ok(lines().filter((l) => l.startsWith("host [sshd] Failed password")).length >= 22);
  // Read one line at a time, as before the guard, they are auth failures of VICTIM.
  const time = { zone: new Zone("UTC"), reference: () => Date.UTC(2024, 5, 3) };
  const framer = new LineFramer(time);
  const parsers = new ParserSet({ time });
  const events: SecurityEvent[] = [];
  for (const l of lines()) {
    const f = framer.frame(l);
    if (f) parsers.parse(f, events);
  }
  assert.ok(events.filter((e) => e.source?.ip === VICTIM).length >= 30);
});

test("parse reads the genuine failures, none of the forged ones, and says which lines it left out", async () => {
  const r = await runCli(["parse", "--timezone", "UTC", errorLog]);
  assert.equal(r.code, 0, r.err);
  const events = r.out
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as { source?: { ip?: string }; event: { action: string } });
  assert.deepEqual(
    events.filter((e) => e.event.action === "nginx_auth_failed").map((e) => e.source?.ip),
    ["127.0.0.1", "127.0.0.1"],
  );
  assert.equal(events.filter((e) => e.source?.ip === VICTIM).length, 0);
  const warnings = r.err.split("\n").filter((l) => l.includes("nginx error record"));
  assert.equal(warnings.length, 4, r.err + "\n" + lines().map((l, i) => `${i + 1}: ${l.slice(0, 140)}`).join("\n"));
  // The short record (lines 14-16) with the lines within 2048 bytes around it; the cut record exactly.
  const range = (w: string) => /error\.log:(\d+)-(\d+): /.exec(w)!.slice(1).map(Number);
  const [a, b] = range(warnings[0]!);
  assert.ok(a! > 1 && a! <= 14 && b! >= 16 && b! < 28, warnings[0]);
  assert.match(warnings[0]!, /for 127\.0\.0\.1/);
  assert.match(warnings[1]!, /error\.log:29-41: 13 lines not read/);
});

test("replay bans nobody for the forged lines and counts them in its summary", async () => {
  const r = await runCli(["replay", "--json", "--no-progress", "--timezone", "UTC", errorLog]);
  assert.equal(r.code, 0, r.err);
  // Alerts and decisions on stdout (none here: two genuine failures are below every threshold), the
  // summary as the last line of stderr.
  assert.ok(!r.out.includes(VICTIM), r.out);
  const summary = JSON.parse(r.err.trim().split("\n").at(-1)!) as {
    kind: string;
    forged: number;
    events: number;
  };
  assert.equal(summary.kind, "summary");
  assert.ok(summary.forged >= 13 + 14 + 12, JSON.stringify(summary));
  assert.ok(summary.events >= 2, JSON.stringify(summary));
});
