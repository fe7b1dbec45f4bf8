// Writing what the gateway sends a gantry: the answer to an upload and a control request with its
// headers. No I/O here: the adapter sends what comes out.
import type { JsonObject } from '../../src/adapter.js';
import { isIsoInstant, toDeviceTime } from '../../src/clock.js';
import { CODE_MESSAGES, HEADER_AUTH, HEADER_MD5, type BusinessCode } from './constants.js';
import { md5Hex } from './sign.js';

/** The answer body exactly as the seeds write it: string code, the seed's own msg. */
export function answerBody(code: BusinessCode, data?: JsonObject): string {
  return JSON.stringify(data === undefined ? { code, msg: CODE_MESSAGES[code] } : { code, msg: CODE_MESSAGES[code], data });
}

/** `data` is sent as the command's schema left it: strings only, the core having turned numbers
 *  into their decimal text (src/leniency.ts). */
function commandData(method: string, data: JsonObject, timeZone: string): JsonObject {
  const out = { ...data };
  // An event gives door times as ISO 8601; the device looks them up by its own wall clock.
  if (method === 'getCabinetImageVedio' && typeof out.doorOpenTime === 'string' && isIsoInstant(out.doorOpenTime)) {
    out.doorOpenTime = toDeviceTime(out.doorOpenTime, timeZone) ?? out.doorOpenTime;
  }
  return out;
}

interface ControlRequest {
  body: Buffer;
  headers: Record<string, string>;
}

export function encodeControlRequest(p: {
  gantryId: string;
  method: string;
  data: JsonObject;
  version: string;
  nowMs: number;
  auth: string;
  timeZone: string;
}): ControlRequest {
  const body = Buffer.from(
    JSON.stringify({
      gantryId: p.gantryId,
      method: p.method,
      timeStamp: String(Math.floor(p.nowMs / 1000)),
      version: p.version,
      [p.method]: commandData(p.method, p.data, p.timeZone),
    }),
    'utf8',
  );
  return {
    body,
    headers: {
      'content-type': 'application/json;charset=UTF-8',
      [HEADER_MD5]: md5Hex(body),
      [HEADER_AUTH]: p.auth,
    },
  };
}
