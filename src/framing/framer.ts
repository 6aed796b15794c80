/**
 * Line framing: turns one raw line into a {@link Frame}, detecting the envelope per line (files mix formats
 * after a syslog daemon change, and `parse` accepts any of them):
 *   classic syslog (with or without year, high-precision fraction), RFC 3164 with `<PRI>`, RFC 5424,
 *   ISO-8601 with or without offset (rsyslog, `journalctl -o short-iso[-precise]`), journal-style lines
 *   without a timestamp (`host prog[pid]: msg`), `journalctl -o json`, `journalctl -o export` (multi-line
 *   records separated by a blank line), TAI64N labels, Filebeat/ECS JSON documents, and plain lines.
 * It also undoes rsyslog's `message repeated N times: [ ... ]` and Solaris' `[ID n facility.level]` tag.
 *
 * One framer instance per input stream: the export format needs to remember the record being read, and the
 * last parsed timestamp text is cached (consecutive lines usually share their second).
 */
import { MAX_REPEAT, type Frame, type FrameFormat } from "./frame.ts";
import { readIso, readSyslogDate, readTai64n, validTime } from "./timestamps.ts";
import { monthNumber, nextYearWith, yearAt, type TimeContext } from "./zone.ts";

export type { Frame } from "./frame.ts";

const IDENT = /^([^\s[\]:]+|\[[^\s[\]:]+\])(?:\[(\d+)\])?:?$/;
const PAREN_PID = /^(.*)\((\d+)\)$/;

interface Envelope {
  host: string | undefined;
  program: string | undefined;
  pid: number | undefined;
  msgStart: number;
}

/** Splits `host prog[pid]: msg` (or `prog[pid]: msg`, `[prog]: msg`, `[prog] msg`) starting at `at`. */
export function readEnvelope(s: string, at: number, requireIdent = false): Envelope | undefined {
  const env: Envelope = { host: undefined, program: undefined, pid: undefined, msgStart: 0 };
  return scanEnvelope(s, at, requireIdent, env, undefined) ? env : undefined;
}

/**
 * {@link readEnvelope} into a caller-owned `env` (the framer reuses one per instance, so that framing a line
 * allocates only its Frame); returns false when there is no envelope. Host and program names go through
 * `names` when given (see {@link RecentNames}).
 */
function scanEnvelope(
  s: string,
  at: number,
  requireIdent: boolean,
  env: Envelope,
  names: RecentNames | undefined,
): boolean {
  const sp1 = s.indexOf(" ", at);
  const end1 = sp1 < 0 ? s.length : sp1;
  if (identAt(s, at, end1, names)) {
    env.host = undefined;
    env.program = ID.program;
    env.pid = ID.pid;
    env.msgStart = skipSpace(s, sp1);
    return true;
  }
  if (sp1 < 0 || !isHostToken(s, at, end1)) return false;
  const start2 = skipSpace(s, sp1);
  const sp2 = s.indexOf(" ", start2);
  const host = names ? names.get(s, at, end1) : s.slice(at, end1);
  if (identAt(s, start2, sp2 < 0 ? s.length : sp2, names)) {
    env.host = host;
    env.program = ID.program;
    env.pid = ID.pid;
    env.msgStart = sp2 < 0 ? s.length : skipSpace(s, sp2);
    return true;
  }
  if (requireIdent) return false;
  env.host = host;
  env.program = undefined;
  env.pid = undefined;
  env.msgStart = start2;
  return true;
}

/**
 * A small cache of recently seen host and program names (direct-mapped on length and end characters): a log
 * repeats a handful of them, so most lines reuse the same string instead of allocating a copy (and map
 * lookups keyed by it reuse its cached hash).
 */
class RecentNames {
  readonly #slots: string[] = new Array<string>(64).fill("");

  get(s: string, from: number, to: number): string {
    const n = to - from;
    const h = (n * 31 + s.charCodeAt(from) * 7 + s.charCodeAt(to - 1)) & 63;
    const c = this.#slots[h]!;
    if (c.length === n && s.startsWith(c, from)) return c;
    const name = s.slice(from, to);
    this.#slots[h] = name;
    return name;
  }
}

/** A host name token (`srv01`, `mail.example.com`, `fe80::1`): checked with a character loop, no regex. */
function isHostToken(s: string, from: number, to: number): boolean {
  if (to <= from) return false;
  let name = true;
  let hex = true;
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    const isHex = (c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102) || c === 58;
    if (!(alnum || ((c === 46 || c === 45) && i > from))) name = false;
    if (!isHex) hex = false;
    if (!name && !hex) return false;
  }
  return true;
}

