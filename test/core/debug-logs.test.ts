// At debug level the log follows a command and a platform reply by their ids (read with
// pino-pretty, see the README): what an integrator greps for when a reply seems lost.
import { Writable } from 'node:stream';
import { pino } from 'pino';
import t from 'tap';
import { Gateway } from '../../src/gateway.js';
import { Commands } from '../helpers/commands.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient, testConfig, until } from '../helpers/harness.js';

t.test('commands and platform replies are logged at debug with their ids', async (t) => {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  const config = testConfig();
  const gateway = new Gateway(config, { adapters: [echoAdapter({ door: { mode: 'mqtt', timeoutMs: 5000 } })], logger: pino({ level: 'debug' }, sink) });
  t.teardown(() => gateway.stop());
  await gateway.start();
  const base = config.baseTopic;
  const platform = await connectClient(t, gateway.mqttUrl);
  await platform.subscribe(`${base}/echo/d1/request/+`);
  const device = await EchoDevice.connect(gateway.addresses().adapters.echo as string, 'd1');
  t.teardown(() => device.close());

  const commands = new Commands(t, platform, base);
  t.match(await commands.send('echo', 'd1', 'ping', { id: 'cmd-logged', data: { n: 1 } }), { ok: true });
  await until(() => lines.some((l) => l.msg === 'command answered' && l.id === 'cmd-logged' && l.outcome === 'ok'), 'the command in the log');

  device.send({ ask: 'door', data: {} });
  const request = await platform.json(`${base}/echo/d1/request/door`);
  await platform.client.publishAsync(`${base}/echo/d1/request/door/reply`, JSON.stringify({ id: request.id, data: { opendoor: 1 } }), { qos: 1 });
  t.match(await device.next(), { told: 'door', source: 'mqtt' });
  await until(() => lines.some((l) => l.msg === 'platform reply' && l.id === request.id), 'the platform reply in the log');
  t.pass('both found by id');
});
