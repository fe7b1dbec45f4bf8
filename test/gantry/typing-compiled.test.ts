// adapters/gantry/typing.ts compiles fields.json into a typer per message once at load. These tests
// hold it to the declaration: every body, of every field of fields.json and at random, is typed
// exactly as the walk that reads the declaration value by value (typing-reference.ts) types it —
// the same data (key order and all), quality, undeclared paths, missing fields and refusals.
import t from 'tap';
import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { Mappings } from '../../src/mappings.js';
import { FieldTyper, type FieldGroup, type FieldSpec, type FieldsFile, type Typed } from '../../adapters/gantry/typing.js';
import { ReferenceTyper } from './typing-reference.js';
import { UPLOAD_EXAMPLES, seedJson } from './fixtures/seeds.js';
import { trimKeys } from '../../src/json.js';

const fields = new Mappings('gantry').read<FieldsFile>('fields');
const METHODS = [...Object.keys(fields.messages), 'unknownMethod', 'toString'];
const ZONES = ['Asia/Shanghai', 'Europe/Berlin', 'America/St_Johns'];
const compiled = new Map(ZONES.map((zone) => [zone, new FieldTyper(fields, zone)]));
const reference = new Map(ZONES.map((zone) => [zone, new ReferenceTyper(fields, zone)]));

type Outcome = { typed: Typed } | { threw: string };

function attempt(type: () => Typed): Outcome {
  try {
    return { typed: type() };
  } catch (err) {
    return { threw: `${(err as Error).name}: ${(err as { reason?: string }).reason ?? (err as Error).message}` };
  }
}

/** Equal as values and as JSON text (JSON.stringify keeps key order, which the events pin). */
function same(a: Outcome, b: Outcome): boolean {
  return isDeepStrictEqual(a, b) && JSON.stringify(a) === JSON.stringify(b);
}

function compare(method: string, body: unknown, zone = 'Asia/Shanghai'): { ok: boolean; got: Outcome; want: Outcome } {
  const got = attempt(() => (compiled.get(zone) as FieldTyper).upload(method, body));
  const want = attempt(() => (reference.get(zone) as ReferenceTyper).upload(method, body));
  return { ok: same(got, want), got, want };
}

// Values of every kind a device sends or garbles: numbers with and without units, integers,
// identifiers, device times, warning lists, error words (spaced too), and wrong shapes.
const SAMPLES: unknown[] = [
  '1', '0', ' 1 ', '-0', '220', '49.98', '.5', '1e3', '1.5E-2', '+7', '0x10', 'Infinity', 'NaN', '', ' ', '1_000',
  '40℃', '40°C', '40 °c', '99.99%', '45%RH', '45 %rh', '12.5Ah', '12.5ah', '220kV', '220V', '3600min', '7 KB', '50Hz', '1.2kWh', '5 h',
  'NoData', ' NoData ', 'GetFailed', 'NotSupport', 'nodata', 'Invalid',
  '2019-08-28 14:11:01.321', '2019-08-28 14:11:01', '2019-08-28T14:11:01.3', ' 2019-12-28 14:11:01 ', '2019-02-29 00:00:00', '2019-03-31 02:30:00',
  '输入过压,输入欠压', '整流模块故障, 输出电压欠压', 'a，b', ',', 'G000211001002110010', '0012345678', '192.168.1.10', '20191130120000',
  1, 0, -0, 2.5, 1e21, true, false, null, [], ['a', ' b ', ''], ['a', 1], {}, { x: '1' }, [{ id: '1', status: '1' }], [['nested']],
];

/** Every declared field of a message with the group that holds it, by path (arrays as `[]`). */
function declaredPaths(method: string): Array<{ path: string[]; arrays: boolean[]; spec: FieldSpec }> {
  const out: Array<{ path: string[]; arrays: boolean[]; spec: FieldSpec }> = [];
  const visit = (group: FieldGroup, path: string[], arrays: boolean[]): void => {
    for (const [key, spec] of Object.entries(group)) {
      out.push({ path: [...path, key], arrays, spec });
      if (spec.of !== undefined && ['object', 'array', 'objectOrArray'].includes(spec.type)) {
        visit(fields.groups[spec.of] ?? {}, [...path, key], [...arrays, spec.type === 'array']);
      }
    }
  };
  visit(fields.messages[method]?.fields ?? {}, [], []);
  return out;
}

