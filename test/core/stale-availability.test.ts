// A killed gateway cannot say its devices went offline; a broker that kept its retained topics
// still says `online` for them. The next start corrects each device it does not have.
import t from 'tap';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient, startGateway, uniqueBase } from '../helpers/harness.js';
import { ownMosquitto } from '../helpers/mosquitto.js';

t.test('a retained online left by a killed gateway is set offline at start; a device that connects stays online', async (t) => {
  const mosquitto = await ownMosquitto(t);
  const base = uniqueBase();
  const platform = await connectClient(t, mosquitto.url);
  // What a killed gateway leaves behind.
  for (const id of ['gone', 'back']) {
    await platform.client.publishAsync(`${base}/echo/${id}/availability`, 'online', { qos: 1, retain: true });
  }
  const watcher = await connectClient(t, mosquitto.url);
  await watcher.subscribe(`${base}/echo/+/availability`);
  for (const id of ['gone', 'back']) await watcher.take(`${base}/echo/${id}/availability`, (p) => p.toString() === 'online');

  const { gateway } = await startGateway(t, { config: { baseTopic: base, mqtt: { url: mosquitto.url } }, adapters: [echoAdapter()] });
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'back');
  t.teardown(() => device.close());
  const gone = await watcher.take(`${base}/echo/gone/availability`, (p) => p.toString() === 'offline');
  t.equal(gone.payload.toString(), 'offline', 'the device nobody has is offline');
  await watcher.take(`${base}/echo/back/availability`, (p) => p.toString() === 'online');

  // Read back as a newcomer: the retained values, after everything above settled.
  const reader = await connectClient(t, mosquitto.url);
  await reader.subscribe([`${base}/echo/gone/availability`, `${base}/echo/back/availability`]);
  t.equal((await reader.take(`${base}/echo/gone/availability`)).payload.toString(), 'offline');
  t.equal((await reader.take(`${base}/echo/back/availability`)).payload.toString(), 'online', 'the connected device is online');
});