/** The identifier {@link identAt} read last (a module-level scratch: identifiers are read one at a time). */
const ID: { program: string; pid: number | undefined } = { program: "", pid: undefined };

/**
 * Reads the identifier token `s[from..to)` into {@link ID}: `name[pid]:` or `name:` with a character scan
 * (the common case); other shapes (`[sshd]`, `pop(pam_unix)[4920]:`, `auth-worker(22401):`) through
 * {@link identOf}. Returns false when the token is not an identifier.
 */
function identAt(s: string, from: number, to: number, names: RecentNames | undefined): boolean {
  if (to <= from) return false;
  const last = s.charCodeAt(to - 1);
  const first = s.charCodeAt(from);
  if (last !== 58 /* : */ && first !== 91 /* [ */) return false;
  if (first !== 91) {
    let i = from;
    for (; i < to; i++) {
      const c = s.charCodeAt(i);
      if (c === 91 || c === 58 || c === 40 || c === 93) break; // [ : ( ]
    }
    if (i > from && s.charCodeAt(i) === 58 && i === to - 1) {
      ID.program = names ? names.get(s, from, i) : s.slice(from, i);
      ID.pid = undefined;
      return true;
    }
    if (i > from && s.charCodeAt(i) === 91 && s.charCodeAt(to - 2) === 93 /* ] */) {
      let pid = 0;
      let j = i + 1;
      for (; j < to - 2; j++) {
        const d = s.charCodeAt(j) - 48;
        if (d < 0 || d > 9) break;
        pid = pid * 10 + d;
      }
      if (j === to - 2 && j > i + 1) {
        ID.program = names ? names.get(s, from, i) : s.slice(from, i);
        ID.pid = pid;
        return true;
      }
    }
  }
  const id = identOf(s.slice(from, to));
  if (id === undefined) return false;
  ID.program = id.program;
  ID.pid = id.pid;
  return true;
}

function skipSpace(s: string, i: number): number {
  if (i < 0) return s.length;
  while (s.charCodeAt(i) === 32) i++;
  return i;
}

function identOf(tok: string): { program: string; pid: number | undefined } | undefined {
  // An identifier token ends with ':' (`sshd[12]:`, `postfix/smtpd[3]:`, `[sshd]:`) or is bracketed (`[sshd]`).
  const colon = tok.endsWith(":");
  const bracketed = tok.startsWith("[") && tok.indexOf("]") > 1;
  if (!colon && !bracketed) return undefined;
  const m = IDENT.exec(tok);
  if (!m) return undefined;
  let program = m[1]!;
  if (program.startsWith("[")) program = program.slice(1, -1);
  let pid = m[2] === undefined ? undefined : Number(m[2]);
  if (pid === undefined) {
    const p = PAREN_PID.exec(program);
    if (p) {
      program = p[1]!;
      pid = Number(p[2]);
    }
  }
  return { program, pid };
}

const REPEATED = "message repeated ";

