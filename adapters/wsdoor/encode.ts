// Writing wsdoor messages: what the gateway sends a terminal. A terminal's side is sim/wsdoor/codec.ts.
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
