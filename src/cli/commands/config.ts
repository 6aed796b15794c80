/** `portcullis config schema|check`: the configuration's JSON Schema, and a check of a file without starting. */
import type { Command } from "commander";
import { loadConfigFile } from "../../config/load.ts";
import { configJsonSchema } from "../../config/jsonschema.ts";
import { REGISTRIES } from "../../daemon/plugins.ts";
import type { CliIO } from "../main.ts";
import { DEFAULT_CONFIG } from "../local.ts";

export function registerConfig(program: Command, io: CliIO, setExit: (code: number) => void): void {
  const cmd = program.command("config").description("the configuration file: JSON Schema, checks");
  cmd
    .command("schema")
    .description("print the configuration's JSON Schema (for editors and CI checks)")
    .action(() => {
      io.stdout.write(`${JSON.stringify(configJsonSchema(REGISTRIES), null, 2)}\n`);
      setExit(0);
    });
  cmd
    .command("check")
    .description("validate a configuration file; every problem with its file:line")
    .argument("[file]", "configuration file", DEFAULT_CONFIG)
    .action((file: string) => {
      const c = loadConfigFile(file, REGISTRIES);
      io.stdout.write(`${file}: OK (${c.sources.length} sources, ${c.responders.length} responders)\n`);
      setExit(0);
    });
}
