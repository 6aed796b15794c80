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

const TAI64N_OFFSET =
  "TAI64N label: multilog writes 2^62 + 10 + Unix seconds (libtai's fixed TAI-UTC offset, which tai64nlocal subtracts and the framer follows); fail2ban removes only 2^62, so its expected time is 10 s late";

export const EXCEPTIONS: CorpusException[] = [
  { file: "dovecot", line: 2, reason: TAI64N_OFFSET },
  { file: "dovecot", line: 5, reason: TAI64N_OFFSET },
  { file: "dovecot", line: 8, reason: TAI64N_OFFSET },
  { file: "dovecot", line: 10, reason: TAI64N_OFFSET },
];
