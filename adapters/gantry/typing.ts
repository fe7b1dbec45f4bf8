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

/** The ways a unit may be written after a value, resolved once per declared field. */
interface Units {
  written: readonly string[];
  /** `written` lowercased, compared with the lowercased value. */
  lower: readonly string[];
}

const NO_UNITS: Units = { written: [], lower: [] };

function unitsOf(unit: string | undefined): Units {
  // ℃ is one character standing for °C, and Chinese firmware writes it more often than °C.
  const written = unit === '°C' ? ['°C', '℃'] : unit ? [unit] : [];
  return written.length === 0 ? NO_UNITS : { written, lower: written.map((u) => u.toLowerCase()) };
}

function toNumber(value: unknown, units: Units): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  let text = value.trim();
  // Most values are plain numbers: read them before looking for a unit (every upload has dozens).
  if (NUMERIC.test(text)) {
    const n = Number(text);
    return Number.isFinite(n) ? n : undefined;
  }
  // Some firmware writes the unit after the value ("40℃", "99.99%"); the number is still good.
  if (units.written.length > 0) {
    const lower = text.toLowerCase();
    const i = units.lower.findIndex((u) => lower.endsWith(u));
    if (i >= 0) text = text.slice(0, -(units.written[i] as string).length).trim();
  }
  if (text.endsWith('%')) text = text.slice(0, -1).trim();
  if (!NUMERIC.test(text)) return undefined;
  const n = Number(text);
  return Number.isFinite(n) ? n : undefined;
}

function toInteger(value: unknown): number | undefined {
  const n = toNumber(value, NO_UNITS);
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

/** One upload's (or answer's) typing: what could not be read, and where the walk is, so that a path
 *  is written only for a value that needs one (quality, undeclared). */
class Walk {
  readonly quality: Quality = {};
  readonly undeclared: string[] = [];
  /** Keys and array indexes from `data` down to the group being typed. */
  readonly at: Array<string | number> = [];
  constructor(readonly errorWords: ReadonlySet<string>) {}

  /** The path of `key` in the group being typed (of that group itself without `key`), written as
   *  keys joined by `.` and indexes as `[i]`; a key below an empty top-level key starts the path. */
  path(key?: string): string {
    let path = '';
    for (const part of this.at) path = typeof part === 'number' ? `${path}[${part}]` : path === '' ? part : `${path}.${part}`;
    if (key === undefined) return path;
    return path === '' ? key : `${path}.${key}`;
  }

  /** A device error word, or undefined: every value is checked, declared or not. */
  errorWord(value: unknown): string | undefined {
    if (typeof value !== 'string') return undefined;
    const word = value.trim();
    return this.errorWords.has(word) ? word : undefined;
  }

  /** `key` could not be read: null in `data`, the reason in `quality`. */
  fail(key: string | undefined, word: string): null {
    this.quality[this.path(key)] = word;
    return null;
  }
}

/** A declared field's typer, built once from its declaration: the value, the walk, and the key the
 *  value has in its group (to name it in `quality` when it cannot be read). */
type Field = (value: unknown, walk: Walk, key: string) => unknown;
/** A group's fields by key; a key not in it is undeclared. */
type CompiledGroup = ReadonlyMap<string, Field>;

/** A value inside an undeclared or passthrough field: copied as sent. */
function copied(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copied);
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key in value) out[key] = copied(value[key]);
    return out;
  }
  return value;
}

const undeclared: Field = (value, walk, key) => {
  const word = walk.errorWord(value);
  if (word !== undefined) return walk.fail(key, word);
  walk.undeclared.push(walk.path(key));
  return copied(value);
};

/** A leaf: `read` gives the typed value, or undefined when the value does not fit (`Invalid`). */
function leafField(read: (value: unknown) => unknown): Field {
  return (value, walk, key) => {
    const word = walk.errorWord(value);
    if (word !== undefined) return walk.fail(key, word);
    const typed = read(value);
    return typed === undefined ? walk.fail(key, INVALID) : typed;
  };
}

/** Objects and arrays of a group keep the shape the device sent (doors comes both ways); array
 *  items are not checked for error words, an item that is no object is `Invalid`. */
