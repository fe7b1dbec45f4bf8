import { connect } from 'node:net';
import t from 'tap';
import { connectClient, externalBroker, startGateway, within } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

t.test('platform requests: mqtt mode waits for the reply with the same id, else the default', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, {
    adapters: [echoAdapter({ door: { mode: 'mqtt', timeoutMs: 5000 }, late: { mode: 'mqtt', timeoutMs: 100 }, face: { mode: 'local', timeoutMs: 100 } })],
  });
  const platform = await connectClient(t, mqttUrl);
  await platform.subscribe([`${base}/echo/d1/request/+`, `${base}/echo/d1/event/+`]);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'd1');
  t.teardown(() => device.close());

  device.send({ ask: 'door', data: { code: 'QR-1' } });
  const request = await platform.json(`${base}/echo/d1/request/door`);
  t.match(request, { id: String, adapter: 'echo', deviceId: 'd1', name: 'door', data: { code: 'QR-1' } });
  // A reply with a wrong id is not taken for this request.
  await platform.client.publishAsync(`${base}/echo/d1/request/door/reply`, JSON.stringify({ id: 'other', data: { opendoor: 9 } }), { qos: 1 });
  await platform.client.publishAsync(`${base}/echo/d1/request/door/reply`, JSON.stringify({ id: request.id, data: { opendoor: 1 }, result: 0, desc: 'ok' }), { qos: 1 });
  t.same(await device.next(), { told: 'door', data: { opendoor: 1 }, extra: { result: 0, desc: 'ok' }, source: 'mqtt' }, 'the reply beside id and data, for the adapter');

  device.send({ ask: 'late', data: {} });
  await platform.json(`${base}/echo/d1/request/late`);
  t.same(await device.next(), { told: 'late', data: { default: true }, source: 'fallback' }, 'no reply within timeoutMs: the default');

  device.send({ ask: 'face', data: { score: 90 } });
  t.same(await device.next(), { told: 'face', data: { default: true }, source: 'local' });
  t.match(await platform.json(`${base}/echo/d1/event/face`), { name: 'face', data: { score: 90 } }, 'local mode publishes an event');
  t.equal(platform.unread(`${base}/echo/d1/request/face`), 0, 'and no request');
});

t.test('a retransmission (same key) is answered again but published once', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/echo/d2/event/+`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'd2');
  t.teardown(() => device.close());
  for (let i = 0; i < 3; i++) {
    device.send({ event: 'pass', key: 'seq-1', data: { n: 1 } });
    t.same(await device.next(), { ack: 'pass', ok: true });
  }
  device.send({ event: 'pass', key: 'seq-2', data: { n: 2 } });
  t.same(await device.next(), { ack: 'pass', ok: true });
  // Messages of one publisher arrive in order: n=1 then n=2, with no second n=1 between.
  t.match(await inbox.json(`${base}/echo/d2/event/pass`), { data: { n: 1 } });
  t.match(await inbox.json(`${base}/echo/d2/event/pass`), { data: { n: 2 } });
  t.equal(inbox.unread(`${base}/echo/d2/event/pass`), 0);
});

t.test('device-scoped keys outlive the connection; connection-scoped ones (sequence numbers) do not', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/echo/d4/event/+`);
  const address = gateway.addresses().adapters.echo as string;
  const first = await EchoDevice.connect(address, 'd4');
  first.send({ event: 'door', key: 'evt-1', scope: 'device', data: { n: 1 } });
  first.send({ event: 'seq', key: 'seq-1', data: { n: 1 } });
  t.same(await first.next(), { ack: 'door', ok: true });
  t.same(await first.next(), { ack: 'seq', ok: true });
  first.close();
  // The answer was lost with the connection: the device sends both again on a new one.
  const second = await EchoDevice.connect(address, 'd4');
  t.teardown(() => second.close());
  second.send({ event: 'door', key: 'evt-1', scope: 'device', data: { n: 1 } });
  t.same(await second.next(), { ack: 'door', ok: true }, 'answered again');
  second.send({ event: 'seq', key: 'seq-1', data: { n: 2 } });
  t.same(await second.next(), { ack: 'seq', ok: true });
  t.match(await inbox.json(`${base}/echo/d4/event/door`), { data: { n: 1 } });
  t.match(await inbox.json(`${base}/echo/d4/event/seq`), { data: { n: 1 } });
  t.match(await inbox.json(`${base}/echo/d4/event/seq`), { data: { n: 2 } }, 'a sequence number of a new connection is a new message');
  t.equal(inbox.unread(`${base}/echo/d4/event/door`), 0, 'the event id was published once');
});

