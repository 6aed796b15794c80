/**
 * The live pipeline: source batches -> framing -> parsers -> detection -> decisions. One framer and one parser
 * set per stream (a file, a journal, a syslog peer), so per-connection parser state never mixes streams.
 * A batch's position (file offsets, journal cursor) is committed in the same transaction as its decisions and
 * alerts: after a crash (kill -9) the daemon resumes exactly after the last committed batch, so no line is
 * missed or read twice.
 */
import type { Alert } from "../core/alert.ts";
import type { SecurityEvent } from "../core/event.ts";
import type { Logger } from "../core/logger.ts";
import { banPrefixes, META_DATASETS, sourceBanned, type DetectionEngine } from "../detect/engine.ts";
import { LineFramer } from "../framing/framer.ts";
import type { TimeContext } from "../framing/zone.ts";
import { ParserSet } from "../parsers/dispatch.ts";
import { ForgedRecordScanner } from "../parsers/nginx/records.ts";
import type { Policy } from "../policy/policy.ts";
import type { LineSink, SourceBatch, SourcePosition } from "../sources/types.ts";
import type { Metrics } from "./metrics.ts";

interface Stream {
  framer: LineFramer;
  parsers: ParserSet;
  /** Lines inside nginx error records that carried line breaks (see parsers/nginx/records.ts). */
  records: ForgedRecordScanner;
  line: number;
}

export interface PipelineOptions {
  time: TimeContext;
  modes: Record<string, string>;
  engine: () => DetectionEngine;
  policy: () => Policy;
  ipv6Prefix: number;
  /** Called for every event's alerts, in order, synchronously: decisions are made at once. */
  onAlerts: (alerts: Alert[]) => void;
  /**
   * Commits the decisions and alerts of the batch together with its source position (one transaction), then
   * starts their enforcement; awaited per batch.
   */
  flush: (positions: readonly SourcePosition[]) => Promise<void>;
  /**
   * Back-pressure, asked before a batch is read: `undefined` to read it at once, or a promise that the batch
   * waits for, unread (nothing counted, its position not taken), e.g. while the store cannot be written. A
   * rejection is the push's: the batch was not read. `signal` is the pushing source's, when it gave one.
   */
  admit?: (signal: AbortSignal | undefined) => Promise<void> | undefined;
  now: () => number;
  logger: Logger;
  metrics?: Metrics;
  /** Cap on distinct streams (syslog peers); the least recently used stream state is dropped beyond it. */
  maxStreams?: number;
}

/** How far ahead of this host's clock an event's time may move the windows' sweep time. */
export const MAX_CLOCK_AHEAD = 60_000;

export class Pipeline implements LineSink {
  readonly #opts: PipelineOptions;
  readonly #streams = new Map<string, Stream>();
  #latest = 0;
  counters = { lines: 0, events: 0, suppressed: 0, alerts: 0, rejected: 0, forged: 0 };

  constructor(opts: PipelineOptions) {
    this.#opts = opts;
  }

  #stream(key: string): Stream {
    let s = this.#streams.get(key);
    if (s) {
      this.#streams.delete(key);
      this.#streams.set(key, s);
      return s;
    }
    s = {
      framer: new LineFramer(this.#opts.time),
      parsers: new ParserSet({
        time: this.#opts.time,
        allActions: true,
        modes: this.#opts.modes,
        onRejected: (parser, reason) => {
          this.counters.rejected++;
          this.#opts.metrics?.rejected.inc({ parser, reason });
        },
      }),
      records: new ForgedRecordScanner(),
      line: 0,
    };
    if (this.#streams.size >= (this.#opts.maxStreams ?? 10_000)) {
      this.#streams.delete(this.#streams.keys().next().value as string);
    }
    this.#streams.set(key, s);
    return s;
  }

  /** Parser modes changed (reload): stream state restarts with the new modes. */
  resetStreams(modes: Record<string, string>): void {
    this.#opts.modes = modes;
    this.#streams.clear();
  }

