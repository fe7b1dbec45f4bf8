// The terminal's side of wsdoor (seed 003): what a terminal sends the gateway, and how it reads what
// the gateway sends. The gateway's side is adapters/wsdoor/encode.ts and decode.ts. Pure functions.
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import { Code, RESPONSE } from '../../adapters/wsdoor/constants.js';
import { normalizeCode, normalizeId } from '../../adapters/wsdoor/decode.js';

export interface RegisterData {
  ip: string;
  mac: string;
  sn: string;
  /** 0 entrance and exit, 1 exit, 2 entrance. */
  type: string;
}

export function encodeRegister(data: RegisterData): JsonObject {
  return { code: Code.register, data: { ...data } };
}

export function encodeHeartbeat(time: string): JsonObject {
  return { code: Code.heartbeat, data: { time } };
}

export interface RealtimeEventData {
  eventid: string;
  /** 1 a passage, 2 a user added at the terminal. */
  type: string;
  data: JsonObject;
}

export function encodeRealtimeEvent(event: RealtimeEventData): JsonObject {
  return { code: Code.realtimeEvent, data: { eventid: event.eventid, type: event.type, data: event.data } };
}

/** A terminal's answer to a command: `data` for plain results, `content` for query results. */
export function encodeReply(commandId: string, code: string, body: { data?: unknown; content?: unknown }): JsonObject {
  const reply: JsonObject = { code };
  if ('content' in body) reply.content = body.content;
  else reply.data = body.data ?? '';
  reply.commandId = commandId;
  return reply;
}

export type GatewayMessage =
  | { kind: 'response'; code: string; interval: string | undefined; data: unknown }
  | { kind: 'command'; commandId: string; name: string; content: unknown }
  | { kind: 'unknown'; message: JsonObject };

export function decodeGatewayMessage(message: JsonObject): GatewayMessage {
  const command = message.command;
  if (command === RESPONSE && isObject(message.content)) {
    const { code, interval, data } = message.content;
    const normalized = normalizeCode(code);
    if (normalized !== undefined) {
      return { kind: 'response', code: normalized, interval: typeof interval === 'string' ? interval : undefined, data };
    }
  }
  const commandId = normalizeId(message.commandId);
  if (typeof command === 'string' && command !== RESPONSE && commandId !== undefined) {
    return { kind: 'command', commandId, name: command, content: message.content };
  }
  return { kind: 'unknown', message };
}
