// The gantry state is published from the JSON kept per entry (adapters/gantry/state.ts): it must be
// exactly what JSON.stringify of the merged state writes, whatever order the entries came in.
import t from 'tap';
import type { DeviceHandle, JsonObject } from '../../src/adapter.js';
import { GantryStates } from '../../adapters/gantry/state.js';
import type { Upload } from '../../adapters/gantry/decode.js';
import type { Typed } from '../../adapters/gantry/typing.js';

t.test('the published JSON equals JSON.stringify of the state object, after every upload', async (t) => {
  // Serialised at the moment of the call: the state object goes on changing after it.
  const published: Array<{ expected: string; json: string | undefined }> = [];
  const handle = { setState: async (state: JsonObject, json?: string) => void published.push({ expected: JSON.stringify(state), json }) } as unknown as DeviceHandle;
  const states = new GantryStates();
  const upload = (n: number): Upload => ({ gantryId: 'G1', method: 'cabinetStatusUpdate', version: '1.0', timeStamp: 1, body: {}, raw: {}, md5: String(n) });
  const typed = (entries: unknown): Typed => ({ data: { cabinetStatus: entries }, quality: { 'cabinetStatus[1].temp': 'GetFailed' }, undeclared: [] });
  await states.status(handle, upload(1), typed([{ id: '10', temp: 1 }, { id: '2', temp: null }]), 'cabinetStatus', 'cabinets');
  await states.status(handle, upload(2), typed({ id: 'b', temp: 3 }), 'cabinetStatus', 'cabinets');
  await states.status(handle, upload(3), typed([{ id: '2', temp: 4 }]), 'cabinetStatus', 'cabinets');
  await states.cardVersion(handle, upload(4), '7');
  t.equal(published.length, 4);
  for (const { expected, json } of published) t.equal(json, expected, 'byte for byte');
  t.match(JSON.parse(published[3]?.json ?? '{}'), { cabinets: { '2': { temp: 4 }, '10': { temp: 1 }, b: { temp: 3 } }, cardVersion: '7' });
});
