/**
 * ParserSet: routes each frame to the parser(s) for it and completes the events (time, repeat count).
 * Routing: ECS/JSON documents go to parsers declaring that format; otherwise by syslog program (exact name,
 * then prefix); frames no program parser turned into an event go through the probes of the generic parsers
 * (PAM messages of any program, nginx/apache/lighttpd logs that have no syslog envelope, audit.log, ...).
 */
import type { SecurityEvent } from "../core/event.ts";
import { PortcullisError } from "../core/errors.ts";
import type { Frame } from "../framing/frame.ts";
import type { TimeContext } from "../framing/zone.ts";
import { PARSERS, parserById } from "./registry.ts";
import { defaultMode, hasMode, type LineParser, type ParserDefinition } from "./types.ts";

interface Slot {
  def: ParserDefinition;
  parser: LineParser;
  /** Failure actions this slot reports (undefined: all). */
  failures: Set<string> | undefined;
  /** The actions some rule may read (undefined: all); see ParserSetOptions.wants. */
  wants: ((action: string) => boolean) | undefined;
}

/** Where the frames of one program go (see ParserSet's #route). */
interface Route {
  /** Its parsers, or undefined when none claims the program. */
  slots: Slot[] | undefined;
  /** The probes for its frames that its parsers left without an event (undefined: every probe). */
  probes: Slot[] | undefined;
}

const UNCLAIMED: Route = { slots: undefined, probes: undefined };

export interface ParserSetOptions {
  time: TimeContext;
  /** Mode per parser id; parsers not named use their default. */
  modes?: Readonly<Record<string, string>>;
  /** Use `all` for every parser without an explicit mode (what detection needs: rules select the actions). */
  allActions?: boolean;
  /** Restrict to these parser ids (default: every registered parser). */
  only?: readonly string[];
  /** Lines a parser recognised but refused to read (see ParserCreateOptions.onRejected), by parser id. */
  onRejected?: (parser: string, reason: string) => void;
  /**
   * Whether a rule may read events of this parser and action (replay: see DetectionEngine.mayRead). Asked
   * once per action, only for parsers that declare their `fields`; the events of other actions are not made
   * (or dropped). Absent: every event is kept (`parse` prints them all, the daemon stores them).
   */
  wants?: (def: ParserDefinition, action: string) => boolean;
}

export class ParserSet {
  readonly #byProgram = new Map<string, Slot[]>();
  readonly #prefixed: { prefix: string; slot: Slot }[] = [];
  readonly #byPrefix = new Map<string, Slot[]>();
  readonly #probesByProgram = new Map<string, Slot[]>();
  readonly #byFormat = new Map<string, Slot[]>();
  readonly #probes: Slot[] = [];
  readonly #routes = new Map<string, Route>();
  #lastProgram: string | undefined;
  #lastRoute: Route = UNCLAIMED;
  #lastFormat: string | undefined;
  #lastByFormat: Slot[] | undefined;
  readonly #time: TimeContext;