t.test('a silent device goes offline and its connection is closed; a heartbeat keeps it', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe([`${base}/echo/+/availability`, `${base}/bridge/event`]);
  const [host, port] = (gateway.addresses().adapters.echo as string).split(':') as [string, string];
  const quiet = new EchoDevice(connect(Number(port), host));
  quiet.send({ hello: 'quiet', livenessMs: 300 });
  await quiet.next();
  const chatty = new EchoDevice(connect(Number(port), host));
  chatty.send({ hello: 'chatty', livenessMs: 300 });
  await chatty.next();
  t.teardown(() => chatty.close());
  const beating = setInterval(() => chatty.send({ beat: true }), 50);
  t.teardown(() => clearInterval(beating));

  const closed = new Promise((resolve) => quiet.socket.once('close', resolve));
  t.equal((await inbox.take(`${base}/echo/quiet/availability`, (p) => p.toString() === 'offline')).payload.toString(), 'offline');
  await closed;
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'device_disconnected'), { deviceId: 'quiet', reason: 'timeout' });
  // A sentinel connected after chatty, silent for twice as long: when it goes offline, chatty's
  // own 300 ms would long have run out, had its beats not kept it alive.
  const sentinel = new EchoDevice(connect(Number(port), host));
  sentinel.send({ hello: 'sentinel', livenessMs: 600 });
  await sentinel.next();
  await inbox.take(`${base}/echo/sentinel/availability`, (p) => p.toString() === 'offline');
  await inbox.take(`${base}/echo/chatty/availability`, (p) => p.toString() === 'online');
  t.equal(inbox.unread(`${base}/echo/chatty/availability`), 0, 'chatty never went offline');
});

t.test('stop publishes every connected device offline, then bridge/state offline', async (t) => {
  const url = await externalBroker(t);
  const { base, gateway } = await startGateway(t, { adapters: [echoAdapter()], config: { mqtt: { url } } });
  const inbox = await connectClient(t, url);
  await inbox.subscribe([`${base}/echo/+/availability`, `${base}/bridge/state`]);
  const address = gateway.addresses().adapters.echo as string;
  const devices = await Promise.all(['a', 'b', 'c'].map((id) => EchoDevice.connect(address, id)));
  for (const id of ['a', 'b', 'c']) await inbox.take(`${base}/echo/${id}/availability`, (p) => p.toString() === 'online');
  await gateway.stop();
  for (const id of ['a', 'b', 'c']) {
    t.equal((await inbox.take(`${base}/echo/${id}/availability`)).payload.toString(), 'offline', id);
  }
  await inbox.take(`${base}/bridge/state`, (p) => p.toString() === 'offline');
  const closed = Promise.all(devices.map((d) => new Promise((resolve) => (d.socket.destroyed ? resolve(null) : d.socket.once('close', resolve)))));
  t.equal((await within(closed, 'every device connection closed')).length, 3);
});

t.test('state updates read in one turn are published once, the latest; each caller hears when it went out', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/echo/d9/state`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'd9');
  t.teardown(() => device.close());
  device.send({ state: { door: 'open' }, n: 1 }, { state: { door: 'closed' }, n: 2 }, { state: { door: 'locked' }, n: 3 });
  t.same([await device.next(), await device.next(), await device.next()], [{ stated: 1 }, { stated: 2 }, { stated: 3 }]);
  t.same(await inbox.json(`${base}/echo/d9/state`), { door: 'locked' });
  device.send({ state: { door: 'open' }, n: 4 });
  t.same(await device.next(), { stated: 4 });
  t.same(await inbox.json(`${base}/echo/d9/state`), { door: 'open' }, 'a later update is published again');
  t.equal(inbox.unread(`${base}/echo/d9/state`), 0, 'one publish for the three updates of the first turn');
});
