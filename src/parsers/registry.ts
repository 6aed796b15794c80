/**
 * Every parser, in one explicit, sorted list. Nothing registers itself on import; `registry.test.ts` fails
 * when a parser folder is missing from here. Order matters only for probes (first match wins): it is the
 * order of this list.
 */
import { PortcullisError } from "../core/errors.ts";
import { apache } from "./apache/parser.ts";
import { courier } from "./courier/parser.ts";
import { dovecot } from "./dovecot/parser.ts";
import { dropbear } from "./dropbear/parser.ts";
import { ecs } from "./ecs/parser.ts";
import { fail2ban } from "./fail2ban/parser.ts";
import { haproxy } from "./haproxy/parser.ts";
import { lighttpd } from "./lighttpd/parser.ts";
import { nginx } from "./nginx/parser.ts";
import { pam } from "./pam/parser.ts";
import { postfix } from "./postfix/parser.ts";
import { selinux } from "./selinux/parser.ts";
import { sendmail } from "./sendmail/parser.ts";
import { sshd } from "./sshd/parser.ts";
import { sudo } from "./sudo/parser.ts";
import { traefik } from "./traefik/parser.ts";
import { winlogbeat } from "./winlogbeat/parser.ts";
import type { ParserDefinition } from "./types.ts";

export const PARSERS: readonly ParserDefinition[] = [
  apache,
  courier,
  dovecot,
  dropbear,
  ecs,
  fail2ban,
  haproxy,
  lighttpd,
  nginx,
  pam,
  postfix,
  selinux,
  sendmail,
  sshd,
  sudo,
  traefik,
  winlogbeat,
];

export function parserById(id: string): ParserDefinition {
  const p = PARSERS.find((d) => d.id === id);
  if (!p) {
    throw new PortcullisError(
      "UNKNOWN_PLUGIN",
      `unknown parser "${id}" (known: ${PARSERS.map((d) => d.id).join(", ")})`,
    );
  }
  return p;
}
