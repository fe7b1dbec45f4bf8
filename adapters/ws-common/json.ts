// Reading one WebSocket message as a JSON object. Device JSON is untrusted: the core's parse
// refuses `__proto__` (and `constructor.prototype`); a `constructor` key anywhere, or one that only
// becomes `__proto__` once trimmed, is refused here. Nesting is bounded, and keys are trimmed
// because device firmware leaves stray spaces in them (DESIGN "Event and request envelope").
import type { RawData } from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { ProtocolError } from '../../src/errors.js';
import { parseJsonObject, trimKeys } from '../../src/json.js';

const utf8 = new TextDecoder('utf-8', { fatal: true });

export interface ParsedMessage {
  /** Keys trimmed; what the handlers read. */
  message: JsonObject;
  /** The message as the device sent it, for `output.includeRaw`. */
  raw: JsonObject;
}

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

/** A message's text (a byte-order mark dropped) as the object the handlers read. */
export function parseWsText(text: string, maxBytes: number): ParsedMessage {
  const raw = parseJsonObject(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, maxBytes);
  return { message: trimKeys(raw), raw };
}

export function parseWsMessage(data: RawData, maxBytes: number): ParsedMessage {
  return parseWsText(rawDataText(data), maxBytes);
}
