// One handler per device-to-platform message, behind a table. A handler turns the device's data
// into core calls (uplink, request) and passes the RESPONSE the device gets to its callback; the
// connection sends it (REQUESTs only) then, i.e. after the broker acknowledged. Callbacks, not
// promises: this is every event's path.
import type { DeviceHandle, DisconnectReason, JsonObject, PlatformAnswer } from '../../src/adapter.js';
import { EMPTY, isObject } from '../../src/json.js';
import { formatWall } from '../../src/clock.js';
import { numberFrom } from '../../src/leniency.js';
import { Result } from './constants.js';
import type { MediaFields } from './tables.js';

export interface Inbound {
  message: string;
  data: JsonObject;
  /** The body as the device sent it, for `output.includeRaw`. */
  raw: JsonObject;
  seq: number;
  /** REQUEST: the device waits for a RESPONSE on the same seq. NOTIFICATION: it does not. */
  expectsReply: boolean;
}

export interface Reply {
  result: number;
  /** Default: the error-code table's text for `result`. */
  desc?: string;
  data?: unknown;
  /** Top-level keys beside result/desc/data (the intercom answers repeat their `message`). */
  extra?: JsonObject;
  /** End the connection once the reply is on its way (logout). */
  thenClose?: DisconnectReason;
}

export interface HandlerEnv {
  readonly deviceTimeZone: string;
  readonly media: MediaFields;
  now(): Date;
}

/** What a handler may do with its connection. */
export interface SessionPort {
  /** Set once the device logged in. */
  readonly device: DeviceHandle | undefined;
  readonly env: HandlerEnv;
  register(data: JsonObject): Reply;
  login(data: JsonObject): Reply;
}

/** A handler's outcome: an error (the connection turns it into a failure code) or the reply. */
export type Answer = (err: unknown, reply?: Reply) => void;

export interface Handler {
  /** Served before login: only register and login (heartbeats are not messages). */
  beforeLogin?: boolean;
  /** A retransmission (same seq) is answered from the first run and not published twice. */
  dedupe?: boolean;
  /** Calls `done` once, possibly before it returns; may throw instead. */
  handle(input: Inbound, session: SessionPort, done: Answer): void;
}

function online(session: SessionPort): DeviceHandle {
  // The dispatcher serves only register and login before login; reaching here offline is a bug.
  if (!session.device) throw new Error('handler needs a logged-in device');
  return session.device;
}

function ok(data: unknown = EMPTY, extra?: JsonObject): Reply {
  return extra ? { result: Result.SUCCESS, data, extra } : { result: Result.SUCCESS, data };
}

/** The plain success most events get, shared. */
const OK: Reply = Object.freeze(ok());

/** A message answered at once, without the broker. */
function immediate(reply: (input: Inbound, session: SessionPort) => Reply): Handler {
  return { handle: (input, session, done) => done(undefined, reply(input, session)) };
}

/** A message published on event/{name}; the device is answered once the broker has it. */
function event(reply: (input: Inbound, session: SessionPort) => Reply = () => OK): Handler {
  return {
    dedupe: true,
    handle(input, session, done) {
      online(session).uplinkThen(input.message, input.data, { media: session.env.media.forUplink(input.message), raw: input.raw }, (err) =>
        err ? done(err) : done(undefined, reply(input, session)),
      );
    },
  };
}

interface Fallback {
  data: (data: JsonObject) => JsonObject;
  /** The result when the platform did not decide (local mode or no reply in time). */
  result: number;
  extra?: JsonObject;
}

/** A message whose answer the platform decides (DESIGN "Device requests needing the platform"). */
function platformRequest(fallback: Fallback): Handler {
  return {
    dedupe: true,
    handle(input, session, done) {
      const options = { media: session.env.media.forUplink(input.message), raw: input.raw };
      // Sent as a NOTIFICATION it waits for no answer, so there is nothing for the platform to
      // decide: it is an event like every other notification.
      if (!input.expectsReply) return online(session).uplinkThen(input.message, input.data, options, (err) => (err ? done(err) : done(undefined, OK)));
      online(session).requestThen(input.message, input.data, fallback.data(input.data), options, (err, answer) =>
        err ? done(err) : done(undefined, fromPlatform(answer as PlatformAnswer, fallback)),
      );
    },
  };
}

/** The platform may answer with another result (and its desc) beside the data. */
function fromPlatform(answer: PlatformAnswer, fallback: Fallback): Reply {
  const decided = answer.source === 'mqtt';
  const { result, desc } = answer.extra ?? {};
  // The rule of commands holds for the platform's result too: "105" is 105 (src/leniency.ts).
  const reply: Reply = { result: decided ? (numberFrom(result) ?? Result.SUCCESS) : fallback.result, data: answer.data };
  if (decided && typeof desc === 'string') reply.desc = desc;
  if (fallback.extra) reply.extra = fallback.extra;
  return reply;
}

/** 4.3.7: without the platform, every id stays what the device sent. */
function samePersonBack(data: JsonObject): JsonObject {
  const faces = Array.isArray(data.faces) ? data.faces : [];
  return {
    oriPersonId: data.personId ?? '',
    newPersonId: data.personId ?? '',
    faces: faces.filter(isObject).map((face) => ({ oriFaceId: face.faceId ?? '', newFaceId: face.faceId ?? '' })),
  };
}

/** 4.7.1: callRequestId and callNo are returned as they came. */
function callEcho(data: JsonObject): JsonObject {
  return { callRequestId: data.callRequestId ?? '', callNo: data.callNo ?? '' };
}

const HANDLERS: Readonly<Record<string, Handler>> = {
  register: { beforeLogin: true, ...immediate((input, session) => session.register(input.data)) },
  login: { beforeLogin: true, ...immediate((input, session) => session.login(input.data)) },
  // Not an event (DESIGN): availability goes offline and bridge/event says why.
  logout: immediate(() => ({ result: Result.SUCCESS, thenClose: 'logout' })),
  snapshot_face: platformRequest({ data: () => EMPTY, result: Result.SUCCESS }),
  qrcode_data: platformRequest({ data: () => ({ opendoor: 0 }), result: Result.SUCCESS }),
  device_sync_person: platformRequest({ data: samePersonBack, result: Result.SUCCESS }),
  device_call_param: platformRequest({ data: callEcho, result: Result.INVALID_PARAMETER, extra: { message: 'device_call_param' } }),
  // The clock is read after the broker acknowledged, so the wait does not age the answer.
  sync_time: event((_, session) => ok({ timestamp: formatWall(session.env.now(), session.env.deviceTimeZone, 'yyyyMMddHHmmssSSS') })),
  device_call_result: event(() => ok({}, { message: 'device_call_result' })),
};

/** A NOTIFICATION the seed does not name is still an event (the core refuses a name that cannot
 *  be a topic level). */
export const NOTIFICATION: Handler = event();

export function handlerFor(message: string): Handler | undefined {
  return Object.hasOwn(HANDLERS, message) ? HANDLERS[message] : undefined;
}
