/**
 * nginx error records that carried line breaks: lines forged through a request path.
 *
 * nginx writes the decoded request path into error messages (`open() "/var/www/html/PATH" failed (2: No such
 * file or directory)`, `"PATH" is not found`, `"PATH" is forbidden`, a proxied `upstream: "http://b/PATH"`)
 * without escaping, and decodes `%0a` to a line feed. A request for
 * `/x%0a2024/06/03 10:11:12 [error] 1#1: *1 user "a": password mismatch, client: VICTIM, ...` therefore writes
 * complete-looking lines naming VICTIM. What nginx guarantees (ngx_log_error_core): a record is one `write()`
 * of at most NGX_MAX_ERROR_STR (2048) bytes, line feed included; after the message nginx writes its errno
 * (`" failed (2: No such file or directory)`; a message too long is cut 50 bytes before the end and marked
 * `...`) and its context `, client: SENDER, server: NAME, request: "GET /x%0a... HTTP/1.1"[, upstream: ...],
 * host: ...`, cut where the 2048 bytes end.
 *
 *   P:  2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/x          (real header, path text)
 *   A1: 2024/06/03 10:11:12 [error] 1#1: *1 user "a": password mismatch, client: VICTIM, ...   (forged)
 *   T:  ..." failed (2: No such file or directory), client: SENDER, server: s, request: "GET /x%0a2024... HTTP/1.1"
 *
 * The same holds for a Basic-auth user name (`user "NAME" was not found`): written unescaped, it can carry line
 * feeds and lines without a `:`. Marks of such a record, each on a line nginx itself began or ended:
 * - a request line whose target (after the method and its spaces, up to a space, `?` or the end) holds an encoded line feed
 *   (no version needed: HTTP/0.9 has none, nginx serves `HTTP/1.10`): the record around it carried line feeds,
 *   before it (the path message ends at T) or after it (an `upstream:` or `subrequest:` printing the decoded
 *   path follows the request). Every line that can share a record with it is left unread: those starting
 *   within 2048 bytes before its end, and those starting within 2048 bytes after its start;
 * - the first line of a record about a connection (`[error] 7#7: *9 `, any level but debug) without a `, client:
 *   `, which nginx writes after every such message: the record went on past a line feed (a user name cannot
 *   hold the `:` of a fake one) or was cut. It and the lines starting within 2048 bytes of its start are left
 *   unread;
 * - a record nginx cut at 2048 bytes: a path message's end (`" failed (N: ...)`, `" is not found (N: ...)`,
 *   `" is forbidden (N: ...)`, `... (N: ...)`) right before a `, client: ` with no complete request after it
 *   (a path message always has a request, which fits unless the record is full). Only when lines ending there
 *   can add up to exactly 2048 bytes (a U+FFFD of the decoding counts 1 to 3 bytes, a carriage return the
 *   reader dropped 0 or 1) are they that record, and left unread; a single line of 2048 bytes is a long path,
 *   nothing more. The exact size keeps a request without a version (HTTP/0.9), or a referrer imitating a path
 *   message, from taking other lines (but for a chance of about one in 20).
 * - a context naming a `subrequest:` (its URI printed decoded, e.g. an SSI include of `${arg_p}`): as a request
 *   line carrying %0a, the 2048 bytes before and after it;
 * - a path message's end whose context names an `upstream:` (an `X-Accel-Redirect` path, decoded by nginx, the
 *   request line showing none of it) or whose request is a WebDAV COPY or MOVE (the `Destination` path, decoded):
 *   the lines starting within 2048 bytes before its end are left unread.
 * Each `, client: ` and `, request: "` of a line is looked at (a referrer may hold fake ones; nginx's are among
 * them). Overlapping marks make one record (one report). Not found: a message without errno cut at 2048 bytes
 * whose first line imitates `, client: ` (`rewrite_log` at notice level), and debug records: see the README.
 *
 * This runs on raw lines, before framing, on every stream: forged lines can take any format (an sshd line in
 * nginx's error log is read as sshd's), and a genuine line of another log bears neither mark. Offline readers
 * (`parse`, `replay`) hold each line until 2048 characters (at least as many bytes) have followed it
 * ({@link ForgedRecordFilter}), so a record is always found whole; in the daemon, the file source cuts its
 * batches where no record is split ({@link recordSafeCut}, {@link recordHoldFrom}) and the pipeline scans each
 * batch as it comes, carrying the marking of following lines over to the next ({@link ForgedRecordScanner}).
 */