/** Applies `message repeated N times: [ X]` and strips a Solaris `[ID 800047 auth.info] ` tag. */
function finish(frame: Frame): Frame {
  let m = frame.message;
  if (m.startsWith(REPEATED)) {
    const r = /^message repeated (\d+) times: \[ ?(.*?) ?\]$/.exec(m);
    if (r) {
      // Bounded: a count of 1e23 is no count rsyslog writes (it flushes a repeat every few seconds), and it
      // would weigh as much in every window and metric.
      frame.repeat = Math.min(MAX_REPEAT, Math.max(1, Number(r[1])));
      m = r[2]!;
    }
  }
  if (m.startsWith("[ID ")) {
    const close = m.indexOf("] ");
    if (close > 0 && /^\[ID \d+ [\w.]+$/.test(m.slice(0, close))) m = m.slice(close + 2);
  }
  frame.message = m;
  return frame;
}

function make(
  format: FrameFormat,
  time: number | undefined,
  env: Envelope | undefined,
  line: string,
  msgFrom: number,
): Frame {
  return finish({
    format,
    time,
    host: env?.host,
    program: env?.program,
    pid: env?.pid,
    message: env ? line.slice(env.msgStart) : line.slice(msgFrom),
    repeat: 1,
  });
}

/**
 * The start of one wall-clock hour of year-less syslog timestamps (`Mmm dd HH`), resolved for a range of
 * reference times: every `MM:SS` of the hour then costs two multiplications.
 */
interface HourStamp {
  /** The first 9 characters, `Mmm dd HH`. */
  prefix: string;
  /** Epoch ms of `HH:00:00` in the year `yearFor` (zone.ts) gives every second of this hour. */
  base: number;
  /**
   * The same for the second pass through the hour when clocks go back and repeat it (Zone.toEpochLater);
   * `base` for every other hour.
   */
  later: number;
  /** The reference times (epoch ms, [lo, hi)) for which that year holds. */
  refLo: number;
  refHi: number;
}

const NO_HOUR: HourStamp = { prefix: "\n", base: 0, later: 0, refLo: 0, refHi: -1 };
const DAY_MS = 86_400_000;
/** How far back a line of a repeated hour may be and still be read as its first pass (see #plainSyslogTime). */
const REPEATED_HOUR_SLACK = 5 * 60_000;

/** The digit at `at`, or -1. */
function digit(s: string, at: number): number {
  const d = s.charCodeAt(at) - 48;
  return d >= 0 && d <= 9 ? d : -1;
}

/** Two digits at `at`, or -1. */
function two(s: string, at: number): number {
  const a = digit(s, at);
  const b = digit(s, at + 1);
  return a >= 0 && b >= 0 ? a * 10 + b : -1;
}

/** Four digits at `at`, or -1. */
function readYear(s: string, at: number): number {
  const a = two(s, at);
  const b = two(s, at + 2);
  return a >= 0 && b >= 0 ? a * 100 + b : -1;
}

export class LineFramer {
  readonly ctx: TimeContext;
  /** The `journalctl -o export` record being read (see #exportLine). */
  #export: Map<string, string> | undefined;
  /** A binary export field was seen: every line until the end of the input is dropped (see #exportLine). */
  #untrusted = false;
  /** Lines of the export record being read so far. */
  #exportLines = 0;
  /**
   * Lines not read because they came after a binary export field (the binary field's own line included):
   * replay and parse warn about them, nothing else would show that the rest of an input was not read.
   */
  unreadAfterBinary = 0;
  /**
   * ECS documents whose `@timestamp` could not be read (see {@link readEcsTimestamp}): their frame has no time,
   * and the ecs and winlogbeat parsers refuse them (onRejected), so that they do not silently take the
   * reference time. Counted here as well, for a warning like {@link unreadAfterBinary}'s.
   */
  unreadableTimestamps = 0;
  #hour: HourStamp = NO_HOUR;
  /** The latest time read through the per-hour stamps (which reading of a repeated hour, see #plainSyslogTime). */
  #latest = -Infinity;
  readonly #env: Envelope = { host: undefined, program: undefined, pid: undefined, msgStart: 0 };
  readonly #names = new RecentNames();
  /**
   * The last envelope remembered by #envelope: the line it was read from (`line[at, at + n)` is its text,
   * `host prog[pid]: `; n = 0: none) and the length `hn` of its host with the spaces after it (0: no host).
   * Lines are compared with it character by character: `startsWith` with a substring is slower.
   */
  readonly #lastEnv = {
    line: "",
    at: 0,
    n: 0,
    hn: 0,
    host: undefined as string | undefined,
    program: "",
    pid: undefined as number | undefined,
  };

  constructor(ctx: TimeContext) {
    this.ctx = ctx;
  }

  /**
   * Frames one line (without its newline). Returns undefined for a line that is part of a multi-line
   * `journalctl -o export` record still being read (the record is returned by the blank line ending it),
   * and for every line after a binary export field (see #exportLine).
   */
  frame(line: string): Frame | undefined {
    if (this.#export) return this.#exportLine(line);
    const c0 = line.charCodeAt(0);
    // NUL padding before a line: what a log holds after a crash or power loss (blocks allocated, never written),
    // followed by the first line written after it. The padding goes; the line is read as it is.
    if (c0 === 0) {
      let i = 1;
      while (line.charCodeAt(i) === 0) i++;
      return i === line.length ? undefined : this.frame(line.slice(i));
    }
    // Classic syslog: `Mmm dd HH:MM:SS` (the most common case first).
    if (c0 >= 65 && c0 <= 90 && line.charCodeAt(3) === 32) {
      let t: number | undefined = this.#plainSyslogTime(line);
      let end = 15;
      if (Number.isNaN(t)) {
        const r = readSyslogDate(line, 0, this.ctx);
        t = r?.time;
        end = r?.end ?? 0;
      }
      if (t !== undefined) {
        const at = skipSpace(line, end);
        return make("syslog", t, this.#envelope(line, at, false), line, at);
      }
    }
    if (c0 >= 48 && c0 <= 57) {
      const r = readIso(line, 0, this.ctx);
      if (r) {
        const at = line.charCodeAt(r.end) === 32 ? skipSpace(line, r.end) : r.end;
        return make("iso", r.time, at === r.end ? undefined : this.#envelope(line, at, false), line, at);
      }
    }
    if (c0 === 60 /* < */) {
      const f = this.#pri(line);
      if (f) return f;
    }
    if (c0 === 123 /* { */) {
      const f = this.#json(line);
      if (f) return f;
    }
    if (c0 === 64 /* @ */) {
      const r = readTai64n(line, 0);
      if (r) {
        const at = skipSpace(line, r.end);
        return make("tai64n", r.time, this.#envelope(line, at, false), line, at);
      }
    }
    if (c0 === 95 /* _ */ && (line.startsWith("__CURSOR=") || line.startsWith("__REALTIME_TIMESTAMP="))) {
      this.#export = new Map();
      this.#exportLines = 0;
      return this.#exportLine(line);
    }
    // A byte-order mark (U+FEFF) opening a file written by a Windows tool: the line without it.
    if (c0 === 0xfeff) {
      let i = 1;
      while (line.charCodeAt(i) === 0xfeff) i++;
      return this.frame(line.slice(i));
    }
    // Journal-style line without a timestamp: `host prog[pid]: msg`.
    const env = this.#envelope(line, 0, true);
    if (env && env.program !== undefined && !line.startsWith("["))
      return make("journal", undefined, env, line, 0);
    return make("plain", undefined, undefined, line, 0);
  }

  /**
   * The envelope at `at`, read into this framer's scratch object (valid until the next call). Consecutive
   * lines often carry the same envelope text (`srv01 systemd-logind[691]: `): when this line has exactly the
   * text of the last envelope that named a program and ended with spaces, followed by a non-space, reading
   * it again would give the same result, so the remembered one is used.
   */
  #envelope(line: string, at: number, requireIdent: boolean): Envelope | undefined {
    const env = this.#env;
    const last = this.#lastEnv;
    const n = last.n;
    if (n > 0) {
      // How much of the last envelope's text this line repeats at `at`.
      const src = last.line;
      const d = last.at - at;
      let i = at;
      const end = at + n;
      while (i < end && line.charCodeAt(i) === src.charCodeAt(i + d)) i++;
      if (i === end && line.charCodeAt(end) !== 32) {
        env.host = last.host;
        env.program = last.program;
        env.pid = last.pid;
        env.msgStart = end;
        return env;
      }
      // Same host, another program or pid (interleaved sessions): only the identifier is read (the host
      // token and the spaces after it are what scanEnvelope would have read).
      const hn = last.hn;
      if (hn > 0 && i >= at + hn && line.charCodeAt(at + hn) !== 32) {
        const from = at + hn;
        const sp = line.indexOf(" ", from);
        if (identAt(line, from, sp < 0 ? line.length : sp, this.#names)) {
          env.host = last.host;
          env.program = ID.program;
          env.pid = ID.pid;
          env.msgStart = sp < 0 ? line.length : skipSpace(line, sp);
          this.#remember(line, at);
          return env;
        }
      }
    }
    if (!scanEnvelope(line, at, requireIdent, env, this.#names)) return undefined;
    this.#remember(line, at);
    return env;
  }

  /** Remembers the envelope just read into #env (see #envelope). */
  #remember(line: string, at: number): void {
    const env = this.#env;
    const last = this.#lastEnv;
    // Only an envelope with a program is remembered: the result of one without depends on what follows it.
    if (env.program === undefined || env.msgStart <= at || line.charCodeAt(env.msgStart - 1) !== 32) return;
    last.line = line;
    last.at = at;
    last.n = env.msgStart - at;
    last.host = env.host;
    last.hn = env.host === undefined ? 0 : skipSpace(line, at + env.host.length) - at;
    last.program = env.program;
    last.pid = env.pid;
  }

  /**
   * The time of the most common stamp, `Mmm dd HH:MM:SS ` with no year, fraction or offset, through the
   * cached {@link HourStamp} of its hour; NaN for any other shape (and for the rare hour that straddles the
   * year boundary of `yearFor`), which {@link readSyslogDate} then reads. Same result as it, by
   * construction: within one wall-clock hour the zone offset is constant (Zone caches it per hour).
   */
  #plainSyslogTime(line: string): number {
    if (line.charCodeAt(6) !== 32 || line.charCodeAt(9) !== 58 /* : */) return NaN;
    if (line.charCodeAt(12) !== 58 || line.charCodeAt(15) !== 32) return NaN;
    const min = two(line, 10);
    const sec = two(line, 13);
    // 59:60 (a leap second) rolls over into the next hour: left to the general reader.
    if (min < 0 || min > 59 || sec < 0 || sec > 60 || (min === 59 && sec === 60)) return NaN;
    // `Mmm dd HH:MM:SS yyyy`: a year after the time (see readSyslogDate).
    const after = line.charCodeAt(20);
    if ((after === 32 || after === 93 || Number.isNaN(after)) && readYear(line, 16) >= 1970) return NaN;
    const ref = this.ctx.reference();
    let h = this.#hour;
    if (!line.startsWith(h.prefix) || !(ref >= h.refLo && ref < h.refHi)) {
      const found = this.#hourOf(line, ref);
      if (found === undefined) return NaN;
      this.#hour = h = found;
    }
    const t = h.base + min * 60_000 + sec * 1000;
    if (h.later === h.base) {
      if (t > this.#latest) this.#latest = t;
      return t;
    }
    // An hour that clocks go back over comes twice: read as the first pass unless that is more than a few
    // minutes before the latest time of this input (a line a little late keeps its reading), then as the
    // second. Without this, the two passes fell on the same instants: twice the events per hour, time
    // going back by up to an hour.
    const read = t >= this.#latest - REPEATED_HOUR_SLACK ? t : h.later + min * 60_000 + sec * 1000;
    if (read > this.#latest) this.#latest = read;
    return read;
  }

  /** Resolves the hour `Mmm dd HH` of `line` for reference `ref`; undefined when malformed or ambiguous. */
  #hourOf(line: string, ref: number): HourStamp | undefined {
    const mo = monthNumber(line.slice(0, 3));
    if (mo === undefined) return undefined;
    // Day `dd`, `0d` or ` d` (readSyslogDate reads all three; here the time always starts at index 7).
    const d = line.charCodeAt(4) === 32 ? digit(line, 5) : two(line, 4);
    const hour = two(line, 7);
    if (d < 1 || d > 31 || hour < 0 || hour > 23) return undefined;
    // yearFor (zone.ts) gives a second the latest year (in which the date exists) that puts it at most a
    // day after the reference. The year of the hour's latest second (59:59, 3599 s after its start; 59:60
    // is left to readSyslogDate) is that of every second of the hour, unless the next year with this date
    // already takes the hour's first second; it stays so while the reference is in [refLo, refHi).
    const zone = this.ctx.zone;
    const year = yearAt(zone, ref, mo, d, hour, 59, 59);
    if (year === undefined) return undefined;
    const base = zone.toEpoch(year, mo, d, hour, 0, 0);
    const next = zone.toEpoch(nextYearWith(year, mo, d), mo, d, hour, 0, 0);
    if (ref >= next - DAY_MS) return undefined;
    const later = zone.toEpochLater(year, mo, d, hour, 0, 0);
    return { prefix: line.slice(0, 9), base, later, refLo: base + 3_599_000 - DAY_MS, refHi: next - DAY_MS };
  }

  /** Ends the input: returns an export record that was not followed by a blank line. */
  flush(): Frame | undefined {
    if (!this.#export) return undefined;
    const rec = this.#export;
    this.#export = undefined;
    if (this.#untrusted) {
      this.#untrusted = false;
      return undefined;
    }
    // The input ended on the record's last field line (no blank line after it).
    return rec.size ? this.#exportFrame(rec, this.#exportLines - 1) : undefined;
  }

  #pri(line: string): Frame | undefined {
    const close = line.indexOf(">");
    if (close < 2 || close > 4 || !/^<\d{1,3}>/.test(line)) return undefined;
    const at = close + 1;
    if (line.charCodeAt(at) === 49 && line.charCodeAt(at + 1) === 32) return this.#rfc5424(line, at + 2);
    const r = readSyslogDate(line, at, this.ctx) ?? readIso(line, at, this.ctx);
    if (!r) return make("syslog", undefined, this.#envelope(line, at, false), line, at);
    const m = skipSpace(line, r.end);
    return make("syslog", r.time, this.#envelope(line, m, false), line, m);
  }

  #rfc5424(line: string, at: number): Frame | undefined {
    // TIMESTAMP HOSTNAME APP-NAME PROCID MSGID STRUCTURED-DATA [MSG]
    const fields: string[] = [];
    let i = at;
    for (let k = 0; k < 5; k++) {
      const sp = line.indexOf(" ", i);
      if (sp < 0) return undefined;
      fields.push(line.slice(i, sp));
      i = sp + 1;
    }
    // Structured data: `-` or one or more [id k="v" ...] elements; values may contain escaped \] and ].
    if (line.charCodeAt(i) === 45) i += 1;
    else {
      while (line.charCodeAt(i) === 91) {
        let j = i + 1;
        let inQuote = false;
        for (; j < line.length; j++) {
          const c = line.charCodeAt(j);
          if (c === 92) j++;
          else if (c === 34) inQuote = !inQuote;
          else if (c === 93 && !inQuote) break;
        }
        i = j + 1;
      }
    }
    if (line.charCodeAt(i) === 32) i++;
    if (line.startsWith("\ufeff", i)) i++;
    const [ts, host, app, procid] = fields as [string, string, string, string];
    const t = ts === "-" ? undefined : readIso(ts, 0, this.ctx)?.time;
    const nil = (v: string) => (v === "-" ? undefined : v);
    const pid = procid !== "-" && /^\d+$/.test(procid) ? Number(procid) : undefined;
    return finish({
      format: "rfc5424",
      time: t,
      host: nil(host),
      program: nil(app),
      pid,
      message: line.slice(i),
      repeat: 1,
    });
  }

  #json(line: string): Frame | undefined {
    let doc: unknown;
    try {
      doc = JSON.parse(line);
    } catch {
      return undefined;
    }
    if (doc === null || typeof doc !== "object" || Array.isArray(doc)) return undefined;
    const d = doc as Record<string, unknown>;
    if ("MESSAGE" in d || "__REALTIME_TIMESTAMP" in d) return journalFrame("journal-json", d);
    const f = ecsFrame(d, this.ctx);
    if (f.time === undefined && hasEcsTimestamp(d)) this.unreadableTimestamps++;
    return f;
  }

  /**
   * One line of a `journalctl -o export` record: `FIELD=value`, or the blank line that ends the record. Any
   * other line means this was not an export stream (a stray `__CURSOR=` line in an ordinary log): the
   * record so far is dropped and the line is framed as usual.
   *
   * Binary fields are not supported. journalctl writes a field whose value holds a newline, a control
   * character or invalid UTF-8 as its name alone on a line, then a 64-bit little-endian length and that
   * many raw bytes: bytes that may contain blank lines and whole forged records. The length cannot be read
   * back from decoded lines (bytes above 0x7f are replaced, a CR before a LF is dropped), so no later
   * line can be told apart from those bytes: nothing after a binary field is trusted, and every line is
   * dropped until the input ends ({@link flush}; in the daemon, until its streams are reset). The journald
   * source reads `journalctl -o json`, where binary values are arrays of byte values (handled by `str`).
   */
  #exportLine(line: string): Frame | undefined {
    if (this.#untrusted) {
      this.unreadAfterBinary++;
      return undefined;
    }
    const rec = this.#export!;
    if (line === "") {
      this.#export = undefined;
      return rec.size ? this.#exportFrame(rec, this.#exportLines) : undefined;
    }
    const eq = line.indexOf("=");
    const name = eq < 0 ? line.length : eq;
    if (!isFieldName(line, name)) {
      this.#export = undefined;
      return this.frame(line);
    }
    if (eq < 0) {
      this.#untrusted = true;
      this.unreadAfterBinary++;
      rec.clear();
      return undefined;
    }
    rec.set(line.slice(0, eq), line.slice(eq + 1));
    this.#exportLines++;
    return undefined;
  }

  /** The frame of an export record; `span`: its lines before the current one (see Frame.span). */
  #exportFrame(rec: Map<string, string>, span: number): Frame {
    const frame = journalFrame("journal-export", Object.fromEntries(rec));
    if (span > 0) frame.span = span;
    return frame;
  }
}

/** Whether `s[0, end)` is a journald field name: `A-Z`, `0-9` and `_`, not starting with a digit. */
function isFieldName(s: string, end: number): boolean {
  if (end === 0 || digit(s, 0) >= 0) return false;
  for (let i = 0; i < end; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95)) return false;
  }
  return true;
}

function str(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number") return String(v);
  // journald sends non-UTF-8 fields as arrays of byte values.
  if (Array.isArray(v) && v.every((b) => typeof b === "number")) return Buffer.from(v).toString("utf8");
  return undefined;
}

/**
 * Programs whose journal entries are checked against journald's trusted fields, with the executables that
 * may write them. `SYSLOG_IDENTIFIER` is whatever the sender says (`logger -t sshd "Failed password for root
 * from ADMIN_IP ..."` from any local user); `_EXE` is set by journald from the process itself. An entry that
 * claims one of these programs but was written by another executable, or by one outside the system's
 * directories (a copy of sshd in a home directory), is framed under the name of the executable that wrote it,
 * so no parser of the claimed program reads it. Other identifiers are taken as written, as in a syslog file;
 * a journald source's `units` filter on the trusted `_SYSTEMD_UNIT` instead.
 */
const TRUSTED_WRITERS: ReadonlyMap<string, ReadonlySet<string>> = (() => {
  const sshd = new Set(["sshd", "sshd-session", "sshd-auth"]);
  return new Map<string, ReadonlySet<string>>([
    ["sshd", sshd],
    ["sshd-session", sshd],
    ["sshd-auth", sshd],
    ["dropbear", new Set(["dropbear"])],
    ["sudo", new Set(["sudo"])],
    ["su", new Set(["su"])],
  ]);
})();
/** The trusted writers that run as root, whose journal entries must have `_UID` 0 when it is known. */
const ROOT_DAEMONS: ReadonlySet<string> = new Set(["sshd", "sshd-session", "sshd-auth", "dropbear"]);
/** Directories only root can write to, where real services' executables live. */
const SYSTEM_DIRS = /^\/(?:usr|bin|sbin|lib|lib64|lib32|libexec|nix\/store|gnu\/store|snap)\//;

/**
 * The program an entry is framed under: its identifier, unless journald's `_EXE` (or `_COMM`) or `_UID` belies
 * it. sshd and dropbear run as root (sshd's unprivileged children log through their root monitor), and
 * `_UID` is the real user id from the kernel's credentials of the sending socket, which no process can forge.
 * `_EXE` alone is not enough: an unprivileged user namespace can mount its own file as /usr/sbin/sshd (the
 * host then reads that path for it), and journald leaves `_EXE` and `_COMM` out when the sender exits before
 * it looks (systemd issue 38159). sudo and su are not held to it: they are set-uid programs, whose real user
 * id is their caller's (their events name users, and no rule bans an address on them).
 */
function journalProgram(d: Record<string, unknown>): string | undefined {
  const id = str(d.SYSLOG_IDENTIFIER);
  const uid = str(d._UID);
  if (id !== undefined && uid !== undefined && uid !== "0" && ROOT_DAEMONS.has(id)) {
    return str(d._EXE) ?? `uid ${uid}`;
  }
  return checkedProgram(id, str(d._EXE), str(d._COMM));
}

/**
 * The program a record claiming identifier `id` is framed under, given the executable (`exe`) and process name
 * (`comm`) of its writer when known (journald's `_EXE` / `_COMM`, and their copies in ECS documents): `id`,
 * unless it is one of {@link TRUSTED_WRITERS} and the writer belies it.
 */
function checkedProgram(
  id: string | undefined,
  exe: string | undefined,
  comm: string | undefined,
): string | undefined {
  if (id === undefined) return comm;
  const writers = TRUSTED_WRITERS.get(id);
  if (writers === undefined) return id;
  if (exe !== undefined) {
    const base = exe.slice(exe.lastIndexOf("/") + 1);
    if (writers.has(base) && SYSTEM_DIRS.test(exe) && !exe.includes("/../")) return id;
    // The path, not its base name: a copy of sshd in /home/eve is not sshd.
    return exe;
  }
  // No _EXE (an older journal, a remote one that dropped it): the process name, which is the next best.
  if (comm !== undefined && !writers.has(comm)) return comm;
  return id;
}

function journalFrame(format: FrameFormat, d: Record<string, unknown>): Frame {
  const rt = str(d.__REALTIME_TIMESTAMP);
  const pidText = str(d._PID) ?? str(d.SYSLOG_PID);
  const frame: Frame = {
    format,
    time: rt && /^\d+$/.test(rt) ? validTime(Math.floor(Number(rt) / 1000)) : undefined,
    host: str(d._HOSTNAME),
    program: journalProgram(d),
    pid: pidText && /^\d+$/.test(pidText) ? Number(pidText) : undefined,
    message: str(d.MESSAGE) ?? "",
    repeat: 1,
  };
  if (format === "journal-json") frame.doc = d;
  return finish(frame);
}

function field(d: Record<string, unknown>, path: string): unknown {
  if (path in d) return d[path];
  let cur: unknown = d;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * The program of an ECS document. Its claimed identifier is `process.name` (Filebeat's syslog parsing, and
 * `_COMM` in Filebeat 7's journald input), else `log.syslog.identifier` / `syslog.identifier` (journald's
 * `SYSLOG_IDENTIFIER` in Filebeat 8 / 7), else `journald.process.name` (`_COMM`). When the document carries the
 * writer's executable (`journald.process.executable` or `process.executable`, journald's `_EXE`) or process
 * name (`journald.process.name`), the claim is checked as a `journalctl -o json` entry's is (see
 * {@link TRUSTED_WRITERS}): `logger -t sshd` or a copy of sshd in a home directory is not sshd. A document with
 * neither (a syslog file read by Filebeat) is taken as written, as the syslog file itself would be.
 */