function groupValue(value: unknown, group: CompiledGroup, walk: Walk): unknown {
  if (Array.isArray(value)) {
    const out: unknown[] = new Array<unknown>(value.length);
    for (let i = 0; i < value.length; i += 1) {
      walk.at.push(i);
      out[i] = groupValue(value[i], group, walk);
      walk.at.pop();
    }
    return out;
  }
  if (!isObject(value)) return walk.fail(undefined, INVALID);
  const out: JsonObject = {};
  for (const key in value) out[key] = (group.get(key) ?? undeclared)(value[key], walk, key);
  return out;
}

/** Builds the typers of fields.json once: per value, typing is then a map lookup and a call. */
class Compiler {
  private readonly groups = new Map<string, Map<string, Field>>();
  constructor(
    private readonly file: FieldsFile,
    private readonly timeZone: string,
  ) {}

  /** A named group, compiled once; a group that holds itself gets its own (unfinished) map. */
  group(name: string | undefined): CompiledGroup {
    if (name === undefined || !Object.hasOwn(this.file.groups, name)) return new Map();
    let compiled = this.groups.get(name);
    if (!compiled) {
      compiled = new Map();
      this.groups.set(name, compiled);
      this.fill(compiled, this.file.groups[name] as FieldGroup);
    }
    return compiled;
  }

  fields(group: FieldGroup | undefined): CompiledGroup {
    const compiled = new Map<string, Field>();
    if (group) this.fill(compiled, group);
    return compiled;
  }

  private fill(compiled: Map<string, Field>, group: FieldGroup): void {
    for (const [key, spec] of Object.entries(group)) compiled.set(key, this.field(spec));
  }

  private field(spec: FieldSpec): Field {
    switch (spec.type) {
      case 'object':
      case 'array':
      case 'objectOrArray': {
        // Compiled when first met: the group may be this one, still being filled.
        let group: CompiledGroup | undefined;
        return (value, walk, key) => {
          const word = walk.errorWord(value);
          if (word !== undefined) return walk.fail(key, word);
          group ??= this.group(spec.of);
          walk.at.push(key);
          const out = groupValue(value, group, walk);
          walk.at.pop();
          return out;
        };
      }
      case 'number':
      case 'count': {
        const units = unitsOf(spec.unit);
        return leafField((value) => toNumber(value, units));
      }
      case 'status':
      case 'enum':
        return leafField(toInteger);
      case 'id':
        return leafField((value) => {
          if (typeof value === 'string') return value.trim();
          return typeof value === 'number' && Number.isFinite(value) ? String(value) : undefined;
        });
      case 'time': {
        const { timeZone } = this;
        return leafField((value) => (typeof value === 'string' ? deviceTimeToIso(value, timeZone) : undefined));
      }
      case 'warnings':
        return leafField(toWarnings);
      case 'passthrough':
        return leafField(copied);
    }
  }
}

/** What `missing` checks of a group: its required keys, and the groups below it that hold some. */
interface RequiredCheck {
  key: string;
  required: boolean;
  /** The group below, when something in it (or further down) is required. */
  below?: RequiredCheck[];
}

export class FieldTyper {
  readonly file: FieldsFile;
  readonly timeZone: string;
  readonly errorWords: ReadonlySet<string>;
  private readonly envelopeKeys: ReadonlySet<string>;
  private readonly uploads: ReadonlyMap<string, CompiledGroup>;
  private readonly answers: ReadonlyMap<string, CompiledGroup>;
  private readonly required: ReadonlyMap<string, RequiredCheck[]>;
  private readonly envelopeRequired: RequiredCheck[];

  constructor(file: unknown, timeZone: string) {
    this.file = checkFields(file);
    this.timeZone = timeZone;
    this.errorWords = new Set(this.file.errorWords);
    this.envelopeKeys = new Set([...ENVELOPE_KEYS, ...Object.keys(this.file.envelope)]);
    const compiler = new Compiler(this.file, timeZone);
    this.uploads = new Map(Object.entries(this.file.messages).map(([method, message]) => [method, compiler.fields(message.fields)]));
    this.answers = new Map(Object.entries(this.file.commandAnswers ?? {}).map(([method, group]) => [method, compiler.fields(group)]));
    const holding = this.groupsHoldingRequired();
    const checks = new Map<string, RequiredCheck[]>();
    this.envelopeRequired = this.requiredIn(this.file.envelope, checks, holding);
    this.required = new Map(Object.entries(this.file.messages).map(([method, message]) => [method, this.requiredIn(message.fields, checks, holding)]));
  }

  group(name: string | undefined): FieldGroup {
    return (name !== undefined && this.file.groups[name]) || {};
  }

