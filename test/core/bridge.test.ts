import t from 'tap';
import { connectClient, startGateway } from '../helpers/harness.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';

t.test('bridge/state is online and bridge/info retained after start; /healthz /readyz /metrics', async (t) => {
  const { base, mqttUrl, httpUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  // A subscriber that arrives after the start sees both, retained.
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe([`${base}/bridge/state`, `${base}/bridge/info`]);
  const state = await inbox.take(`${base}/bridge/state`);
  t.equal(state.payload.toString(), 'online');
  t.equal(state.packet.retain, true);
  const info = await inbox.take(`${base}/bridge/info`);
  t.equal(info.packet.retain, true);
  t.match(JSON.parse(info.payload.toString()), {
    version: String,
    startedAt: String,
    adapters: { echo: { listen: gateway.addresses().adapters.echo, devices: 0 } },
  });

  t.same(await (await fetch(`${httpUrl}/healthz`)).json(), { status: 'ok' });
  const ready = await fetch(`${httpUrl}/readyz`);
  t.equal(ready.status, 200);
  t.same(await ready.json(), { ready: true, mqtt: true, listeners: true });
  const metrics = await fetch(`${httpUrl}/metrics`);
  t.match(metrics.headers.get('content-type'), /text\/plain/);
  const text = await metrics.text();
  t.match(text, /# TYPE gate2mqtt_devices_connected gauge/);
  t.match(text, /gate2mqtt_mqtt_connected 1/);
});

t.test('a device: availability and info retained, events with their media, offline when it leaves', async (t) => {
  const { base, mqttUrl, httpUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe([`${base}/echo/#`, `${base}/bridge/event`]);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'cam-1');

  t.equal((await inbox.take(`${base}/echo/cam-1/availability`)).payload.toString(), 'online');
  t.match(await inbox.json(`${base}/echo/cam-1/info`), { deviceId: 'cam-1', kind: 'echo', remote: /^127\.0\.0\.1:\d+$/, connectedAt: String });
  t.match(await inbox.json(`${base}/bridge/event`), { type: 'device_connected', adapter: 'echo', deviceId: 'cam-1', reason: 'connected', ts: String });

  const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);
  device.send({ event: 'snap', data: { img: jpeg.toString('base64'), score: 0.9 } });
  t.same(await device.next(), { ack: 'snap', ok: true });
  const event = await inbox.json(`${base}/echo/cam-1/event/snap`);
  t.match(event, { id: String, ts: String, adapter: 'echo', deviceId: 'cam-1', name: 'snap', data: { img: jpeg.toString('base64'), score: 0.9 } });
  const media = await inbox.take(`${base}/echo/cam-1/media/img`);
  t.same(media.payload, jpeg);

  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /gate2mqtt_devices_connected\{adapter="echo"\} 1/);

  device.close();
  t.equal((await inbox.take(`${base}/echo/cam-1/availability`)).payload.toString(), 'offline');
  t.match(await inbox.json(`${base}/bridge/event`), { type: 'device_disconnected', deviceId: 'cam-1', reason: 'closed' });
});

t.test('output.media reference replaces base64 with a reference; includeRaw adds raw', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, {
    adapters: [echoAdapter()],
    config: { output: { media: 'reference', includeRaw: true } },
  });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/echo/cam-2/event/+`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'cam-2');
  t.teardown(() => device.close());
  device.send({ event: 'snap', data: { img: Buffer.from('abc').toString('base64') } });
  await device.next();
  t.match(await inbox.json(`${base}/echo/cam-2/event/snap`), {
    data: {
      img: { media: `${base}/echo/cam-2/media/img`, bytes: 3, sha256: 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad' },
    },
  });
});

t.test('a second connection of the same device replaces the first without going offline', async (t) => {
  const { base, mqttUrl, gateway } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/bridge/event`);
  const address = gateway.addresses().adapters.echo as string;
  const first = await EchoDevice.connect(address, 'door-1');
  const closed = new Promise((resolve) => first.socket.once('close', resolve));
  const second = await EchoDevice.connect(address, 'door-1');
  t.teardown(() => second.close());
  await closed;
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.reason === 'replaced'), { type: 'device_disconnected', deviceId: 'door-1' });
  await inbox.subscribe(`${base}/echo/door-1/availability`);
  t.equal((await inbox.take(`${base}/echo/door-1/availability`)).payload.toString(), 'online');
});

t.test('an identity that is not a topic level is refused: protocol_error, nothing published', async (t) => {
  const { base, mqttUrl, gateway, httpUrl } = await startGateway(t, { adapters: [echoAdapter()] });
  const inbox = await connectClient(t, mqttUrl);
  await inbox.subscribe(`${base}/bridge/event`);
  const { connect } = await import('node:net');
  const [host, port] = (gateway.addresses().adapters.echo as string).split(':') as [string, string];
  for (const id of ['a/b', '', 'x+', 'y#']) {
    const device = new EchoDevice(connect(Number(port), host));
    device.send({ hello: id });
    t.same(await device.next(), { refused: id });
    device.close();
    t.match(await inbox.json(`${base}/bridge/event`), { type: 'protocol_error', adapter: 'echo', reason: 'bad_identity', remote: String });
  }
  const metrics = await (await fetch(`${httpUrl}/metrics`)).text();
  t.match(metrics, /gate2mqtt_protocol_errors_total\{adapter="echo",reason="bad_identity"\} 4/);
  t.match(metrics, /gate2mqtt_devices_connected\{adapter="echo"\} 0/);
});
