/**
 * Annotated checks where Portcullis deliberately disagrees with fail2ban's expectation, each with its reason.
 * An exception that starts passing makes the conformance test fail, so this list cannot go stale.
 */
export interface CorpusException {
  file: string;
  /** 1-based line number of the log line (not of its annotation). */
  line: number;
  /** The option set label as printed by the harness (omit: every option set). */
  options?: string;
  reason: string;
}

export const EXCEPTIONS: CorpusException[] = [];
