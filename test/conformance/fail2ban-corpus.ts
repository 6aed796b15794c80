/**
 * Runs Portcullis' parsers over fail2ban's annotated sample logs (../shared/conformance/fail2ban-logs/), following
 * the procedure in ../shared/conformance/README.md §5: one parser instance per distinct option set for the whole
 * file (and its addFILE includes), every line fed in order, each `failJSON` checked per option set.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { SecurityEvent } from "../../src/core/event.ts";
import { canonicalIp } from "../../src/core/ip.ts";
import { LineFramer } from "../../src/framing/framer.ts";
import { Zone, type TimeContext } from "../../src/framing/zone.ts";
import { ParserSet } from "../../src/parsers/dispatch.ts";
import { CORPUS_FILES, type CorpusFile } from "./corpus-map.ts";
import { EXCEPTIONS } from "./exceptions.ts";

/** fail2ban's test clock: 2005-08-14 10:00:00 UTC, zone CET/CEST (EU rules). */
export const TEST_CLOCK = Date.UTC(2005, 7, 14, 10, 0, 0);
const ZONE = new Zone("CET");

const ANNOTATION = /^#+ ?(failJSON|fileOptions|filterOptions|addFILE):(.+)$/;

export interface Evaluation {
  file: string;
  line: number;
  options: string;
  ok: boolean;
  skipped?: string;
  exception?: string;
  detail: string;
}

export interface FileReport {
  file: string;
  evaluations: number;
  passed: number;
  failed: number;
  skipped: number;
  excepted: number;
  results: Evaluation[];
}

type Options = Record<string, unknown>;

interface Instance {
  set: ParserSet;
  framer: LineFramer;
}

function wallTime(epoch: number, withFraction: boolean): string {
  const off = ZONE.offsetAt(epoch);
  const d = new Date(epoch + off).toISOString(); // 2005-08-14T12:00:00.000Z
  return withFraction ? d.slice(0, 23) : d.slice(0, 19);
}

function normalizeExpectedTime(t: string): string {
  // Unpadded day/month occur (`2005-03-7T02:09:33`); pad them.
  const m = /^(\d{4})-(\d{1,2})-(\d{1,2})T(\d{1,2}):(\d\d):(\d\d)(\.\d+)?$/.exec(t);
  if (!m) return t;
  const p = (s: string) => s.padStart(2, "0");
  const frac = m[7] ? m[7].padEnd(4, "0").slice(0, 4) : "";
  return `${m[1]}-${p(m[2]!)}-${p(m[3]!)}T${p(m[4]!)}:${m[5]}:${m[6]}${frac}`;
}

function evalConstraint(expr: string, name: string, opts: Options): boolean | undefined {
  const e = expr.trim();
  let m = /^name\s*==\s*'([^']*)'$/.exec(e);
  if (m) return name === m[1];
  m = /^opts\.get\('mode'\)\s*(==|!=)\s*'([^']*)'$/.exec(e);
  if (m) return m[1] === "==" ? opts.mode === m[2] : opts.mode !== m[2];
  return undefined;
}

/** Expected address text -> what the parser must report (README §4). */
function expectedSource(host: string): { ip?: string; domain?: string } {
  const zeroPadded = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(host);
  if (zeroPadded)
    return {
      ip: zeroPadded
        .slice(1)
        .map((o) => String(Number(o)))
        .join("."),
    };
  const ip = canonicalIp(host);
  return ip ? { ip } : { domain: host.toLowerCase() };
}

