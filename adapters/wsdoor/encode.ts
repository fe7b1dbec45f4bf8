// Writing wsdoor messages: what the gateway sends a terminal, and (simulator) what a terminal sends.
import type { JsonObject } from '../../src/adapter.js';
import { Code, RESPONSE } from './constants.js';

/** The answer to an upload: `{"command":"response","content":{"code":"200","data":""}}`. */
export function encodeResponse(code: string, data = ''): JsonObject {
  return { command: RESPONSE, content: { code, data } };
}

/** The answer to a register, telling the heartbeat interval in seconds (a string, as the seed). */
export function encodeRegisterAnswer(intervalS: number): JsonObject {
  return { command: RESPONSE, content: { code: Code.ok, interval: String(intervalS), data: '' } };
}

export function encodeCommand(commandId: string, name: string, content: JsonObject): JsonObject {
  return { commandId, command: name, content };
}

// Terminal side (simulator).

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
