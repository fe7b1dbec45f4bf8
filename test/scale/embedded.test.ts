// Multi-instance mode on the embedded brokers clustered over Redis (broker.cluster.redisUrl): no
// broker of its own to run, each gateway's embedded aedes one node of the cluster.
import t from 'tap';
import { Commands } from '../helpers/commands.js';
import { connectClient } from '../helpers/harness.js';
import { fleet } from '../helpers/instances.js';
import { killScenario } from '../helpers/kill-scenario.js';

t.test('embedded cluster: each command answered once by the instance holding its device; a move without offline', async (t) => {
  const f = await fleet(t, { mqttUrl: 'embedded', count: 3 });
  const inbox = await connectClient(t, f.mqttUrl);
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);
  for (const i of f.instances) {
    t.equal((await inbox.take(`${f.base}/bridge/${i.id}/state`)).payload.toString(), 'online', `${i.id} online, seen from the first instance's broker`);
  }
  const sims: ReturnType<typeof f.device>[] = [];
  for (let n = 0; n < 6; n++) {
    const sim = f.device(`EMB-${n}`, f.instances[n % 3]!);
    await sim.start();
    sims.push(sim);
    await inbox.take(`${f.base}/qyzn/EMB-${n}/availability`, (p) => p.toString() === 'online');
  }
  for (const [n, sim] of sims.entries()) {
    t.match(await commands.send('qyzn', `EMB-${n}`, 'device_restart', { id: `e-${n}` }), { id: `e-${n}`, ok: true }, `EMB-${n} (on inst-${(n % 3) + 1}) answered`);
    await sim.nextCommand('device_restart');
  }
  t.match(await commands.send('qyzn', 'NOBODY', 'device_restart', { id: 'e-x' }), { ok: false, error: { type: 'offline' } }, 'an unknown device: one offline');

  const moved = f.device('EMB-0', f.instances[2]!);
  const closed = new Promise<void>((resolve) => sims[0]!.once('close', () => resolve()));
  await moved.start();
  await closed;
  t.match(await commands.send('qyzn', 'EMB-0', 'device_restart', { id: 'e-moved' }), { ok: true }, 'answered after the move');
  await moved.nextCommand('device_restart');
  t.same(
    inbox.history((topic) => topic === `${f.base}/qyzn/EMB-0/availability`).map((m) => m.payload.toString()).filter((p) => p !== 'online'),
    [],
    'never offline during the move',
  );
});

t.test('embedded cluster: an instance SIGKILLed, its devices offline, back on the others, nothing accepted lost', async (t) => {
  await killScenario(t, 'embedded');
});