export function runCorpusFile(dir: string, file: string): FileReport {
  const spec = CORPUS_FILES[file];
  if (!spec) throw new Error(`corpus file ${file} has no entry in corpus-map.ts`);
  const report: FileReport = {
    file,
    evaluations: 0,
    passed: 0,
    failed: 0,
    skipped: 0,
    excepted: 0,
    results: [],
  };
  const instances = new Map<string, Instance>();
  const time: TimeContext = { zone: ZONE, reference: () => TEST_CLOCK };

  const instanceFor = (opts: Options): Instance | string => {
    const key = JSON.stringify(
      Object.fromEntries(
        Object.entries(opts)
          .filter(([k]) => !k.startsWith("test."))
          .sort(),
      ),
    );
    let inst = instances.get(key);
    if (!inst) {
      const mode = modeFor(spec, opts);
      if (typeof mode !== "string") return mode.unsupported;
      inst = {
        set: new ParserSet({ time, only: [spec.parser], modes: { [spec.parser]: mode } }),
        framer: new LineFramer(time),
      };
      instances.set(key, inst);
    }
    return inst;
  };

  const processFile = (name: string, inherited: Options[] | undefined) => {
    const lines = readFileSync(join(dir, name), "utf8").split(/\r?\n/);
    if (lines.at(-1) === "") lines.pop();
    let fileOptions: Options = {};
    let optionSets: Options[] = inherited ?? [{}];
    let pending: { expect: Record<string, unknown>; line: number } | undefined;
    const includes: string[] = [];
    for (let i = 0; i < lines.length; i++) {
      const text = lines[i]!;
      const ann = ANNOTATION.exec(text);
      if (ann) {
        const value = JSON.parse(ann[2]!.trim()) as unknown;
        if (ann[1] === "failJSON") pending = { expect: value as Record<string, unknown>, line: i + 1 };
        else if (ann[1] === "fileOptions") fileOptions = value as Options;
        else if (ann[1] === "filterOptions") {
          const list = Array.isArray(value) ? (value as Options[]) : [value as Options];
          optionSets = list.map((o) => ({ ...fileOptions, ...o }));
        } else if (ann[1] === "addFILE") includes.push(value as string);
        continue;
      }
      if (text.startsWith("#") || text.trim() === "") continue; // plain comment or blank line
      // A log line (annotated or not): feed it to every active instance.
      const expect = pending?.expect;
      const annotatedAt = pending?.line;
      pending = undefined;
      for (const opts of optionSets) {
        const cond = opts["test.condition"];
        if (typeof cond === "string" && evalConstraint(cond, spec.name ?? spec.parser, opts) === false)
          continue;
        const inst = instanceFor(opts);
        const optLabel = JSON.stringify(
          Object.fromEntries(Object.entries(opts).filter(([k]) => !k.startsWith("test."))),
        );
        const events: SecurityEvent[] = [];
        if (typeof inst !== "string") {
          const frame = inst.framer.frame(text);
          if (frame) inst.set.parse(frame, events);
        }
        if (!expect) continue;
        const constraint = expect.constraint;
        if (typeof constraint === "string") {
          const ok = evalConstraint(constraint, spec.name ?? spec.parser, opts);
          if (ok === false) continue;
          if (ok === undefined) {
            record(report, {
              file: name,
              line: i + 1,
              options: optLabel,
              ok: false,
              skipped: `constraint ${constraint}`,
              detail: "",
            });
            continue;
          }
        }
        if (typeof inst === "string") {
          record(report, {
            file: name,
            line: i + 1,
            options: optLabel,
            ok: false,
            skipped: inst,
            detail: "",
          });
          continue;
        }
        const res = check(expect, events);
        const exc = EXCEPTIONS.find(
          (x) => x.file === name && x.line === i + 1 && (x.options === undefined || x.options === optLabel),
        );
        record(report, {
          file: name,
          line: i + 1,
          options: optLabel,
          ok: res === "",
          detail: res ? `${res} (annotation at line ${annotatedAt}): ${text.slice(0, 160)}` : "",
          ...(exc ? { exception: exc.reason } : {}),
        });
      }
    }
    for (const inc of includes) processFile(inc, optionSets);
  };
  processFile(file, undefined);
  return report;
}

function record(report: FileReport, ev: Evaluation) {
  report.results.push(ev);
  if (ev.skipped) {
    report.skipped++;
    return;
  }
  report.evaluations++;
  if (ev.exception) report.excepted++;
  else if (ev.ok) report.passed++;
  else report.failed++;
}

function modeFor(spec: CorpusFile, opts: Options): string | { unsupported: string } {
  const corpusMode = typeof opts.mode === "string" ? opts.mode : undefined;
  const logging = opts.logging === undefined ? undefined : JSON.stringify(opts.logging);
  if (logging !== undefined && !(spec.logging ?? []).map((l) => JSON.stringify(l)).includes(logging)) {
    return { unsupported: `logging=${logging}` };
  }
  if (corpusMode === undefined) return spec.defaultMode;
  return spec.modes?.[corpusMode] ?? corpusMode;
}

function check(expect: Record<string, unknown>, events: SecurityEvent[]): string {
  const failures = events.filter((e) => e.event.outcome === "failure");
  if (expect.match !== true) {
    return failures.length === 0
      ? ""
      : `expected no failure, got ${failures.length} (${failures.map((f) => f.event.action).join(",")})`;
  }
  if (failures.length !== 1) return `expected exactly one failure, got ${failures.length}`;
  const f = failures[0]!;
  const host = (expect.host ?? expect.ip4 ?? expect.ip6) as string | undefined;
  if (host !== undefined) {
    const want = expectedSource(host);
    const got = f.source?.ip ?? f.source?.domain;
    if (want.ip !== undefined && f.source?.ip !== want.ip) return `source ${got} != ${want.ip}`;
    if (want.domain !== undefined && f.source?.domain !== want.domain)
      return `source ${got} != name ${want.domain}`;
  }
  if (typeof expect.user === "string" && f.user?.name !== expect.user) {
    return `user ${JSON.stringify(f.user?.name)} != ${JSON.stringify(expect.user)}`;
  }
  if (typeof expect.time === "string") {
    const want = normalizeExpectedTime(expect.time);
    const got = wallTime(f["@timestamp"], want.length > 19);
    if (got !== want) return `time ${got} != ${want}`;
  }
  return "";
}
