// Base64 images inside device messages: their bytes also go to the retained `media/{field}` topic,
// and in `output.media: "reference"` mode the event carries a reference instead of the base64.
import { createHash } from 'node:crypto';
import type { JsonObject } from './adapter.js';
import { isObject } from './json.js';

export interface MediaOut {
  field: string;
  bytes: Buffer;
}

const DATA_URL = /^data:[^;,]*;base64,/;

/** Finds the base64 at each dotted path of `data`. Returns the data to publish (a copy where it
 *  differs: the caller's object is never changed) and the media to publish beside it. */
export function extractMedia(
  data: JsonObject,
  paths: readonly string[],
  mode: 'inline' | 'reference',
  topicFor: (field: string) => string,
): { data: JsonObject; media: MediaOut[] } {
  const media: MediaOut[] = [];
  let out = data;
  for (const path of paths) {
    const keys = path.split('.');
    const value = get(data, keys);
    if (typeof value !== 'string' || value === '') continue;
    const field = keys[keys.length - 1] as string;
    const bytes = Buffer.from(value.replace(DATA_URL, ''), 'base64');
    if (bytes.length === 0) continue;
    media.push({ field, bytes });
    if (mode === 'reference') {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      out = set(out, keys, { media: topicFor(field), bytes: bytes.length, sha256 });
    }
  }
  return { data: out, media };
}

function get(data: JsonObject, keys: string[]): unknown {
  let node: unknown = data;
  for (const key of keys) {
    if (!isObject(node) || !Object.hasOwn(node, key)) return undefined;
    node = node[key];
  }
  return node;
}

function set(data: JsonObject, keys: string[], value: unknown): JsonObject {
  const [key, ...rest] = keys as [string, ...string[]];
  const inner = data[key];
  return { ...data, [key]: rest.length === 0 || !isObject(inner) ? value : set(inner, rest, value) };
}
