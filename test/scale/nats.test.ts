// Multi-instance mode on a three-node NATS cluster (its MQTT listeners; MQTT 3.1.1 only, no
// `$share`): each instance on a node of its own, the terminals behind a round-robin TCP proxy.
// Custody of commands comes from the Redis registry, so nothing here needs what NATS lacks.
import t from 'tap';
import { Commands } from '../helpers/commands.js';
import { connectClient } from '../helpers/harness.js';
import { fleet } from '../helpers/instances.js';
import { killScenario } from '../helpers/kill-scenario.js';
import { natsCluster } from '../helpers/nats-cluster.js';
import { roundRobinProxy } from '../helpers/rr-proxy.js';

t.test('NATS cluster: terminals spread by a proxy, each command answered once by the instance holding its device', async (t) => {
  const cluster = await natsCluster(t);
  const url = cluster.urls[0] as string;
  const f = await fleet(t, { mqttUrl: url, mqttUrls: cluster.urls, count: 3 });
  const proxy = await roundRobinProxy(t, f.instances.map((i) => i.qyzn));
  const port = Number(proxy.address.slice(proxy.address.lastIndexOf(':') + 1));
  const inbox = await connectClient(t, url, { protocolVersion: 4 });
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);
  for (const i of f.instances) {
    await inbox.take(`${f.base}/bridge/${i.id}/state`, (p) => p.toString() === 'online');
    t.match(await inbox.json(`${f.base}/bridge/${i.id}/info`), { instance: { id: i.id }, mqtt: { protocolVersion: '3.1.1' } }, `${i.id} on MQTT 3.1.1`);
  }

  const sims: ReturnType<typeof f.device>[] = [];
  for (let n = 0; n < 6; n++) {
    const sim = f.device(`NATS-${n}`, { port });
    await sim.start();
    sims.push(sim);
    await inbox.take(`${f.base}/qyzn/NATS-${n}/availability`, (p) => p.toString() === 'online');
  }
  t.same(Object.values(proxy.counts()), [2, 2, 2], 'the proxy spread the six terminals two per instance');
  for (const [n, sim] of sims.entries()) {
    t.match(await commands.send('qyzn', `NATS-${n}`, 'device_restart', { id: `n-${n}` }), { id: `n-${n}`, ok: true }, `NATS-${n} answered`);
    await sim.nextCommand('device_restart');
  }
  for (let n = 0; n < 3; n++) {
    t.match(await commands.send('qyzn', `NOBODY-${n}`, 'device_restart', { id: `x-${n}` }), { ok: false, error: { type: 'offline' } }, `unknown ${n}: one offline`);
  }

  // NATS-0 moves: a second connection through the proxy, pinned to the next instance.
  const from = f.instances[0]!;
  const to = f.instances[1]!;
  proxy.pin(to.qyzn);
  const moved = f.device('NATS-0', { port });
  const closed = new Promise<void>((resolve) => sims[0]!.once('close', () => resolve()));
  await moved.start();
  await closed;
  t.pass(`the old connection on ${from.id} was closed`);
  t.match(await commands.send('qyzn', 'NATS-0', 'device_restart', { id: 'n-moved' }), { ok: true }, 'answered after the move');
  await moved.nextCommand('device_restart');
  t.same(
    inbox.history((topic) => topic === `${f.base}/qyzn/NATS-0/availability`).map((m) => m.payload.toString()).filter((p) => p !== 'online'),
    [],
    'never offline during the move',
  );
});

t.test('NATS cluster: an instance SIGKILLed, its devices offline, back on the others, nothing accepted lost', async (t) => {
  const cluster = await natsCluster(t);
  await killScenario(t, cluster.urls, { protocolVersion: 4 });
});
