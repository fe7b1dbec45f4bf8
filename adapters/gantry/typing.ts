// Types gantry uploads by their declaration in mappings/gantry/fields.json. Devices send every value
// as a string and sprinkle stray spaces over keys; the event carries numbers, ISO times, arrays and
// nulls, with each unreadable value named in `quality` (DESIGN.md "Event and request envelope").
import type { JsonObject } from '../../src/adapter.js';
import { ENVELOPE_KEYS } from './constants.js';
import { isObject, trimKeys } from '../../src/json.js';
import { deviceTimeToIso } from '../../src/clock.js';

export const FIELD_TYPES = [
  'number',
  'count',
  'status',
  'enum',
  'id',
  'time',
  'warnings',
  'passthrough',
  'object',
  'array',
  'objectOrArray',
] as const;
export type FieldType = (typeof FIELD_TYPES)[number];
const GROUP_TYPES: ReadonlySet<FieldType> = new Set(['object', 'array', 'objectOrArray']);

export interface FieldSpec {
  type: FieldType;
  /** The group (in `groups`) an object/array field holds. */
  of?: string;
  unit?: string;
  values?: Record<string, string>;
  /** Refused with 1002 when absent. */
  required?: boolean;
  doc?: string;
}
export type FieldGroup = Record<string, FieldSpec>;

export interface MessageSpec {
  doc?: string;
  editions?: string[];
  fields: FieldGroup;
  answer?: FieldGroup;
}

export interface FieldsFile {
  errorWords: string[];
  envelope: FieldGroup;
  messages: Record<string, MessageSpec>;
  commandAnswers?: Record<string, FieldGroup>;
  groups: Record<string, FieldGroup>;
}

/** Why a value became null: one of the device's error words, or `Invalid` when it did not fit. */
export type Quality = Record<string, string>;

export interface Typed {
  data: JsonObject;
  quality: Quality;
  /** Paths the declaration does not know; passed on as sent. */
  undeclared: string[];
}

