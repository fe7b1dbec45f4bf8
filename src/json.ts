// The one JSON parse of every input path: bounded, and refusing prototype-poisoning keys.
import sjson from 'secure-json-parse';
import { ProtocolError } from './errors.js';
import type { JsonObject } from './adapter.js';

const SAFE = { protoAction: 'error', constructorAction: 'error' } as const;

/** Parses device or platform JSON; throws ProtocolError (`oversize`, `bad_json`, `unsafe_key`). */
export function parseJson(input: Buffer | string, maxBytes: number): unknown {
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.length;
  if (size > maxBytes) throw new ProtocolError('oversize', `message of ${size} bytes exceeds the limit of ${maxBytes}`);
  try {
    return sjson.parse(input, undefined, SAFE);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/prototype|constructor/i.test(message)) throw new ProtocolError('unsafe_key', 'message carries a __proto__ or constructor key');
    throw new ProtocolError('bad_json', `message is not JSON: ${message}`);
  }
}

export function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Parses input that must be a JSON object. */
export function parseJsonObject(input: Buffer | string, maxBytes: number): JsonObject {
  const value = parseJson(input, maxBytes);
  if (!isObject(value)) throw new ProtocolError('bad_json', 'message is not a JSON object');
  return value;
}
