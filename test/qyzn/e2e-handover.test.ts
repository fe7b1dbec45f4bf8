// Every qyzn REQUEST handler answers only after the broker acknowledged what it published, and
// -1 (the protocol's failure, which the device retries) when the broker cannot take it; the retry
// is then published once the broker is back. Both answer modes of the platform requests.
import t, { type Test } from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { CuttableLink } from '../helpers/brokers.js';
import { connectClient, externalBroker, type Inbox } from '../helpers/harness.js';
import { rig, type Rig } from './fixtures/rig.js';

/** Every REQUEST the device may send, with data, whether it asks the platform, and the result the
 *  device gets when the platform says nothing (local mode) or answers 0 (mqtt mode). */
const REQUESTS: Array<{ name: string; data: JsonObject; platform: boolean; local: number }> = [
  { name: 'snapshot_face', data: { score: 90, personId: 'p1' }, platform: true, local: 0 },
  { name: 'qrcode_data', data: { content: 'QR-1' }, platform: true, local: 0 },
  { name: 'device_sync_person', data: { personId: 'p1', faces: [{ faceId: 'f1' }] }, platform: true, local: 0 },
  { name: 'device_call_param', data: { callRequestId: 'c1', callNo: '101' }, platform: true, local: 104 },
  { name: 'sync_time', data: {}, platform: false, local: 0 },
  { name: 'device_call_result', data: { callRequestId: 'c1', callNo: '101', callRecords: [] }, platform: false, local: 0 },
];

const MODES = ['local', 'mqtt'] as const;

async function setup(t: Test, mode: (typeof MODES)[number]) {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const answers = Object.fromEntries(REQUESTS.filter((r) => r.platform).map((r) => [r.name, { mode, timeoutMs: 5000 }]));
  const r = await rig(t, { answers }, { mqtt: { url: proxy.url, publishTimeoutMs: 500, reconnectPeriodMs: 100 } });
  // The platform and the observer talk to the broker directly, not through the proxy.
  const broker = await connectClient(t, url);
  await broker.subscribe(`${r.base}/#`);
  broker.client.on('message', (topic, payload) => {
    const m = /\/request\/([^/]+)$/.exec(topic);
    if (!m) return;
    const request = JSON.parse(payload.toString()) as { id: string };
    void broker.client.publishAsync(`${topic}/reply`, JSON.stringify({ id: request.id, data: {}, result: 0 }), { qos: 1 });
  });
  const sim = r.device(`SN-HAND-${mode}`);
  await sim.start();
  await broker.take(r.topic(`SN-HAND-${mode}`, 'availability'), (p) => p.toString() === 'online');
  // Taken now, so that a later wait for `online` waits for the next one.
  await broker.take(`${r.base}/bridge/state`, (p) => p.toString() === 'online');
  return { r, proxy, broker, sim, serial: `SN-HAND-${mode}` };
}

function published(r: Rig, broker: Inbox, serial: string, name: string, asked: boolean): Promise<unknown> {
  return broker.take(r.topic(serial, `${asked ? 'request' : 'event'}/${name}`));
}

for (const mode of MODES) {
  t.test(`${mode} mode: every REQUEST is answered only after the broker acknowledged it`, async (t) => {
    const { r, proxy, broker, sim, serial } = await setup(t, mode);
    for (const request of REQUESTS) {
      const asked = mode === 'mqtt' && request.platform;
      proxy.hold();
      let answered = false;
      const answer = sim.request(request.name, request.data).then((a) => {
        answered = true;
        return a;
      });
      await published(r, broker, serial, request.name, asked);
      // The broker has it but its acknowledgement is held. A heartbeat answered now comes after
      // any answer the gateway had already sent on this connection.
      await sim.heartbeat();
      t.notOk(answered, `${request.name}: no answer before the broker's acknowledgement`);
      proxy.release();
      t.equal((await answer).result, asked ? 0 : request.local, `${request.name}: answered once acknowledged`);
    }
  });

  t.test(`${mode} mode: every REQUEST the broker cannot take is answered -1, and its retry published`, async (t) => {
    const { r, proxy, broker, sim, serial } = await setup(t, mode);
    await proxy.cut();
    await broker.take(`${r.base}/bridge/state`, (p) => p.toString() === 'offline');
    const seqs = new Map<string, number>();
    for (const request of REQUESTS) {
      seqs.set(request.name, sim.peekSeq());
      t.equal((await sim.request(request.name, request.data)).result, -1, `${request.name}: -1 while the broker is away`);
    }
    await proxy.open();
    await broker.take(`${r.base}/bridge/state`, (p) => p.toString() === 'online');
    for (const request of REQUESTS) {
      const asked = mode === 'mqtt' && request.platform;
      t.equal(broker.unread(r.topic(serial, `${asked ? 'request' : 'event'}/${request.name}`)), 0, `${request.name}: nothing was published of the refused one`);
      const retried = await sim.retransmit(seqs.get(request.name) as number);
      t.equal(retried.result, asked ? 0 : request.local, `${request.name}: the retry is answered`);
      await published(r, broker, serial, request.name, asked);
    }
  });
}
