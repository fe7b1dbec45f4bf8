// A gateway with the disk buffer may start while its broker is away (a cabinet powered up before
// its uplink): it starts, acknowledges its devices into the buffer, and drains when the broker comes.
// Without the buffer the same start fails, naming the broker (the devices could not be answered).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { CuttableLink } from '../helpers/brokers.js';
import { connectClient, externalBroker, startGateway, uniqueBase } from '../helpers/harness.js';

t.test('buffer.mode disk: started with the broker unreachable, devices acknowledged, drained once it is reached', async (t) => {
  const broker = await externalBroker(t);
  const base = uniqueBase();
  const watcher = await connectClient(t, broker);
  await watcher.subscribe(`${base}/echo/+/event/+`);
  // The gateway's way to the broker, refused until opened.
  const uplink = new CuttableLink(broker);
  await uplink.open();
  await uplink.cut();
  t.teardown(() => uplink.cut());

  const dir = mkdtempSync(join(tmpdir(), 'g2m-buffer-start-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { gateway } = await startGateway(t, {
    config: { baseTopic: base, mqtt: { url: uplink.url }, buffer: { mode: 'disk', dir } },
    adapters: [echoAdapter()],
  });
  t.equal(gateway.ready, false, 'started, not ready: no broker yet');
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  for (const n of [1, 2, 3]) {
    device.send({ event: 'tick', data: { n } });
    t.same(await device.next(), { ack: 'tick', ok: true }, `event ${n} acknowledged into the buffer`);
  }
  t.equal(watcher.unread(`${base}/echo/dev1/event/tick`), 0, 'nothing reached the broker yet');

  await uplink.open();
  const got: unknown[] = [];
  for (let i = 0; i < 3; i++) got.push(((await watcher.json(`${base}/echo/dev1/event/tick`)).data as { n: number }).n);
  t.same(got, [1, 2, 3], 'drained in order once the broker is reached');
});

t.test('buffer.mode off: a broker that cannot be reached ends the start, naming it', async (t) => {
  const uplink = new CuttableLink(await externalBroker(t));
  await uplink.open();
  await uplink.cut();
  await t.rejects(startGateway(t, { config: { mqtt: { url: uplink.url } }, adapters: [echoAdapter()] }), {
    code: 'G2M_ERR_MQTT',
    message: new RegExp(`cannot connect to the MQTT broker at ${uplink.url}`),
  });
});
