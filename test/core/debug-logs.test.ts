// At debug level the log follows a command and a platform reply by their ids (read with
// pino-pretty, see the README): what an integrator greps for when a reply seems lost.
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import t from 'tap';
import { GantryAdapter } from '../../adapters/gantry/adapter.js';
import type { GantryConfig } from '../../adapters/gantry/config.js';
import { GantrySimulator, type UploadResult } from '../../sim/gantry/simulator.js';
import type { AdapterFactory } from '../../src/adapter.js';
import { Gateway } from '../../src/gateway.js';
import { Commands } from '../helpers/commands.js';
import { EchoDevice, echoAdapter } from '../helpers/echo-adapter.js';
import { connectClient, testConfig, until } from '../helpers/harness.js';

type Line = Record<string, unknown>;

/** A debug logger whose every line the test can read. */
function debugLog(): { lines: Line[]; logger: Logger } {
  const lines: Line[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split('\n')) if (line) lines.push(JSON.parse(line) as Line);
      done();
    },
  });
  return { lines, logger: pino({ level: 'debug' }, sink) };
}

t.test('commands and platform replies are logged at debug with their ids', async (t) => {
  const { lines, logger } = debugLog();
  const config = testConfig();
  const gateway = new Gateway(config, { adapters: [echoAdapter({ door: { mode: 'mqtt', timeoutMs: 5000 } })], logger });
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

t.test("a gantry's whitelist answers are logged at debug with its id, the query and what it was given", async (t) => {
  const { lines, logger } = debugLog();
  const sim = new GantrySimulator({ controlPort: 0, gantries: 1 });
  await sim.start();
  t.teardown(() => sim.stop());
  const config = testConfig();
  let adapter: GantryAdapter | undefined;
  const factory: AdapterFactory<GantryConfig> = (context) => (adapter = new GantryAdapter(context));
  const gateway = new Gateway(config, { adapters: [{ id: 'gantry', factory: factory as AdapterFactory<never>, config: config.gantry }], logger });
  t.teardown(() => gateway.stop());
  await gateway.start();
  sim.setUploadUrl(`http://${gateway.addresses().http as string}/monitor.do`);
  const gantryId = sim.gantries[0]!.gantryId;
  // By what identifies the query: its gantry, its timeStamp and binfile-md5 (the same for a query
  // repeated within a second, so only lines after `from` count).
  const answered = (query: UploadResult, from: number): Line | undefined =>
    lines.slice(from).find(
      (l) =>
        l.msg === 'whitelist answered' &&
        l.adapter === 'gantry' &&
        l.deviceId === gantryId &&
        l.timeStamp === Number((query.body as { timeStamp: string }).timeStamp) &&
        l.md5 === query.headers['binfile-md5'],
    );

  // No list held, local mode: the default, no newer list.
  const first = await sim.upload(gantryId, 'queryAndGetCardInfo');
  await until(() => answered(first, 0) !== undefined, 'the default answer in the log');
  t.match(answered(first, 0), { name: 'queryAndGetCardInfo', curVersion: '0', source: 'local', isExistLatestVersion: 0, cards: 0 });
  t.notOk('latestVersion' in (answered(first, 0) ?? {}), 'no version when there is no newer list');

  const platform = await connectClient(t, gateway.mqttUrl);
  const whitelist = `${config.baseTopic}/gantry/${gantryId}/whitelist`;
  const cardInfos = [1, 2, 3].map((n) => ({ cardId: `C${n}`, validTime: '2026-01-01 00:00:00', invalidTime: '2036-01-01 00:00:00' }));
  await platform.client.publishAsync(whitelist, JSON.stringify({ latestVersion: '20261125080000', cardInfos }), { qos: 1, retain: true });
  t.teardown(() => platform.client.publishAsync(whitelist, '', { qos: 1, retain: true }));
  await until(() => adapter?.whitelist(gantryId) !== undefined, 'the gateway to hold the whitelist');
  const from = lines.length;
  const second = await sim.upload(gantryId, 'queryAndGetCardInfo');
  t.equal((second.answer.data as { cardInfos?: unknown[] }).cardInfos?.length, 3, 'the cabinet got the list');
  await until(() => answered(second, from) !== undefined, 'the whitelist answer in the log');
  t.match(answered(second, from), { source: 'whitelist', curVersion: '0', isExistLatestVersion: 1, latestVersion: '20261125080000', cards: 3 });
});