/** nginx's NGX_MAX_ERROR_STR: the most bytes one error record (its line feed included) can have. */
export const MAX_RECORD = 2048;

const CLIENT = ", client: ";
const REQUEST = ', request: "';
const UPSTREAM = ', upstream: "';
const SUBREQUEST = ', subrequest: "';
/** The end of a path message right before nginx's context: `" failed (2: No such file or directory)`. */
const PATH_MESSAGE_END =
  /(?:" failed|" is not found|" is forbidden|" could not be created|\.\.\.) \(\d{1,5}: [^()]{0,120}\)$/;
/** A WebDAV COPY or MOVE: nginx decodes the path of its `Destination` header, which the request line does not show. */
const DAV_COPY_MOVE = /, request: "(?:COPY|MOVE) /;
/**
 * Messages that echo client-controlled text with its line feeds before nginx's context, whatever that text
 * holds: HTTP/2's header checks (`info` level), a decoded URI found unsafe (an SSI include, a WebDAV
 * `Destination` or an `X-Accel-Redirect` holding `..%2F`), an internal redirection cycle's target.
 */
const ECHOES_HEADER =
  /^(?:client sent header "|client sent invalid header name: "|unsafe URI "|rewrite or internal redirection cycle while internally redirecting to ")/;
/** nginx reads any number of digits in a version (`HTTP/1.10` is served). */
const VERSION = / HTTP\/\d+(?:\.\d+)?"/;
/** nginx's header of a record about a connection (debug records excluded: they have no context). */
const CONNECTION_HEADER = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(?!debug\])[a-z]+\] \d+#\d+: \*\d+ /;
const ENCODED_LF = /%0a/i;
const REPLACEMENT = /\uFFFD/g;

/** The raw size of a decoded line with its line feed: [fewest, most] bytes (each U+FFFD was 1 to 3 bytes). */
function byteRange(line: string): [number, number] {
  const bytes = Buffer.byteLength(line) + 1;
  const replaced = line.includes("\uFFFD") ? (line.match(REPLACEMENT)?.length ?? 0) : 0;
  return [bytes - 2 * replaced, bytes];
}

/** Whether `line` holds `%0a` in either case anywhere (the cheap test before {@link carriesLineFeed}). */
function hasEncodedLf(line: string): boolean {
  const pct = line.indexOf("%0");
  return pct >= 0 && (line.includes("%0a", pct) || line.includes("%0A", pct));
}

/** The path of a complete request line starting at `from` (just after `request: "`), or undefined. */
function requestPath(line: string, from: number): string | undefined {
  const rest = line.slice(from);
  const v = rest.search(VERSION);
  if (v < 0) return undefined;
  const target = rest.slice(0, v);
  const q = target.indexOf("?");
  return q < 0 ? target : target.slice(0, q);
}

/**
 * Whether a request line in `line` has an encoded line feed in its path: the target after the method, up to a
 * space, `?` or the end of the line. No version is needed: HTTP/0.9 requests have none, and a record cut
 * inside its request still shows what it holds.
 */