/** A body holding `value` at `path`, with the groups on the way as objects or one-item arrays. */
function bodyWith(path: string[], arrays: boolean[], value: unknown): Record<string, unknown> {
  let inner: unknown = value;
  for (let i = path.length - 1; i >= 0; i -= 1) {
    const object = { [path[i] as string]: inner };
    inner = i > 0 && arrays[i - 1] ? [{ id: 'x', ...object }, object] : object;
  }
  return { gantryId: 'G1', method: 'm', timeStamp: '1', version: '1001', ...(inner as Record<string, unknown>) };
}

t.test('every field of fields.json, with every kind of value, is typed as the declaration says', async (t) => {
  let checked = 0;
  for (const method of Object.keys(fields.messages)) {
    for (const { path, arrays, spec } of declaredPaths(method)) {
      for (const value of SAMPLES) {
        for (const zone of spec.type === 'time' ? ZONES : ZONES.slice(0, 1)) {
          const { ok, got, want } = compare(method, bodyWith(path, arrays, value), zone);
          checked += 1;
          if (!ok) t.same(got, want, `${method} ${path.join('.')} = ${JSON.stringify(value)} in ${zone}`);
        }
      }
    }
  }
  t.ok(checked > 5000, `${checked} bodies typed alike`);
});

t.test('the seeds, and the seeds with spaced keys and undeclared fields', async (t) => {
  for (const edition of ['v037', 'v103'] as const) {
    for (const name of UPLOAD_EXAMPLES) {
      const body = seedJson(edition, name);
      t.ok(compare(name, body).ok, `${edition} ${name}`);
      t.ok(compare(name, { ...body, ' extra ': { a: 'NoData' }, quality: 'sent', toString: '1', '': { '': 'NoData', x: [1] } }).ok, `${edition} ${name} with undeclared keys`);
      for (const other of METHODS) t.ok(compare(other, body).ok, `${edition} ${name} typed as ${other}`);
    }
  }
});

/** Arbitrary values for a declared field: its kind of value, or anything a device could send. */
function arbitraryFor(spec: FieldSpec, depth: number): fc.Arbitrary<unknown> {
  const any = fc.oneof(fc.constantFrom(...SAMPLES), fc.jsonValue({ maxDepth: 2 }), fc.string());
  if (spec.of === undefined || !['object', 'array', 'objectOrArray'].includes(spec.type) || depth > 4) return any;
  const group = arbitraryGroup(fields.groups[spec.of] ?? {}, depth + 1);
  return fc.oneof({ weight: 4, arbitrary: group }, { weight: 3, arbitrary: fc.array(group, { maxLength: 3 }) }, { weight: 1, arbitrary: any }, { weight: 1, arbitrary: fc.array(fc.oneof(group, any), { maxLength: 3 }) });
}

/** An object of a group: some declared keys (stray spaces on some), some undeclared ones. */
function arbitraryGroup(group: FieldGroup, depth: number): fc.Arbitrary<Record<string, unknown>> {
  const declared = Object.entries(group).map(([key, spec]) =>
    fc.tuple(fc.constantFrom(key, ` ${key}`, `${key} `), arbitraryFor(spec, depth)),
  );
  const undeclaredKey = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('', ' ', 'quality', 'updatedAt', 'toString', 'hasOwnProperty', 'valueOf', '1', '0'));
  return fc
    .tuple(fc.subarray(declared.length > 0 ? declared : [fc.tuple(fc.constant('x'), fc.constant(1))]), fc.array(fc.tuple(undeclaredKey, fc.jsonValue({ maxDepth: 2 })), { maxLength: 3 }))
    .chain(([chosen, extra]) => fc.tuple(fc.tuple(...chosen), fc.constant(extra)))
    .map(([pairs, extra]) => {
      const out: Record<string, unknown> = {};
      for (const [key, value] of [...pairs, ...extra]) out[key] = value;
      return out;
    });
}

