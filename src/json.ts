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

/** Nesting accepted in device JSON; deeper is refused (`bad_message`). */
export const MAX_DEPTH = 64;

const UNSAFE_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);

/** Keys as the device meant them: DESIGN trims every key (firmware sends `" method"`-style keys).
 *  A key that is, or trims to, `__proto__`/`constructor`/`prototype` is refused (`unsafe_key`): the
 *  parser only refused the exact `__proto__`. What needs no trimming is returned as it came, without
 *  a copy (the usual case; a copy per message showed in the uplink profile). */
export function trimKeys(value: JsonObject): JsonObject;
export function trimKeys(value: unknown): unknown;
export function trimKeys(value: unknown): unknown {
  return needsTrim(value, 0) ? trimmedCopy(value) : value;
}

/** Checks every key (unsafe names, depth) and tells whether any needs trimming. */
function needsTrim(value: unknown, depth: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (depth >= MAX_DEPTH) throw new ProtocolError('bad_message', `message nests deeper than ${MAX_DEPTH} levels`);
  let needs = false;
  if (Array.isArray(value)) {
    for (const item of value) if (needsTrim(item, depth + 1)) needs = true;
    return needs;
  }
  const object = value as JsonObject;
  // Parsed JSON has no inherited enumerable keys: for-in is Object.keys without the array.
  for (const key in object) {
    const name = key.trim();
    if (UNSAFE_KEYS.has(name)) throw new ProtocolError('unsafe_key', `message carries a ${JSON.stringify(key)} key`);
    // The inner value is checked even when this key already needs trimming: the copy checks nothing.
    if (needsTrim(object[key], depth + 1) || name !== key) needs = true;
  }
  return needs;
}

function trimmedCopy(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map(trimmedCopy);
  // fromEntries defines own properties, so even a trimmed key could not reach a prototype.
  return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key.trim(), trimmedCopy(inner)]));
}
