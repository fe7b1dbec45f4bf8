import t from 'tap';
import { connectClient, startGateway, type Teardown } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

async function setup(tt: Teardown) {
  const started = await startGateway(tt, { adapters: [echoAdapter()] });
  const inbox = await connectClient(tt, started.mqttUrl);
  const echo = started.gateway.addresses().adapters.echo as string;
  return { ...started, inbox, echo };
}

type Reply = { id: string; ok: boolean; code: unknown; message: unknown; data: unknown; error: { type: string; message: string } | null };

t.test('a command to a device that is not connected gets exactly one reply: offline', async (t) => {
  const { base, inbox } = await setup(t);
  const reply = `${base}/echo/nobody/command/ping/reply`;
  await inbox.subscribe(reply);
  await inbox.client.publishAsync(`${base}/echo/nobody/command/ping`, JSON.stringify({ id: 'c1', data: { n: 1 } }), { qos: 1 });
  const first = (await inbox.json(reply)) as Reply;
  t.match(first, { id: 'c1', ok: false, code: null, error: { type: 'offline' } });
  // A second command on the same topic: its reply must be the next message there, so no
  // duplicate of the first came in between.
  await inbox.client.publishAsync(`${base}/echo/nobody/command/ping`, JSON.stringify({ id: 'c2' }), { qos: 1 });
  const second = (await inbox.json(reply)) as Reply;
  t.equal(second.id, 'c2');
  t.equal(inbox.unread(reply), 0);
});

t.test('unknown command name: unsupported, checked before the payload', async (t) => {
  const { base, inbox } = await setup(t);
  const reply = `${base}/echo/dev1/command/reboot/reply`;
  await inbox.subscribe(reply);
  await inbox.client.publishAsync(`${base}/echo/dev1/command/reboot`, 'not json', { qos: 1 });
  t.match(await inbox.json(reply), { ok: false, code: null, error: { type: 'unsupported' } });
});

t.test('a payload that is not JSON, or fails the schema: invalid, nothing sent', async (t) => {
  const { base, inbox, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  device.autoAnswer = false;
  const reply = `${base}/echo/dev1/command/ping/reply`;
  await inbox.subscribe(reply);
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, '{nope', { qos: 1 });
  t.match(await inbox.json(reply), { ok: false, error: { type: 'invalid', message: /not JSON/ } });
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'x', data: { n: 'one' } }), { qos: 1 });
  t.match(await inbox.json(reply), { id: 'x', ok: false, error: { type: 'invalid', message: /data\/n must be integer/ } });
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'y', timeoutMs: 0 }), { qos: 1 });
  t.match(await inbox.json(reply), { id: 'y', ok: false, error: { type: 'invalid', message: /timeoutMs/ } });
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, '{"__proto__": {"x": 1}}', { qos: 1 });
  t.match(await inbox.json(reply), { ok: false, error: { type: 'invalid' } });
});

t.test('a command reaches the device and its answer comes back; aliases and device errors', async (t) => {
  const { base, inbox, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  await inbox.subscribe(`${base}/echo/dev1/command/+/reply`);
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'ok1', data: { n: 5 } }), { qos: 1 });
  t.same(await inbox.json(`${base}/echo/dev1/command/ping/reply`), {
    id: 'ok1', ok: true, code: 0, message: 'Success', data: { echo: { n: 5 } }, error: null,
  });
  await inbox.client.publishAsync(`${base}/echo/dev1/command/pingFail`, JSON.stringify({ id: 'f1' }), { qos: 1 });
  t.match(await inbox.json(`${base}/echo/dev1/command/pingFail/reply`), {
    id: 'f1', ok: false, code: 7, message: 'Refused', data: { echo: { fail: true } }, error: { type: 'device', message: 'Refused' },
  });
  // No id: the gateway makes one.
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, '', { qos: 1 });
  const made = (await inbox.json(`${base}/echo/dev1/command/ping/reply`)) as Reply;
  t.ok(made.ok);
  t.match(made.id, /^[0-9a-f-]{36}$/);
});

t.test('a device that does not answer: timeout after timeoutMs', async (t) => {
  const { base, inbox, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  const reply = `${base}/echo/dev1/command/ping/reply`;
  await inbox.subscribe(reply);
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 't1', timeoutMs: 200, data: { silent: true } }), { qos: 1 });
  t.match(await inbox.json(reply), { id: 't1', ok: false, code: null, error: { type: 'timeout' } });
});

t.test('an MQTT 5 command with a response topic gets its reply there, with its correlation data', async (t) => {
  const { base, inbox, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  await inbox.subscribe(['my/replies', `${base}/echo/dev1/command/ping/reply`]);
  const correlationData = Buffer.from('corr-42');
  await inbox.client.publishAsync(`${base}/echo/dev1/command/ping`, JSON.stringify({ id: 'r1', data: { n: 1 } }), {
    qos: 1,
    properties: { responseTopic: 'my/replies', correlationData },
  });
  const { payload, packet } = await inbox.take('my/replies');
  t.match(JSON.parse(payload.toString()), { id: 'r1', ok: true });
  t.same(packet.properties?.correlationData, correlationData);
  t.equal(inbox.unread(`${base}/echo/dev1/command/ping/reply`), 0, 'not also on the default reply topic');
});

t.test('command outcomes are counted in /metrics', async (t) => {
  const { base, inbox, httpUrl } = await setup(t);
  const reply = `${base}/echo/nobody/command/ping/reply`;
  await inbox.subscribe(reply);
  await inbox.client.publishAsync(`${base}/echo/nobody/command/ping`, '{}', { qos: 1 });
  await inbox.json(reply);
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /gate2mqtt_commands_total\{adapter="echo",name="ping",outcome="offline"\} 1/);
  t.match(metrics, /gate2mqtt_command_duration_seconds_count\{adapter="echo"\} 1/);
});
