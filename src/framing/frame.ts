/**
 * A Frame is one log record with its envelope taken apart: when, which host, which program and pid, and the
 * message itself. Parsers only ever look at frames, so one sshd parser serves classic syslog files, RFC 5424,
 * ISO timestamps, journalctl output in every format, TAI64N, and Filebeat/ECS JSON documents.
 */
export type FrameFormat =
  | "syslog" // Mmm dd HH:MM:SS host prog[pid]: msg
  | "iso" // 2005-08-14T10:00:00.123+02:00 host prog[pid]: msg (rsyslog high precision, journalctl short-iso)
  | "rfc5424" // <PRI>1 TIMESTAMP HOST APP PROCID MSGID SD MSG
  | "journal" // host prog[pid]: msg (no timestamp: journal-style lines)
  | "journal-json" // journalctl -o json
  | "journal-export" // journalctl -o export (multi-line records)
  | "tai64n" // @4000000050f5c8a81a2bd5f4 prog: msg
  | "ecs" // a Filebeat / Elastic Agent / Winlogbeat JSON document
  | "plain"; // anything else: the whole line is the message (nginx/apache logs, audit.log, ...)

/** The largest count a frame stands for (`message repeated N times`, a parser's own `N more`): a forged 1e23 is not. */
export const MAX_REPEAT = 1_000_000;

export interface Frame {
  format: FrameFormat;
  /** Epoch ms of the record, or undefined when the line carries no time. */
  time: number | undefined;
  host: string | undefined;
  /** syslog identifier (`sshd`, `postfix/smtpd`, `sshd-session`). */
  program: string | undefined;
  pid: number | undefined;
  /** The message after the envelope; for `message repeated N times: [ X ]`, the inner X. */
  message: string;
  /** How many identical records this frame stands for (rsyslog's repeated-message reduction); 1 normally. */
  repeat: number;
  /** The parsed document for `ecs` and `journal-json` frames. */
  doc?: Record<string, unknown>;
  /**
   * Lines of the input before the one that completed this frame that belong to it (a `journalctl -o export`
   * record: its fields before the blank line ending it); absent: 0. The frame's first line is the current one
   * minus this.
   */
  span?: number;
}
