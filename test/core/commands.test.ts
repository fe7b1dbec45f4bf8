// Commands through the core with the echo adapter: every outcome (offline, unsupported, invalid,
// device answers and errors, timeout, MQTT 5 response topics), each with exactly one reply: every
// command goes through Commands (test/helpers/commands.ts), which fails a test whose command got a
// second reply.
import t from 'tap';
import { Commands, notTheNumber } from '../helpers/commands.js';
import { connectClient, externalBroker, startGateway, uniqueBase, type Teardown } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

async function setup(tt: Teardown) {
  const started = await startGateway(tt, { adapters: [echoAdapter()] });
  const inbox = await connectClient(tt, started.mqttUrl);
  const echo = started.gateway.addresses().adapters.echo as string;
  const commands = new Commands(tt, inbox, started.base);
  const send = (deviceId: string, name: string, payload: object | string = {}) => commands.send('echo', deviceId, name, payload);
  return { ...started, inbox, echo, commands, send };
}

t.test('a command to a device that is not connected gets exactly one reply: offline', async (t) => {
  const { send } = await setup(t);
  t.match(await send('nobody', 'ping', { id: 'c1', data: { n: 1 } }), { id: 'c1', ok: false, code: null, error: { type: 'offline' } });
  t.match(await send('nobody', 'ping', { id: 'c2' }), { id: 'c2', error: { type: 'offline' } });
});

t.test('unknown command name: unsupported, checked before the payload', async (t) => {
  const { send } = await setup(t);
  t.match(await send('dev1', 'reboot', 'not json'), { ok: false, code: null, error: { type: 'unsupported' } });
});

