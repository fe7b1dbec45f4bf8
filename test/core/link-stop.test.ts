// The link stops within its deadline whatever the broker does: a SIGTERM during an outage must
// not wait for acknowledgements that never come (MQTT.js's graceful end would wait for ever).
import { pino } from 'pino';
import t from 'tap';
import { MqttLink } from '../../src/mqtt.js';
import { CuttableLink } from '../helpers/brokers.js';
import { externalBroker, testConfig, uniqueBase, until, within, type Teardown } from '../helpers/harness.js';

async function linkBehindProxy(t: Teardown) {
  const proxy = new CuttableLink(await externalBroker(t));
  await proxy.open();
  t.teardown(() => proxy.cut());
  const config = testConfig({ mqtt: { url: proxy.url, reconnectPeriodMs: 50, publishTimeoutMs: 60_000 } });
  const base = uniqueBase();
  const link = new MqttLink({ url: proxy.url, config: config.mqtt, will: { topic: `${base}/bridge/state`, payload: 'offline' }, logger: pino({ level: 'silent' }) });
  await link.start();
  return { proxy, link, base };
}

t.test('stop() with a message in flight to a broker that went silent returns within seconds', async (t) => {
  const { proxy, link, base } = await linkBehindProxy(t);
  proxy.hold();
  const inFlight = link.publish(`${base}/x/y/event/e`, 'never acknowledged');
  inFlight.catch(() => undefined);
  await within(link.stop(), 'the link to stop', 5000);
  t.pass('stopped');
});

t.test('stop() with messages kept for a broker that is gone returns within seconds', async (t) => {
  const { proxy, link, base } = await linkBehindProxy(t);
  proxy.hold();
  const inFlight = link.publish(`${base}/x/y/event/e`, 'never acknowledged');
  inFlight.catch(() => undefined);
  await proxy.cut();
  await until(() => !link.connected, 'the link to notice the cut');
  await within(link.stop(), 'the link to stop', 5000);
  t.pass('stopped');
});
