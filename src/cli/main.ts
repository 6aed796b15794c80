/**
 * The `portcullis` command line. Each command lives in commands/<name>.ts and returns an exit code; errors
 * are printed here, once, with their code.
 */
import { Command, CommanderError } from "commander";
import { isPortcullisError } from "../core/errors.ts";
import { registerParse } from "./commands/parse.ts";
import { registerReplay } from "./commands/replay.ts";
import { registerRules } from "./commands/rules.ts";
import { registerRun } from "./commands/run.ts";
import { registerAdmin } from "./commands/admin.ts";
import { registerDemo } from "./commands/demo.ts";
import { registerEnforcer } from "./commands/enforcer.ts";
import { registerToken } from "./commands/token.ts";
import { registerHooks } from "./commands/hooks.ts";
import { registerConfig } from "./commands/config.ts";
import { VERSION } from "../version.ts";

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
}

export function buildProgram(io: CliIO, setExit: (code: number) => void): Command {
  const program = new Command("portcullis")
    .description(
      "Detects brute-force and intrusion attempts in logs and SIEM alerts, and answers them:\ncollect -> detect -> verify -> respond -> audit.",
    )
    .version(VERSION)
    .showHelpAfterError()
    // Global options only before the command: a hook's hostile argument (`block -h`) is never read as one.
    .enablePositionalOptions()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
    })
    .exitOverride();
  registerParse(program, io, setExit);
  registerReplay(program, io, setExit);
  registerRules(program, io, setExit);
  registerRun(program, io, setExit);
  registerAdmin(program, io, setExit);
  registerDemo(program, io, setExit);
  registerEnforcer(program, io, setExit);
  registerToken(program, io, setExit);
  registerHooks(program, io, setExit);
  registerConfig(program, io, setExit);
  return program;
}

export async function main(argv: string[], io: CliIO = process): Promise<number> {
  let code = 0;
  const program = buildProgram(io, (c) => {
    code = c;
  });
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 64;
    }
    if (isPortcullisError(e)) {
      io.stderr.write(`portcullis: ${e.describe()}\n`);
      return e.code === "USAGE" ? 64 : e.code === "INPUT_UNREADABLE" ? 66 : 65;
    }
    throw e;
  }
}
