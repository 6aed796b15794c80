/**
 * Wazuh active-response messages, as `wazuh-execd` writes them on an AR program's stdin (one JSON line):
 * - 4.2-4.x: `{version: 1, origin: {name, module}, command: "add"|"delete", parameters: {extra_args, alert,
 *   program}}`; the attacker is `parameters.alert.data.srcip`;
 * - 5.x: `{wazuh: {active_response: {...}, agent}, source: {ip}, user: {name}, command: "enable"|"disable"}`;
 *   the attacker is `source.ip`.
 * Also a bare Wazuh alert (what an integration posts to a webhook): `data.srcip`.
 * `add`/`enable` ask for a ban, `delete`/`disable` (sent when a stateful response's timeout expires) for
 * its removal.
 */
import { isObject, lookup } from "../values.ts";

export type ArAction = "ban" | "unban";

export type ArMessage =
  | { generation: 4; action: ArAction; command: string; alert: Record<string, unknown> }
  | { generation: 5; action: ArAction; command: string; message: Record<string, unknown> }
  | { generation: "alert"; action: "ban"; alert: Record<string, unknown> };

const COMMANDS: Record<string, ArAction> = { add: "ban", delete: "unban", enable: "ban", disable: "unban" };

/** Recognises the message's generation and command, or says what is wrong with it. */
export function readArMessage(body: unknown): ArMessage | { error: string } {
  if (!isObject(body)) return { error: "expected a JSON object" };
  const command = body.command;
  if (isObject(lookup(body, "wazuh.active_response"))) {
    if (typeof command !== "string" || (command !== "enable" && command !== "disable")) {
      return { error: `Wazuh 5.x message: expected command "enable" or "disable"` };
    }
    return { generation: 5, action: COMMANDS[command]!, command, message: body };
  }
  if (command !== undefined || body.parameters !== undefined || body.version !== undefined) {
    // Wazuh's own helpers refuse a message lacking any of these
    if (typeof body.version !== "number") return { error: "Wazuh 4.x message: version must be a number" };
    if (!isObject(body.origin)) return { error: "Wazuh 4.x message: origin must be an object" };
    if (typeof command !== "string") return { error: "Wazuh 4.x message: command must be a string" };
    if (!isObject(body.parameters)) return { error: "Wazuh 4.x message: parameters must be an object" };
    if (command !== "add" && command !== "delete") {
      return { error: `Wazuh 4.x message: unknown command (expected "add" or "delete")` };
    }
    const alert = body.parameters.alert;
    if (!isObject(alert)) return { error: "Wazuh 4.x message: parameters.alert must be an object" };
    return { generation: 4, action: COMMANDS[command]!, command, alert };
  }
  if (isObject(body.rule)) return { generation: "alert", action: "ban", alert: body };
  return { error: "not a Wazuh active-response message (4.x or 5.x) nor a Wazuh alert" };
}
