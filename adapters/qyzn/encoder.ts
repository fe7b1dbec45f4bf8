// Frame generation, kept apart from parsing. Header fields out of range are programming errors
// (RangeError), never something a device can cause.
import type { JsonObject } from '../../src/adapter.js';
import { DATA_TYPE_JSON, HEADER_SIZE, MAGIC, MsgType, Offset, U32_MAX } from './constants.js';
import type { FrameHeader } from './parser.js';

export type HeaderFields = Pick<FrameHeader, 'version' | 'msgType' | 'seq'> & Partial<Pick<FrameHeader, 'dataType' | 'resv' | 'timestamp'>>;

export function unixSeconds(now = Date.now()): number {
  return Math.floor(now / 1000) >>> 0;
}

/** One frame: header plus body (a Buffer as is, anything else as JSON). */
export function encodeFrame(fields: HeaderFields, body?: Buffer | JsonObject): Buffer {
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body), 'utf8');
  if (payload.length > U32_MAX) throw new RangeError('body too large for a u32 datasize');
  const frame = Buffer.allocUnsafe(HEADER_SIZE + payload.length);
  MAGIC.copy(frame, Offset.magic);
  frame.writeUInt8(u8('version', fields.version), Offset.version);
  frame.writeUInt8(u8('msgType', fields.msgType), Offset.msgType);
  frame.writeUInt8(u8('dataType', fields.dataType ?? DATA_TYPE_JSON), Offset.dataType);
  frame.writeUInt8(u8('resv', fields.resv ?? 0), Offset.resv);
  frame.writeUInt32LE(u32('timestamp', fields.timestamp ?? unixSeconds()), Offset.timestamp);
  frame.writeUInt32LE(u32('seq', fields.seq), Offset.seq);
  frame.writeUInt32LE(payload.length, Offset.datasize);
  payload.copy(frame, HEADER_SIZE);
  return frame;
}

/** A REQUEST or NOTIFICATION: `{"message", "data"}`. */
export function encodeMessage(
  fields: Omit<HeaderFields, 'msgType'> & { msgType?: typeof MsgType.REQUEST | typeof MsgType.NOTIFICATION },
  message: string,
  data: unknown = {},
): Buffer {
  return encodeFrame({ ...fields, msgType: fields.msgType ?? MsgType.REQUEST }, { message, data });
}

export interface ResponseFields {
  result: number;
  desc: string;
  data?: unknown;
  /** Further top-level keys some answers carry (`message` in the intercom answers, `RspMsg`). */
  extra?: JsonObject;
}

/** `{"result":…,"desc":…,"data":{}}`, the body of most answers, serialised once per result and desc
 *  (the error-code table's texts: a bounded set). */
const emptyBodies = new Map<number, Map<string, Buffer>>();

export function emptyAnswerBody(result: number, desc: string): Buffer {
  let byDesc = emptyBodies.get(result);
  if (!byDesc) {
    byDesc = new Map();
    emptyBodies.set(result, byDesc);
  }
  let body = byDesc.get(desc);
  if (!body) {
    body = Buffer.from(JSON.stringify({ result, desc, data: {} }), 'utf8');
    byDesc.set(desc, body);
  }
  return body;
}

/** A RESPONSE on the request's own seq. */
export function encodeResponse(fields: Omit<HeaderFields, 'msgType'>, response: ResponseFields): Buffer {
  const { result, desc, data = {}, extra = {} } = response;
  return encodeFrame({ ...fields, msgType: MsgType.RESPONSE }, { ...extra, result, desc, data });
}

/** Heartbeats carry no body (2.2); the answer mirrors the device's seq, which the seed keeps at 0. */
export function encodeHeartbeat(version: number, seq = 0, timestamp?: number): Buffer {
  return encodeFrame(timestamp === undefined ? { version, msgType: MsgType.HEARTBEAT, seq } : { version, msgType: MsgType.HEARTBEAT, seq, timestamp });
}

function u8(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > 0xff) throw new RangeError(`${name} must be a u8, not ${value}`);
  return value;
}

function u32(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0 || value > U32_MAX) throw new RangeError(`${name} must be a u32, not ${value}`);
  return value;
}
