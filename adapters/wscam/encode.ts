// Writing wscam messages: what the gateway sends a camera. A camera's side is sim/wscam/codec.ts.
import type { JsonObject } from '../../src/adapter.js';
import { ENVELOPE_KEYS, RSP_SUFFIX } from './constants.js';
import { omit } from './decode.js';

/** `{operate}_rsp` echoing the request's request_id and sn. */
export function encodeAnswer(operate: string, requestId: unknown, sn: unknown, ret: number, msg = ''): JsonObject {
  const answer: JsonObject = { operate: `${operate}${RSP_SUFFIX}` };
  if (requestId !== undefined) answer.request_id = requestId;
  answer.sn = sn;
  answer.ret = ret;
  answer.msg = msg;
  return answer;
}

/** A command: the envelope, then the command's parameters beside it (never over it). */
export function encodeCommand(name: string, requestId: string, sn: string, timestampS: number, data: JsonObject): JsonObject {
  return { operate: name, request_id: requestId, timestamp: timestampS, sn, ...omit(data, ENVELOPE_KEYS) };
}
