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

interface MediaPath {
  keys: readonly string[];
  /** The topic level: the last key, without `[]`. */
  field: string;
}

/** Paths come from the mappings (a handful); parsed once, not per message. */
const parsedPaths = new Map<string, MediaPath>();

function parsePath(path: string): MediaPath {
  let parsed = parsedPaths.get(path);
  if (!parsed) {
    const keys = path.split('.');
    parsed = { keys, field: (keys[keys.length - 1] as string).replace(/\[\]$/, '') };
    parsedPaths.set(path, parsed);
  }
  return parsed;
}

/** Finds the base64 at each dotted path of `data` (`faces[].image`: every element of an array).
 *  Returns the data to publish (a copy where it differs: the caller's object is never changed)
 *  and the media to publish beside it, on `media/{last segment}`. */
export function extractMedia(
  data: JsonObject,
  paths: readonly string[],
  mode: 'inline' | 'reference',
  topicFor: (field: string) => string,
): { data: JsonObject; media: MediaOut[] } {
  const media: MediaOut[] = [];
  let out = data;
  for (const path of paths) {
    const { keys, field } = parsePath(path);
    out = walk(out, keys, 0, (value) => {
      const bytes = Buffer.from(value.replace(DATA_URL, ''), 'base64');
      if (bytes.length === 0) return value;
      media.push({ field, bytes });
      if (mode === 'inline') return value;
      return { media: topicFor(field), bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
    }) as JsonObject;
  }
  return { data: out, media };
}

/** Copy-on-write walk from `keys[at]`: returns `node` itself where nothing changed. */
function walk(node: unknown, keys: readonly string[], at: number, onValue: (value: string) => unknown): unknown {
  if (at === keys.length) return typeof node === 'string' && node !== '' ? onValue(node) : node;
  const key = keys[at] as string;
  const each = key.endsWith('[]');
  const name = each ? key.slice(0, -2) : key;
  if (!isObject(node) || !Object.hasOwn(node, name)) return node;
  const inner = node[name];
  let next: unknown;
  if (each) {
    if (!Array.isArray(inner)) return node;
    const mapped = inner.map((element: unknown) => walk(element, keys, at + 1, onValue));
    next = mapped.every((element, i) => element === inner[i]) ? inner : mapped;
  } else {
    next = walk(inner, keys, at + 1, onValue);
  }
  return next === inner ? node : { ...node, [name]: next };
}
