/**
 * Running external programs: always an argument array, never a shell string. An Exec can prefix every command
 * (e.g. `ip netns exec <ns>` for tests and the demo), and records what it ran for tests and audits.
 */
import { spawn } from "node:child_process";

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface Exec {
  /** Runs `argv[0]` with `argv.slice(1)`; `input` is written to stdin. Never throws for a non-zero exit. */
  run(argv: readonly string[], input?: string, options?: { timeoutMs?: number }): Promise<ExecResult>;
}

export class ProcessExec implements Exec {
  readonly #prefix: readonly string[];
  readonly #env: NodeJS.ProcessEnv | undefined;
  constructor(opts: { prefix?: readonly string[]; env?: NodeJS.ProcessEnv } = {}) {
    this.#prefix = opts.prefix ?? [];
    this.#env = opts.env;
  }
  run(argv: readonly string[], input?: string, options?: { timeoutMs?: number }): Promise<ExecResult> {
    const full = [...this.#prefix, ...argv];
    return new Promise((resolve) => {
      const child = spawn(full[0]!, full.slice(1), {
        stdio: ["pipe", "pipe", "pipe"],
        env: this.#env ?? { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C" },
        timeout: options?.timeoutMs ?? 30_000,
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on("data", (b: Buffer) => out.push(b));
      child.stderr.on("data", (b: Buffer) => err.push(b));
      child.on("error", (e) => resolve({ code: 127, stdout: "", stderr: e.message }));
      child.on("close", (code, signal) =>
        resolve({
          code: code ?? (signal ? 128 : 1),
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8") + (signal ? `killed by ${signal}` : ""),
        }),
      );
      child.stdin.on("error", () => {});
      child.stdin.end(input ?? "");
    });
  }
}
