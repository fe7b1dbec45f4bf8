// Numbers sent as strings, and numeric strings sent as numbers: one rule for every adapter
// (README "Commands"). Platforms (Node-RED, Home Assistant templates) lose track of which protocol
// wants `"5"` and which `5`, so either is taken where the meaning is the same; the device still
// gets its protocol's own type, because the value is converted before the schema checks it and the
// adapter encodes it. Nothing else is converted: no booleans or null from strings, no arrays from
// scalars, and only the exact decimal text of a number stands for it (`"5"`, not `"5.0"`, `" 5"`,
// `"05"` or `"5e0"`), so no value can mean two things.
import type { JsonObject } from './adapter.js';
import { isObject } from './json.js';

const DECIMAL = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?$/;

/** The number that `text` is the exact decimal writing of (as JSON writes it), else undefined. */
export function decimalNumber(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  // The round trip refuses what the digits alone do not: "-0", "2.50", and integers beyond 2^53
  // that would arrive as another number.
  return String(n) === text ? n : undefined;
}

/** The decimal writing of `n`, or undefined when JSON would write it otherwise (1e+21, 1e-7). */
export function decimalText(n: number): string | undefined {
  if (!Number.isFinite(n)) return undefined;
  const text = String(n);
  return DECIMAL.test(text) ? text : undefined;
}

/** A number as the rule takes it where the gateway itself reads one (`timeoutMs`, a platform's
 *  result code): a JSON number, or a string that is its exact decimal writing. */
export function numberFrom(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  return typeof value === 'string' ? decimalNumber(value) : undefined;
}

type Schema = JsonObject | boolean;

/** What the schemas at one place of the data admit, as far as the rule cares. */
interface Wants {
  number: boolean;
  /** A string that can only be digits: an enum or const of decimal strings, or a digits pattern. */
  numericString: boolean;
  /** Any other string. */
  string: boolean;
  /** A ref there that cannot be followed: what it wants is unknown, so the value is left as sent.
   *  (A `true` schema asserts nothing and counts for nothing: `then: {properties: {x: true}}` only
   *  makes room for x.) */
  unknown: boolean;
}

/** A pattern whose every match is written with digits, `-` and `.` only: `^[1-9][0-9]{0,2}$`,
 *  `^-?[0-9]{1,3}(\.[0-9]{1,2})?$`. Anything it cannot read (classes with letters, `\S`, `.`) is
 *  not numeric, so a number is not turned into, say, hex digits. */
export function isDigitsPattern(pattern: string): boolean {
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$')) return false;
  const body = pattern.slice(1, -1);
  const token = /\\d|\\\.|\[(?:[0-9]-[0-9]|[0-9])+\]|[0-9]|-|\((?:\?:)?|\)|\||[?*+]|\{[0-9]+(?:,[0-9]*)?\}/y;
  for (let at = 0; at < body.length; at = token.lastIndex) {
    token.lastIndex = at;
    if (!token.test(body)) return false;
  }
  return /[0-9[]|\\d/.test(body);
}

/** A converter of a command's `data` by its JSON Schema: where every schema that speaks of a
 *  place wants a number (and no string), a decimal string there becomes that number; where they
 *  want a numeric string (and no number, and no other string), a number there becomes its decimal
 *  text. The result is then validated as usual, so a value the rule does not convert is refused
 *  with the schema's own message. The input is not changed. */
export function lenientConverter(root: JsonObject): (data: JsonObject) => JsonObject {
  return (data) => convert(data, [root], root) as JsonObject;
}

function convert(value: unknown, schemas: readonly Schema[], root: JsonObject): unknown {
  const here = expand(schemas, root);
  if (Array.isArray(value)) return value.map((item, i) => convert(item, here.flatMap((s) => itemSchemas(s, i)), root));
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const [key, v] of Object.entries(value)) out[key] = convert(v, here.flatMap((s) => propertySchemas(s, key)), root);
    return out;
  }
  if (typeof value !== 'string' && typeof value !== 'number') return value;
  const wants = wanted(here);
  if (wants.unknown) return value;
  if (typeof value === 'string' && wants.number && !wants.numericString && !wants.string) return decimalNumber(value) ?? value;
  if (typeof value === 'number' && wants.numericString && !wants.number && !wants.string) return decimalText(value) ?? value;
  return value;
}

