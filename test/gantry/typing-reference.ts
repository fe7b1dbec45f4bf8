// The gantry typing as it was before adapters/gantry/typing.ts compiled fields.json: a walk that
// looks each value's declaration up as it goes. Kept only as the tests' reference: the compiled
// typer must type every body exactly as this literal reading of the declaration does.
import type { JsonObject } from '../../src/adapter.js';
import { ENVELOPE_KEYS } from '../../adapters/gantry/constants.js';
import { isObject, trimKeys } from '../../src/json.js';
import { deviceTimeToIso } from '../../src/clock.js';
import { INVALID, checkFields, type FieldGroup, type FieldSpec, type FieldsFile, type FieldType, type Quality, type Typed } from '../../adapters/gantry/typing.js';

const GROUP_TYPES: ReadonlySet<FieldType> = new Set(['object', 'array', 'objectOrArray']);
const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;

function toNumber(value: unknown, unit: string | undefined): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  let text = value.trim();
  if (NUMERIC.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
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
  return value
    .split(/[,，]/)
    .map((w) => w.trim())
    .filter((w) => w !== '');
}

function pathOf(parent: string, key: string): string {
  return parent === '' ? key : `${parent}.${key}`;
}

/** Own declarations only: a key such as `toString` is not declared by Object.prototype. */
function specOf(group: FieldGroup, key: string): FieldSpec | undefined {
  return Object.hasOwn(group, key) ? group[key] : undefined;
}

class Walk {
  readonly quality: Quality = {};
  readonly undeclared: string[] = [];
  constructor(private readonly typer: ReferenceTyper) {}

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

  private groupValue(value: unknown, group: FieldGroup, path: string): unknown {
    if (Array.isArray(value)) return value.map((item, i) => this.groupValue(item, group, `${path}[${i}]`));
    if (!isObject(value)) {
      this.quality[path] = INVALID;
      return null;
    }
    const out: JsonObject = {};
    for (const key in value) out[key] = this.value(value[key], specOf(group, key), path, key);
    return out;
  }

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

export class ReferenceTyper {
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
    return (name !== undefined && Object.hasOwn(this.file.groups, name) && this.file.groups[name]) || {};
  }

  upload(method: string, body: unknown): Typed {
    const trimmed = trimKeys(body);
    const fields = (Object.hasOwn(this.file.messages, method) && this.file.messages[method]?.fields) || {};
    const walk = new Walk(this);
    const data: JsonObject = {};
    if (isObject(trimmed)) {
      for (const [key, value] of Object.entries(trimmed)) {
        if (this.envelopeKeys.has(key)) continue;
        data[key] = walk.value(value, specOf(fields, key), '', key);
      }
    }
    if (Object.keys(walk.quality).length > 0) data.quality = walk.quality;
    return { data, quality: walk.quality, undeclared: walk.undeclared };
  }

  commandAnswer(method: string, rest: JsonObject): Typed {
    const fields = (this.file.commandAnswers && Object.hasOwn(this.file.commandAnswers, method) && this.file.commandAnswers[method]) || {};
    const walk = new Walk(this);
    const data: JsonObject = {};
    for (const [key, value] of Object.entries(rest)) {
      const spec = specOf(fields, key);
      data[key] = spec ? walk.value(value, spec, '', key) : value;
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
    check((Object.hasOwn(this.file.messages, method) && this.file.messages[method]?.fields) || {}, body, '');
    return out;
  }
}
