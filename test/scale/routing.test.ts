// Multi-instance mode on one broker (the machine's Mosquitto in CI, else an aedes of the test's
// own): three instances, devices placed on each by the test, every command executed by the instance
// holding its device and answered once; a device no instance holds answered `offline` once; a
// device moving between instances without going offline; per-instance and aggregate bridge state.
import t from 'tap';
import { Commands } from '../helpers/commands.js';
import { connectClient, externalBroker, until } from '../helpers/harness.js';
import { fleet } from '../helpers/instances.js';
import { ownRedis } from '../helpers/redis.js';
import { Redis } from 'ioredis';
import { holderOf } from '../../src/instances.js';

t.test('three instances: each command runs where its device is, one reply each; unknown devices one offline', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 3 });
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);

  for (const i of f.instances) {
    t.equal((await inbox.take(`${f.base}/bridge/${i.id}/state`, (p) => p.toString() === 'online')).payload.toString(), 'online', `${i.id} online`);
    const info = await inbox.json(`${f.base}/bridge/${i.id}/info`);
    t.match(info, { instance: { id: i.id, mode: 'multi' } }, `${i.id} info names it`);
  }
  t.equal((await inbox.take(`${f.base}/bridge/state`)).payload.toString(), 'online', 'the aggregate online');
  t.equal(inbox.history((topic) => topic === `${f.base}/bridge/info`).length, 0, 'no single-instance bridge/info in multi mode');

  const placed = new Map<string, number>();
  const sims = [];
  for (let n = 0; n < 6; n++) {
    const serial = `SCALE-${n}`;
    const where = n % 3;
    const sim = f.device(serial, f.instances[where]!);
    await sim.start();
    placed.set(serial, where);
    sims.push(sim);
    await inbox.take(`${f.base}/qyzn/${serial}/availability`, (p) => p.toString() === 'online');
  }
  for (const [n, sim] of sims.entries()) {
    const serial = `SCALE-${n}`;
    const reply = await commands.send('qyzn', serial, 'device_restart', { id: `r-${n}` });
    t.match(reply, { id: `r-${n}`, ok: true, error: null }, `${serial} (on inst-${(placed.get(serial) ?? 0) + 1}) answered ok`);
    const got = await sim.nextCommand('device_restart');
    t.equal(got.data !== undefined, true, `${serial}'s own terminal got the command`);
  }
  const forwarded = await Promise.all(f.instances.map(async (i) => metric(await (await fetch(`${i.httpUrl}/metrics`)).text(), 'gate2mqtt_commands_forwarded_total')));
  const custodians = await Promise.all(f.instances.map(async (i) => metric(await (await fetch(`${i.httpUrl}/metrics`)).text(), 'gate2mqtt_instance_custodian')));
  t.equal(custodians.reduce((a, b) => a + b, 0), 1, 'exactly one custodian');
  // Four of the six devices are on the two instances without custody; each command there is
  // followed by the one-reply check's sentinel command, forwarded as well.
  t.equal(forwarded.reduce((a, b) => a + b, 0), 8, 'the custodian forwarded the commands of devices on the other two instances (4, and 4 sentinels)');

  for (let n = 0; n < 5; n++) {
    const reply = await commands.send('qyzn', `NOBODY-${n}`, 'device_restart', { id: `u-${n}` });
    t.match(reply, { id: `u-${n}`, ok: false, error: { type: 'offline' } }, `unknown device ${n}: offline`);
  }
  // A forwarded command keeps its MQTT 5 response topic and correlation data.
  // Not subscribed here: `{base}/#` covers it, and a second matching subscription would have
  // Mosquitto deliver each reply twice (Commands subscribes only where nothing covers a topic).
  const responseTopic = `${f.base}/platform/replies`;
  const correlationData = Buffer.from('corr-42');
  const sent = await commands.sendTaking('qyzn', 'SCALE-2', 'device_restart', { id: 'rt-1' }, { responseTopic, correlationData });
  t.match(sent.reply, { id: 'rt-1', ok: true }, 'answered on the response topic');
  t.same(sent.packet.properties?.correlationData, correlationData, 'with its correlation data, across the forward');
  await sims[2]!.nextCommand('device_restart');
  // A console runs commands for its own instance's devices; for another's it says which one holds it.
  const consoleCommand = async (url: string, deviceId: string, id: string): Promise<Record<string, unknown>> =>
    (await (
      await fetch(`${url}/console/api/command`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ adapter: 'qyzn', deviceId, name: 'device_restart', id }),
      })
    ).json()) as Record<string, unknown>;
  t.match(await consoleCommand(f.instances[1]!.httpUrl, 'SCALE-1', 'console-1'), { ok: true }, 'the console of the instance holding SCALE-1 runs it');
  await sims[1]!.nextCommand('device_restart');
  t.match(
    await consoleCommand(f.instances[0]!.httpUrl, 'SCALE-1', 'console-2'),
    { ok: false, error: { type: 'offline', message: /connected to instance inst-2: use its console, or MQTT/ } },
    'another instance\'s console names the holder',
  );
  // Invalid data is judged as on one instance, wherever the device is.
  const invalid = await commands.send('qyzn', 'SCALE-1', 'device_restart', { id: 'bad', timeoutMs: 0 });
  t.match(invalid, { ok: false, error: { type: 'invalid' } }, 'invalid data refused by the instance holding the device');
});

