/**
 * Replay: runs detection and the policy over historical logs in event time, exactly as the daemon would have
 * (same parsers, rules and policy), and reports the alerts and the bans that would have been made.
 *
 * Ban simulation: while an address is banned, its events are ignored (a banned host cannot reach the service)
 * and its counts start afresh when the ban is made. Files are replayed oldest first (by their first timestamp),
 * so `replay auth.log*` works whatever order the shell lists rotated files in.
 */
import type { Alert } from "../core/alert.ts";
import type { Decision } from "../core/decision.ts";
import type { SecurityEvent } from "../core/event.ts";
import { banPrefixes, META_DATASETS, sourceBanned, type DetectionEngine } from "../detect/engine.ts";
import { LineFramer, type Frame } from "../framing/framer.ts";
import type { TimeContext } from "../framing/zone.ts";
import { readLines } from "../io/lines.ts";
import { ParserSet } from "../parsers/dispatch.ts";
import { ForgedRecordFilter, forgedRecordWarning, withoutForgedRecords } from "../parsers/nginx/records.ts";
import { declaredFields } from "../parsers/types.ts";
import type { Policy, PolicyResult } from "../policy/policy.ts";
import { ReplayClock } from "./replay-clock.ts";

/** How far past an input's reference time its events may move the replay clock (see `process`). */
const MAX_AHEAD = 86_400_000;

export interface ReplayInput {
  /** A file path, `-` for stdin, or a label when `lines` is given. */
  path: string;
  time: TimeContext;
  /** In-memory input (rule test cases) instead of reading `path`. */
  lines?: string[];
}

export interface ReplayHooks {
  onAlert?(alert: Alert, result: PolicyResult): void;
  onDecision?(decision: Decision, alert: Alert): void;
  /**
   * Called after each batch of lines with the bytes read so far across all inputs. A returned promise is
   * awaited before the next batch (back-pressure: output written to a slow pipe does not pile up in memory).
   */
  onProgress?(bytesRead: number): void | Promise<void>;
  /** Something about an input the user must know (part of it not read), in words. */
  onWarning?(message: string): void;
}

/**
 * Warnings about the lines of an input a framer could not read in full: those after a `journalctl -o export`
 * binary field (not read at all), and JSON documents whose `@timestamp` is unreadable (their parsers reject
 * them). Nothing else would show that part of an input was not judged.
 */
export function unreadWarnings(path: string, framer: LineFramer): string[] {
  const out: string[] = [];
  const n = framer.unreadAfterBinary;
  if (n > 0) {
    out.push(
      `${path}: the last ${n} lines were not read: they follow a journalctl -o export binary field, whose ` +
        "bytes cannot be told apart from forged records (export with journalctl -o json instead)",
    );
  }
  const t = framer.unreadableTimestamps;
  if (t > 0) {
    out.push(
      `${path}: ${t} JSON ${t === 1 ? "document was" : "documents were"} not judged: unreadable @timestamp ` +
        "(neither ISO-8601 nor epoch seconds or milliseconds between 1990 and 2200)",
    );
  }
  return out;
}

export interface ReplaySummary {
  files: number;
  lines: number;
  /** Events the parsers made that a rule may read (those of no rule's interest are not made). */
  events: number;
  /** Events ignored because their source was banned at the time. */
  suppressed: number;
  /** Lines a parser recognised but refused to read (an address the sender may have written itself). */
  rejected: number;
  /** Lines left unread because they lay inside an nginx error record that carried line breaks (forged). */
  forged: number;
  alerts: number;
  decisions: number;
  /** Policy results by outcome. */
  outcomes: Record<string, number>;
  seconds: number;
  first?: number;
  last?: number;
}

export interface ReplayOptions {
  inputs: ReplayInput[];
  engine: DetectionEngine;
  policy: Policy;
  modes?: Record<string, string>;
  hooks?: ReplayHooks;
  /** The policy's IPv6 ban granularity (default 64); bans made under the rules' own ipv6_prefix count too. */
  ipv6Prefix?: number;
  stdin?: NodeJS.ReadableStream;
  /** Read inputs that look binary as text anyway (see io/binary.ts). */
  text?: boolean;
  /** Monotonic time source for the lines/s figure (performance.now by default). */
  elapsed?: () => number;
}

/** Reads the first timestamp of a file (to order inputs); undefined if none in the first 1000 lines. */
async function firstTime(input: ReplayInput, text: boolean): Promise<number | undefined> {
  if (input.path === "-" || input.lines) return undefined;
  const framer = new LineFramer(input.time);
  let n = 0;
  for await (const batch of readLines(input.path, undefined, { text })) {
    for (const l of batch.lines) {
      const f = framer.frame(l);
      if (f?.time !== undefined) return f.time;
      if (++n > 1000) return undefined;
    }
  }
  return undefined;
}

