/**
 * The CLI run in this process with captured output: `portcullis ARGS` as `main` runs it, stdout and stderr
 * collected, stdin empty (or `stdin`). For tests of commands that start nothing long-lived.
 */
import { Readable } from "node:stream";
import { main } from "../../src/cli/main.ts";

export async function runCli(
  args: string[],
  stdin = "",
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const io = {
    stdout: { write: (s: string) => ((out += s), true), once: () => undefined, isTTY: false },
    stderr: { write: (s: string) => ((err += s), true), isTTY: false },
    stdin: Readable.from(stdin ? [Buffer.from(stdin)] : []),
  } as unknown as Parameters<typeof main>[1];
  const code = await main(args, io);
  return { code, out, err };
}