t.test('a device reconnecting to another instance is taken over without going offline', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 2 });
  const [a, b] = f.instances as [typeof f.instances[0], typeof f.instances[0]];
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);
  const availability = `${f.base}/qyzn/MOVER/availability`;

  const first = f.device('MOVER', a);
  await first.start();
  await inbox.take(availability, (p) => p.toString() === 'online');
  t.match(await commands.send('qyzn', 'MOVER', 'device_restart', { id: 'm-1' }), { ok: true }, 'answered while on the first instance');
  await first.nextCommand('device_restart');

  // The old connection still looks alive on the first instance.
  const second = f.device('MOVER', b);
  const closed = new Promise<void>((resolve) => first.once('close', () => resolve()));
  await second.start();
  await closed;
  t.pass('the first instance closed the old connection');
  await eventually(async () => metric(await (await fetch(`${a.httpUrl}/metrics`)).text(), 'gate2mqtt_devices_connected') === 0, 'the first instance let MOVER go');
  t.match(await commands.send('qyzn', 'MOVER', 'device_restart', { id: 'm-2' }), { ok: true }, 'answered after the move');
  const got = await second.nextCommand('device_restart');
  t.ok(got, 'the new connection got it');
  t.same(
    inbox.history((topic) => topic === availability).map((m) => m.payload.toString()).filter((p) => p !== 'online'),
    [],
    'availability never said offline during the move',
  );
  const events = inbox.history((topic) => topic === `${f.base}/bridge/event`).map((m) => JSON.parse(m.payload.toString()) as { type: string; reason: string; deviceId?: string });
  t.ok(events.some((e) => e.type === 'device_disconnected' && e.reason === 'replaced' && e.deviceId === 'MOVER'), 'the old session ended as replaced');

  // It leaves the second instance: now it is offline, said once by the instance that held it.
  second.destroy();
  await inbox.take(availability, (p) => p.toString() === 'offline');
  t.match(await commands.send('qyzn', 'MOVER', 'device_restart', { id: 'm-3' }), { ok: false, error: { type: 'offline' } }, 'offline once gone');
});

t.test('churn: a device hopping between instances, its old connection dropped each time, is never said offline', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 2 });
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);
  const availability = `${f.base}/qyzn/HOPPER/availability`;
  let previous: ReturnType<typeof f.device> | undefined;
  const HOPS = 20;
  for (let k = 0; k < HOPS; k++) {
    const sim = f.device('HOPPER', f.instances[k % 2]!);
    await sim.start();
    // The device drops its old connection once the new one is up: that instance learns of the end
    // from its socket, maybe before the notice that the device moved.
    previous?.destroy();
    previous = sim;
  }
  const last = previous!;
  t.match(await commands.send('qyzn', 'HOPPER', 'device_restart', { id: 'h-1' }), { ok: true }, 'answered by the last connection');
  await last.nextCommand('device_restart');
  const said = inbox.history((topic) => topic === availability).map((m) => m.payload.toString());
  t.ok(said.length >= 1, 'availability was said');
  t.same(said.filter((p) => p !== 'online'), [], `never offline across ${HOPS} moves`);
});

