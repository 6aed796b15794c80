/**
 * A real nginx (Debian package nginx-light) for tests: started on a free loopback port with its own prefix,
 * configuration and error log (nothing of the machine's nginx is used or started), and raw HTTP requests to it.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePath, forgedAuthFailure } from "../../src/parsers/nginx/testing.ts";

export const NGINX = "/usr/sbin/nginx";

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

export interface TestNginx {
  dir: string;
  errorLog: string;
  /** Sends one raw HTTP/1.1 request head (request line and headers) and waits for the response to end. */
  request: (head: string) => Promise<string>;
  /** A Basic-auth `Authorization` header line. */
  basic: (user: string, pass: string) => string;
  stop: () => void;
}

/**
 * Starts nginx with a `/secret` location behind Basic auth (user bob, password "secret") and a static root
 * where every other path is missing; its error log at level `error`.
 */
export async function startNginx(): Promise<TestNginx> {
  assert.ok(
    existsSync(NGINX),
    `${NGINX} is missing: apt-get install nginx-light (a real nginx writes the log)`,
  );
  const dir = mkdtempSync(join(tmpdir(), "portcullis-nginx-"));
  const errorLog = join(dir, "logs", "error.log");
  const port = await freePort();
  for (const d of ["logs", "html", "tmp"]) mkdirSync(join(dir, d));
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
  const nginx: ChildProcess = spawn(NGINX, ["-p", dir, "-c", join(dir, "nginx.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  nginx.stderr!.on("data", (d) => (stderr += String(d)));
  const stop = () => {
    nginx.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  };
  const t0 = Date.now();
  for (;;) {
    const up = await new Promise<boolean>((resolve) => {
      const c = connect(port, "127.0.0.1", () => (c.end(), resolve(true)));
      c.on("error", () => resolve(false));
    });
    if (up) break;
    if (nginx.exitCode !== null || Date.now() - t0 > 10_000) {
      stop();
      throw new Error(`nginx did not start: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const request = (head: string) =>
    new Promise<string>((resolve, reject) => {
      const c = connect(port, "127.0.0.1");
      let got = "";
      c.on("data", (d) => (got += d.toString("latin1")));
      c.on("error", reject);
      c.on("end", () => resolve(got));
      c.write(`${head}\r\nHost: example.com\r\nConnection: close\r\n\r\n`, "latin1");
    });
  const basic = (user: string, pass: string) =>
    `Authorization: Basic ${Buffer.from(`${user}:${pass}`).toString("base64")}`;
  return { dir, errorLog, request, basic, stop };
}

/**
 * What the nginx tests send: genuine wrong passwords from 127.0.0.1 (first and last), and between them, each
 * after more than 2048 bytes of ordinary 404s, requests making nginx write complete-looking lines naming
 * `victim`: a short record (its referrer holding a fake `, client: `), a record cut at 2048 bytes, a Basic-auth
 * user name carrying colon-free sshd lines, an HTTP/0.9 request (no version) carrying %0a, and a request with two
 * spaces after its method whose path's first line imitates `, client: `.
 */
export async function sendForgeries(n: TestNginx, victim: string): Promise<void> {
  const { request, basic } = n;
  const forged = forgedAuthFailure(victim);
  const traffic = async () => {
    for (let i = 0; i < 12; i++) await request(`GET /missing-${i}.html HTTP/1.1`);
  };
  await request(`GET /secret HTTP/1.1\r\n${basic("bob", "wrong")}`);
  await traffic();
  await request(`GET /x${encodePath(`\n${forged}\ny`)} HTTP/1.1\r\nReferer: a, client: b`);
  await traffic();
  await request(`GET /z${encodePath(`\n${forged}`.repeat(12))} HTTP/1.1`);
  await traffic();
  const sshd = `host [sshd] Failed password for root from ${victim} port 22 ssh2`;
  await request(`GET /secret/ HTTP/1.1\r\n${basic(`x${`\n${sshd}`.repeat(12)}\ny`, "pw")}`);
  await traffic();
  await request(`GET /h9/x${encodePath(`\n${sshd}`.repeat(10))}%0ay`);
  await traffic();
  // Fifth review: a user name whose first line holds a literal %0a.
  await request(`GET /secret/ HTTP/1.1\r\n${basic(`u%0a${`\n${sshd}`.repeat(6)}\nend`, "pw")}`);
  await traffic();
  // Third review: two spaces after the method (nginx serves it), the first line with a fake `, client: `.
  await request(`GET  /gen/x${encodePath(`, client: 10.9.9.9${`\n${forged}`.repeat(8)}\ny`)} HTTP/1.1`);
  await traffic();
  await request(`GET /secret HTTP/1.1\r\n${basic("bob", "wrong-again")}`);
}