  constructor(opts: ParserSetOptions) {
    this.#time = opts.time;
    const defs = opts.only ? opts.only.map((id) => parserById(id)) : PARSERS;
    for (const def of defs) {
      const mode = opts.modes?.[def.id] ?? (opts.allActions ? "all" : defaultMode(def));
      if (!hasMode(def, mode)) {
        throw new PortcullisError(
          "USAGE",
          `parser ${def.id} has no mode "${mode}" (modes: ${Object.keys(def.modes).join(", ")}, all)`,
        );
      }
      const wants = opts.wants && def.fields ? cachedWants(def, opts.wants) : undefined;
      const slot: Slot = {
        def,
        parser: def.create({
          mode,
          time: opts.time,
          ...(opts.onRejected && { onRejected: (reason: string) => opts.onRejected!(def.id, reason) }),
          ...(wants && { wants }),
        }),
        failures: mode === "all" ? undefined : new Set(def.modes[mode]),
        wants,
      };
      for (const p of def.programs ?? []) push(this.#byProgram, p, slot);
      for (const prefix of def.programPrefixes ?? []) this.#prefixed.push({ prefix, slot });
      for (const f of def.formats ?? []) push(this.#byFormat, f, slot);
      if (def.probe) this.#probes.push(slot);
    }
  }

  /** Parses one frame; appends completed events to `out` and returns how many were added. */
  parse(frame: Frame, out: SecurityEvent[]): number {
    const before = out.length;
    if (frame.format !== this.#lastFormat) {
      this.#lastFormat = frame.format;
      this.#lastByFormat = this.#byFormat.get(frame.format);
    }
    const byFormat = this.#lastByFormat;
    if (byFormat) {
      for (const s of byFormat) this.#run(s, frame, out);
    } else {
      const route = frame.program === undefined ? UNCLAIMED : this.#route(frame.program);
      const slots = route.slots;
      if (slots) for (let i = 0; i < slots.length; i++) this.#run(slots[i]!, frame, out);
      if (out.length === before) {
        const probes = route.probes ?? this.#probes;
        for (let i = 0; i < probes.length; i++) {
          const s = probes[i]!;
          if (s.def.probe!(frame)) {
            this.#run(s, frame, out);
            if (out.length > before) break;
          }
        }
      }
    }
    return out.length - before;
  }

  /**
   * Where a program's frames go: its parsers (by name, then prefix) and the probes to try when they produce
   * nothing. Cached per program name; the last one is remembered on its own, as consecutive frames often
   * share their program (the framer reuses the same name string, so that check is one comparison).
   */
  #route(program: string): Route {
    if (program === this.#lastProgram) return this.#lastRoute;
    let route = this.#routes.get(program);
    if (route === undefined) {
      const slots = this.#byProgram.get(program) ?? this.#prefix(program);
      route = { slots, probes: slots ? this.#probesFor(program) : undefined };
      if (this.#routes.size >= 10_000) this.#routes.clear();
      this.#routes.set(program, route);
    }
    this.#lastProgram = program;
    this.#lastRoute = route;
    return route;
  }

  /** The probes to try for a claimed program's frame (its own parsers excluded), cached per program name. */
  #probesFor(program: string): Slot[] {
    let list = this.#probesByProgram.get(program);
    if (!list) {
      list = this.#probes.filter((s) => !s.def.programs?.includes(program));
      if (this.#probesByProgram.size >= 10_000) this.#probesByProgram.clear();
      this.#probesByProgram.set(program, list);
    }
    return list;
  }

  /** Slots for a program matched by prefix; cached, including "none" (an empty list), per program name. */
  #prefix(program: string): Slot[] | undefined {
    let found = this.#byPrefix.get(program);
    if (found === undefined) {
      found = [];
      for (const { prefix, slot } of this.#prefixed) if (program.startsWith(prefix)) found.push(slot);
      if (this.#byPrefix.size >= 10_000) this.#byPrefix.clear();
      this.#byPrefix.set(program, found);
    }
    return found.length ? found : undefined;
  }

  /**
   * Runs one parser: it appends to `out` directly (no intermediate array), then its new events are completed
   * in place, and those of failure actions its mode does not report are dropped.
   */
  #run(slot: Slot, frame: Frame, out: SecurityEvent[]): void {
    const start = out.length;
    slot.parser.parse(frame, out);
    let kept = start;
    for (let i = start; i < out.length; i++) {
      const e = out[i]!;
      if (slot.failures && e.event.outcome === "failure" && !slot.failures.has(e.event.action)) continue;
      if (slot.wants && !slot.wants(e.event.action)) continue;
      if (Number.isNaN(e["@timestamp"])) e["@timestamp"] = frame.time ?? this.#time.reference();
      if (frame.repeat > 1 && e.event.count === undefined) e.event.count = frame.repeat;
      out[kept++] = e;
    }
    if (kept < out.length) out.length = kept;
  }
}

/** `wants` for one parser, asked once per action (the vocabulary is the parser's declared actions). */
function cachedWants(
  def: ParserDefinition,
  wants: (def: ParserDefinition, action: string) => boolean,
): (action: string) => boolean {
  const known = new Map<string, boolean>();
  // The last answer on its own: a parser asks about an event's action, then #run about the same one.
  let lastAction = "";
  let lastWant = false;
  return (action) => {
    if (action === lastAction) return lastWant;
    let w = known.get(action);
    if (w === undefined) {
      w = wants(def, action);
      if (known.size < 1_000) known.set(action, w);
    }
    lastAction = action;
    lastWant = w;
    return w;
  };
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V) {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}
