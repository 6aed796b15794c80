/**
 * Splits a byte stream into lines with a hard cap on line length, so a hostile or broken writer cannot make a
 * source hold unbounded memory: a line longer than `maxBytes` keeps its first `maxBytes` bytes (cut back to a
 * UTF-8 character boundary), the rest up to the next delimiter is discarded and counted, and the head is
 * emitted when the delimiter arrives (so the line stays one unit and offsets stay line-aligned).
 *
 * Offsets: every line carries `end`, the number of bytes consumed since the splitter was created up to and
 * including its delimiter; a caller adds its own base offset to get a file position it can checkpoint.
 * A trailing `\r` is removed (CRLF input). Delimiters are `\n` and, optionally, NUL (syslog over TCP).
 */

export interface SplitLine {
  text: string;
  /** Bytes consumed since the splitter was created, through this line's delimiter. */
  end: number;
  /** The line was longer than the cap and was cut. */
  truncated: boolean;
}

export interface SplitterOptions {
  /** Longest line kept, in bytes (the delimiter not counted). */
  maxBytes: number;
  /** Also split at NUL bytes. */
  nul?: boolean;
}

const LF = 0x0a;
const NUL = 0x00;

export class LineSplitter {
  readonly #max: number;
  readonly #nul: boolean;
  /** Held bytes of the line being read (at most #max). */
  #parts: Buffer[] = [];
  #held = 0;
  /** Bytes of the current line beyond the cap (discarded). */
  #over = 0;
  /** Drop everything up to the next delimiter without emitting it (we started in the middle of a line). */
  #skip = false;
  #consumed = 0;
  /** Lines cut at the cap, and bytes discarded, since creation. */
  truncatedLines = 0;
  discardedBytes = 0;

  constructor(opts: SplitterOptions) {
    this.#max = opts.maxBytes;
    this.#nul = opts.nul ?? false;
  }

  /** Bytes held for a line whose delimiter has not arrived yet (capped), plus discarded bytes of it. */
  get pending(): number {
    return this.#held + this.#over;
  }

  /** Bytes consumed so far (complete lines and the pending partial line). */
  get consumed(): number {
    return this.#consumed;
  }

  /** Discards input up to and including the next delimiter (used when starting in the middle of a line). */
  skipToNextLine(): void {
    this.#skip = true;
  }

  push(chunk: Buffer): SplitLine[] {
    const out: SplitLine[] = [];
    let i = 0;
    let nextLf = chunk.indexOf(LF);
    let nextNul = this.#nul ? chunk.indexOf(NUL) : -1;
    while (i < chunk.length) {
      if (nextLf >= 0 && nextLf < i) nextLf = chunk.indexOf(LF, i);
      if (nextNul >= 0 && nextNul < i) nextNul = chunk.indexOf(NUL, i);
      const d = nextLf < 0 ? nextNul : nextNul < 0 ? nextLf : Math.min(nextLf, nextNul);
      if (d < 0) {
        this.#hold(chunk, i, chunk.length);
        this.#consumed += chunk.length - i;
        break;
      }
      this.#consumed += d + 1 - i;
      if (this.#skip) {
        this.#skip = false;
        this.#reset();
      } else if (!this.#held && !this.#over && d - i <= this.#max) {
        out.push({ text: decode(chunk, i, d), end: this.#consumed, truncated: false });
      } else {
        this.#hold(chunk, i, d);
        out.push(this.#take());
      }
      i = d + 1;
    }
    return out;
  }

  /** Emits the held partial line, if any (the input ended without a final delimiter). */
  flush(): SplitLine | undefined {
    if (this.#skip) {
      this.#skip = false;
      this.#reset();
      return undefined;
    }
    if (!this.#held && !this.#over) return undefined;
    return this.#take();
  }

  #hold(chunk: Buffer, from: number, to: number): void {
    if (this.#skip) return;
    const room = this.#max - this.#held;
    const n = to - from;
    if (n <= room) {
      if (n > 0) {
        // Copy: the caller may reuse its read buffer.
        this.#parts.push(Buffer.from(chunk.subarray(from, to)));
        this.#held += n;
      }
      return;
    }
    if (room > 0) {
      this.#parts.push(Buffer.from(chunk.subarray(from, from + room)));
      this.#held += room;
    }
    this.#over += n - Math.max(0, room);
    this.#parts = [Buffer.concat(this.#parts)];
  }

  #take(): SplitLine {
    let buf = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts);
    const truncated = this.#over > 0;
    if (truncated) {
      // Cut back to a character boundary: drop continuation bytes of a character split by the cap.
      const cut = charBoundary(buf);
      this.discardedBytes += this.#over + (buf.length - cut);
      buf = buf.subarray(0, cut);
      this.truncatedLines++;
    }
    const line: SplitLine = { text: decode(buf, 0, buf.length), end: this.#consumed, truncated };
    this.#reset();
    return line;
  }

  #reset(): void {
    this.#parts = [];
    this.#held = 0;
    this.#over = 0;
  }
}

/** Length of `buf` without a trailing, incomplete UTF-8 character. */
export function charBoundary(buf: Buffer): number {
  let lead = buf.length - 1;
  while (lead >= 0 && buf.length - lead <= 4 && (buf[lead]! & 0xc0) === 0x80) lead--;
  if (lead < 0 || buf[lead]! < 0xc0) return buf.length; // ASCII last, or no lead byte in reach
  const b = buf[lead]!;
  const size = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
  return buf.length - lead >= size ? buf.length : lead;
}

function decode(buf: Buffer, from: number, to: number): string {
  if (to > from && buf[to - 1] === 0x0d) to--;
  return buf.toString("utf8", from, to);
}
