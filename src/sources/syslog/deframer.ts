/**
 * Syslog over TCP, RFC 6587: a connection either uses octet counting (`LEN SP MSG`, what rsyslog's
 * `TCP_Framing="octet-counted"` and syslog-ng's `syslog()` driver send) or non-transparent framing (messages
 * ended by LF, or by NUL as some senders do; CRLF tolerated). The framing is detected once per connection
 * from its first bytes: digits followed by a space mean octet counting; anything else (a message begins with
 * `<PRI>`) means delimited.
 *
 * A message longer than the cap keeps its head; the rest is discarded and counted. In octet-counting mode a
 * malformed length is a protocol error: `push` returns the messages before it and sets `error`, and the
 * connection should be closed (resynchronising would mean guessing).
 */
import { charBoundary, LineSplitter } from "../splitter.ts";

export type Framing = "octet-counting" | "delimited";

export class FramingError extends Error {}

/** Longest length prefix accepted (9 digits: under 1 GB, far above any cap). */
const MAX_LEN_DIGITS = 9;

export class TcpDeframer {
  framing: Framing | undefined;
  /** Messages cut to the cap. */
  truncated = 0;
  /** Set on a protocol error; nothing more is read. */
  error: FramingError | undefined;
  readonly #max: number;
  #probe: Buffer = Buffer.alloc(0);
  #splitter: LineSplitter | undefined;
  // Octet-counting state.
  #len = "";
  /** Length of the frame being read, and bytes of it still to come. */
  #frameLen = 0;
  #remaining = 0;
  #inMessage = false;
  #parts: Buffer[] = [];
  #kept = 0;

  constructor(maxBytes: number) {
    this.#max = maxBytes;
  }

  push(chunk: Buffer): string[] {
    if (this.error) return [];
    if (!this.framing) {
      this.#probe = this.#probe.length ? Buffer.concat([this.#probe, chunk]) : chunk;
      const f = detect(this.#probe);
      if (!f) return [];
      this.framing = f;
      chunk = this.#probe;
      this.#probe = Buffer.alloc(0);
      if (f === "delimited") this.#splitter = new LineSplitter({ maxBytes: this.#max, nul: true });
    }
    return this.framing === "delimited" ? this.#delimited(chunk) : this.#octets(chunk);
  }

  /**
   * The connection ended: returns a last delimited message that had no delimiter. An unfinished
   * octet-counted frame is an error (the sender was cut off).
   */
  end(): string | undefined {
    if (this.error) return undefined;
    if (!this.framing) {
      if (!this.#probe.length) return undefined;
      this.framing = "delimited";
      this.#splitter = new LineSplitter({ maxBytes: this.#max, nul: true });
      this.#splitter.push(this.#probe);
    }
    if (this.framing === "delimited") {
      const last = this.#splitter!.flush();
      if (last?.truncated) this.truncated++;
      return last?.text ? last.text : undefined;
    }
    if (this.#inMessage || this.#len)
      this.error = new FramingError("connection closed inside an octet-counted frame");
    return undefined;
  }

  #delimited(chunk: Buffer): string[] {
    const out: string[] = [];
    for (const l of this.#splitter!.push(chunk)) {
      if (l.truncated) this.truncated++;
      if (l.text) out.push(l.text);
    }
    return out;
  }

  #octets(chunk: Buffer): string[] {
    const out: string[] = [];
    try {
      this.#octetsInto(chunk, out);
    } catch (e) {
      if (!(e instanceof FramingError)) throw e;
      this.error = e;
    }
    return out;
  }

  #octetsInto(chunk: Buffer, out: string[]): void {
    let i = 0;
    while (i < chunk.length) {
      if (!this.#inMessage) {
        const c = chunk[i]!;
        if (c >= 0x30 && c <= 0x39) {
          if (!this.#len && c === 0x30) throw new FramingError("octet count starts with 0");
          this.#len += String.fromCharCode(c);
          if (this.#len.length > MAX_LEN_DIGITS) throw new FramingError("octet count too long");
        } else if (c === 0x20 && this.#len) {
          this.#frameLen = Number(this.#len);
          this.#remaining = this.#frameLen;
          this.#len = "";
          this.#inMessage = true;
        } else if ((c === 0x0a || c === 0x0d) && !this.#len) {
          // Some senders end octet-counted frames with a newline as well: tolerated between frames.
        } else {
          throw new FramingError(`invalid octet-counting frame header (byte 0x${c.toString(16)})`);
        }
        i++;
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - i);
      const keep = Math.min(take, this.#max - this.#kept);
      if (keep > 0) {
        this.#parts.push(Buffer.from(chunk.subarray(i, i + keep)));
        this.#kept += keep;
      }
      this.#remaining -= take;
      i += take;
      if (this.#remaining === 0) {
        const msg = this.#message();
        if (msg) out.push(msg);
      }
    }
  }

  #message(): string {
    let buf = Buffer.concat(this.#parts);
    if (this.#kept < this.#frameLen) {
      this.truncated++;
      buf = buf.subarray(0, charBoundary(buf));
    }
    let end = buf.length;
    while (end > 0 && (buf[end - 1] === 0x0a || buf[end - 1] === 0x0d || buf[end - 1] === 0x00)) end--;
    this.#parts = [];
    this.#kept = 0;
    this.#inMessage = false;
    this.#frameLen = 0;
    return buf.toString("utf8", 0, end);
  }
}

/** Octet counting if the connection starts with `[1-9][0-9]* `; undefined while undecided. */
export function detect(head: Buffer): Framing | undefined {
  if (!head.length) return undefined;
  const c0 = head[0]!;
  if (c0 < 0x31 || c0 > 0x39) return "delimited";
  for (let i = 1; i < head.length && i <= MAX_LEN_DIGITS; i++) {
    const c = head[i]!;
    if (c === 0x20) return "octet-counting";
    if (c < 0x30 || c > 0x39) return "delimited";
  }
  return head.length > MAX_LEN_DIGITS ? "delimited" : undefined;
}
