// A device's RESPONSE to a command, as the core's CommandAnswer.
import type { CommandAnswer, JsonObject } from '../../src/adapter.js';
import { isObject, parseJsonObject } from '../../src/json.js';
import type { ResponseBody } from './body.js';
import { resultText } from './constants.js';
import type { MediaFields } from './tables.js';

const SUCCESS_WORDS: ReadonlySet<string> = new Set(['', 'success', '操作成功']);

/** The seed's error-code table names each result; the device's own desc is kept when it says more
 *  (devices answer 109 with desc "Success", as the seed's own example does). */
export function describeResult(result: number, desc: string | undefined, message: string): string {
  const own = desc?.trim() ?? '';
  if (result === 0) return own || 'Success';
  const known = resultText(result, message);
  if (!known) return own || `Result ${result}`;
  const text = `${known.en} (${known.zh})`;
  return SUCCESS_WORDS.has(own.toLowerCase()) || own === known.en || own === known.zh ? text : `${text}: ${own}`;
}

/** `data` is an object in every answer but get_configs (a list of groups, kept as `items`); keys
 *  beside it (`RspMsg`) are folded in. The seed's format line even calls data a String. */
export function answerData(data: unknown, extra: JsonObject): JsonObject {
  return { ...extra, ...ownData(data) };
}

function ownData(data: unknown): JsonObject {
  if (data === undefined || data === null) return {};
  if (isObject(data)) return data;
  if (Array.isArray(data)) return { items: data };
  if (typeof data === 'string' && data.trim().startsWith('{')) {
    try {
      return parseJsonObject(data, Buffer.byteLength(data));
    } catch {
      // Not JSON after all: kept as the string it is.
    }
  }
  return { value: data };
}

export function commandAnswer(name: string, body: ResponseBody, media: MediaFields): CommandAnswer {
  return {
    ok: body.result === 0,
    code: body.result,
    message: describeResult(body.result, body.desc, name),
    data: answerData(body.data, body.extra),
    media: media.forCommand(name),
  };
}
