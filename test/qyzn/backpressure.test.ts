// A qyzn terminal that stops reading what the gateway sends it (test/helpers/reads-paused.ts): the
// simulator's socket paused, its requests still sent.
import t from 'tap';
import { connectClient } from '../helpers/harness.js';
import { BIG_PAYLOAD, stalledDevice } from '../helpers/reads-paused.js';
import { rig } from './fixtures/rig.js';

t.test('a terminal that does not read is not read either, until it reads again; the others are served meanwhile; nothing lost', async (t) => {
  const r = await rig(t);
  const watcher = await connectClient(t, r.mqttUrl);
  const events = r.topic('SLOW0001', 'event/snapshot_face');
  await watcher.subscribe(events);
  const stalled = r.device('SLOW0001', { responseTimeoutMs: 60_000 });
  await stalled.start();
  const other = r.device('OTHER0001');
  await other.start();
  let served = 0;
  await stalledDevice(t, {
    adapter: 'qyzn',
    httpUrl: r.httpUrl,
    watcher,
    events,
    pauseReading: () => stalled.pauseReading(),
    resumeReading: () => stalled.resumeReading(),
    bigCommand: async (k) => {
      const data = { personId: String(k), faceId: `f${k}`, image: BIG_PAYLOAD };
      return (await r.commands.send('qyzn', 'SLOW0001', 'add_face', { id: `big-${k}`, timeoutMs: 60_000, data }, { ms: 70_000 })).ok;
    },
    roundTrip: async () => {
      const faceId = `other-${++served}`;
      const answer = await other.snapshotFace({ faceId });
      if (answer.result !== 0) throw new Error(`the other terminal's event answered ${String(answer.result)}`);
      await r.inbox.json(r.topic('OTHER0001', 'event/snapshot_face'), (e) => (e.data as { faceId?: string }).faceId === faceId);
    },
    sendHeld: async () => {
      await stalled.snapshotFace({ faceId: 'held-1' });
    },
    // The simulator answers every command itself once it reads them.
    answerCommands: async () => undefined,
  });
});
