// The declarations of mappings/qyzn read by the adapter: header versions per message and the
// fields that carry base64 media. Checked once at start, so a broken file fails the start.
import type { JsonObject } from '../../src/adapter.js';
import { isObject } from '../../src/json.js';
import type { Mappings } from '../../src/mappings.js';

export class Versions {
  readonly fallback: number;
  private readonly minimum: ReadonlyMap<string, number>;

  constructor(fallback: number, minimum: Record<string, number>) {
    this.fallback = fallback;
    this.minimum = new Map(Object.entries(minimum));
  }

  /** Whether `message` needs a version of its own (a device raises its header for it). */
  raises(message: string): boolean {
    return this.minimum.has(message);
  }

  /** The header version for `message` sent to a device that speaks `deviceVersion`. */
  forMessage(message: string, deviceVersion: number | undefined): number {
    return Math.max(deviceVersion ?? this.fallback, this.minimum.get(message) ?? 0);
  }
}

export class MediaFields {
  private readonly uplink: ReadonlyMap<string, readonly string[]>;
  private readonly commands: ReadonlyMap<string, readonly string[]>;

  constructor(uplink: Record<string, string[]>, commands: Record<string, string[]>) {
    this.uplink = new Map(Object.entries(uplink));
    this.commands = new Map(Object.entries(commands));
  }

  /** Dotted paths into `data` (`a[].b`: every element of a list), as the core's media option reads them. */
  forUplink(message: string): readonly string[] {
    return this.uplink.get(message) ?? [];
  }

  forCommand(message: string): string[] {
    return [...(this.commands.get(message) ?? [])];
  }
}

function numbers(value: unknown, where: string): Record<string, number> {
  if (!isObject(value)) throw new Error(`${where} must be an object`);
  const out: Record<string, number> = {};
  for (const [key, n] of Object.entries(value)) {
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 255) throw new Error(`${where}.${key} must be a header version (0-255)`);
    out[key] = n;
  }
  return out;
}

function pathLists(value: unknown, where: string): Record<string, string[]> {
  if (!isObject(value)) throw new Error(`${where} must be an object`);
  const out: Record<string, string[]> = {};
  for (const [key, list] of Object.entries(value)) {
    const paths = Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string' && p !== '') : [];
    if (!Array.isArray(list) || paths.length !== list.length) throw new Error(`${where}.${key} must be a list of paths`);
    out[key] = paths;
  }
  return out;
}

export function loadTables(mappings: Mappings): { versions: Versions; media: MediaFields } {
  const versions = mappings.read<JsonObject>('versions');
  const media = mappings.read<JsonObject>('media');
  const fallback = numbers({ default: versions.default }, 'mappings/qyzn/versions.json').default ?? 2;
  return {
    versions: new Versions(fallback, numbers(versions.minimum, 'mappings/qyzn/versions.json minimum')),
    media: new MediaFields(pathLists(media.uplink, 'mappings/qyzn/media.json uplink'), pathLists(media.commands, 'mappings/qyzn/media.json commands')),
  };
}