export function carriesLineFeed(line: string): boolean {
  for (let r = line.indexOf(REQUEST); r >= 0; r = line.indexOf(REQUEST, r + 1)) {
    const method = line.indexOf(" ", r + REQUEST.length);
    if (method < 0) continue;
    // nginx accepts any number of spaces before the target (`GET  /x HTTP/1.1` is served).
    let start = method + 1;
    while (line.charCodeAt(start) === 32) start++;
    let end = line.indexOf(" ", start);
    if (end < 0) end = line.length;
    const q = line.indexOf("?", start);
    if (q >= 0 && q < end) end = q;
    if (ENCODED_LF.test(line.slice(start, end))) return true;
  }
  return false;
}

/**
 * Whether nginx's context in `line` names a subrequest: its URI is printed decoded after the request (an SSI
 * `include virtual="/inc/${arg_p}"` decodes the argument), so the record may have carried line feeds on either
 * side, with nothing in the request line to show it.
 */
export function namesSubrequest(line: string): boolean {
  const s = line.indexOf(SUBREQUEST);
  return s >= 0 && line.lastIndexOf(CLIENT, s) >= 0;
}

/**
 * Whether `line` is the first line of a record about a connection that has no `, client: `: nginx writes one
 * after every such message, so the record went on past a line feed (a path, or a Basic-auth user name, which
 * can hold no `:` and so no fake `, client: `), or was cut at 2048 bytes before it.
 */
export function opensRecord(line: string): boolean {
  if (line.charCodeAt(4) !== 47 /* / */ || line.charCodeAt(7) !== 47) return false;
  const m = CONNECTION_HEADER.exec(line);
  // An echoed header or URI can hold a fake `, client: ` itself: its record is opened regardless.
  return m !== null && (!line.includes(CLIENT) || ECHOES_HEADER.test(line.slice(m[0].length)));
}

/** Each `, client: ` of `line` that a path message's end (its errno) comes right before, by its index. */
function* pathMessageClients(line: string): Generator<number> {
  for (let c = line.indexOf(CLIENT); c >= 0; c = line.indexOf(CLIENT, c + 1)) {
    if (line.charCodeAt(c - 1) !== 41 /* ) */) continue;
    if (PATH_MESSAGE_END.test(line.slice(Math.max(0, c - 160), c))) yield c;
  }
}

/**
 * Whether `line` may end a record nginx cut at 2048 bytes: a path message's end right before a `, client: `
 * with no complete request line after it.
 */
export function mayEndCutRecord(line: string): boolean {
  for (const c of pathMessageClients(line)) {
    let complete = false;
    for (let r = line.indexOf(REQUEST, c); r >= 0 && !complete; r = line.indexOf(REQUEST, r + 1)) {
      complete = requestPath(line, r + REQUEST.length) !== undefined;
    }
    if (!complete) return true;
  }
  return false;
}

/** A record's sender when nginx's context was not seen (yet). */
const UNKNOWN = "an unknown sender";

/**
 * Whether `line` ends a path message whose path came from an upstream: its context (after the `, client: `)
 * names an `upstream:`. nginx decodes the path of an `X-Accel-Redirect` the upstream sent (an application that
 * encodes a user's file name in it, as it should, passes `%0a` on as a line feed), and the request line shows
 * none of it. The lines before it that can share its record are left unread, as for a request carrying %0a.
 */
export function endsUpstreamPath(line: string): boolean {
  for (const c of pathMessageClients(line)) {
    if (line.includes(UPSTREAM, c) || DAV_COPY_MOVE.test(line.slice(c))) return true;
  }
  return false;
}

/**
 * The address after the last `, client: ` (what nginx named as the sender), or "?"; with `beforeRequest`, the
 * last one before the first `, request: "` (a referrer after it may hold a fake one).
 */
function senderOf(line: string, beforeRequest = false): string {
  const r = beforeRequest ? line.indexOf(REQUEST) : -1;
  const c = line.lastIndexOf(CLIENT, r < 0 ? line.length : r);
  if (c < 0) return "?";
  const from = c + CLIENT.length;
  const comma = line.indexOf(",", from);
  return line.slice(from, comma < 0 ? undefined : comma);
}