export async function orderInputs(inputs: ReplayInput[], text = false): Promise<ReplayInput[]> {
  if (inputs.length < 2) return inputs;
  const withTimes = await Promise.all(inputs.map(async (i) => ({ i, t: await firstTime(i, text) })));
  // Stable: inputs without a time keep their place relative to each other, after timed ones.
  return withTimes
    .map((x, idx) => ({ ...x, idx }))
    .sort((a, b) => (a.t ?? Infinity) - (b.t ?? Infinity) || a.idx - b.idx)
    .map((x) => x.i);
}

export async function replay(opts: ReplayOptions): Promise<ReplaySummary> {
  const elapsed = opts.elapsed ?? (() => performance.now());
  const started = elapsed();
  const { engine, policy, hooks } = opts;
  const prefixes = banPrefixes(opts.ipv6Prefix ?? 64, engine);
  const clock = new ReplayClock();
  const summary: ReplaySummary = {
    files: 0,
    lines: 0,
    events: 0,
    suppressed: 0,
    rejected: 0,
    forged: 0,
    alerts: 0,
    decisions: 0,
    outcomes: {},
    seconds: 0,
  };
  const events: SecurityEvent[] = [];
  const alerts: Alert[] = [];
  let lastSweep = 0;

  const handleAlerts = (t: number) => {
    for (let i = 0; i < alerts.length; i++) {
      const alert = alerts[i]!;
      summary.alerts++;
      const result = policy.onAlert(alert, t);
      summary.outcomes[result.outcome] = (summary.outcomes[result.outcome] ?? 0) + 1;
      hooks?.onAlert?.(alert, result);
      const decision = result.decision;
      if (decision) {
        summary.decisions++;
        // As on a live daemon: counting starts afresh for the rule that banned; a shadow rule's simulated ban
        // changes nothing else (policy.inForce).
        if (policy.inForce(decision)) engine.forgetSource(decision.target, decision.rule?.id);
        hooks?.onDecision?.(decision, alert);
        // Feed the ban back as an event, for rules about repeat offenders.
        const banEvent: SecurityEvent = {
          "@timestamp": t,
          event: {
            dataset: "portcullis",
            action: "portcullis_ban",
            outcome: "failure",
            reason: decision.reason,
          },
          source: { ip: decision.target },
          rule: { id: alert.rule.id, name: alert.rule.name },
        };
        engine.process(banEvent, alerts);
      }
    }
    alerts.length = 0;
  };

  /** One input being read: its framer and parsers (state such as sshd's connections is per input). */
  const filters: ForgedRecordFilter[] = [];
  const forgedFilter = (path: string) => {
    const f = new ForgedRecordFilter((r) => hooks?.onWarning?.(forgedRecordWarning(path, r)));
    filters.push(f);
    return f;
  };
  const open = (input: ReplayInput) => {
    summary.files++;
    const parsers = new ParserSet({
      time: input.time,
      allActions: true,
      // Events no rule can read are not made (summary.events counts the others).
      wants: (def, action) => {
        const has = declaredFields(def);
        return has === undefined || engine.mayRead(def.id, action, has);
      },
      onRejected: () => summary.rejected++,
      ...(opts.modes ? { modes: opts.modes } : {}),
    });
    const path = input.path;
    /** The latest time the clock may be moved to by this input's events. */
    const ahead = input.time.reference() + MAX_AHEAD;
    const cur = {
      path,
      framer: new LineFramer(input.time),
      /** The 1-based number of the line being processed. */
      lineNo: 0,
      bytes: 0,
      // Lines inside an nginx error record that carried line breaks are forged (see parsers/nginx/records.ts).
      batches: withoutForgedRecords(
        input.lines
          ? [{ lines: input.lines, bytesRead: 0 }]
          : readLines(path, opts.stdin as never, { text: opts.text === true }),
        forgedFilter(path),
      ),
      process: (frame: Frame | undefined) => {
        if (!frame) return;
        // Parsed events are appended after the ones of earlier frames; the array is emptied only now and then
        // (setting an array's length is a runtime call, too costly once per line).
        const start = events.length;
        if (parsers.parse(frame, events) === 0) return;
        for (let i = start; i < events.length; i++) {
          const e = events[i]!;
          summary.events++;
          // The event's own time decides whether its source is banned and stamps the alerts and decisions it
          // makes; the clock (the latest time seen) only drives the sweeps, so a line written a little out of
          // order is judged at its time.
          const et = e["@timestamp"];
          // A time from the future (a sender's wrong clock, a forged line dated 2099) does not move the clock
          // past the input's reference (its mtime: no line is written after it) by more than the day a year-less
          // date may be ahead, and a lone jump ahead does not move it at all (see ReplayClock): sweeping at 2099
          // would empty every window. The event still counts at its own time in its own group, as in the daemon.
          const t = clock.see(et <= ahead ? et : ahead);
          if (summary.first === undefined) summary.first = et;
          summary.last = t;
          const ip = e.source?.ip;
          if (ip !== undefined && !META_DATASETS.has(e.event.dataset)) {
            if (sourceBanned(policy.blocking, ip, prefixes, et)) {
              summary.suppressed++;
              continue;
            }
          }
          // Where the event came from matters only if it can end up in an alert (as a sample event): an event
          // no rule may evaluate, or one ignored while banned, is not given a `log` field (two objects fewer).
          if (engine.hasCandidates(e)) {
            e.log = { file: { path, line: cur.lineNo - (frame.span ?? 0) } };
            engine.process(e, alerts);
            if (alerts.length) handleAlerts(et);
          }
          if (t - lastSweep >= 60_000) {
            lastSweep = t;
            engine.sweep(t);
            policy.bans.expire(t);
          }
        }
        if (events.length >= 256) events.length = 0;
      },
    };
    return cur;
  };

  const inputs = await orderInputs(opts.inputs, opts.text === true);
  if (inputs.length === 1) {
    // One input (the usual case): its lines in order.
    const cur = open(inputs[0]!);
    const { framer, process } = cur;
    for await (const batch of cur.batches) {
      const lines = batch.lines;
      summary.lines += lines.length;
      for (let i = 0; i < lines.length; i++) {
        cur.lineNo++;
        const line = lines[i]!;
        if (line.charCodeAt(0) === 35 /* # */) continue;
        process(framer.frame(line));
      }
      await hooks?.onProgress?.(batch.bytesRead);
    }
    process(framer.flush());
    warnUnread(cur);
  } else if (inputs.length > 1) await merged(inputs.map(open));
  events.length = 0;
  for (const f of filters) summary.forged += f.forgedLines;
  summary.seconds = (elapsed() - started) / 1000;
  return summary;

  function warnUnread(cur: ReturnType<typeof open>): void {
    for (const w of unreadWarnings(cur.path, cur.framer)) hooks?.onWarning?.(w);
  }

  /**
   * Several inputs are replayed as one stream in event time: each step processes the next frame of the input
   * whose next frame is the earliest (the first input on a tie), so the logs of two hosts, or of sshd and
   * nginx on one host, are judged together as a daemon reading them all would have. Each input keeps its own
   * order (a line a little out of order stays where it is); a frame without a time goes with its neighbours.
   */
  async function merged(curs: ReturnType<typeof open>[]): Promise<void> {
    const heads = curs.map((cur) => ({
      cur,
      lines: [] as string[],
      i: 0,
      frame: undefined as Frame | undefined,
      time: -Infinity,
      done: false,
    }));
    const bytes = () => curs.reduce((n, c) => n + c.bytes, 0);
    // Reads the next frame of `h` into h.frame (h.done at the end of the input, after its last frame).
    const next = async (h: (typeof heads)[number]) => {
      h.frame = undefined;
      while (!h.done) {
        if (h.i >= h.lines.length) {
          const r = await h.cur.batches.next();
          if (r.done) {
            h.done = true;
            h.frame = h.cur.framer.flush();
            warnUnread(h.cur);
            break;
          }
          h.lines = r.value.lines;
          h.i = 0;
          summary.lines += h.lines.length;
          h.cur.bytes = r.value.bytesRead;
          await hooks?.onProgress?.(bytes());
          continue;
        }
        const line = h.lines[h.i++]!;
        h.cur.lineNo++;
        if (line.charCodeAt(0) === 35 /* # */) continue;
        h.frame = h.cur.framer.frame(line);
        if (h.frame) break;
      }
      if (h.frame?.time !== undefined) h.time = h.frame.time;
    };
    for (const h of heads) await next(h);
    for (;;) {
      let best: (typeof heads)[number] | undefined;
      for (const h of heads) if (h.frame && (best === undefined || h.time < best.time)) best = h;
      if (best === undefined) return;
      best.cur.process(best.frame);
      await next(best);
    }
  }
}
