// The one rule for numbers sent as strings and numeric strings sent as numbers (README
// "Commands"), on its own: which texts are a number, which schemas want a numeric string, and what
// a command's data becomes before its schema checks it. The adapters' end-to-end tests show the
// devices getting their protocol's types.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { decimalNumber, decimalText, isDigitsPattern, lenientConverter, numberFrom } from '../../src/leniency.js';
import { Mappings } from '../../src/mappings.js';
import { API_ADAPTERS } from '../../src/asyncapi.js';
import { isObject } from '../../src/json.js';
import { ROOT } from '../../src/paths.js';
import { SEED_COMMAND_EXAMPLES } from '../qyzn/fixtures/seed-examples.js';
import type { JsonObject } from '../../src/adapter.js';

t.test('a string stands for a number only when it is exactly how JSON writes that number', async (t) => {
  for (const [text, n] of [['5', 5], ['0', 0], ['-5', -5], ['2.5', 2.5], ['-0.25', -0.25], ['65535', 65535], ['9007199254740991', 9007199254740991]] as const) {
    t.equal(decimalNumber(text), n, JSON.stringify(text));
  }
  for (const text of ['5.0', ' 5', '5 ', '05', '+5', '5e0', '1e3', '0x10', '', '-0', '1.50', '.5', '5.', '9007199254740993', 'Infinity', 'NaN', 'five', '5,0', '٥']) {
    t.equal(decimalNumber(text), undefined, `${JSON.stringify(text)} is no number`);
  }
  t.equal(decimalText(5), '5');
  t.equal(decimalText(-2.5), '-2.5');
  t.equal(decimalText(-0), '0');
  for (const n of [1e21, 1e-7, Number.NaN, Number.POSITIVE_INFINITY]) t.equal(decimalText(n), undefined, `${String(n)} has no plain decimal text`);
  t.equal(numberFrom(5000), 5000);
  t.equal(numberFrom('5000'), 5000);
  for (const v of ['5000.0', ' 5000', true, null, [5000], {}, undefined]) t.equal(numberFrom(v), undefined, `${JSON.stringify(v)} is no number`);
});

t.test('a digits pattern is one whose matches are written with digits, "-" and "." only', async (t) => {
  for (const p of ['^[1-9][0-9]{0,6}$', '^-?[0-9]{1,3}(\\.[0-9]{1,2})?$', '^[0-9]{1,2}$', '^[0-9]{1,5}$', '^\\d+$', '^(0|[1-9][0-9]*)$', '^(?:[0-9]{2})+$']) {
    t.ok(isDigitsPattern(p), p);
  }
  for (const p of ['[0-9]+', '^[0-9]+', '[0-9]+$', '^[0-9A-F]{2}$', '^([0-9A-F]{2})*$', '^[0-9Xx]*$', '^\\S+$', '^.+$', '^\\d{2}:\\d{2}:\\d{2}$', '^[0-9a-fA-F]{32}$', '^$', '^abc$', '^[0-9]+\\$']) {
    t.notOk(isDigitsPattern(p), p);
  }
});

t.test('data is converted where the schema wants the other type, and nowhere else', async (t) => {
  const schema = {
    type: 'object',
    $defs: { port: { type: 'string', pattern: '^[0-9]{1,5}$' } },
    properties: {
      count: { type: 'integer' },
      ratio: { type: 'number' },
      flag: { enum: ['0', '1'] },
      port: { $ref: '#/$defs/port' },
      name: { type: 'string' },
      hex: { type: 'string', pattern: '^[0-9A-F]*$' },
      either: { anyOf: [{ type: 'integer' }, { type: 'string' }] },
      tip: { anyOf: [{ type: 'boolean' }, { type: 'integer', enum: [0, 1] }] },
      words: { enum: ['1', 'one'] },
      on: { type: 'boolean' },
      list: { type: 'array', items: { type: 'integer' } },
      nested: { type: 'object', properties: { level: { type: 'integer' } }, additionalProperties: { type: 'string', pattern: '^[0-9]+$' } },
      anything: true,
    },
    allOf: [{ if: { properties: { count: { const: 1 } } }, then: { properties: { mode: { enum: ['1', '2'] } } } }],
  };
  const convert = lenientConverter(schema);
  const sent = {
    count: '5',
    ratio: '2.5',
    flag: 1,
    port: 502,
    name: 42,
    hex: 12,
    either: '7',
    tip: '1',
    words: 1,
    on: 'true',
    list: ['1', 2, '3.0'],
    nested: { level: '3', extra: 7 },
    anything: '9',
    mode: 2,
    unknown: '4',
  };
  const copy = structuredClone(sent);
  t.strictSame(convert(sent), {
    count: 5,
    ratio: 2.5,
    flag: '1',
    port: '502',
    name: 42,
    hex: 12,
    either: '7',
    tip: 1,
    words: 1,
    on: 'true',
    list: [1, 2, '3.0'],
    nested: { level: 3, extra: '7' },
    anything: '9',
    mode: '2',
    unknown: '4',
  }, 'numbers and numeric strings swap; plain strings, hex, mixed places, booleans and unknown keys stay as sent');
  t.strictSame(sent, copy, 'the caller\'s data is not changed');
  for (const refused of ['5.0', ' 5', '05', '', 'five', true, null, [5], { n: 5 }]) {
    t.strictSame(convert({ count: refused }), { count: refused }, `${JSON.stringify(refused)} is left for the schema to refuse`);
  }
  for (const refused of [true, null, 1.5e21, [1]]) {
    t.strictSame(convert({ flag: refused }), { flag: refused }, `${JSON.stringify(refused)} is not made a numeric string`);
  }
});

