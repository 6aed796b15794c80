/**
 * KQL syntax errors: a {@link PortcullisError} with code `KQL_SYNTAX` whose message says what was expected and
 * where (1-based column, and line when the query spans several), followed by the query line and a caret:
 *
 * ```
 * Expected a value after "event.dataset:" at column 15
 *   event.dataset:
 *                 ^
 * ```
 */
import { PortcullisError } from "../core/errors.ts";

/** How much of a long query line is shown around the caret. */
const EXCERPT_WIDTH = 72;

export class KqlSyntaxError extends PortcullisError {
  /** 0-based offset into the query (UTF-16 code units). */
  readonly offset: number;
  /** 1-based line and column of {@link offset}. */
  readonly line: number;
  readonly column: number;
  /** The first line of the message, without the excerpt. */
  readonly reason: string;
  constructor(query: string, offset: number, what: string, after = "") {
    const at = Math.max(0, Math.min(offset, query.length));
    const { line, column, lineText, multiline } = locate(query, at);
    const where = multiline ? `at line ${line}, column ${column}` : `at column ${column}`;
    const reason = `${what} ${where}${after}`;
    super("KQL_SYNTAX", `${reason}\n${excerpt(lineText, column)}`, {
      issues: [{ path: multiline ? `line ${line}, column ${column}` : `column ${column}`, message: reason }],
    });
    this.name = "KqlSyntaxError";
    this.offset = at;
    this.line = line;
    this.column = column;
    this.reason = reason;
  }
}

function locate(query: string, offset: number) {
  let line = 1;
  let lineStart = 0;
  for (let i = query.indexOf("\n"); i >= 0 && i < offset; i = query.indexOf("\n", i + 1)) {
    line++;
    lineStart = i + 1;
  }
  let lineEnd = query.indexOf("\n", lineStart);
  if (lineEnd < 0) lineEnd = query.length;
  return {
    line,
    column: offset - lineStart + 1,
    lineText: query.slice(lineStart, lineEnd),
    multiline: query.includes("\n"),
  };
}

/** The line (windowed when long, control characters shown as spaces) and a caret under `column`. */
function excerpt(lineText: string, column: number): string {
  let start = 0;
  let end = lineText.length;
  if (lineText.length > EXCERPT_WIDTH) {
    start = Math.max(0, Math.min(column - 1 - EXCERPT_WIDTH / 2, lineText.length - EXCERPT_WIDTH));
    end = start + EXCERPT_WIDTH;
  }
  const shown = lineText.slice(start, end).replace(/[\u0000-\u001f\u007f]/g, " ");
  const pre = start > 0 ? "..." : "";
  const post = end < lineText.length ? "..." : "";
  return `  ${pre}${shown}${post}\n  ${" ".repeat(pre.length + column - 1 - start)}^`;
}

/** Quotes a piece of the query for a message, shortened when long. */
export function quoteForMessage(text: string): string {
  const t = text.length > 40 ? `${text.slice(0, 37)}...` : text;
  return JSON.stringify(t);
}
