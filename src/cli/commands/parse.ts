/**
 * `portcullis parse [--mode M] FILE...`: prints one JSON object per recognised event (JSON lines), with
 * `log.file.path` and `log.file.line` (1-based; comment lines are skipped but counted).
 */
import type { Command } from "commander";
import { toJsonEvent, type SecurityEvent } from "../../core/event.ts";
import { readLines } from "../../io/lines.ts";
import { LineFramer } from "../../framing/framer.ts";
import type { CliIO } from "../main.ts";
import { ParserSet } from "../../parsers/dispatch.ts";
import { PARSERS } from "../../parsers/registry.ts";
import { PortcullisError } from "../../core/errors.ts";
import { resolveModes, timeContextFor, type TimeOptions } from "../options.ts";
import { tuneHeapForStreaming } from "../heap.ts";
import { unreadWarnings } from "../../pipeline/replay.ts";
import { jsonLine, printable } from "../table.ts";
import {
  ForgedRecordFilter,
  forgedRecordWarning,
  withoutForgedRecords,
} from "../../parsers/nginx/records.ts";

interface ParseOptions extends TimeOptions {
  mode: string[];
  parser?: string[];
  text?: boolean;
}

export function registerParse(program: Command, io: CliIO, setExit: (code: number) => void): void {
  program
    .command("parse")
    .description("print the security events recognised in log files, as JSON lines")
    .argument("<file...>", "log files (plain or .gz); - for stdin")
    .option(
      "-m, --mode <mode>",
      "parser mode: a mode name (normal, ddos, extra, aggressive, auth, more, ...) applied to every parser that has it, or parser=mode; repeatable",
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option("-p, --parser <id>", "only use this parser; repeatable", (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option(
      "--timezone <zone>",
      "time zone of timestamps without an offset: local, UTC or an IANA name",
      "local",
    )
    .option(
      "--reference-time <iso>",
      "instant that year-less dates are placed near, and the time of lines without one (default: the file's modification time)",
    )
    .option(
      "--text",
      "read inputs that look binary (control characters, NUL bytes) as text anyway, like grep -a",
    )
    .action(async (files: string[], opts: ParseOptions) => {
      tuneHeapForStreaming();
      const modes = resolveModes(opts.mode);
      checkParserIds(opts.parser ?? []);
      let out: string[] = [];
      const flush = async () => {
        if (!out.length) return;
        const chunk = out.join("");
        out = [];
        if (!io.stdout.write(chunk)) await new Promise((r) => io.stdout.once("drain", r));
      };
      for (const path of files) {
        const time = await timeContextFor(path, opts);
        const framer = new LineFramer(time);
        const parsers = new ParserSet({ time, modes, ...(opts.parser ? { only: opts.parser } : {}) });
        const events: SecurityEvent[] = [];
        let lineNo = 0;
        const emit = (n: number) => {
          for (const e of events) {
            e.log = { ...e.log, file: { path, line: n } };
            // jsonLine: DEL and C1 controls from the log escaped too (JSON.stringify leaves them raw).
            out.push(`${jsonLine(toJsonEvent(e))}\n`);
          }
          events.length = 0;
        };
        const warnings: string[] = [];
        // Lines inside an nginx error record that carried line breaks are forged (parsers/nginx/records.ts).
        const forged = new ForgedRecordFilter((r) => warnings.push(forgedRecordWarning(path, r)));
        const input = readLines(path, io.stdin as never, { text: opts.text === true });
        for await (const batch of withoutForgedRecords(input, forged)) {
          for (const line of batch.lines) {
            lineNo++;
            if (line.charCodeAt(0) === 35 /* # */) continue;
            const frame = framer.frame(line);
            if (frame) parsers.parse(frame, events);
            if (events.length) emit(lineNo - (frame?.span ?? 0));
          }
          await flush();
        }
        const last = framer.flush();
        if (last) {
          parsers.parse(last, events);
          emit(lineNo - (last.span ?? 0));
        }
        await flush();
        for (const w of [...warnings, ...unreadWarnings(path, framer)])
          io.stderr.write(`portcullis: warning: ${printable(w)}\n`);
      }
      setExit(0);
    });
}

/**
 * `--parser` ids are checked with the other options: a mistyped one is a usage error (64), like a mistyped
 * --mode, not the "unknown plugin" of a configuration (65) that the parser registry would report.
 */
function checkParserIds(ids: readonly string[]): void {
  for (const id of ids) {
    if (!PARSERS.some((p) => p.id === id)) {
      throw new PortcullisError(
        "USAGE",
        `--parser ${id}: unknown parser (known: ${PARSERS.map((p) => p.id).join(", ")})`,
      );
    }
  }
}
