// The camera's side of wscam (seed 004): what a camera sends the gateway, and how it reads what the
// gateway sends. The gateway's side is adapters/wscam/encode.ts and decode.ts. Pure functions.
import type { JsonObject } from '../../src/adapter.js';
import { ENVELOPE_KEYS, Operate, RSP_SUFFIX } from '../../adapters/wscam/constants.js';
import { intOf, omit, requestIdOf, type RequestId } from '../../adapters/wscam/decode.js';
import { encodeAnswer } from '../../adapters/wscam/encode.js';

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

/** A camera's answer to a command, results beside `ret`/`msg` (get_dev_config) or in cmd_data. The
 *  `{operate}_rsp` envelope is the one the gateway's answers have too (encodeAnswer). */
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

export type GatewayMessage =
  /** requestId is missing when the gateway refused a request that had none. */
  | { kind: 'answer'; operate: string; requestId: RequestId | undefined; sn: unknown; ret: number | undefined; msg: unknown }
  | { kind: 'command'; name: string; requestId: RequestId; sn: unknown; timestamp: unknown; data: JsonObject }
  | { kind: 'unknown'; message: JsonObject };

export function decodeGatewayMessage(message: JsonObject): GatewayMessage {
  const operate = message.operate;
  const requestId = requestIdOf(message.request_id);
  if (typeof operate === 'string' && operate.endsWith(RSP_SUFFIX)) {
    return { kind: 'answer', operate, requestId, sn: message.sn, ret: intOf(message.ret), msg: message.msg };
  }
  if (typeof operate !== 'string' || requestId === undefined) return { kind: 'unknown', message };
  return { kind: 'command', name: operate, requestId, sn: message.sn, timestamp: message.timestamp, data: omit(message, ENVELOPE_KEYS) };
}
