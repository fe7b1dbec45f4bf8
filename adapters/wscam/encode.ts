// Writing wscam messages: what the gateway sends a camera, and (simulator) what a camera sends.
import type { JsonObject } from '../../src/adapter.js';
import { ENVELOPE_KEYS, Operate, RSP_SUFFIX } from './constants.js';
import { omit, type RequestId } from './decode.js';

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

// Camera side (simulator).

export interface CamEnvelope {
  requestId: RequestId;
  timestamp: number;
  sn: string;
}

export function encodeHeartbeat(envelope: CamEnvelope): JsonObject {
  return { operate: Operate.heartbeat, request_id: envelope.requestId, timestamp: envelope.timestamp, sn: envelope.sn };
}

export function encodeUploadSnapshot(envelope: CamEnvelope, image: string): JsonObject {
  return {
    operate: Operate.uploadSnapshot,
    request_id: envelope.requestId,
    timestamp: envelope.timestamp,
    sn: envelope.sn,
    data: image,
  };
}

/** A camera's answer to a command, results beside `ret`/`msg` (get_dev_config) or in cmd_data. */
export function encodeCommandReply(
  name: string,
  requestId: RequestId,
  sn: string,
  ret: number,
  msg: string,
  results: JsonObject = {},
): JsonObject {
  return { ...encodeAnswer(name, requestId, sn, ret, msg), ...omit(results, ['operate', 'request_id', 'sn', 'ret', 'msg']) };
}