  /** The event `data` of an upload: envelope removed, keys trimmed, values typed, `quality` added
   *  when a value could not be read. `keysTrimmed`: the body came through trimKeys already. */
  upload(method: string, body: unknown, keysTrimmed = false): Typed {
    // checkUpload trimmed the keys already: a second pass over every key would find nothing.
    const trimmed = keysTrimmed ? body : trimKeys(body);
    const fields = this.uploads.get(method);
    const walk = new Walk(this.errorWords);
    const data: JsonObject = {};
    if (isObject(trimmed)) {
      for (const key in trimmed) {
        if (this.envelopeKeys.has(key)) continue;
        data[key] = (fields?.get(key) ?? undeclared)(trimmed[key], walk, key);
      }
    }
    if (hasKeys(walk.quality)) data.quality = walk.quality;
    return { data, quality: walk.quality, undeclared: walk.undeclared };
  }

  /** The rest of a command's JSON answer (beside code/msg), typed where declared. */
  commandAnswer(method: string, rest: JsonObject): Typed {
    const fields = this.answers.get(method);
    const walk = new Walk(this.errorWords);
    const data: JsonObject = {};
    for (const key in rest) {
      const field = fields?.get(key);
      data[key] = field ? field(rest[key], walk, key) : rest[key];
    }
    if (hasKeys(walk.quality)) data.quality = walk.quality;
    return { data, quality: walk.quality, undeclared: walk.undeclared };
  }

  /** Declared-required fields absent from a (key-trimmed) upload, as paths. */
  missing(method: string, body: JsonObject): string[] {
    const out: string[] = [];
    const check = (checks: readonly RequiredCheck[], value: unknown, path: string): void => {
      if (Array.isArray(value)) {
        value.forEach((item, i) => check(checks, item, `${path}[${i}]`));
        return;
      }
      if (!isObject(value)) return;
      // Paths are built only where they are needed: most declared fields are leaves and present.
      for (const { key, required, below } of checks) {
        const inner = value[key];
        if (inner === undefined || inner === null) {
          if (required) out.push(path === '' ? key : `${path}.${key}`);
          continue;
        }
        if (required && below !== undefined && typeof inner !== 'object') out.push(path === '' ? key : `${path}.${key}`);
        else if (below !== undefined && below.length > 0) check(below, inner, path === '' ? key : `${path}.${key}`);
      }
    };
    check(this.envelopeRequired, body, '');
    check(this.required.get(method) ?? [], body, '');
    return out;
  }

  /** The checks `missing` makes in a group: fields that are required or hold something required
   *  further down (the others need not be looked at: absent or present, they are never missing).
   *  `below` is set on every group field that is kept, empty when only the field itself counts. */
  private requiredIn(group: FieldGroup, compiled: Map<string, RequiredCheck[]>, holding: ReadonlySet<string>): RequiredCheck[] {
    const checks: RequiredCheck[] = [];
    for (const [key, spec] of Object.entries(group)) {
      if (!GROUP_TYPES.has(spec.type)) {
        if (spec.required === true) checks.push({ key, required: true });
        continue;
      }
      const name = spec.of;
      const holds = name !== undefined && holding.has(name);
      let below: RequiredCheck[] = [];
      if (holds) {
        // Registered before it is filled: a group that holds itself shares its checks.
        const known = compiled.get(name);
        if (known) below = known;
        else {
          compiled.set(name, below);
          below.push(...this.requiredIn(this.group(name), compiled, holding));
        }
      }
      if (spec.required === true || holds) checks.push({ key, required: spec.required === true, below });
    }
    return checks;
  }

  /** The groups that hold a required field, themselves or in a group further down. */
  private groupsHoldingRequired(): ReadonlySet<string> {
    const holding = new Set<string>();
    const groups = Object.entries(this.file.groups);
    // Until nothing changes: a group holds one when a field is required or its group holds one.
    for (let changed = true; changed; ) {
      changed = false;
      for (const [name, group] of groups) {
        if (holding.has(name)) continue;
        const holds = Object.values(group).some((spec) => spec.required === true || (GROUP_TYPES.has(spec.type) && spec.of !== undefined && holding.has(spec.of)));
        if (holds) {
          holding.add(name);
          changed = true;
        }
      }
    }
    return holding;
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

function hasKeys(object: object): boolean {
  for (const _ in object) return true;
  return false;
}
