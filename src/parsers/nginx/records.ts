/**
 * nginx error records that carried line breaks: lines forged through a request path.
 *
 * nginx writes the decoded request path into error messages (`open() "/var/www/html/PATH" failed (2: No such
 * file or directory)`, `"PATH" is not found (2: ...)`) without escaping, and decodes `%0a` to a line feed. A
 * request for `/x%0a2024/06/03 10:11:12 [error] 1#1: *1 user "a": password mismatch, client: VICTIM, ...`
 * therefore writes a complete-looking line naming VICTIM. Such a record is still one `write()` of at most
 * NGX_MAX_ERROR_STR (2048) bytes, and nginx ends it with its own context, written after the whole message:
 *
 *   P:  2024/06/03 10:11:12 [error] 7#7: *9 open() "/var/www/html/x          (real header, path text)
 *   A1: 2024/06/03 10:11:12 [error] 1#1: *1 user "a": password mismatch, client: VICTIM, ...   (forged)
 *   T:  ..." failed (2: No such file or directory), client: SENDER, server: s, request: "GET /x%0a2024... HTTP/1.1"
 *
 * The last line T (the tail) is recognisable: before its last `, client: ` comes the end of a path message
 * (`" failed (N: text)`, `" is not found (N: text)`, or nginx's truncation mark `... (N: text)`), and after it
 * either a request line whose path holds encoded line feeds (`%0a`: k of them, so at most k lines came before
 * T in the record) or no complete request line at all (nginx cut the record at 2048 bytes: a path message
 * always has a request, which fits unless the record was full). Every line before T that can belong to its
 * record (at most k lines, and only those starting within 2048 characters before T's end: characters never
 * outnumber bytes, so the window holds the whole record) is forged or the cut head of a message; T itself
 * ends with the real sender, but its start is the sender's text. All of them are left unread.
 *
 * This runs on raw lines, before framing, on every stream: forged lines can take any format (an sshd line in
 * nginx's error log is read as sshd's), and a genuine line of another log is never a tail. Offline readers
 * (`parse`, `replay`) hold each line until 2048 characters have followed it ({@link ForgedRecordFilter}), so
 * a tail always finds its record; the daemon looks within each batch ({@link markForged}) and says when a
 * tail's record may have begun in an earlier batch.
 */

/** nginx's NGX_MAX_ERROR_STR: the most bytes one error record (its line feeds included) can have. */
export const MAX_RECORD = 2048;

/** A tail whose record was cut at MAX_RECORD: only the window bounds the lines before it. */
const CUT = Number.POSITIVE_INFINITY;

const CLIENT = ", client: ";
const REQUEST = ', request: "';
/** The end of a path message right before nginx's context: `" failed (2: No such file or directory)`. */
const PATH_MESSAGE_END = /(?:" failed|" is not found|\.\.\.) \(\d{1,5}: [^()]{0,120}\)$/;
const VERSION = / HTTP\/\d(?:\.\d)?"/;
const ENCODED_LF = /%0a/gi;

/**
 * How many lines before `line` its nginx error record can hold, when `line` ends a record whose request path
 * carried line feeds (`CUT`: the record was cut, so as many as fit in the window); undefined otherwise.
 */
export function tailReach(line: string): number | undefined {
  const c = line.lastIndexOf(CLIENT);
  if (c < 0) return undefined;
  // Cheap first: the character before `, client: ` of a path message is its errno's `)`.
  if (line.charCodeAt(c - 1) !== 41 /* ) */) return undefined;
  if (!PATH_MESSAGE_END.test(line.slice(Math.max(0, c - 160), c))) return undefined;
  const r = line.indexOf(REQUEST, c);
  if (r < 0) return CUT;
  const request = line.slice(r + REQUEST.length);
  const v = request.search(VERSION);
  if (v < 0) return CUT;
  const target = request.slice(0, v);
  const q = target.indexOf("?");
  const path = q < 0 ? target : target.slice(0, q);
  const k = path.match(ENCODED_LF)?.length ?? 0;
  return k > 0 ? k : undefined;
}

/** The lines of one record found: `first..last` (indexes in the scanned array); `last` is the tail. */
export interface ForgedRecord {
  first: number;
  last: number;
  /** The address nginx wrote after the record (the sender), as written (cut short when the record was). */
  sender: string;
  /** The window reached the start of the scanned lines: lines read before them may belong to the record. */
  open: boolean;
}

