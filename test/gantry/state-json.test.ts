// The gantry event's data and retained state are written from the JSON of each entry, serialised
// once (adapters/gantry/state.ts): each must be exactly what JSON.stringify of the object writes.
import t from 'tap';
import fc from 'fast-check';
import type { DeviceHandle, JsonObject } from '../../src/adapter.js';
import { GantryStates, statusUpload } from '../../adapters/gantry/state.js';
import type { Upload } from '../../adapters/gantry/decode.js';
import { FieldTyper, type FieldsFile, type Quality, type Typed } from '../../adapters/gantry/typing.js';
import { Mappings } from '../../src/mappings.js';
import { SEED_TYPED, seedJson } from './fixtures/seeds.js';

const upload = (n: number, gantryId = 'G1'): Upload => ({ gantryId, method: 'cabinetStatusUpdate', version: '1.0', timeStamp: 1, body: {}, raw: {}, md5: String(n) });

/** Collects what was published, serialised at the moment of the call (the state goes on changing). */
function recorder(): { handle: DeviceHandle; published: Array<{ expected: string; json: string | undefined }> } {
  const published: Array<{ expected: string; json: string | undefined }> = [];
  const handle = { setState: async (state: JsonObject, json?: string) => void published.push({ expected: JSON.stringify(state), json }) } as unknown as DeviceHandle;
  return { handle, published };
}

t.test('the published JSON equals JSON.stringify of the state object, after every upload', async (t) => {
  const { handle, published } = recorder();
  const states = new GantryStates();
  const typed = (entries: unknown): Typed => ({ data: { cabinetStatus: entries }, quality: { 'cabinetStatus[1].temp': 'GetFailed' }, undeclared: [] });
  await states.status(handle, upload(1), statusUpload(typed([{ id: '10', temp: 1 }, { id: '2', temp: null }]), 'cabinetStatus'), 'cabinets');
  await states.status(handle, upload(2), statusUpload(typed({ id: 'b', temp: 3 }), 'cabinetStatus'), 'cabinets');
  await states.status(handle, upload(3), statusUpload(typed([{ id: '2', temp: 4 }]), 'cabinetStatus'), 'cabinets');
  await states.cardVersion(handle, upload(4), '7');
  t.equal(published.length, 4);
  for (const { expected, json } of published) t.equal(json, expected, 'byte for byte');
  t.match(JSON.parse(published[3]?.json ?? '{}'), { cabinets: { '2': { temp: 4 }, '10': { temp: 1 }, b: { temp: 3 } }, cardVersion: '7' });
});

t.test('entries that are empty, not objects, or carry quality/updatedAt of their own', async (t) => {
  const { handle, published } = recorder();
  const states = new GantryStates();
  const cases: Typed[] = [
    { data: { cabinetStatus: {} }, quality: {}, undeclared: [] },
    { data: { cabinetStatus: {}, quality: { cabinetStatus: 'Invalid' } }, quality: { cabinetStatus: 'Invalid' }, undeclared: [] },
    { data: { cabinetStatus: { id: 'q', quality: 'device own', updatedAt: 'device own', x: 1 } }, quality: {}, undeclared: [] },
    { data: { cabinetStatus: { id: 'q', updatedAt: 1 }, quality: { 'cabinetStatus.x': 'NoData' } }, quality: { 'cabinetStatus.x': 'NoData' }, undeclared: [] },
    { data: { cabinetStatus: [null, 'x', { id: '' }, [], { '2': 'two', '1': 'one', id: '7' }], other: { a: [1, 'b'] } }, quality: { 'cabinetStatus[0]': 'Invalid' }, undeclared: [] },
    { data: { cabinetStatus: null, quality: { cabinetStatus: 'NoData' } }, quality: { cabinetStatus: 'NoData' }, undeclared: [] },
    { data: { '1': 'first by number', cabinetStatus: { id: '\u2028"\\' } }, quality: {}, undeclared: [] },
  ];
  for (const [i, typed] of cases.entries()) {
    const status = statusUpload(typed, 'cabinetStatus');
    t.equal(status.dataJson, JSON.stringify(typed.data), `case ${i}: the event data byte for byte`);
    await states.status(handle, upload(i), status, 'cabinets');
  }
  t.equal(published.length, cases.length);
  for (const { expected, json } of published) t.equal(json, expected, 'the state byte for byte');
});

t.test('typed seed uploads and random typed bodies: the event data is JSON.stringify(data)', async (t) => {
  const typer = new FieldTyper(new Mappings('gantry').read<FieldsFile>('fields'), 'Asia/Shanghai');
  for (const edition of ['v037', 'v103'] as const) {
    for (const [method, field] of [['cabinetStatusUpdate', 'cabinetStatus'], ['computerStatusUpdate', 'computerStatus']] as const) {
      const typed = typer.upload(method, seedJson(edition, method));
      t.same(typed.data, SEED_TYPED[edition][method]);
      t.equal(statusUpload(typed, field).dataJson, JSON.stringify(typed.data), `${edition} ${method}`);
    }
  }
  const { handle, published } = recorder();
  const states = new GantryStates();
  let n = 0;
  await fc.assert(
    fc.asyncProperty(fc.jsonValue(), fc.dictionary(fc.string(), fc.constantFrom('NoData', 'Invalid')), async (value, quality: Quality) => {
      const typed: Typed = { data: { cabinetStatus: value as JsonObject, quality }, quality, undeclared: [] };
      const status = statusUpload(typed, 'cabinetStatus');
      await states.status(handle, upload((n += 1), `G${n % 3}`), status, 'cabinets');
      return status.dataJson === JSON.stringify(typed.data);
    }),
    { numRuns: 500 },
  );
  for (const { expected, json } of published) if (json !== expected) t.fail(`state ${json} is not ${expected}`);
  t.pass('every state byte for byte');
});
