// Commands that reach the gateway before it is ready: queued by the broker for its persistent
// session while it was stopped (handed over right after CONNACK), or published to the embedded
// broker as soon as it listens. Each gets exactly one reply, executed when its device is
// connected by the time the adapters are up.
import t from 'tap';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Adapter } from '../../src/adapter.js';
import { Gateway, type AdapterDefinition } from '../../src/gateway.js';
import { ROOT } from '../../src/paths.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient, testConfig, uniqueBase, until, type Inbox, type Teardown } from '../helpers/harness.js';
import { ownMosquitto } from '../helpers/mosquitto.js';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';

/** An adapter whose start waits for the test: the gateway is connected and the echo adapter up,
 *  but the gateway is not done starting. */
function heldAdapter(): { definition: AdapterDefinition; release: () => void } {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const adapter: Adapter = { id: 'held', start: async () => (await gate, undefined), stop: async () => undefined };
  return {
    release: () => release(),
    definition: {
      id: 'held',
      factory: (() => adapter) as AdapterDefinition['factory'],
      config: { enabled: true },
      mappingsDir: join(ROOT, 'test/fixtures/mappings/echo'),
    },
  };
}

function gateway(t: Teardown, config: DeepPartial<GatewayConfig>, adapters: AdapterDefinition[]): Gateway {
  const built = testConfig(config);
  const g = new Gateway(built, { adapters, logger: pino({ level: built.log.level }) });
  t.teardown(() => g.stop());
  return g;
}

/** The replies to command `id`, counted once a later command's reply proved the earlier ones are in. */
async function repliesTo(inbox: Inbox, base: string, id: string): Promise<Array<Record<string, unknown>>> {
  await inbox.client.publishAsync(`${base}/echo/nobody/command/ping`, JSON.stringify({ id: 'sentinel' }), { qos: 1 });
  await inbox.json(`${base}/echo/nobody/command/ping/reply`, (r) => r.id === 'sentinel');
  return inbox
    .history((topic) => topic === `${base}/echo/dev1/command/ping/reply`)
    .map((m) => JSON.parse(m.payload.toString()) as Record<string, unknown>)
    .filter((r) => r.id === id);
}

/** A gateway ran once on an own Mosquitto (making its persistent session there) and stopped; then
 *  `command` was published to dev1's ping: the broker holds it for the gateway's session. */
async function queuedWhileStopped(t: Teardown, command: object) {
  const mosquitto = await ownMosquitto(t);
  const base = uniqueBase();
  const config = { baseTopic: base, mqtt: { url: mosquitto.url, clientId: `g2mtest-restart-${base.slice(-8)}` } };
  const first = gateway(t, config, [echoAdapter()]);
  await first.start();
  await first.stop();
  const platform = await connectClient(t, mosquitto.url);
  await platform.subscribe(`${base}/echo/+/command/+/reply`);
  await platform.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify(command), { qos: 1 });
  return { base, config, platform };
}

t.test('a command queued at Mosquitto while the gateway was stopped gets one reply, executed', async (t) => {
  const { base, config, platform } = await queuedWhileStopped(t, { id: 'while-down', data: { n: 7 } });

  const held = heldAdapter();
  const second = gateway(t, config, [echoAdapter(), held.definition]);
  const starting = second.start();
  await until(() => second.addresses().adapters.echo !== undefined, 'the echo adapter to listen');
  const device = await EchoDevice.connect(second.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  held.release();
  await starting;

  const reply = await platform.json(`${base}/echo/dev1/command/ping/reply`, (r) => r.id === 'while-down');
  t.equal(reply.ok, true, 'executed by the device that was connected when the gateway was up');
  t.same(reply.data, { echo: { n: 7 } });
  t.equal((await repliesTo(platform, base, 'while-down')).length, 1, 'exactly one reply');
});

t.test('a command queued at Mosquitto for a device that is not back is answered offline, once', async (t) => {
  const { base, config, platform } = await queuedWhileStopped(t, { id: 'nobody-home' });
  await gateway(t, config, [echoAdapter()]).start();
  const reply = await platform.json(`${base}/echo/dev1/command/ping/reply`, (r) => r.id === 'nobody-home');
  t.same(reply.error, { type: 'offline', message: 'device dev1 is not connected' });
  t.equal((await repliesTo(platform, base, 'nobody-home')).length, 1, 'exactly one reply');
});

/** A gateway on its embedded broker, still starting (an adapter held), and `command` published to
 *  dev1's ping; at its PUBACK the broker has handed it to its subscribers, the held router among them. */
async function publishedWhileStarting(t: Teardown, command: object) {
  const held = heldAdapter();
  const g = gateway(t, { mqtt: { url: '' } }, [echoAdapter(), held.definition]);
  const base = g.config.baseTopic;
  const starting = g.start();
  await until(() => g.addresses().adapters.echo !== undefined, 'the echo adapter to listen');
  const platform = await connectClient(t, g.mqttUrl);
  await platform.subscribe(`${base}/echo/+/command/+/reply`);
  await platform.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify(command), { qos: 1 });
  return { g, base, held, starting, platform };
}

t.test('a command published to the embedded broker while the gateway is still starting gets one reply, executed', async (t) => {
  const { g, base, held, starting, platform } = await publishedWhileStarting(t, { id: 'early', data: { n: 1 } });
  const device = await EchoDevice.connect(g.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  held.release();
  await starting;

  const reply = await platform.json(`${base}/echo/dev1/command/ping/reply`, (r) => r.id === 'early');
  t.equal(reply.ok, true);
  t.same(reply.data, { echo: { n: 1 } });
  t.equal((await repliesTo(platform, base, 'early')).length, 1, 'exactly one reply');
});

t.test('a command held while the gateway starts is answered offline when the gateway stops instead', async (t) => {
  const { g, base, held, starting, platform } = await publishedWhileStarting(t, { id: 'cut-short' });
  const stopped = g.stop();
  const reply = await platform.json(`${base}/echo/dev1/command/ping/reply`, (r) => r.id === 'cut-short');
  t.same(reply.error, { type: 'offline', message: 'the gateway is stopping' });
  held.release();
  await Promise.all([starting.catch(() => undefined), stopped]);
});
