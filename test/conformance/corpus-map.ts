/**
 * Which Portcullis parser judges which fail2ban sample file, and how fail2ban's filter modes map onto that
 * parser's modes. A file's lines are fed to that one parser only (as fail2ban runs one filter per file);
 * `name` is the filter name used in `constraint`/`test.condition` expressions.
 */
export interface CorpusFile {
  parser: string;
  /** Parser mode for option sets without `mode` (`{}`). */
  defaultMode: string;
  /** fail2ban mode name -> parser mode name, where they differ. */
  modes?: Record<string, string>;
  /** Values of the `logging` option the parser supports (apache's `syslog`). */
  logging?: string[];
  name?: string;
}

export const CORPUS_FILES: Record<string, CorpusFile> = {
  // filled in per parser: see each parser's folder
  dovecot: { parser: "dovecot", defaultMode: "normal" },
  postfix: { parser: "postfix", defaultMode: "more" },
  "sendmail-auth": { parser: "sendmail", defaultMode: "normal" },
  "nginx-http-auth": { parser: "nginx", defaultMode: "auth", modes: { normal: "auth" } },
  "nginx-limit-req": { parser: "nginx", defaultMode: "limit-req" },
  "nginx-botsearch": { parser: "nginx", defaultMode: "botsearch" },
  dropbear: { parser: "dropbear", defaultMode: "normal" },
  "pam-generic": { parser: "pam", defaultMode: "normal" },
  "selinux-ssh": { parser: "selinux", defaultMode: "normal" },
  recidive: { parser: "fail2ban", defaultMode: "normal" },
  "apache-auth": { parser: "apache", defaultMode: "auth", modes: { normal: "auth" }, logging: ["syslog"] },
  "apache-botsearch": { parser: "apache", defaultMode: "botsearch" },
  "apache-modsecurity": { parser: "apache", defaultMode: "modsecurity" },
  "haproxy-http-auth": { parser: "haproxy", defaultMode: "auth", modes: { normal: "auth" } },
  "lighttpd-auth": { parser: "lighttpd", defaultMode: "normal" },
  "traefik-auth": { parser: "traefik", defaultMode: "normal" },
  "courier-auth": { parser: "courier", defaultMode: "normal" },
  sshd: { parser: "sshd", defaultMode: "normal", name: "sshd" },
};
