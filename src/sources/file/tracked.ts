/**
 * One open file being read: its identity, the read position, the position after the last line handed over
 * (what a checkpoint saves), and the splitter holding a partial last line.
 */
import type { FileHandle } from "node:fs/promises";
import { LineSplitter, type SplitLine } from "../splitter.ts";
import type { FileId, FilePos } from "./identity.ts";
import { readHead } from "./identity.ts";

export class TrackedFile {
  readonly fh: FileHandle;
  /** Where the file was opened (the live path, or the rotated name found after a restart). */
  readonly path: string;
  readonly id: FileId;
  readonly #maxLine: number;
  /** Offset the splitter started at. */
  #base = 0;
  /** `#base` is inside a line whose rest is skipped (see {@link seek}). */
  #midLine = false;
  splitter!: LineSplitter;
  /** Next byte to read. */
  readPos = 0;
  /** Offset after the last line handed over. */
  pushedPos = 0;
  /**
   * Complete lines read but held back until more is read (a full chunk ended within what may be one nginx
   * error record: see parsers/nginx/records.ts); not handed over, so not in {@link pushedPos}.
   */
  held: SplitLine[] = [];
  /** Number of the next line (1-based), when known. */
  line: number | undefined;
  fingerprint: string | undefined;
  /** Last size seen by stat. */
  size = 0;
  /** Clock time of the last data read (or of the rotation), for rotate_wait. */
  lastDataAt = 0;
  /** Splitter discard counter already added to the source's stats. */
  discardedSeen = 0;

  constructor(fh: FileHandle, path: string, id: FileId, maxLine: number) {
    this.fh = fh;
    this.path = path;
    this.id = id;
    this.#maxLine = maxLine;
    this.seek(0, 1);
  }

  /** Positions the reader at `offset` (a line start), with the number of the line there if known. */
  seek(offset: number, line: number | undefined, midLine = false): void {
    this.#base = offset;
    this.readPos = offset;
    this.pushedPos = offset;
    this.line = line;
    this.#midLine = midLine;
    this.splitter = new LineSplitter({ maxBytes: this.#maxLine });
    this.held = [];
    this.discardedSeen = 0;
    if (midLine) this.splitter.skipToNextLine();
  }

  /** Feeds bytes read at `readPos`; returns the complete lines. */
  feed(chunk: Buffer): SplitLine[] {
    this.readPos += chunk.length;
    return this.splitter.push(chunk);
  }

  /** File offset after a line returned by {@link feed}. */
  offsetAfter(line: SplitLine): number {
    return this.#base + line.end;
  }

  async refreshFingerprint(): Promise<string | undefined> {
    const head = await readHead(this.fh);
    return head.fingerprint;
  }

  pos(): FilePos {
    const p: FilePos = {
      path: this.path,
      dev: this.id.dev,
      ino: this.id.ino,
      offset: this.pushedPos,
      size: Math.max(this.size, this.readPos),
    };
    if (this.fingerprint !== undefined) p.fingerprint = this.fingerprint;
    if (this.line !== undefined) p.line = this.line;
    // Until a line is handed over, the position is still the one inside a line: say so, or a restart would
    // resume there and hand over the rest of that line as a line (a forged record, if it holds one).
    if (this.#midLine && this.pushedPos === this.#base) p.mid = true;
    return p;
  }
}