t.test('every command example of the adapter pages and the qyzn seed is left exactly as it is', async (t) => {
  // Data already in the protocol's own types is never touched: the rule only reads a value of
  // the other type.
  let seen = 0;
  const unchanged = (adapter: string, name: string, data: unknown): void => {
    const command = new Mappings(adapter).command(name);
    if (!command || !isObject(data)) return;
    const merged = { ...(command.defaults ?? {}), ...data };
    t.strictSame(command.convert(merged), merged, `${adapter} ${name} ${JSON.stringify(data).slice(0, 60)}`);
    seen++;
  };
  for (const adapter of API_ADAPTERS) {
    const page = readFileSync(join(ROOT, 'docs', `${adapter}.md`), 'utf8');
    for (const m of page.matchAll(/-t ['"][^'"]*\/(\w+)['"] -m '(\{.*\})'/g)) {
      // A payload spliced with a shell variable ('{"id":"'"$id"'"...}') is a platform reply, not a command.
      if ((m[2] ?? '').includes(`'"`)) continue;
      const body = JSON.parse(m[2] ?? '{}') as { data?: unknown };
      unchanged(adapter, m[1] ?? '', body.data ?? {});
    }
  }
  for (const [name, examples] of Object.entries(SEED_COMMAND_EXAMPLES)) for (const data of examples) unchanged('qyzn', name, data);
  t.ok(seen > 80, `${seen} examples`);
});

t.test('the rule is written once, in the README, and every adapter page links it', async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  t.match(readme, /\n#### Numbers and numeric strings\n/);
  for (const adapter of API_ADAPTERS) {
    t.match(readFileSync(join(ROOT, 'docs', `${adapter}.md`), 'utf8'), '](../README.md#numbers-and-numeric-strings)', `docs/${adapter}.md links it`);
  }
});

t.test('a gantry range holds whichever type the value is sent in', async (t) => {
  // The schemas speak the protocol's strings; their patterns carry the ranges the numbers had.
  const command = new Mappings('gantry').command('cabinetControl');
  if (!command) throw new Error('no cabinetControl');
  const valid = (data: JsonObject): boolean => command.validate(command.convert(data)) as boolean;
  const reboot = (port: unknown): JsonObject => ({ cmd: '1', rebootIp: '192.168.1.20', rebootPort: port as string });
  const setPoints = (temp: unknown): JsonObject => ({ cmd: '4', airId: '0', autoRefrigerationTemp: temp as string, autoHeatingTemp: '5' });
  for (const port of ['1', 502, '65535', 65535]) t.ok(valid(reboot(port)), `port ${JSON.stringify(port)} taken`);
  for (const port of ['0', 0, '65536', 65536, '99999']) t.notOk(valid(reboot(port)), `port ${JSON.stringify(port)} refused`);
  for (const temp of ['-100', -99.5, '0', 30, '199.99', 200]) t.ok(valid(setPoints(temp)), `temperature ${JSON.stringify(temp)} taken`);
  for (const temp of ['-100.5', -101, '200.01', 201, 999]) t.notOk(valid(setPoints(temp)), `temperature ${JSON.stringify(temp)} refused`);
});