t.test('a notice that the device moved, answered while a new connection of it begins here, leaves that connection alone', async (t) => {
  const url = await externalBroker(t);
  // A Redis of the test's own: the test holds it still, which the machine's shared one must not be.
  const own = await ownRedis(t);
  const f = await fleet(t, { mqttUrl: url, count: 2, redisUrl: own.url });
  const a = f.instances[0]!;
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const commands = new Commands(t, inbox, f.base);
  const availability = `${f.base}/qyzn/RACER/availability`;
  const first = f.device('RACER', a);
  await first.start();
  await inbox.take(availability, (p) => p.toString() === 'online');
  // The device connected to inst-2 a moment ago (its record names inst-2), and inst-2's notice
  // to inst-1 is on its way.
  const redis = new Redis(own.url);
  t.teardown(() => redis.quit());
  const elsewhere = holderOf({ id: 'inst-2', bootId: (await redis.get(`${f.prefix}instance:inst-2`)) ?? '' });
  await redis.set(`${f.prefix}owner:qyzn/RACER`, elsewhere);
  // Redis holds inst-1's question "who holds it now?" while the device connects to inst-1 again.
  const stalled = own.stall(600);
  await inbox.client.publishAsync(`${f.base}/bridge/${a.id}/released`, JSON.stringify({ adapter: 'qyzn', deviceId: 'RACER', holder: elsewhere }), { qos: 1 });
  const second = f.device('RACER', a);
  const replaced = new Promise<void>((resolve) => first.once('close', () => resolve()));
  await second.start();
  await replaced;
  t.pass('the new connection replaced the old one while the registry was held');
  await stalled;
  // The answer (inst-2) was true of the old connection only.
  t.match(await commands.send('qyzn', 'RACER', 'device_restart', { id: 'race-1' }), { ok: true }, 'the new connection holds the device');
  t.ok(await second.nextCommand('device_restart'), 'and got the command');
  t.same(
    inbox.history((topic) => topic === availability).map((m) => m.payload.toString()).filter((p) => p !== 'online'),
    [],
    'never offline',
  );
});

t.test('a wsdoor event resent to another instance (its answer lost with the old connection) is published once', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 2 });
  const [a, b] = f.instances as [typeof f.instances[0], typeof f.instances[0]];
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const events = `${f.base}/wsdoor/DOOR-1/event/realtimeEvent`;
  const first = await f.door('DOOR-1', a);
  await first.register();
  t.match(await first.sendEvent({ eventid: 'x1' }), { code: '200' }, 'answered on the first instance');
  await inbox.json(events, (e) => (e.data as { eventid?: string }).eventid === 'x1');
  await first.close();
  const second = await f.door('DOOR-1', b);
  await second.register();
  t.match(await second.sendEvent({ eventid: 'x1' }), { code: '200' }, 'the resend is answered by the second instance');
  t.match(await second.sendEvent({ eventid: 'x2' }), { code: '200' });
  await inbox.json(events, (e) => (e.data as { eventid?: string }).eventid === 'x2');
  const ids = inbox.history((topic) => topic === events).map((m) => (JSON.parse(m.payload.toString()) as { data: { eventid: string } }).data.eventid);
  t.same(ids, ['x1', 'x2'], 'x1 published once, on the first instance; x2 once');
});

t.test('a clean stop: its devices offline, its state offline; the aggregate goes offline with the last instance', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 2 });
  const [a, b] = f.instances as [typeof f.instances[0], typeof f.instances[0]];
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${f.base}/#`]);
  const sim = f.device('STAYS', b);
  await sim.start();
  await inbox.take(`${f.base}/qyzn/STAYS/availability`, (p) => p.toString() === 'online');
  const leaver = f.device('LEAVES', a);
  await leaver.start();
  await inbox.take(`${f.base}/qyzn/LEAVES/availability`, (p) => p.toString() === 'online');
  await inbox.take(`${f.base}/bridge/state`, (p) => p.toString() === 'online');

  await a.gateway.stop();
  await inbox.take(`${f.base}/qyzn/LEAVES/availability`, (p) => p.toString() === 'offline');
  await inbox.take(`${f.base}/bridge/${a.id}/state`, (p) => p.toString() === 'offline');
  t.equal(inbox.history((topic) => topic === `${f.base}/bridge/state`).filter((m) => m.payload.toString() === 'offline').length, 0, 'the aggregate stays online');
  t.equal(inbox.history((topic) => topic === `${f.base}/qyzn/STAYS/availability`).filter((m) => m.payload.toString() === 'offline').length, 0, 'the other instance\'s device stays online');

  await b.gateway.stop();
  await inbox.take(`${f.base}/bridge/state`, (p) => p.toString() === 'offline');
  t.same(await f.keys(), [], 'no key left in the registry after the last clean stop');
});

t.test('an instance id held by a live instance is refused at start', async (t) => {
  const url = await externalBroker(t);
  const f = await fleet(t, { mqttUrl: url, count: 1, leaseMs: 600 });
  await t.rejects(f.start('inst-1'), /instance\.id inst-1 is online already .*set instance\.id \(GATE2MQTT_INSTANCE_ID\)/, 'refused, naming the option');
});

/** Polls an asynchronous condition (a scrape) until it holds, within the deadline. */
async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  let met = false;
  const check = async (): Promise<void> => {
    met = await condition();
  };
  await check();
  await until(() => {
    if (!met) void check();
    return met;
  }, what);
}

function metric(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(name) && !line.startsWith('#'))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