export function ecsProgram(d: Record<string, unknown>): string | undefined {
  const exe = str(field(d, "journald.process.executable")) ?? str(field(d, "process.executable"));
  return checkedProgram(ecsClaimedProgram(d), exe, str(field(d, "journald.process.name")));
}

/** The program an ECS document claims to be from, before {@link ecsProgram}'s check. */
export function ecsClaimedProgram(d: Record<string, unknown>): string | undefined {
  return (
    str(field(d, "process.name")) ??
    str(field(d, "log.syslog.identifier")) ??
    str(field(d, "syslog.identifier")) ??
    str(field(d, "journald.process.name"))
  );
}

/** Epoch times read from numbers are taken in [1990, 2200): outside, a number is a count, not a time. */
const EPOCH_MIN = Date.UTC(1990, 0, 1);
const EPOCH_MAX = Date.UTC(2200, 0, 1);
/** Epoch numbers below this are seconds (in milliseconds they would be before 1973-03-03), others milliseconds. */
const EPOCH_SECONDS_BELOW = 1e11;
/** An epoch number written as text (Elasticsearch's `epoch_millis` / `epoch_second` accept strings). */
const EPOCH_TEXT = /^\d{1,15}(?:\.\d{1,9})?$/;

function epochTime(n: number): number | undefined {
  const t = Math.round(Math.abs(n) < EPOCH_SECONDS_BELOW ? n * 1000 : n);
  return t >= EPOCH_MIN && t < EPOCH_MAX ? t : undefined;
}