export const INVALID = 'Invalid';

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(value: unknown, unit: string | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  let text = value.trim();
  // Most values are plain numbers: read them before looking for a unit (every upload has dozens).
  if (NUMERIC.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  // Some firmware writes the unit after the value ("40℃", "99.99%"); the number is still good.
  // ℃ is one character standing for °C, and Chinese firmware writes it more often than °C.
  const units = unit === '°C' ? ['°C', '℃'] : unit ? [unit] : [];
  const written = units.find((u) => text.toLowerCase().endsWith(u.toLowerCase()));
  if (written) text = text.slice(0, -written.length).trim();
  if (text.endsWith('%')) text = text.slice(0, -1).trim();
  if (!NUMERIC.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function toInteger(value: unknown): number | undefined {
  const n = toNumber(value, undefined);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

function toWarnings(value: unknown): string[] | undefined {
  if (Array.isArray(value)) return value.every((v) => typeof v === 'string') ? value.map((v) => v.trim()).filter(Boolean) : undefined;
  if (typeof value !== 'string') return undefined;
  // The seeds ask for the half-width comma; the full-width one turns up in hand-typed examples.
  return value
    .split(/[,，]/)
    .map((w) => w.trim())
    .filter((w) => w !== '');
}

/** Checks the declaration file once at start so a typo fails loudly instead of passing data on. */
export function checkFields(file: unknown): FieldsFile {
  const problems: string[] = [];
  if (!isObject(file)) throw new Error('fields.json: not an object');
  const groups = isObject(file.groups) ? (file.groups as Record<string, unknown>) : {};
  if (!Array.isArray(file.errorWords) || !file.errorWords.every((w) => typeof w === 'string')) problems.push('errorWords: must be an array of strings');
  const checkGroup = (where: string, group: unknown): void => {
    if (!isObject(group)) {
      problems.push(`${where}: must be an object of field declarations`);
      return;
    }
    for (const [name, spec] of Object.entries(group)) {
      if (!isObject(spec) || !FIELD_TYPES.includes(spec.type as FieldType)) {
        problems.push(`${where}.${name}: type must be one of ${FIELD_TYPES.join(', ')}`);
        continue;
      }
      if (GROUP_TYPES.has(spec.type as FieldType) && (typeof spec.of !== 'string' || !(spec.of in groups))) {
        problems.push(`${where}.${name}: "of" must name a group`);
      }
    }
  };
  checkGroup('envelope', file.envelope);
  for (const [name, group] of Object.entries(groups)) checkGroup(`groups.${name}`, group);
  for (const [name, message] of Object.entries(isObject(file.messages) ? file.messages : {})) {
    if (!isObject(message)) {
      problems.push(`messages.${name}: must be an object`);
      continue;
    }
    checkGroup(`messages.${name}.fields`, message.fields);
    if (message.answer !== undefined) checkGroup(`messages.${name}.answer`, message.answer);
  }
  for (const [name, group] of Object.entries(isObject(file.commandAnswers) ? file.commandAnswers : {})) {
    checkGroup(`commandAnswers.${name}`, group);
  }
  if (problems.length > 0) throw new Error(`mappings/gantry/fields.json:\n${problems.join('\n')}`);
  return file as unknown as FieldsFile;
}

function pathOf(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

class Walk {
  readonly quality: Quality = {};
  readonly undeclared: string[] = [];
  constructor(private readonly typer: FieldTyper) {}

  /** `parent` and `key` name the value; its path (for `quality` and `undeclared`) is only built
   *  when needed: most values are read without one. */
  value(value: unknown, spec: FieldSpec | undefined, parent: string, key: string): unknown {
    if (typeof value === 'string' && this.typer.errorWords.has(value.trim())) {
      this.quality[pathOf(parent, key)] = value.trim();
      return null;
    }
    if (!spec) return this.undeclaredValue(value, pathOf(parent, key));
    if (GROUP_TYPES.has(spec.type)) return this.groupValue(value, this.typer.group(spec.of), pathOf(parent, key));
    const typed = this.leaf(value, spec);
    if (typed === undefined) {
      this.quality[pathOf(parent, key)] = INVALID;
      return null;
    }
    return typed;
  }

  private leaf(value: unknown, spec: FieldSpec): unknown {
    switch (spec.type) {
      case 'number':
      case 'count':
        return toNumber(value, spec.unit);
      case 'status':
      case 'enum':
        return toInteger(value);
      case 'id':
        if (typeof value === 'string') return value.trim();
        return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
      case 'time':
        return typeof value === 'string' ? deviceTimeToIso(value, this.typer.timeZone) : undefined;
      case 'warnings':
        return toWarnings(value);
      default:
        return this.undeclaredValue(value, undefined);
    }
  }

  /** Objects and arrays of a group keep the shape the device sent (doors comes both ways). */
  private groupValue(value: unknown, group: FieldGroup, path: string): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.groupValue(item, group, `${path}[${i}]`));
    if (!isObject(value)) {
      this.quality[path] = INVALID;
      return null;
    }
    const out: JsonObject = {};
    for (const key in value) out[key] = this.value(value[key], group[key], path, key);
    return out;
  }

  /** `path` undefined: inside a declared passthrough, where nothing counts as undeclared. */
  private undeclaredValue(value: unknown, path: string | undefined): unknown {
    if (path !== undefined) this.undeclared.push(path);
    if (Array.isArray(value)) return value.map((item) => this.undeclaredValue(item, undefined));
    if (isObject(value)) {
      const out: JsonObject = {};
      for (const [key, inner] of Object.entries(value)) out[key] = this.undeclaredValue(inner, undefined);
      return out;
    }
    return value;
  }
}

export class FieldTyper {
  readonly file: FieldsFile;
  readonly timeZone: string;
  readonly errorWords: ReadonlySet<string>;
  private readonly envelopeKeys: ReadonlySet<string>;

  constructor(file: unknown, timeZone: string) {
    this.file = checkFields(file);
    this.timeZone = timeZone;
    this.errorWords = new Set(this.file.errorWords);
    this.envelopeKeys = new Set([...ENVELOPE_KEYS, ...Object.keys(this.file.envelope)]);
  }

  group(name: string | undefined): FieldGroup {
    return (name !== undefined && this.file.groups[name]) || {};
  }

  /** The event `data` of an upload: envelope removed, keys trimmed, values typed, `quality` added
   *  when a value could not be read. `keysTrimmed`: the body came through trimKeys already. */
  upload(method: string, body: unknown, keysTrimmed = false): Typed {
    // checkUpload trimmed the keys already: a second pass over every key would find nothing.
    const trimmed = keysTrimmed ? body : trimKeys(body);
    const fields = this.file.messages[method]?.fields ?? {};
    const walk = new Walk(this);
    const data: JsonObject = {};
    if (isObject(trimmed)) {
      for (const [key, value] of Object.entries(trimmed)) {
        if (this.envelopeKeys.has(key)) continue;
        data[key] = walk.value(value, fields[key], '', key);
      }
    }
    if (Object.keys(walk.quality).length > 0) data.quality = walk.quality;
    return { data, quality: walk.quality, undeclared: walk.undeclared };
  }

  /** The rest of a command's JSON answer (beside code/msg), typed where declared. */
  commandAnswer(method: string, rest: JsonObject): Typed {
    const fields = this.file.commandAnswers?.[method] ?? {};
    const walk = new Walk(this);
    const data: JsonObject = {};
    for (const [key, value] of Object.entries(rest)) {
      data[key] = fields[key] ? walk.value(value, fields[key], '', key) : value;
    }
    if (Object.keys(walk.quality).length > 0) data.quality = walk.quality;
    return { data, quality: walk.quality, undeclared: walk.undeclared };
  }

  /** Declared-required fields absent from a (key-trimmed) upload, as paths. */
  missing(method: string, body: JsonObject): string[] {
    const out: string[] = [];
    const check = (group: FieldGroup, value: unknown, path: string): void => {
      if (Array.isArray(value)) {
        value.forEach((item, i) => check(group, item, `${path}[${i}]`));
        return;
      }
      if (!isObject(value)) return;
      // Paths are built only where they are needed: most declared fields are leaves and present.
      for (const key in group) {
        const spec = group[key] as FieldSpec;
        const inner = value[key];
        if (inner === undefined || inner === null) {
          if (spec.required) out.push(path === '' ? key : `${path}.${key}`);
          continue;
        }
        if (GROUP_TYPES.has(spec.type)) {
          const at = path === '' ? key : `${path}.${key}`;
          if (spec.required && typeof inner !== 'object') out.push(at);
          else check(this.group(spec.of), inner, at);
        }
      }
    };
    check(this.file.envelope, body, '');
    check(this.file.messages[method]?.fields ?? {}, body, '');
    return out;
  }

  /** Every declared leaf of a message as `path: spec`, arrays written `[]` (docs and tests). */
  leaves(method: string): Map<string, FieldSpec> {
    const out = new Map<string, FieldSpec>();
    const visit = (group: FieldGroup, prefix: string, seen: ReadonlySet<string>): void => {
      for (const [key, spec] of Object.entries(group)) {
        const path = prefix === '' ? key : `${prefix}.${key}`;
        if (GROUP_TYPES.has(spec.type) && spec.of !== undefined && !seen.has(spec.of)) {
          visit(this.group(spec.of), spec.type === 'object' ? path : `${path}[]`, new Set([...seen, spec.of]));
        } else {
          out.set(path, spec);
        }
      }
    };
    visit(this.file.messages[method]?.fields ?? {}, '', new Set());
    return out;
  }
}
