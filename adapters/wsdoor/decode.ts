// Reading wsdoor messages: what a terminal sends the gateway (`decodeDeviceMessage`, `commandAnswer`).
// A terminal's side is sim/wsdoor/codec.ts. Pure functions.
import type { CommandAnswer, JsonObject } from '../../src/adapter.js';
import type { ProtocolReason } from '../../src/errors.js';
import { isObject } from '../../src/json.js';
import { Code, IMAGE_PATH, INFO_FIELDS, SUCCESS_CODES } from './constants.js';

/** A terminal's answer to a command. */
export interface DoorReply {
  commandId: string;
  /** null when the answer carries no code: a failure. */
  code: string | null;
  /** The message less `code` and `commandId`: `data` and/or `content` as the terminal sent them. */
  body: JsonObject;
}

export type DeviceMessage =
  | ({ kind: 'reply' } & DoorReply)
  /** Carries a commandId no command waits for (it timed out): nothing to answer. */
  | { kind: 'stale'; commandId: string; code: string }
  | { kind: 'register'; sn: unknown; info: JsonObject }
  | { kind: 'heartbeat'; data: unknown }
  | { kind: 'realtimeEvent'; eventid: string; data: JsonObject }
  /** Refused with code 500; `name` is what the metrics call it. */
  | { kind: 'invalid'; name: string; reason: ProtocolReason; message: string };

export type DeviceMessageKind = DeviceMessage['kind'];

/** `code` as the string the seed uses, from a string or an integer. */
export function normalizeCode(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return String(value);
  if (typeof value === 'string' && /^\s*-?\d+\s*$/.test(value)) return value.trim();
  return undefined;
}

/** A commandId as a string; the seed's are strings, some firmware echoes numbers. */
export function normalizeId(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return String(value);
  return undefined;
}

function invalid(name: string, reason: ProtocolReason, message: string): DeviceMessage {
  return { kind: 'invalid', name, reason, message };
}

/** Classifies one terminal message. A message carrying the commandId of a pending command is that
 *  command's answer whatever its code (DESIGN: 207 is both an upload and a query answer). */
export function decodeDeviceMessage(message: JsonObject, isPending: (commandId: string) => boolean): DeviceMessage {
  const code = normalizeCode(message.code);
  const commandId = normalizeId(message.commandId);
  if (commandId !== undefined && isPending(commandId)) {
    const { code: _code, commandId: _id, ...body } = message;
    return { kind: 'reply', commandId, code: code ?? null, body };
  }
  if (code === undefined) return invalid('unknown', 'bad_message', 'message without a code');
  const data = message.data;
  switch (code) {
    case Code.register: {
      if (!isObject(data)) return invalid('register', 'bad_identity', 'register without a data object');
      const info: JsonObject = {};
      for (const field of INFO_FIELDS) if (data[field] !== undefined) info[field] = data[field];
      return { kind: 'register', sn: data.sn, info };
    }
    case Code.heartbeat:
      return { kind: 'heartbeat', data };
    case Code.realtimeEvent: {
      const eventid = isObject(data) ? normalizeId(data.eventid) : undefined;
      if (isObject(data) && eventid !== undefined) return { kind: 'realtimeEvent', eventid, data };
      // 207 also answers queries: with a commandId it is a late answer, not a broken event.
      if (commandId !== undefined) return { kind: 'stale', commandId, code };
      return invalid('realtimeEvent', 'bad_message', 'realtimeEvent without a data object carrying an eventid');
    }
    default:
      if (commandId !== undefined) return { kind: 'stale', commandId, code };
      return invalid('unknown', 'unknown_code', `unknown code ${code}`);
  }
}

/** Paths of a non-empty base64 image in an event or answer object (an empty one would clear the
 *  retained media topic). */
export function imagePaths(data: JsonObject | null): string[] | undefined {
  const inner = data?.data;
  return isObject(inner) && typeof inner.img === 'string' && inner.img !== '' ? [IMAGE_PATH] : undefined;
}

/** The command reply: `data` is the terminal's `content` (or `data`) object; a list (selectUser)
 *  is wrapped as `{content: [...]}` since a reply's data is an object. */
export function commandAnswer(reply: DoorReply): CommandAnswer {
  const ok = reply.code !== null && SUCCESS_CODES.has(reply.code);
  const { content, data: rawData } = reply.body;
  let data: JsonObject | null = null;
  if (isObject(content)) data = content;
  else if (Array.isArray(content)) data = { content };
  else if (isObject(rawData)) data = rawData;
  else if (Array.isArray(rawData)) data = { data: rawData };
  const text = [rawData, content].find((value): value is string => typeof value === 'string' && value !== '');
  const answer: CommandAnswer = {
    ok,
    code: reply.code,
    message: text ?? (ok ? null : `the terminal answered ${reply.code === null ? 'without a code' : `code ${reply.code}`}`),
    data,
  };
  const media = imagePaths(data);
  if (media) answer.media = media;
  return answer;
}
