import t from 'tap';
import { Commands } from '../helpers/commands.js';
import { connectClient, externalBroker, startGateway, until } from '../helpers/harness.js';
import { CuttableLink, restartableBroker } from '../helpers/brokers.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

t.test('after the broker restarts, the gateway reconnects and its retained topics are back', async (t) => {
  const broker = await restartableBroker(t);
  const { base, gateway } = await startGateway(t, { adapters: [echoAdapter()], config: { mqtt: { url: broker.url } } });
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev-9');
  t.teardown(() => device.close());
  const before = await connectClient(t, broker.url, { reconnectPeriod: 0 });
  await before.subscribe(`${base}/echo/dev-9/availability`);
  await before.take(`${base}/echo/dev-9/availability`, (p) => p.toString() === 'online');

  await broker.stop();
  await broker.start();

  // The new broker knows nothing; everything below was published again by the gateway.
  const after = await connectClient(t, broker.url);
  await after.subscribe([`${base}/bridge/state`, `${base}/bridge/info`, `${base}/echo/dev-9/availability`, `${base}/echo/dev-9/info`]);
  t.equal((await after.take(`${base}/bridge/state`, (p) => p.toString() === 'online', 20_000)).payload.toString(), 'online');
  t.match(await after.json(`${base}/bridge/info`, undefined, 20_000), { adapters: { echo: {} } });
  t.equal((await after.take(`${base}/echo/dev-9/availability`, undefined, 20_000)).payload.toString(), 'online');
  t.match(await after.json(`${base}/echo/dev-9/info`, undefined, 20_000), { deviceId: 'dev-9' });
});

t.test('while the broker is unreachable a device message fails fast; commands queued meanwhile arrive', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const { base, gateway } = await startGateway(t, { adapters: [echoAdapter()], config: { mqtt: { url: proxy.url } } });
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev-7');
  t.teardown(() => device.close());
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${base}/echo/dev-7/command/ping/reply`, `${base}/echo/dev-7/event/+`, `${base}/bridge/state`]);
  const commands = new Commands(t, inbox, base);

  await proxy.cut();
  await until(() => !gateway.ready, 'the gateway noticing the broker is gone');
  device.send({ event: 'alarm', data: { level: 3 } });
  t.same(await device.next(), { ack: 'alarm', ok: false }, 'the device hears the failure, and retries by its own protocol');
  const queued = await commands.publish('echo', 'dev-7', 'ping', { id: 'queued', data: { n: 3 } });

  await proxy.open();
  t.match((await queued.reply(20_000)).reply, { id: 'queued', ok: true, data: { echo: { n: 3 } } });
  await commands.settle('echo', 'dev-7');
  device.send({ event: 'alarm', data: { level: 3 } });
  t.same(await device.next(), { ack: 'alarm', ok: true });
  t.match(await inbox.json(`${base}/echo/dev-7/event/alarm`), { data: { level: 3 } });
  t.equal(inbox.unread(`${base}/echo/dev-7/event/alarm`), 0, 'the failed message was not published');
});
