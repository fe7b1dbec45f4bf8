// MQTT 5 where the broker speaks it, 3.1.1 where it does not: a real 3.1.1-only broker (aedes 1.2).
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { Aedes } from 'aedes-v1';
import { EXTERNAL_BROKER, connectClient, startGateway } from '../helpers/harness.js';

t.test('a broker that refuses MQTT 5 gets MQTT 3.1.1, and everything works over it', async (t) => {
  const broker = await Aedes.createBroker();
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => broker.close(() => server.close(() => resolve()))));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const { base, gateway } = await startGateway(t, { config: { mqtt: { url } } });
  const inbox = await connectClient(t, url, { protocolVersion: 4 });
  await inbox.subscribe(`${base}/bridge/info`);
  t.match(await inbox.json(`${base}/bridge/info`), { mqtt: { protocolVersion: '3.1.1' } });
  t.equal(gateway.ready, true);
});

t.test('the gateway speaks MQTT 5 to a broker that does (embedded aedes 2, or Mosquitto)', async (t) => {
  const { base, mqttUrl } = await startGateway(t);
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/bridge/info`);
  t.match(await inbox.json(`${base}/bridge/info`), { mqtt: { protocolVersion: '5', embedded: !EXTERNAL_BROKER } });
});
