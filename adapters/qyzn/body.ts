// The JSON inside a frame, decoded apart from the framing: a REQUEST whose body is broken is still a
// well-framed REQUEST and gets result 104 on its own seq. Parsing refuses __proto__/constructor keys.
import type { JsonObject } from '../../src/adapter.js';
import { ProtocolError } from '../../src/errors.js';
import { isObject, parseJsonObject, trimKeys } from '../../src/json.js';

/** A REQUEST or NOTIFICATION body: `{"message": "...", "data": {...}}`. */
export interface MessageBody {
  message: string;
  data: JsonObject;
  /** The body as parsed, keys untouched (for `output.includeRaw`). */
  raw: JsonObject;
}

/** A RESPONSE body: `{"result": 0, "desc": "...", "data": ...}` plus whatever else the device adds
 *  (`RspMsg` in config_system answers, `message` in the intercom answers). */
export interface ResponseBody {
  result: number;
  desc: string | undefined;
  data: unknown;
  extra: JsonObject;
}

/** Parses a body as a JSON object; throws ProtocolError `bad_json` or `unsafe_key`. */
export function parseBody(body: Buffer): JsonObject {
  // The frame length already bounds the body; the parser's own bound is not the one that matters.
  return parseJsonObject(body, body.length);
}

export function decodeMessage(body: Buffer): MessageBody {
  const raw = parseBody(body);
  const top = trimKeys(raw);
  const { message, data } = top;
  if (typeof message !== 'string' || message.trim() === '') {
    throw new ProtocolError('bad_message', 'body has no "message" name');
  }
  if (data !== undefined && data !== null && !isObject(data)) {
    throw new ProtocolError('bad_message', `"data" of ${message.trim()} is not an object`);
  }
  return { message: message.trim(), data: isObject(data) ? data : {}, raw };
}

export function decodeResponse(body: Buffer): ResponseBody {
  const { result, desc, data, ...extra } = trimKeys(parseBody(body));
  const code = toResult(result);
  if (code === undefined) throw new ProtocolError('bad_message', 'response has no numeric "result"');
  return { result: code, desc: typeof desc === 'string' ? desc : undefined, data, extra };
}

/** The seed writes `"result": ""` in its format line and numbers in its examples: take both. */
function toResult(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return Number.parseInt(value, 10);
  return undefined;
}