/**
 * An ECS `@timestamp`: ISO-8601 date and time, read whole (with {@link readIso}: impossible dates and offsets
 * are not read, nor is anything after the time; without an offset, the configured zone), or an epoch number
 * (or its text) of seconds or milliseconds in [1990, 2200). Anything else is unreadable: undefined.
 */
export function readEcsTimestamp(ts: unknown, ctx: TimeContext): number | undefined {
  if (typeof ts === "number") return Number.isFinite(ts) ? epochTime(ts) : undefined;
  if (typeof ts !== "string") return undefined;
  if (EPOCH_TEXT.test(ts)) return epochTime(Number(ts));
  const r = readIso(ts, 0, ctx);
  return r !== undefined && r.end === ts.length ? validTime(r.time) : undefined;
}

/** Whether the document has an `@timestamp` (null is none, as in Elasticsearch). */
export function hasEcsTimestamp(d: Record<string, unknown>): boolean {
  const ts = field(d, "@timestamp");
  return ts !== undefined && ts !== null;
}

function ecsFrame(d: Record<string, unknown>, ctx: TimeContext): Frame {
  const pid = field(d, "process.pid");
  return {
    format: "ecs",
    time: readEcsTimestamp(field(d, "@timestamp"), ctx),
    host: str(field(d, "host.hostname")) ?? str(field(d, "host.name")),
    program: ecsProgram(d),
    pid: typeof pid === "number" ? pid : undefined,
    message: str(field(d, "message")) ?? "",
    repeat: 1,
    doc: d,
  };
}
