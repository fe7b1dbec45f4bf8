// Reading wscam messages: what a camera sends the gateway (`decodeDeviceMessage`, `checkTimestamp`,
// `commandAnswer`). A camera's side is sim/wscam/codec.ts. Pure functions.
import type { CommandAnswer, JsonObject } from '../../src/adapter.js';
import type { ProtocolReason } from '../../src/errors.js';
import { isObject } from '../../src/json.js';
import {
  ANSWER_KEYS,
  ENVELOPE_KEYS,
  HB_INTERVAL_MAX,
  HB_INTERVAL_MIN,
  IMAGE_FIELD,
  Operate,
  Ret,
  RSP_SUFFIX,
} from './constants.js';

/** A request_id as the camera sent it; answers echo it unchanged. */
export type RequestId = string | number;

export interface CamReply {
  /** request_id as a string, the key of the pending command. */
  requestId: string;
  operate: string;
  sn: unknown;
  ret: number | null;
  msg: string | null;
  /** The answer less its envelope (`ret`, `msg` included). */
  rest: JsonObject;
}

interface Upload {
  operate: string;
  requestId: RequestId;
  sn: unknown;
  timestamp: unknown;
}

export type DeviceMessage =
  | ({ kind: 'reply' } & CamReply)
  /** An answer no command waits for (it timed out). */
  | { kind: 'stale'; operate: string; requestId: string }
  | ({ kind: 'heartbeat' } & Upload)
  | ({ kind: 'upload_snapshot'; data: JsonObject } & Upload)
  | ({ kind: 'unknown' } & Upload)
  /** Unreadable as a request; `answer` is what a refusal can echo, when there is an operate. */
  | { kind: 'invalid'; name: string; reason: ProtocolReason; message: string; answer?: { operate: string; requestId: unknown; sn: unknown } };

export type DeviceMessageKind = DeviceMessage['kind'];

export function omit(message: JsonObject, keys: readonly string[]): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(message)) if (!keys.includes(key)) out[key] = value;
  return out;
}

export function requestIdOf(value: unknown): RequestId | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  return undefined;
}

/** `ret` and other seed `int`s, from a number or a digit string. */
export function intOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
  if (typeof value === 'string' && /^\s*-?\d{1,15}\s*$/.test(value)) return Number(value);
  return undefined;
}

export function decodeDeviceMessage(message: JsonObject, isPending: (requestId: string) => boolean): DeviceMessage {
  const operate = typeof message.operate === 'string' && message.operate !== '' ? message.operate : undefined;
  const requestId = requestIdOf(message.request_id);
  if (operate === undefined) return { kind: 'invalid', name: 'unknown', reason: 'bad_message', message: 'message without an operate' };
  if (operate.endsWith(RSP_SUFFIX)) {
    if (requestId === undefined) return { kind: 'invalid', name: 'reply', reason: 'bad_message', message: `${operate} without a request_id` };
    const key = String(requestId);
    if (!isPending(key)) return { kind: 'stale', operate, requestId: key };
    return {
      kind: 'reply',
      requestId: key,
      operate,
      sn: message.sn,
      ret: intOf(message.ret) ?? null,
      msg: typeof message.msg === 'string' ? message.msg : null,
      rest: omit(message, ANSWER_KEYS),
    };
  }
  const known = operate === Operate.heartbeat || operate === Operate.uploadSnapshot;
  if (requestId === undefined) {
    return {
      kind: 'invalid',
      name: known ? operate : 'unknown',
      reason: 'bad_message',
      message: `${operate} without a request_id`,
      answer: { operate, requestId: message.request_id, sn: message.sn },
    };
  }
  const upload: Upload = { operate, requestId, sn: message.sn, timestamp: message.timestamp };
  if (operate === Operate.heartbeat) return { kind: 'heartbeat', ...upload };
  if (operate === Operate.uploadSnapshot) return { kind: 'upload_snapshot', ...upload, data: omit(message, ENVELOPE_KEYS) };
  return { kind: 'unknown', ...upload };
}

export interface Refusal {
  ret: number;
  reason: ProtocolReason;
  message: string;
}

/** Refuses a timestamp (seconds) outside ±maxSkewS of now; 0 turns the check off. */
export function checkTimestamp(value: unknown, nowS: number, maxSkewS: number): Refusal | undefined {
  if (maxSkewS === 0) return undefined;
  const timestamp = intOf(value);
  if (timestamp === undefined) return { ret: Ret.badRequest, reason: 'bad_message', message: 'timestamp is missing or not an integer' };
  const skew = timestamp - nowS;
  if (Math.abs(skew) <= maxSkewS) return undefined;
  return {
    ret: Ret.clockSkew,
    reason: 'clock_skew',
    message: `timestamp is ${Math.abs(skew)} s ${skew > 0 ? 'ahead of' : 'behind'} the gateway clock (at most ${maxSkewS})`,
  };
}

/** A valid hb_interval (seconds), or undefined. */
export function hbIntervalOf(value: unknown): number | undefined {
  const seconds = intOf(value);
  return seconds !== undefined && seconds >= HB_INTERVAL_MIN && seconds <= HB_INTERVAL_MAX ? seconds : undefined;
}

/** The command reply: `data` is the answer's cmd_data, else its fields beside the envelope
 *  (get_dev_config: mac, upload_type, ...). A take_snapshot image is published on media/data. */
export function commandAnswer(name: string, reply: CamReply): CommandAnswer {
  const ok = reply.ret === Ret.ok;
  const data = isObject(reply.rest.cmd_data) ? reply.rest.cmd_data : reply.rest;
  const answer: CommandAnswer = {
    ok,
    code: reply.ret,
    message: reply.msg !== null && reply.msg !== '' ? reply.msg : ok ? null : `the camera answered ret ${reply.ret ?? 'missing'}`,
    data,
  };
  const image = data[IMAGE_FIELD];
  if (name === Operate.controlCmd && typeof image === 'string' && image !== '') answer.media = [IMAGE_FIELD];
  return answer;
}