t.test('a payload that is not JSON, or fails the schema: invalid, nothing sent', async (t) => {
  const { send, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  device.autoAnswer = false;
  t.match(await send('dev1', 'ping', '{nope'), { ok: false, error: { type: 'invalid', message: /not JSON/ } });
  t.match(await send('dev1', 'ping', { id: 'x', data: { n: 'one' } }), { id: 'x', ok: false, error: { type: 'invalid', message: 'data.n must be integer' } });
  t.match(await send('dev1', 'ping', { data: { mode: 'fast' } }), { error: { type: 'invalid', message: 'data.mode must be one of "quiet", "loud"' } });
  t.match(await send('dev1', 'ping', { data: { nn: 1 } }), { error: { type: 'invalid', message: 'data.nn is not a parameter of ping' } });
  t.match(await send('dev1', 'ping', { id: 'y', timeoutMs: 0 }), { id: 'y', ok: false, error: { type: 'invalid', message: /timeoutMs/ } });
  t.match(await send('dev1', 'ping', '{"__proto__": {"x": 1}}'), { ok: false, error: { type: 'invalid' } });
  // The device takes the next command first: nothing of the invalid ones reached it.
  const next = device.next();
  t.match(await send('dev1', 'ping', { id: 'z', timeoutMs: 300, data: { n: 1 } }), { id: 'z', error: { type: 'timeout' } });
  t.match(await next, { command: 'ping', id: 'z' }, 'the first command the device saw');
});

t.test('a command reaches the device and its answer comes back; aliases and device errors', async (t) => {
  const { send, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  t.same(await send('dev1', 'ping', { id: 'ok1', data: { n: 5 } }), {
    id: 'ok1', ok: true, code: 0, message: 'Success', data: { echo: { n: 5 } }, error: null,
  });
  t.match(await send('dev1', 'pingFail', { id: 'f1' }), {
    id: 'f1', ok: false, code: 7, message: 'Refused', data: { echo: { fail: true } }, error: { type: 'device', message: 'Refused' },
  });
  // No id: the gateway makes one.
  const made = await send('dev1', 'ping', '');
  t.ok(made.ok);
  t.match(made.id, /^[0-9a-f-]{36}$/);
});

t.test('numbers sent as strings: the data and timeoutMs by one rule; the device gets numbers', async (t) => {
  const { send, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  // The echo device answers with the data it got: what reached it, with its types.
  t.strictSame(await send('dev1', 'ping', { id: 's1', timeoutMs: '5000', data: { n: '5' } }), {
    id: 's1', ok: true, code: 0, message: 'Success', data: { echo: { n: 5 } }, error: null,
  });
  t.match(await send('dev1', 'ping', { id: 's2', data: { n: '-12', mode: 'loud' } }), { ok: true, data: { echo: { n: -12, mode: 'loud' } } });
  for (const wrong of notTheNumber(5)) {
    t.strictSame((await send('dev1', 'ping', { data: { n: wrong } })).error, { type: 'invalid', message: 'data.n must be integer' }, `n ${JSON.stringify(wrong)}`);
  }
  for (const wrong of notTheNumber(5000)) {
    t.strictSame((await send('dev1', 'ping', { timeoutMs: wrong })).error, { type: 'invalid', message: 'timeoutMs must be an integer from 1 to 300000' }, `timeoutMs ${JSON.stringify(wrong)}`);
  }
  t.strictSame((await send('dev1', 'ping', { data: { fail: 'true' } })).error, { type: 'invalid', message: 'data.fail must be boolean' }, 'no booleans from strings');
});

t.test('a device that does not answer: timeout after timeoutMs, and its late answer is no second reply', async (t) => {
  const { send, echo } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  device.autoAnswer = false;
  const seen = device.next();
  t.match(await send('dev1', 'ping', { id: 't1', timeoutMs: 200, data: { n: 1 } }), { id: 't1', ok: false, code: null, error: { type: 'timeout' } });
  t.match(await seen, { command: 'ping', id: 't1' });
  // The late answer, then the answer to the next command, on one connection in that order: the
  // gateway reads the late one first, so a reply it made of it would come before the next one's.
  device.send({ answer: 't1', ok: true, code: 0, message: 'late', data: {} });
  device.autoAnswer = true;
  t.match(await send('dev1', 'ping', { id: 't2', data: { n: 2 } }), { id: 't2', ok: true });
});

t.test('an MQTT 5 command with a response topic gets its reply there, with its correlation data', async (t) => {
  const { base, inbox, echo, commands } = await setup(t);
  const device = await EchoDevice.connect(echo, 'dev1');
  t.teardown(() => device.close());
  await inbox.subscribe(`${base}/echo/dev1/command/ping/reply`);
  const correlationData = Buffer.from('corr-42');
  const { reply, packet } = await commands.sendTaking('echo', 'dev1', 'ping', { id: 'r1', data: { n: 1 } }, { responseTopic: `${base}/my/replies`, correlationData });
  t.match(reply, { id: 'r1', ok: true });
  t.same(packet.properties?.correlationData, correlationData);
  t.equal(inbox.unread(`${base}/echo/dev1/command/ping/reply`), 0, 'not also on the default reply topic');
});

t.test('command outcomes are counted in /metrics', async (t) => {
  const { send, httpUrl } = await setup(t);
  await send('nobody', 'ping', {});
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /gate2mqtt_commands_total\{adapter="echo",name="ping",outcome="offline"\} 1/);
  t.match(metrics, /gate2mqtt_command_duration_seconds_count\{adapter="echo"\} 2/, 'the command and the check after it');
});

t.test('a retained command is ignored: not executed, no reply', async (t) => {
  // Retained before the gateway subscribes: what it would meet again at every start. (A retained
  // publish while it runs reaches it as a live one, not flagged: that is a command like any other.)
  const url = await externalBroker(t);
  const base = uniqueBase();
  const topic = `${base}/echo/dev1/command/ping`;
  const platform = await connectClient(t, url);
  await platform.subscribe(`${base}/echo/dev1/command/+/reply`);
  await platform.client.publishAsync(topic, JSON.stringify({ id: 'kept', data: { n: 1 } }), { qos: 1, retain: true });
  t.teardown(() => platform.client.publishAsync(topic, '', { qos: 1, retain: true }));
  const { gateway } = await startGateway(t, { adapters: [echoAdapter()], config: { baseTopic: base, mqtt: { url } } });
  const commands = new Commands(t, platform, base);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'dev1');
  t.teardown(() => device.close());
  device.autoAnswer = false;
  const first = device.next();
  t.match(await commands.send('echo', 'dev1', 'ping', { id: 'live', timeoutMs: 300, data: { n: 2 } }), { id: 'live', error: { type: 'timeout' } });
  t.match(await first, { command: 'ping', id: 'live' }, 'the first command the device got is the live one: the retained one was not executed');
  const kept = platform.history((name) => name === `${topic}/reply`).filter((m) => (JSON.parse(m.payload.toString()) as { id?: string }).id === 'kept');
  t.equal(kept.length, 0, 'and it got no reply');
});