/**
 * Finds the tails among `lines[from..]` and marks each one's record (see the top) in `forged` (indexes into
 * `lines`; every line before `from` is still unread and may be marked). Returns the records found.
 */
export function markForged(lines: readonly string[], forged: Set<number>, from = 0): ForgedRecord[] {
  const found: ForgedRecord[] = [];
  for (let j = from; j < lines.length; j++) {
    const tail = lines[j]!;
    // The common case costs one search per line.
    if (!tail.includes(CLIENT)) continue;
    const reach = tailReach(tail);
    if (reach === undefined) continue;
    forged.add(j);
    let chars = tail.length + 1;
    let first = j;
    let n = 0;
    while (n < reach && first > 0) {
      const next = chars + lines[first - 1]!.length + 1;
      if (next > MAX_RECORD) break;
      chars = next;
      first--;
      n++;
      forged.add(first);
    }
    const c = tail.lastIndexOf(CLIENT) + CLIENT.length;
    const comma = tail.indexOf(",", c);
    found.push({
      first,
      last: j,
      sender: tail.slice(c, comma < 0 ? undefined : comma),
      open: first === 0 && n < reach && chars < MAX_RECORD,
    });
  }
  return found;
}

/**
 * For offline readers: lines go through in order, each held until MAX_RECORD characters have followed it (no
 * later tail can then claim it), with forged lines replaced by "" so that line numbers stay right.
 */
export class ForgedRecordFilter {
  /** Lines not yet handed on (within MAX_RECORD characters of the end of what was read). */
  #held: string[] = [];
  /** Indexes into #held of forged lines. */
  #forged = new Set<number>();
  /** Lines handed on before #held[0] (to report records by line number). */
  #before = 0;
  readonly #onRecord: (record: ForgedRecord & { lines: number }) => void;

  /** `onRecord` gets each record with `first`/`last` as 1-based line numbers of the input. */
  constructor(onRecord: (record: ForgedRecord & { lines: number }) => void) {
    this.#onRecord = onRecord;
  }

  /** Takes the next lines; returns those that are final (possibly none). */
  push(lines: readonly string[]): string[] {
    const held = this.#held.length;
    const all = held ? this.#held.concat(lines) : (lines as string[]);
    for (const r of markForged(all, this.#forged, held)) {
      this.#onRecord({
        ...r,
        lines: r.last - r.first + 1,
        first: this.#before + r.first + 1,
        last: this.#before + r.last + 1,
      });
    }
    // Held from the end: the lines starting within MAX_RECORD characters of the end of what was read.
    let keep = all.length;
    let chars = 0;
    while (keep > 0) {
      const next = chars + all[keep - 1]!.length + 1;
      if (next > MAX_RECORD) break;
      chars = next;
      keep--;
    }
    return this.#handOn(all, keep);
  }

  /** The input ended: every held line is final. */
  end(): string[] {
    return this.#handOn(this.#held, this.#held.length);
  }

  #handOn(all: string[], n: number): string[] {
    const out = all.slice(0, n);
    const forged = this.#forged;
    if (forged.size) {
      const rest = new Set<number>();
      for (const i of forged) {
        if (i < n) out[i] = "";
        else rest.add(i - n);
      }
      this.#forged = rest;
    }
    this.#held = all.slice(n);
    this.#before += n;
    return out;
  }
}

/** What `parse` and `replay` say about a record they left unread (`first`/`last`: 1-based line numbers). */
export function forgedRecordWarning(path: string, r: ForgedRecord & { lines: number }): string {
  return (
    `${path}:${r.first}${r.last > r.first ? `-${r.last}` : ""}: ${r.lines} ${r.lines === 1 ? "line" : "lines"} ` +
    `not read: one nginx error record (for ${r.sender}) whose request path carried encoded line breaks ` +
    "(%0a); lines inside it are forged (see nginx's README in src/parsers/nginx)"
  );
}

/** Batches of lines without forged records ({@link ForgedRecordFilter}); as many lines, in the same order. */
export async function* withoutForgedRecords<B extends { lines: string[] }>(
  batches: AsyncIterable<B> | Iterable<B>,
  onRecord: (record: ForgedRecord & { lines: number }) => void,
): AsyncGenerator<B> {
  const filter = new ForgedRecordFilter(onRecord);
  let last: B | undefined;
  for await (const batch of batches) {
    last = batch;
    yield { ...batch, lines: filter.push(batch.lines) };
  }
  const rest = filter.end();
  if (last && rest.length) yield { ...last, lines: rest };
}
