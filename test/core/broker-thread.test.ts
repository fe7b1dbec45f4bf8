// broker.thread: the embedded broker in a worker thread (src/broker-thread.ts). Through real
// sockets and a real MQTT client on the broker's port: a device's event, its retained availability
// for a subscriber that comes later, a command and its reply (MQTT 5 correlation data kept), a
// device's message answered only after the broker's thread took it, offline at stop. CI also runs
// the e2e tests with GATE2MQTT_TEST_BROKER_THREAD=true (.ci/run).
import t from 'tap';
import { Commands } from '../helpers/commands.js';
import { connectClient, startGateway } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

t.test('events, retained topics and commands through a broker in its own thread', async (t) => {
  const { base, mqttUrl, gateway, httpUrl } = await startGateway(t, { adapters: [echoAdapter()], config: { mqtt: { url: '' }, broker: { thread: true } } });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe([`${base}/echo/th1/event/+`, `${base}/bridge/info`]);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'th1');
  t.teardown(() => device.close());

  device.send({ event: 'pass', data: { n: 1 } });
  t.match(await inbox.json(`${base}/echo/th1/event/pass`), { adapter: 'echo', deviceId: 'th1', name: 'pass', data: { n: 1 } });
  t.match(await device.next(), { ok: true }, 'the device heard success once the broker thread took it');

  const later = await connectClient(t, mqttUrl);
  await later.subscribe(`${base}/echo/th1/availability`);
  const availability = await later.take(`${base}/echo/th1/availability`);
  t.equal(availability.payload.toString(), 'online');
  t.equal(availability.packet.retain, true, 'stored retained by the broker in its thread');
  t.match(await inbox.json(`${base}/bridge/info`), { mqtt: { embedded: true, inProcess: true } });

  const commands = new Commands(t, inbox, base);
  t.match(await commands.send('echo', 'th1', 'ping', { id: 'c1', data: { n: 2 } }), { id: 'c1', ok: true });
  const correlationData = Buffer.from('corr-7');
  const { reply, packet } = await commands.sendTaking('echo', 'th1', 'ping', { id: 'c2', data: { n: 3 } }, { responseTopic: `${base}/replies`, correlationData });
  t.match(reply, { id: 'c2', ok: true });
  t.same(packet.properties?.correlationData, correlationData, 'correlation data crossed both threads');

  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /^gate2mqtt_mqtt_connected 1$/m, 'the link to the broker thread counts as connected');

  await gateway.stop();
  const gone = await later.take(`${base}/echo/th1/availability`, (p) => p.toString() === 'offline');
  t.equal(gone.payload.toString(), 'offline', 'offline published through the thread before it stopped');
});