  /**
   * Reads a batch, decides on it and commits it. `signal` (the pushing source's run) ends a wait for
   * {@link PipelineOptions.admit}: a source being stopped is not kept waiting for the store.
   */
  async push(batch: SourceBatch, signal?: AbortSignal): Promise<void> {
    const o = this.#opts;
    // No await unless the batch must wait: a batch is read synchronously from its push, as before.
    const wait = o.admit?.(signal);
    if (wait) await wait;
    const started = performance.now();
    const s = this.#stream(batch.stream);
    if (batch.firstLine !== undefined) s.line = batch.firstLine - 1;
    const engine = o.engine();
    const policy = o.policy();
    // Per batch: a reload may change the rules' prefixes.
    const prefixes = banPrefixes(o.ipv6Prefix, engine);
    const alerts: Alert[] = [];
    // Per call: alerts are awaited inside the loop, while other sources may push.
    const events: SecurityEvent[] = [];
    const now = o.now();
    const forged = this.#forged(s, batch, s.line);
    const lines = batch.lines;
    for (let i = 0; i < lines.length; i++) {
      s.line++;
      this.counters.lines++;
      if (forged?.has(i)) continue;
      const frame = s.framer.frame(lines[i]!);
      if (!frame) continue;
      if (s.parsers.parse(frame, events) === 0) continue;
      for (const e of events) {
        this.counters.events++;
        o.metrics?.events.inc({ dataset: e.event.dataset });
        if (batch.path !== undefined) {
          e.log = { file: { path: batch.path, line: s.line - (frame.span ?? 0) } };
        }
        if (batch.peer !== undefined) {
          // Received over the network: the host that sent it is the one we know (the allowlist admitted that
          // address); the hostname written inside the message is only what the sender claims, so it must not
          // win over it. The claim is kept in ECS's `log.syslog.hostname`.
          const claimed = e.host?.name;
          e.log = {
            ...e.log,
            source: { address: batch.peer },
            ...(claimed !== undefined && { syslog: { hostname: claimed } }),
          };
          e.host = { ...e.host, name: batch.peer };
        }
        const ip = e.source?.ip;
        if (ip !== undefined && !META_DATASETS.has(e.event.dataset)) {
          if (sourceBanned(policy.blocking, ip, prefixes, now)) {
            this.counters.suppressed++;
            o.metrics?.suppressed.inc();
            continue;
          }
        }
        // A timestamp from the future (a sender's wrong clock, a forged syslog message) must not move the sweep
        // time ahead: sweeping at year 9999 would empty every window. It still counts in its own group.
        const t = Math.min(e["@timestamp"], now + MAX_CLOCK_AHEAD);
        if (t > this.#latest) this.#latest = t;
        engine.process(e, alerts);
        if (alerts.length) {
          // Decided at once, as in replay: later events of this batch from an address just banned are suppressed.
          this.counters.alerts += alerts.length;
          o.onAlerts(alerts.splice(0));
        }
      }
      events.length = 0;
    }
    // The batch's decisions, alerts and position are committed together, and enforced after the commit.
    await o.flush(batch.position ? [batch.position] : []);
    // Windows are in event time: sweep with the latest event time seen.
    if (this.#latest) engine.sweep(this.#latest);
    o.metrics?.lines.inc({ source: batch.stream }, batch.lines.length);
    o.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
  }

  /**
   * The lines of this batch that may lie inside nginx error records that carried line breaks (forged: see
   * parsers/nginx/records.ts), counted, and each record logged once complete; undefined when there is none
   * (nearly always). A record is one write() of nginx: the file source hands it over in one batch (it cuts
   * batches where no record is split), and the stream's scanner carries the marking of following lines over to
   * the next batch.
   */
  #forged(s: Stream, batch: SourceBatch, before: number): Set<number> | undefined {
    const forged = new Set<number>();
    const records = s.records.scan(batch.lines, forged);
    s.records.shift(batch.lines.length);
    for (const r of records) {
      const at = (i: number) => before + i + 1;
      this.#opts.logger.warn(
        {
          stream: batch.stream,
          ...(batch.path !== undefined && {
            path: batch.path,
            first_line: at(r.first),
            last_line: at(r.last),
          }),
          lines: r.last - r.first + 1,
          sender: r.sender,
        },
        "lines that may share one nginx error record carrying line breaks from a request path (%0a), or cut at " +
          "2048 bytes after them, were not read (lines inside such a record can be forged)",
      );
    }
    if (!forged.size) return undefined;
    this.counters.forged += forged.size;
    this.counters.rejected += forged.size;
    this.#opts.metrics?.rejected.inc({ parser: "nginx", reason: "forged_record" }, forged.size);
    return forged;
  }
}
