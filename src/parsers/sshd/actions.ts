/**
 * The sshd parser's event vocabulary and its modes (fail2ban's `sshd` filter modes). README.md in this folder
 * documents each action with the lines that produce it.
 */

export const A = {
  // normal: authentication failures
  authFailed: "ssh_auth_failed",
  invalidUser: "ssh_invalid_user",
  maxAuthAttempts: "ssh_max_auth_attempts",
  userNotAllowed: "ssh_user_not_allowed",
  rootRefused: "ssh_root_login_refused",
  pamFailure: "ssh_pam_auth_failure",
  tooManyFailures: "ssh_too_many_auth_failures",
  authFailDisconnect: "ssh_disconnect_auth_fail",
  userChange: "ssh_user_change_refused",
  refusedConnect: "ssh_refused_connect",
  multipleUsers: "ssh_multiple_users",
  // ddos: pre-authentication connection abuse
  noIdentification: "ssh_no_identification",
  badBanner: "ssh_bad_banner",
  preauthDisconnect: "ssh_preauth_disconnect",
  preauthTimeout: "ssh_preauth_timeout",
  protocolError: "ssh_protocol_error",
  // extra: negotiation failures
  negotiationFailed: "ssh_negotiation_failed",
  noAuthMethods: "ssh_no_auth_methods",
  authAbandoned: "ssh_auth_abandoned",
  // aggressive only (OpenSSH 9.8+ listener lines, in no fail2ban mode)
  penalty: "ssh_penalty",
  sessionCrash: "ssh_session_crash",
  // not failures
  login: "ssh_login",
  publickeyRejected: "ssh_publickey_rejected",
  pamModuleFailure: "ssh_pam_module_failure",
} as const;

export type Action = (typeof A)[keyof typeof A];

const NORMAL: readonly Action[] = [
  A.authFailed,
  A.invalidUser,
  A.maxAuthAttempts,
  A.userNotAllowed,
  A.rootRefused,
  A.pamFailure,
  A.tooManyFailures,
  A.authFailDisconnect,
  A.userChange,
  A.refusedConnect,
  A.multipleUsers,
];
const DDOS: readonly Action[] = [
  A.noIdentification,
  A.badBanner,
  A.preauthDisconnect,
  A.preauthTimeout,
  A.protocolError,
  A.authAbandoned,
];
const EXTRA: readonly Action[] = [A.negotiationFailed, A.noAuthMethods, A.authAbandoned];
/**
 * The listener's verdicts (OpenSSH 9.8+): fail2ban's sshd filter has no such lines, so only `aggressive` (and
 * `all`) reports them; the other modes keep fail2ban's results.
 */
const LISTENER: readonly Action[] = [A.penalty, A.sessionCrash];

export const FAILURES: readonly Action[] = [...new Set([...NORMAL, ...DDOS, ...EXTRA, ...LISTENER])];

/** As in fail2ban, every mode includes the authentication failures of `normal`. */
export const MODES: Readonly<Record<string, readonly Action[]>> = {
  normal: NORMAL,
  ddos: [...NORMAL, ...DDOS],
  extra: [...NORMAL, ...EXTRA],
  aggressive: FAILURES,
};

export const ACTIONS: readonly Action[] = [...FAILURES, A.login, A.publickeyRejected, A.pamModuleFailure];

const NETWORK = new Set<string>([
  A.refusedConnect,
  A.noIdentification,
  A.badBanner,
  A.preauthDisconnect,
  A.preauthTimeout,
  A.protocolError,
  A.negotiationFailed,
  A.penalty,
]);

/** ECS `event.category` of an action. */
export function categoryOf(action: string): string {
  // A session process crashed for a peer: sshd detecting a likely exploit attempt (it penalises the source).
  if (action === A.sessionCrash) return "intrusion_detection";
  return NETWORK.has(action) ? "network" : "authentication";
}
