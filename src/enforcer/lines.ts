/**
 * Newline framing with a size limit, for both ends of the enforcer socket. A line longer than `max` bytes is
 * an overflow: the caller answers once and closes the connection (there is no way to find the next message
 * boundary it can trust). Bytes are kept as received chunks, so a large line costs one copy, not one per chunk.
 */
export class LineSplitter {
  readonly #max: number;
  #chunks: Buffer[] = [];
  #size = 0;
  overflow = false;

  constructor(max: number) {
    this.#max = max;
  }

  /** Bytes received after the last complete line. */
  get pending(): number {
    return this.#size;
  }

  /** The complete lines in `data` (without their newline); sets {@link overflow} past the limit. */
  push(data: Buffer): Buffer[] {
    const out: Buffer[] = [];
    if (this.overflow) return out;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(10, start);
      if (nl < 0) break;
      const part = data.subarray(start, nl);
      const size = this.#size + part.length;
      if (size > this.#max) {
        this.overflow = true;
        return out;
      }
      out.push(this.#chunks.length ? Buffer.concat([...this.#chunks, part], size) : part);
      this.#chunks = [];
      this.#size = 0;
      start = nl + 1;
    }
    if (start < data.length) {
      const rest = data.subarray(start);
      this.#size += rest.length;
      if (this.#size > this.#max) {
        this.overflow = true;
        this.#chunks = [];
        return out;
      }
      this.#chunks.push(rest);
    }
    return out;
  }
}
