/**
 * The `portcullis` command line. Each command lives in commands/<name>.ts and returns an exit code; errors
 * are printed here, once, with their code.
 */
import { Command, CommanderError } from "commander";
import { isPortcullisError, type ErrorCode } from "../core/errors.ts";
import { VERSION } from "../version.ts";
import { printableLines } from "./table.ts";

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
}

type Register = (program: Command, io: CliIO, setExit: (code: number) => void) => void;

/**
 * Command modules, loaded on demand: `portcullis block` (run by a SIEM for every alert) or `portcullis parse`
 * should not pay for loading the daemon and the HTTPS server. Keys are the command names each module defines.
 */
const MODULES: { names: string[]; load: () => Promise<Register> }[] = [
  { names: ["parse"], load: async () => (await import("./commands/parse.ts")).registerParse },
  { names: ["replay"], load: async () => (await import("./commands/replay.ts")).registerReplay },
  { names: ["rules"], load: async () => (await import("./commands/rules.ts")).registerRules },
  { names: ["run"], load: async () => (await import("./commands/run.ts")).registerRun },
  {
    names: ["status", "bans", "alerts", "ban", "unban", "explain"],
    load: async () => (await import("./commands/admin.ts")).registerAdmin,
  },
  { names: ["demo"], load: async () => (await import("./commands/demo.ts")).registerDemo },
  { names: ["enforcer"], load: async () => (await import("./commands/enforcer.ts")).registerEnforcer },
  { names: ["token"], load: async () => (await import("./commands/token.ts")).registerToken },
  { names: ["wazuh-ar", "block"], load: async () => (await import("./commands/hooks.ts")).registerHooks },
  { names: ["config"], load: async () => (await import("./commands/config.ts")).registerConfig },
];

/** The program with the command named in `argv` (or every command, for help and unknown names). */
export async function buildProgram(
  io: CliIO,
  setExit: (code: number) => void,
  argv: readonly string[] = [],
): Promise<Command> {
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
  // Global options come before the command (enablePositionalOptions), so the first word is the command.
  const name = argv.find((a) => !a.startsWith("-"));
  const wanted = MODULES.filter((m) => name !== undefined && m.names.includes(name));
  for (const m of wanted.length ? wanted : MODULES) (await m.load())(program, io, setExit);
  return program;
}

export async function main(argv: string[], io: CliIO = process): Promise<number> {
  let code = 0;
  const program = await buildProgram(
    io,
    (c) => {
      code = c;
    },
    argv,
  );
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 64;
    }
    if (isPortcullisError(e)) {
      // Messages quote input (a hook's argument, a path, a rule file): escaped like any text for a terminal.
      io.stderr.write(`portcullis: ${printableLines(e.describe())}\n`);
      return exitCodeOf(e.code);
    }
    throw e;
  }
}

/** An error's exit status (sysexits.h): 64 usage, 65 bad rules or configuration, 66 no input, 69 unavailable. */
function exitCodeOf(code: ErrorCode): number {
  switch (code) {
    case "USAGE":
      return 64;
    case "INPUT_UNREADABLE":
      return 66;
    case "UNAVAILABLE":
      return 69;
    default:
      return 65;
  }
}
