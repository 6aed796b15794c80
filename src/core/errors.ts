/**
 * Typed errors with stable codes. Every error a user can see carries a code (for scripts and API bodies),
 * a message that says what was wrong and where, and optionally the underlying cause.
 */
export type ErrorCode =
  | "CONFIG_INVALID"
  | "RULE_INVALID"
  | "KQL_SYNTAX"
  | "INPUT_UNREADABLE"
  | "USAGE"
  | "UNKNOWN_PLUGIN"
  | "PLUGIN_NOT_ENABLED"
  | "INVALID_IP"
  /** Something the command needs is taken or missing on this host (the API's port in use). */
  | "UNAVAILABLE"
  | "INTERNAL";

export interface Issue {
  /** Where: a file:line, a config path such as `rules[2].threshold`, or both. */
  path: string;
  message: string;
}

export class PortcullisError extends Error {
  readonly code: ErrorCode;
  readonly issues: readonly Issue[];
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; issues?: Issue[] }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "PortcullisError";
    this.code = code;
    this.issues = options?.issues ?? [];
  }

  /** The message followed by one line per issue, as printed by the CLI. */
  describe(): string {
    if (!this.issues.length) return this.message;
    return [this.message, ...this.issues.map((i) => `  ${i.path}: ${i.message}`)].join("\n");
  }
}

export function isPortcullisError(e: unknown): e is PortcullisError {
  return e instanceof PortcullisError;
}
