// Reading one WebSocket message as a JSON object. Device JSON is untrusted: the core's parse
// refuses `__proto__` (and `constructor.prototype`); a `constructor` key anywhere, or one that only
// becomes `__proto__` once trimmed, is refused here. Nesting is bounded, and keys are trimmed
// because device firmware leaves stray spaces in them (DESIGN "Event and request envelope").
import type { RawData } from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { ProtocolError } from '../../src/errors.js';
import { isObject, parseJson } from '../../src/json.js';

export const MAX_DEPTH = 64;

const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor']);
const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface ParsedMessage {
  /** Keys trimmed; what the handlers read. */
  message: JsonObject;
  /** The message as the device sent it, for `output.includeRaw`. */
  raw: JsonObject;
}

export const isJsonObject = isObject;

export function rawDataText(data: RawData): string {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : data instanceof ArrayBuffer ? new Uint8Array(data) : data;
  try {
    // ws has validated text frames already; binary frames are read as text too, since some
    // firmware sends its JSON that way.
    return utf8.decode(bytes);
  } catch {
    throw new ProtocolError('bad_json', 'message is not valid UTF-8');
  }
}

export function parseJsonObject(text: string, maxBytes: number): ParsedMessage {
  const raw = parseJson(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, maxBytes);
  if (!isObject(raw)) throw new ProtocolError('bad_json', 'message is not a JSON object');
  return { message: trimKeys(raw, 0) as JsonObject, raw };
}

export function parseWsMessage(data: RawData, maxBytes: number): ParsedMessage {
  return parseJsonObject(rawDataText(data), maxBytes);
}

/** Copies only what changes, so a message without stray spaces is returned as it came. */
function trimKeys(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) throw new ProtocolError('bad_message', `message nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((item, i) => {
      const trimmed = trimKeys(item, depth + 1);
      if (trimmed !== item) (out ??= value.slice())[i] = trimmed;
    });
    return out ?? value;
  }
  let changed = false;
  const entries: Array<[string, unknown]> = [];
  for (const [key, item] of Object.entries(value)) {
    const name = key.trim();
    if (UNSAFE_KEYS.has(name)) throw new ProtocolError('unsafe_key', `message carries a "${name}" key`);
    const trimmed = trimKeys(item, depth + 1);
    if (name !== key || trimmed !== item) changed = true;
    entries.push([name, trimmed]);
  }
  // fromEntries defines own properties, so even a trimmed key could not reach a prototype.
  return changed ? Object.fromEntries(entries) : value;
}
