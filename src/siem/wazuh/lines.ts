/**
 * Reads newline-terminated lines from a stream one at a time, with a timeout per read and a bound on the
 * line length (a peer that never sends a newline cannot make us buffer without end). Made for the
 * active-response exchange: a few lines, each awaited in turn.
 */
import { StringDecoder } from "node:string_decoder";

export type ReadResult =
  | { kind: "line"; line: string }
  | { kind: "eof" }
  | { kind: "timeout" }
  | { kind: "too_long" };

export class LineReader {
  readonly #stream: NodeJS.ReadableStream;
  readonly #max: number;
  readonly #decoder = new StringDecoder("utf8");
  #buf = "";
  #ended = false;
  #tooLong = false;
  #wake: (() => void) | undefined;
  readonly #onData = (chunk: Buffer | string) => {
    this.#buf += typeof chunk === "string" ? chunk : this.#decoder.write(chunk);
    if (this.#buf.indexOf("\n") < 0 && this.#buf.length > this.#max) {
      this.#tooLong = true;
      this.#buf = "";
      this.#stream.pause();
    }
    this.#wake?.();
  };
  readonly #onEnd = () => {
    this.#ended = true;
    this.#wake?.();
  };

  constructor(stream: NodeJS.ReadableStream, maxLineLength = 1 << 20) {
    this.#stream = stream;
    this.#max = maxLineLength;
    stream.on("data", this.#onData);
    stream.on("end", this.#onEnd);
    stream.on("close", this.#onEnd);
    stream.on("error", this.#onEnd);
  }

  /** The next line (without `\n` or `\r\n`); a last line without a newline counts at end of input. */
  async read(timeoutMs: number): Promise<ReadResult> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      if (this.#tooLong) return { kind: "too_long" };
      const nl = this.#buf.indexOf("\n");
      if (nl >= 0) {
        let line = this.#buf.slice(0, nl);
        this.#buf = this.#buf.slice(nl + 1);
        if (line.endsWith("\r")) line = line.slice(0, -1);
        return { kind: "line", line };
      }
      if (this.#ended) {
        if (this.#buf.length) {
          const line = this.#buf;
          this.#buf = "";
          return { kind: "line", line };
        }
        return { kind: "eof" };
      }
      const left = deadline - performance.now();
      if (left <= 0) return { kind: "timeout" };
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
      this.#wake = undefined;
    }
  }

  /** Stops listening; the stream is paused (the caller owns it). */
  close(): void {
    this.#stream.removeListener("data", this.#onData);
    this.#stream.removeListener("end", this.#onEnd);
    this.#stream.removeListener("close", this.#onEnd);
    this.#stream.removeListener("error", this.#onEnd);
    this.#stream.pause();
  }
}