t.test('random bodies of every message: the same data, quality, undeclared and missing fields', async (t) => {
  const bodies = fc.oneof(
    ...Object.values(fields.messages).map((message) => arbitraryGroup({ ...fields.envelope, ...message.fields }, 0)),
    fc.jsonValue({ maxDepth: 3 }),
  );
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(bodies, fc.constantFrom(...METHODS), fc.constantFrom(...ZONES), (body, method, zone) => {
        if (!compare(method, body, zone).ok) return false;
        // missing() reads a body whose keys checkUpload trimmed already.
        let trimmed: unknown;
        try {
          trimmed = trimKeys(body);
        } catch {
          return true;
        }
        if (typeof trimmed !== 'object' || trimmed === null || Array.isArray(trimmed)) return true;
        const a = (compiled.get(zone) as FieldTyper).missing(method, trimmed as Record<string, unknown>);
        const b = (reference.get(zone) as ReferenceTyper).missing(method, trimmed as Record<string, unknown>);
        return isDeepStrictEqual(a, b);
      }),
      { numRuns: 3000 },
    ),
  );
});

t.test('command answers: declared fields typed, the others passed on as they are', async (t) => {
  const answer = arbitraryGroup(fields.commandAnswers?.cabinetControl ?? {}, 0);
  t.doesNotThrow(() =>
    fc.assert(
      fc.property(fc.oneof(answer, fc.dictionary(fc.string(), fc.jsonValue({ maxDepth: 2 }))), fc.constantFrom('cabinetControl', 'computerControl', 'toString'), (rest, method) => {
        const got = attempt(() => (compiled.get('Asia/Shanghai') as FieldTyper).commandAnswer(method, rest));
        const want = attempt(() => (reference.get('Asia/Shanghai') as ReferenceTyper).commandAnswer(method, rest));
        return same(got, want);
      }),
      { numRuns: 1000 },
    ),
  );
});

t.test('missing fields and their paths, as the declaration requires them', async (t) => {
  const typer = compiled.get('Asia/Shanghai') as FieldTyper;
  const ref = reference.get('Asia/Shanghai') as ReferenceTyper;
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    ['cabinetStatusUpdate', {}, ['gantryId', 'method', 'timeStamp', 'version', 'cabinetStatus']],
    ['cabinetStatusUpdate', { gantryId: 'G', method: 'm', timeStamp: '1', version: '1001', cabinetStatus: 'x' }, ['cabinetStatus']],
    ['cabinetStatusUpdate', { gantryId: 'G', method: 'm', timeStamp: '1', version: '1001', cabinetStatus: {} }, []],
    ['queryAndGetCardInfo', { gantryId: 'G', method: 'm', timeStamp: '1', version: '1001', data: {} }, ['data.curVersion']],
    ['queryAndGetCardInfo', { gantryId: 'G', method: 'm', timeStamp: '1', version: '1001', data: [{ curVersion: '0' }, {}, { curVersion: null }] }, ['data[1].curVersion', 'data[2].curVersion']],
    ['queryAndGetCardInfo', { gantryId: null, method: 'm', timeStamp: '1', version: '1001', data: 7 }, ['gantryId', 'data']],
  ];
  for (const [method, body, want] of cases) {
    t.same(typer.missing(method, body), want, `${method} ${JSON.stringify(body)}`);
    t.same(ref.missing(method, body), want, 'and the reference agrees');
  }
  // A declaration whose groups hold themselves: checked as deep as the body goes.
  const recursive = {
    ...fields,
    messages: { tree: { fields: { node: { type: 'object', of: 'node', required: true } } } },
    groups: { ...fields.groups, node: { name: { type: 'id', required: true }, child: { type: 'objectOrArray', of: 'node' } } },
  };
  const body = { gantryId: 'G', method: 'm', timeStamp: '1', version: '1001', node: { name: 'a', child: [{ name: 'b', child: { child: {} } }, 'x'] } };
  t.same(new FieldTyper(recursive, 'UTC').missing('tree', body), ['node.child[0].child.name', 'node.child[0].child.child.name']);
  t.same(new ReferenceTyper(recursive, 'UTC').missing('tree', body), ['node.child[0].child.name', 'node.child[0].child.child.name']);
  t.ok(compare('tree', body).ok);
  const deep = new FieldTyper(recursive, 'UTC').upload('tree', { node: { name: 'NoData', child: [{ child: { name: ' x ', child: 'NotSupport' } }] } });
  t.same(deep.data.quality, { 'node.name': 'NoData', 'node.child[0].child.child': 'NotSupport' });
});