/** Every schema that may apply at this place, through $ref and the combinators: a union, so a
 *  place that one branch wants as a number and another as a string is left as sent. `if` is a
 *  condition, not a shape (what it names is asserted by `then`); `not` admits nothing new. */
function expand(schemas: readonly Schema[], root: JsonObject): Schema[] {
  const out: Schema[] = [];
  const seen = new Set<Schema>();
  const visit = (s: Schema | undefined): void => {
    if (s === undefined || seen.has(s)) return;
    seen.add(s);
    out.push(s);
    if (typeof s === 'boolean') return;
    if (typeof s.$ref === 'string') visit(resolve(s.$ref, root));
    for (const key of ['allOf', 'anyOf', 'oneOf'] as const) {
      const list = s[key];
      if (Array.isArray(list)) for (const sub of list) visit(asSchema(sub));
    }
    visit(asSchema(s.then));
    visit(asSchema(s.else));
    if (isObject(s.dependentSchemas)) for (const sub of Object.values(s.dependentSchemas)) visit(asSchema(sub));
  };
  for (const s of schemas) visit(s);
  return out;
}

/** Stands for the target of a ref that is not followed (not local, or not found). */
const UNKNOWN: JsonObject = Object.freeze({});

/** A local ref (`#/$defs/cabinetId`). */
function resolve(ref: string, root: JsonObject): Schema {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return UNKNOWN;
  let at: unknown = root;
  for (const part of ref.slice(2).split('/')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    at = isObject(at) && Object.hasOwn(at, key) ? at[key] : undefined;
  }
  return asSchema(at) ?? UNKNOWN;
}

function asSchema(value: unknown): Schema | undefined {
  return typeof value === 'boolean' || isObject(value) ? value : undefined;
}

function propertySchemas(s: Schema, key: string): Schema[] {
  if (typeof s === 'boolean') return [s];
  const found: Schema[] = [];
  const properties = s.properties;
  if (isObject(properties) && Object.hasOwn(properties, key)) pushSchema(found, properties[key]);
  if (isObject(s.patternProperties)) {
    for (const [pattern, sub] of Object.entries(s.patternProperties)) if (new RegExp(pattern, 'u').test(key)) pushSchema(found, sub);
  }
  if (found.length === 0) pushSchema(found, s.additionalProperties);
  return found;
}

function itemSchemas(s: Schema, index: number): Schema[] {
  if (typeof s === 'boolean') return [s];
  const found: Schema[] = [];
  if (Array.isArray(s.prefixItems) && index < s.prefixItems.length) pushSchema(found, s.prefixItems[index]);
  else pushSchema(found, s.items);
  return found;
}

function pushSchema(list: Schema[], value: unknown): void {
  const s = asSchema(value);
  if (s !== undefined) list.push(s);
}

function wanted(schemas: readonly Schema[]): Wants {
  const wants: Wants = { number: false, numericString: false, string: false, unknown: false };
  for (const s of schemas) {
    if (s === UNKNOWN) wants.unknown = true;
    if (typeof s === 'boolean' || s === UNKNOWN) continue;
    const listed = Array.isArray(s.enum) ? s.enum : Object.hasOwn(s, 'const') ? [s.const] : undefined;
    if (listed) {
      for (const v of listed) {
        if (typeof v === 'number') wants.number = true;
        else if (typeof v === 'string') wants[decimalNumber(v) === undefined ? 'string' : 'numericString'] = true;
      }
      continue;
    }
    const types = Array.isArray(s.type) ? s.type : [s.type];
    if (types.includes('number') || types.includes('integer')) wants.number = true;
    if (types.includes('string')) wants[typeof s.pattern === 'string' && isDigitsPattern(s.pattern) ? 'numericString' : 'string'] = true;
  }
  return wants;
}