/** One record's lines left unread: `first..last` (indexes in the scanned lines, or line numbers). */
export interface ForgedRecord {
  first: number;
  last: number;
  /** The address nginx wrote as the sender, as written (cut short when the record was). */
  sender: string;
  /** Lines read before the scanned ones may belong to the record (daemon: a batch boundary fell inside it). */
  open: boolean;
}

/**
 * Finds the marks (see the top) in lines, in order, and marks the lines of their records. One per stream:
 * the marking of the lines after a request line carrying a line feed goes on into the next scan.
 */
export class ForgedRecordScanner {
  /** Bytes after the last marked request line within which following lines start (still to mark). */
  #ahead = 0;
  /** The record still being extended by #ahead (reported when complete). */
  #pending: ForgedRecord | undefined;

  /**
   * Scans `lines[from..]`; marks in `forged` (indexes into `lines`; every line of `lines` is still unread and
   * may be marked). Returns the records completed.
   */
  scan(lines: readonly string[], forged: Set<number>, from = 0): ForgedRecord[] {
    const done: ForgedRecord[] = [];
    /**
     * One record found, marking `first..last` now and the lines starting within `ahead` bytes after: merged
     * with the record being extended or the last one completed when they overlap (one report per record).
     */
    const found = (rec: ForgedRecord, ahead: number) => {
      for (let i = rec.first; i <= rec.last; i++) forged.add(i);
      const into = this.#pending ?? done.at(-1);
      if (into && rec.first <= into.last + 1) {
        into.first = Math.min(into.first, rec.first);
        into.last = Math.max(into.last, rec.last);
        into.open ||= rec.open;
        if (rec.sender !== UNKNOWN) into.sender = rec.sender;
        if (!this.#pending) done.pop();
      } else {
        const pending = this.#take();
        if (pending) done.push(pending);
      }
      this.#pending = into && rec.first <= into.last + 1 ? into : rec;
      this.#ahead = Math.max(this.#ahead, ahead);
      if (this.#ahead <= 0) done.push(this.#take()!);
    };
    for (let j = from; j < lines.length; j++) {
      const line = lines[j]!;
      if (this.#ahead > 0) {
        forged.add(j);
        this.#pending!.last = j;
        this.#ahead -= byteRange(line)[0];
        if (this.#ahead <= 0) done.push(this.#take()!);
      }
      const lf = hasEncodedLf(line);
      // A record's first line: the lines after it that can belong to its record (within 2048 bytes of its
      // start), and itself, whether or not it holds "%0a" (a user name can hold one literally).
      if (opensRecord(line)) {
        found({ first: j, last: j, sender: UNKNOWN, open: false }, MAX_RECORD - byteRange(line)[0]);
        if (!lf) continue;
      } else if (!lf && !line.includes(CLIENT)) continue;
      if ((lf && carriesLineFeed(line)) || namesSubrequest(line)) {
        const first = reachBack(lines, j);
        const sender = senderOf(line, true);
        found({ first, last: j, sender, open: first === 0 }, MAX_RECORD - byteRange(line)[0]);
      } else if (mayEndCutRecord(line)) {
        const first = cutRecordStart(lines, j);
        if (first !== undefined) found({ first, last: j, sender: senderOf(line), open: false }, 0);
      } else if (endsUpstreamPath(line)) {
        const first = reachBack(lines, j);
        found({ first, last: j, sender: senderOf(line, true), open: first === 0 }, 0);
      }
    }
    return done;
  }

  #take(): ForgedRecord | undefined {
    const p = this.#pending;
    this.#pending = undefined;
    return p;
  }

  /** The input ended: the record still being extended, if any, is complete. */
  finish(): ForgedRecord | undefined {
    this.#ahead = 0;
    return this.#take();
  }

  /**
   * The first `n` lines of the last scan were handed on: the next scan's indexes start after them (a record
   * still being extended then has negative indexes for its lines in earlier scans).
   */
  shift(n: number): void {
    if (this.#pending) {
      this.#pending.first -= n;
      this.#pending.last -= n;
    }
  }
}

/**
 * The first line of a record nginx cut at 2048 bytes that ends at `lines[j]`: the earliest `i < j` such that
 * lines i..j can add up to exactly 2048 bytes; undefined when none can (then `lines[j]` is no such end, or a
 * record of one line).
 */
function cutRecordStart(lines: readonly string[], j: number): number | undefined {
  let [lo, hi] = byteRange(lines[j]!);
  let found: number | undefined;
  for (let i = j - 1; i >= 0; i--) {
    const [l, h] = byteRange(lines[i]!);
    lo += l;
    // + 1: the readers drop a carriage return before a line feed (CRLF files), and a path can hold `%0d%0a`
    // (the record's last line ends with nginx's context, never with one).
    hi += h + 1;
    if (lo > MAX_RECORD) break;
    if (hi >= MAX_RECORD) found = i;
  }
  return found;
}

/** Whether `line` bears one of the marks (see the top): a request line carrying %0a, or a cut record's end. */
export function isRecordMark(line: string): boolean {
  const lf = hasEncodedLf(line);
  if (!lf && !line.includes(CLIENT)) return false;
  return (
    (lf && carriesLineFeed(line)) || namesSubrequest(line) || mayEndCutRecord(line) || endsUpstreamPath(line)
  );
}

/** The earliest line a mark at `i` can take with it: those starting within 2048 bytes before its end. */
function reachBack(lines: readonly string[], i: number): number {
  let bytes = byteRange(lines[i]!)[0];
  let j = i;
  while (j > 0) {
    const next = bytes + byteRange(lines[j - 1]!)[0];
    if (next > MAX_RECORD) break;
    bytes = next;
    j--;
  }
  return j;
}

/**
 * Where a source may end a batch of `lines` at `at` or after so that no record is split (a mark after the end
 * would take lines of the batch, already read): the first such boundary, or `lines.length`.
 */
export function recordSafeCut(lines: readonly string[], at: number): number {
  let cut = at;
  for (;;) {
    if (cut >= lines.length) return lines.length;
    let bytes = 0;
    let moved = false;
    for (let i = cut; i < lines.length && bytes < MAX_RECORD; i++) {
      if (isRecordMark(lines[i]!) && reachBack(lines, i) < cut) {
        cut = i + 1;
        moved = true;
        break;
      }
      bytes += byteRange(lines[i]!)[0];
    }
    if (!moved) return cut;
  }
}

/**
 * The first of `lines` starting within MAX_RECORD characters (line feeds counted) of their end, and how many
 * characters those lines take.
 */
function lastRecordChars(lines: readonly string[]): { from: number; chars: number } {
  let from = lines.length;
  let chars = 0;
  while (from > 0) {
    const next = chars + lines[from - 1]!.length + 1;
    if (next > MAX_RECORD) break;
    chars = next;
    from--;
  }
  return { from, chars };
}

/**
 * When more input follows at once (a source read a full chunk): the first of `lines` to hold back until it is
 * read, so that no record is split. Every line starting within 2048 characters (at most as many bytes) of the
 * end may belong to a record whose mark comes later, and every line a mark among those can take.
 */
export function recordHoldFrom(lines: readonly string[]): number {
  const last = lastRecordChars(lines);
  let from = last.from;
  // Marks can chain (each may take 2048 bytes before it): what is held is capped, so that a flood of marks
  // cannot hold back the input without end (a record split there has its first lines read with the batch
  // before).
  let floor = from;
  for (let chars = last.chars; floor > 0 && chars < MAX_HELD; floor--) chars += lines[floor - 1]!.length + 1;
  for (let i = lines.length - 1; i >= from; i--) {
    if (isRecordMark(lines[i]!)) from = Math.max(floor, Math.min(from, reachBack(lines, i)));
  }
  return from;
}

/** The most characters {@link recordHoldFrom} holds back. */
const MAX_HELD = 16 * MAX_RECORD;

/** Marks the records in a whole array of lines at once (tests, and what one scan of a batch does). */
export function markForged(lines: readonly string[], forged: Set<number>): ForgedRecord[] {
  const scanner = new ForgedRecordScanner();
  const found = scanner.scan(lines, forged);
  const last = scanner.finish();
  return last ? [...found, last] : found;
}

/**
 * For offline readers: lines go through in order, each held until MAX_RECORD characters have followed it (no
 * later mark can then reach back to it), with forged lines replaced by "" so that line numbers stay right.
 */
export class ForgedRecordFilter {
  readonly #scanner = new ForgedRecordScanner();
  /** Lines not yet handed on (within MAX_RECORD characters of the end of what was read). */
  #held: string[] = [];
  /** Indexes into #held of forged lines. */
  #forged = new Set<number>();
  /** Lines handed on before #held[0] (to report records by line number). */
  #before = 0;
  /** Lines replaced so far. */
  forgedLines = 0;
  readonly #onRecord: (record: ForgedRecord & { lines: number }) => void;

  /** `onRecord` gets each record with `first`/`last` as 1-based line numbers of the input. */
  constructor(onRecord: (record: ForgedRecord & { lines: number }) => void) {
    this.#onRecord = onRecord;
  }

  #report(r: ForgedRecord, base: number): void {
    this.#onRecord({
      ...r,
      lines: r.last - r.first + 1,
      first: base + r.first + 1,
      last: base + r.last + 1,
    });
  }

  /** Takes the next lines; returns those that are final (possibly none). */
  push(lines: readonly string[]): string[] {
    const held = this.#held.length;
    const all = held ? this.#held.concat(lines) : (lines as string[]);
    for (const r of this.#scanner.scan(all, this.#forged, held)) this.#report(r, this.#before);
    // Held from the end: the lines starting within MAX_RECORD characters of the end of what was read (a
    // character is at least one byte, so no later mark can reach further back).
    return this.#handOn(all, lastRecordChars(all).from);
  }

  /** The input ended: every held line is final. */
  end(): string[] {
    const last = this.#scanner.finish();
    if (last) this.#report(last, this.#before);
    return this.#handOn(this.#held, this.#held.length);
  }

  #handOn(all: string[], n: number): string[] {
    const out = all.slice(0, n);
    const forged = this.#forged;
    if (forged.size) {
      const rest = new Set<number>();
      for (const i of forged) {
        if (i < n) {
          out[i] = "";
          this.forgedLines++;
        } else rest.add(i - n);
      }
      this.#forged = rest;
    }
    this.#held = all.slice(n);
    this.#before += n;
    this.#scanner.shift(n);
    return out;
  }
}

/** What `parse` and `replay` say about a record they left unread (`first`/`last`: 1-based line numbers). */
export function forgedRecordWarning(path: string, r: ForgedRecord & { lines: number }): string {
  return (
    `${path}:${r.first}${r.last > r.first ? `-${r.last}` : ""}: ${r.lines} ${r.lines === 1 ? "line" : "lines"} ` +
    `not read: they may share one nginx error record (for ${r.sender}) that carried line breaks from a ` +
    "request path (%0a), or was cut at 2048 bytes after them; lines inside such a record can be forged " +
    "(see nginx's README in src/parsers/nginx)"
  );
}

/** Batches of lines through `filter` ({@link ForgedRecordFilter}): as many lines, in the same order. */
export async function* withoutForgedRecords<B extends { lines: string[] }>(
  batches: AsyncIterable<B> | Iterable<B>,
  filter: ForgedRecordFilter,
): AsyncGenerator<B> {
  let last: B | undefined;
  for await (const batch of batches) {
    last = batch;
    yield { ...batch, lines: filter.push(batch.lines) };
  }
  const rest = filter.end();
  if (last && rest.length) yield { ...last, lines: rest };
}
