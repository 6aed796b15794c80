/**
 * Reads log files as batches of lines, fast: large chunks, one UTF-8 decoder, `split` per chunk. Handles
 * gzip (detected by its magic bytes, so rotated `auth.log.2.gz` works whatever its name), `-` for stdin, CRLF
 * endings, and a last line without a newline. Errors name the file.
 */
import { createReadStream } from "node:fs";
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import { createGunzip } from "node:zlib";
import { PortcullisError } from "../core/errors.ts";

export interface LineBatch {
  lines: string[];
  /** Bytes of input consumed so far (compressed bytes for .gz), for progress bars. */
  bytesRead: number;
}

const CHUNK = 1 << 20;

async function isGzip(path: string): Promise<boolean> {
  const fh = await open(path, "r");
  try {
    const buf = Buffer.alloc(2);
    const { bytesRead } = await fh.read(buf, 0, 2, 0);
    return bytesRead === 2 && buf[0] === 0x1f && buf[1] === 0x8b;
  } finally {
    await fh.close();
  }
}

/** Opens `path` (or stdin for `-`) as a stream of decompressed bytes. */
export async function openInput(
  path: string,
  stdin: Readable = process.stdin,
): Promise<{ stream: Readable; raw: Readable }> {
  if (path === "-") return { stream: stdin, raw: stdin };
  let gz: boolean;
  try {
    gz = await isGzip(path);
  } catch (e) {
    throw unreadable(path, e);
  }
  const raw = createReadStream(path, { highWaterMark: CHUNK });
  return { stream: gz ? raw.pipe(createGunzip({ chunkSize: CHUNK })) : raw, raw };
}

function unreadable(path: string, e: unknown): PortcullisError {
  const code = (e as NodeJS.ErrnoException).code;
  const why =
    code === "ENOENT"
      ? "no such file"
      : code === "EACCES"
        ? "permission denied"
        : code === "EISDIR"
          ? "is a directory"
          : (e as Error).message;
  return new PortcullisError("INPUT_UNREADABLE", `cannot read ${path}: ${why}`, { cause: e });
}

/** Yields batches of lines from `path`. */
export async function* readLines(path: string, stdin?: Readable): AsyncGenerator<LineBatch> {
  const { stream, raw } = await openInput(path, stdin);
  const decoder = new StringDecoder("utf8");
  let carry = "";
  let bytesRead = 0;
  raw.on("data", (b: Buffer) => {
    bytesRead += b.length;
  });
  try {
    for await (const chunk of stream) {
      const text = carry + decoder.write(chunk as Buffer);
      const lines = text.split("\n");
      carry = lines.pop()!;
      for (let i = 0; i < lines.length; i++) {
        const l = lines[i]!;
        if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
      }
      yield { lines, bytesRead };
    }
  } catch (e) {
    if (e instanceof PortcullisError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "Z_DATA_ERROR" || code === "Z_BUF_ERROR") {
      throw new PortcullisError("INPUT_UNREADABLE", `cannot read ${path}: corrupt or truncated gzip data`, {
        cause: e,
      });
    }
    throw unreadable(path, e);
  }
  const rest = carry + decoder.end();
  if (rest.length) yield { lines: [rest.endsWith("\r") ? rest.slice(0, -1) : rest], bytesRead };
}
