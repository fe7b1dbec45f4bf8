// A subscription the broker refuses (SUBACK failure, as a NATS cluster with a node down returns for
// some) is asked for again until granted: a refused command subscription would leave the gateway
// deaf to its commands for as long as it stays connected.
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import { Aedes } from 'aedes';
import { pino } from 'pino';
import { MqttLink } from '../../src/mqtt.js';
import { connectClient, testConfig, within } from '../helpers/harness.js';

t.test('a refused subscription is asked for again and then works', async (t) => {
  let refusals = 2;
  const broker = await Aedes.createBroker({
    authorizeSubscribe: (_client, subscription, callback) => {
      if (subscription.topic.endsWith('/wanted') && refusals > 0) {
        refusals -= 1;
        // null: a SUBACK failure code, the connection kept (an error would close it).
        callback(null, null);
        return;
      }
      callback(null, subscription);
    },
  });
  const server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => broker.close(() => server.close(() => resolve()))));
  const url = `mqtt://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const config = testConfig({ mqtt: { url } });
  const link = new MqttLink({ url, config: config.mqtt, will: { topic: 'x/bridge/state', payload: 'offline' }, logger: pino({ level: 'silent' }) });
  let got: Buffer | undefined;
  link.subscribe('x/wanted', (_topic, payload) => (got = payload));
  await link.start();
  t.teardown(() => link.stop());
  await within(
    (async () => {
      while (refusals > 0) await new Promise((resolve) => setTimeout(resolve, 20));
    })(),
    'two refusals',
  );
  const publisher = await connectClient(t, url);
  // Until granted, nothing arrives: publish until the subscription is in place.
  await within(
    (async () => {
      while (got === undefined) {
        await publisher.client.publishAsync('x/wanted', 'hello', { qos: 1 });
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })(),
    'the message on the subscription granted at last',
  );
  t.equal(got?.toString(), 'hello');
  t.equal(refusals, 0, 'it was refused twice first');
});
