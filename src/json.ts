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

/** `{}` shared by every answer without data: compared by identity on hot paths, never changed. */
export const EMPTY: JsonObject = Object.freeze({});

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
 *  parser only refused the exact `__proto__`. Copy on write: an object or array is copied only when
 *  a key in it or below it changes, and keeps sharing what did not (a whole-body copy per message
 *  showed in the uplink and gantry profiles). */
export function trimKeys(value: JsonObject): JsonObject;
export function trimKeys(value: unknown): unknown;
export function trimKeys(value: unknown): unknown {
  return trimmed(value, 0);
}

function trimmed(value: unknown, depth: number): unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (depth >= MAX_DEPTH) throw new ProtocolError('bad_message', `message nests deeper than ${MAX_DEPTH} levels`);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item: unknown = value[i];
      const next = trimmed(item, depth + 1);
      if (copy === undefined && next !== item) copy = value.slice(0, i);
      copy?.push(next);
    }
    return copy ?? value;
  }
  const object = value as JsonObject;
  let copy: JsonObject | undefined;
  // Parsed JSON has no inherited enumerable keys: for-in is Object.keys without the array.
  for (const key in object) {
    const name = key.trim();
    if (UNSAFE_KEYS.has(name)) throw new ProtocolError('unsafe_key', `message carries a ${JSON.stringify(key)} key`);
    const inner = object[key];
    const next = trimmed(inner, depth + 1);
    if (copy === undefined && (name !== key || next !== inner)) {
      // The keys before this one are unchanged: taken over as they are, in their order.
      copy = {};
      for (const earlier in object) {
        if (earlier === key) break;
        copy[earlier] = object[earlier];
      }
    }
    // Safe to assign: no key here is, or trims to, a prototype name (refused above).
    if (copy !== undefined) copy[name] = next;
  }
  return copy ?? object;
}
