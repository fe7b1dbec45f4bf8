// The declarations of mappings/qyzn read by the adapter: header versions per message and the
// fields that carry base64 media. Checked once at start, so a broken file fails the start.
import type { JsonObject } from '../../src/adapter.js';
import { MappingsError } from '../../src/errors.js';
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

const VERSIONS_FILE = 'mappings/qyzn/versions.json';
const MEDIA_FILE = 'mappings/qyzn/media.json';

function version(value: unknown, file: string, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) throw new MappingsError(file, `${key} must be a header version (0-255)`);
  return value;
}

function numbers(value: unknown, file: string, key: string): Record<string, number> {
  if (!isObject(value)) throw new MappingsError(file, `${key} must be an object`);
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(value)) out[name] = version(n, file, `${key}.${name}`);
  return out;
}

function pathLists(value: unknown, file: string, key: string): Record<string, string[]> {
  if (!isObject(value)) throw new MappingsError(file, `${key} must be an object`);
  const out: Record<string, string[]> = {};
  for (const [name, list] of Object.entries(value)) {
    const paths = Array.isArray(list) ? list.filter((p): p is string => typeof p === 'string' && p !== '') : [];
    if (!Array.isArray(list) || paths.length !== list.length) throw new MappingsError(file, `${key}.${name} must be a list of paths`);
    out[name] = paths;
  }
  return out;
}

export function loadTables(mappings: Mappings): { versions: Versions; media: MediaFields } {
  const versions = mappings.read<JsonObject>('versions');
  const media = mappings.read<JsonObject>('media');
  return {
    versions: new Versions(version(versions.default, VERSIONS_FILE, 'default'), numbers(versions.minimum, VERSIONS_FILE, 'minimum')),
    media: new MediaFields(pathLists(media.uplink, MEDIA_FILE, 'uplink'), pathLists(media.commands, MEDIA_FILE, 'commands')),
  };
}
