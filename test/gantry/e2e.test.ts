// The gantry adapter inside a real gateway: real HTTP, a real broker, real MQTT clients, the
// simulator as the gantries.
import t, { type Test } from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AdapterFactory } from '../../src/adapter.js';
import { loadConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { connectClient, externalBroker, startGateway, until, within, type Inbox } from '../helpers/harness.js';
import { CuttableLink } from '../helpers/brokers.js';
import { GantryAdapter } from '../../adapters/gantry/adapter.js';
import type { GantryConfig } from '../../adapters/gantry/config.js';
import { DOOR_JPEG, GantrySimulator, type ControlRecord, type SimulatorOptions, type UploadResult } from '../../adapters/gantry/simulator.js';
import { seedText } from './fixtures.js';

type Json = Record<string, unknown>;
type Partial2<T> = { [K in keyof T]?: T[K] extends object ? Partial2<T[K]> : T[K] };

const md5 = (b: string | Buffer): string => createHash('md5').update(b).digest('hex');

interface Setup {
  base: string;
  mqttUrl: string;
  httpUrl: string;
  inbox: Inbox;
  sim: GantrySimulator;
  adapter: GantryAdapter;
  topic: (gantryId: string, rest: string) => string;
  command: (gantryId: string, name: string, payload: Json) => Promise<Json>;
}

async function setup(
  t: Test,
  gantry: Partial2<GantryConfig> | ((sim: GantrySimulator) => Partial2<GantryConfig>) = {},
  simOptions: SimulatorOptions = {},
  gatewayConfig: Json = {},
): Promise<Setup> {
  const sim = new GantrySimulator({ controlPort: 0, gantries: 2, errorRate: 0.2, alarmRate: 0.5, ...simOptions });
  await sim.start();
  t.teardown(() => sim.stop());
  const config = loadConfig({
    env: {},
    args: [],
    overrides: { gantry: { controlUrl: `http://{ip}:${sim.controlPort}/remotecontrol.do`, ...(typeof gantry === 'function' ? gantry(sim) : gantry) } as GantryConfig },
  }).config.gantry;
  let adapter: GantryAdapter | undefined;
  const factory: AdapterFactory<GantryConfig> = (context) => (adapter = new GantryAdapter(context));
  const definition: AdapterDefinition = { id: 'gantry', factory: factory as AdapterFactory<never>, config };
  const started = await startGateway(t, { adapters: [definition], config: gatewayConfig });
  const inbox = await connectClient(t, started.mqttUrl);
  await inbox.subscribe([`${started.base}/gantry/#`, `${started.base}/bridge/event`]);
  const options = (sim as unknown as { options: SimulatorOptions }).options;
  options.url = `${started.httpUrl}/monitor.do`;
  const topic = (gantryId: string, rest: string): string => `${started.base}/gantry/${gantryId}/${rest}`;
  const command = async (gantryId: string, name: string, payload: Json): Promise<Json> => {
    const id = `c-${Math.random().toString(36).slice(2)}`;
    await inbox.client.publishAsync(topic(gantryId, `command/${name}`), JSON.stringify({ id, ...payload }), { qos: 1 });
    return inbox.json(topic(gantryId, `command/${name}/reply`), (r) => r.id === id);
  };
  return { base: started.base, mqttUrl: started.mqttUrl, httpUrl: started.httpUrl, inbox, sim, adapter: adapter as GantryAdapter, topic, command };
}

async function post(url: string, text: string, headers: Record<string, string | null> = {}): Promise<{ status: number; body: Json; headers: Headers }> {
  const h: Record<string, string> = { 'content-type': 'application/json' };
  const all = { 'binfile-md5': md5(text), 'binfile-auth': '123456', ...headers };
  for (const [k, v] of Object.entries(all)) if (v !== null) h[k] = v;
  const res = await fetch(url, { method: 'POST', headers: h, body: text });
  return { status: res.status, body: (await res.json()) as Json, headers: res.headers };
}

t.test('uploads of both editions become typed events, retained state, availability and info', async (t) => {
  const { inbox, sim, topic } = await setup(t);
  const [a, b] = sim.gantries as [NonNullable<(typeof sim.gantries)[0]>, NonNullable<(typeof sim.gantries)[1]>];
  t.equal(a.edition, 'v0.37');
  t.equal(b.edition, 'v1.03');
  const results = await sim.uploadAll();
  t.ok(results.every((r) => r.status === 200 && r.answer.code === '1000' && r.answer.msg === '成功'), 'every upload answered 1000 成功');
  for (const g of [a, b]) {
    t.equal((await inbox.take(topic(g.gantryId, 'availability'))).payload.toString(), 'online');
    t.match(await inbox.json(topic(g.gantryId, 'info')), { deviceId: g.gantryId, version: g.version, ip: '127.0.0.1' });
    const computers = await inbox.json(topic(g.gantryId, 'event/computerStatusUpdate'));
    t.match(computers, { adapter: 'gantry', deviceId: g.gantryId, name: 'computerStatusUpdate', data: { computerStatus: [{ id: '1' }, { id: '2' }] } });
    t.notOk('gantryId' in (computers.data as Json), 'envelope fields are not in data');
    const cabinet = await inbox.json(topic(g.gantryId, 'event/cabinetStatusUpdate'));
    const status = (cabinet.data as { cabinetStatus: Json }).cabinetStatus;
    t.match(status, { thunderSpd: [{ id: '1' }], smokeSensor: { status: 1 } }, `${g.edition}: stray-space keys trimmed`);
    t.match(await inbox.json(topic(g.gantryId, 'event/queryAndGetCardInfo')), { data: { data: { curVersion: '0' } } }, 'data is the body less its envelope');
  }
  const state = await inbox.json(topic(a.gantryId, 'state'), (s) => s.cardVersion !== undefined);
  t.match(state, { version: '1001', computers: { '1': { ip: String, updatedAt: String }, '2': {} }, cabinets: { '1': { elec: Array } }, cardVersion: '0' });
});

t.test('the seeds’ own bodies, byte for byte, and the state merged by id', async (t) => {
  const { httpUrl, inbox, topic } = await setup(t, { maxClockSkewS: 0 });
  const id = 'G000211001002110010';
  for (const name of ['computerStatusUpdate', 'cabinetStatusUpdate'] as const) {
    for (const edition of ['v037', 'v103'] as const) {
      const res = await post(`${httpUrl}/monitor.do`, seedText(edition, name));
      t.same(res.body, { code: '1000', msg: '成功' }, `${edition} ${name}`);
      t.equal(res.headers.get('binfile-md5'), md5(JSON.stringify(res.body)), 'the answer carries its MD5');
    }
  }
  const cabinet = await inbox.json(topic(id, 'event/cabinetStatusUpdate'));
  t.match(cabinet.data, {
    cabinetStatus: { ups: [{ surplusTime: 3600 }], doors: { frontDoorUnlockCardId: null, frontDoorChangeTime: '2019-08-28T01:15:01.321+08:00' }, thunderSpd: [{ lightningCount: 1 }] },
    quality: { 'cabinetStatus.doors.frontDoorUnlockCardId': 'NoData' },
  });
  const second = JSON.parse(seedText('v103', 'cabinetStatusUpdate')) as { cabinetStatus: Json };
  second.cabinetStatus.id = '2';
  second.cabinetStatus.ups = [{ id: '1', surplusTime: 'NotSupport' }];
  t.same((await post(`${httpUrl}/monitor.do`, JSON.stringify(second))).body, { code: '1000', msg: '成功' });
  const state = await inbox.json(topic(id, 'state'), (s) => Object.keys((s.cabinets as Json | undefined) ?? {}).length === 2);
  t.match(state, {
    computers: { '1': { cpuUsage: 99.99 }, '2': { ip: '192.168.1.2' } },
    cabinets: { '1': { ups: [{ surplusTime: 3600 }], quality: { 'doors.frontDoorUnlockCardId': 'NoData' } }, '2': { ups: [{ surplusTime: null }], quality: { 'ups[0].surplusTime': 'NotSupport' } } },
  });
  const double = await post(`${httpUrl}//monitor.do`, seedText('v037', 'queryAndGetCardInfo'));
  t.same(double.body, { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } }, '//monitor.do is the same address');
});

t.test('refusals answer their codes and are reported on bridge/event', async (t) => {
  const { inbox, sim, base, httpUrl } = await setup(t, { maxRequestsPerMinute: 3, gantries: { G000211001002110001: { auth: 'own-code' } } });
  const [a, b] = sim.gantries.map((g) => g.gantryId) as [string, string];
  t.equal((await sim.upload(a, 'cabinetStatusUpdate')).answer.code, '1001', 'per-gantry auth code');
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'auth_failed'), { type: 'auth_failed', adapter: 'gantry', deviceId: a });
  t.equal((await sim.upload(a, 'cabinetStatusUpdate', { auth: 'own-code' })).answer.code, '1000');
  t.equal((await sim.upload(b, 'cabinetStatusUpdate', { md5: 'wrong' })).answer.code, '1004');
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'protocol_error'), { adapter: 'gantry', reason: 'bad_md5' });
  t.equal((await sim.upload(b, 'cabinetStatusUpdate', { clockOffsetS: -400 })).answer.code, '1003');
  t.equal((await sim.upload(b, 'cabinetStatusUpdate', { version: '0999' })).answer.code, '1006');
  t.equal((await sim.upload(b, 'cabinetStatusUpdate', { mutate: (x) => (x.gantryId = 'G/1') })).answer.code, '1002');
  t.equal((await sim.upload(b, 'cabinetStatusUpdate', { rawBody: '{"gantryId":"G1"," __proto__ ":{}}' })).answer.code, '1002');
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.reason === 'unsafe_key'), { type: 'protocol_error' });
  // Of b's refusals only 1003 and 1006 passed the auth check and spent a token; one is left.
  const codes: unknown[] = [];
  for (let i = 0; i < 4; i++) codes.push((await sim.upload(b, 'computerStatusUpdate')).answer.code);
  t.same(codes.slice(0, 1), ['1000']);
  t.ok(codes.includes('1005'), `too many requests: ${codes.join(',')}`);
  const empty = await fetch(`${httpUrl}/monitor.do`, { method: 'POST' });
  t.same(await empty.json(), { code: '1004', msg: '无效的签名' }, 'a bare POST');
});

t.test('a message the broker does not take is answered 1008, and a retry is published once', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const sim = new GantrySimulator({ gantries: 1 });
  t.teardown(() => sim.stop());
  const config = loadConfig({ env: {}, args: [], overrides: {} }).config.gantry;
  const factory: AdapterFactory<GantryConfig> = (context) => new GantryAdapter(context);
  const started = await startGateway(t, {
    adapters: [{ id: 'gantry', factory: factory as AdapterFactory<never>, config }],
    config: { mqtt: { url: proxy.url, publishTimeoutMs: 500 } },
  });
  (sim as unknown as { options: SimulatorOptions }).options.url = `${started.httpUrl}/monitor.do`;
  const inbox = await connectClient(t, url);
  const id = sim.gantries[0]!.gantryId;
  const eventTopic = `${started.base}/gantry/${id}/event/cabinetStatusUpdate`;
  await inbox.subscribe(eventTopic);
  const text = JSON.stringify(sim.message(id, 'cabinetStatusUpdate'));
  await proxy.cut();
  await until(() => !started.gateway.ready, 'the gateway noticing the broker is gone');
  t.equal((await sim.upload(id, 'cabinetStatusUpdate', { rawBody: text })).answer.code, '1008');
  await proxy.open();
  await until(() => started.gateway.ready, 'the gateway back on the broker', 20_000);
  t.equal((await sim.upload(id, 'cabinetStatusUpdate', { rawBody: text })).answer.code, '1000', 'the retry goes through');
  t.equal((await sim.upload(id, 'cabinetStatusUpdate', { rawBody: text })).answer.code, '1000', 'a retransmission is answered again');
  const later = await sim.upload(id, 'cabinetStatusUpdate', { mutate: (b) => ((b.cabinetStatus as Json).id = '9') });
  t.equal(later.answer.code, '1000');
  const cabinetId = (e: Json): unknown => ((e.data as Json).cabinetStatus as Json).id;
  t.equal(cabinetId(await inbox.json(eventTopic)), '1', 'the retried message');
  t.equal(cabinetId(await inbox.json(eventTopic)), '9', 'then the next one, nothing in between');
  t.equal(inbox.unread(eventTopic), 0, 'the same bytes were published once');
});

t.test('queryAndGetCardInfo: local default, a held whitelist, the platform over MQTT', async (t) => {
  const local = await setup(t, {}, { gantries: 1 });
  const id = local.sim.gantries[0]!.gantryId;
  t.same((await local.sim.upload(id, 'queryAndGetCardInfo')).answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } });
  t.match(await local.inbox.json(local.topic(id, 'event/queryAndGetCardInfo')), { data: { data: { curVersion: '0' } } });
  // The platform holds the whitelist retained; the gateway follows the topic.
  const whitelist = local.topic(id, 'whitelist');
  await local.inbox.client.publishAsync(whitelist, '{"cardInfos": 1}', { qos: 1, retain: true });
  await local.inbox.client.publishAsync(
    whitelist,
    JSON.stringify({ ' latestVersion ': '20191201000000', cardInfos: [{ ' cardId ': '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' }] }),
    { qos: 1, retain: true },
  );
  t.teardown(() => local.inbox.client.publishAsync(whitelist, '', { qos: 1, retain: true }));
  // Until the gateway has read the topic the answer is still 0: ask again, a little apart, within a deadline.
  const askUntilHeld = async (): Promise<UploadResult> => {
    for (;;) {
      const r = await local.sim.upload(id, 'queryAndGetCardInfo');
      if ((r.answer.data as Json | undefined)?.isExistLatestVersion === 1) return r;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  const held = await within(askUntilHeld(), 'the whitelist to be held');
  t.equal(held.answerText, '{"code":"1000","msg":"成功","data":{"isExistLatestVersion":1,"latestVersion":"20191201000000","cardInfos":[{"cardId":"1234567","validTime":"2019-11-29 13:58:50","invalidTime":"2029-11-29 13:58:50"}]}}');
  t.same((await local.sim.upload(id, 'queryAndGetCardInfo')).answer.data, { isExistLatestVersion: 0 }, 'the cabinet has the latest now');

  const remote = await setup(t, { answers: { queryAndGetCardInfo: { mode: 'mqtt', timeoutMs: 2000 } } }, { gantries: 1 });
  const rid = remote.sim.gantries[0]!.gantryId;
  const answered = remote.sim.upload(rid, 'queryAndGetCardInfo');
  const request = await remote.inbox.json(remote.topic(rid, 'request/queryAndGetCardInfo'));
  t.match(request, { name: 'queryAndGetCardInfo', data: { data: { curVersion: '0' } } });
  const seedAnswer = JSON.parse(seedText('v037', 'queryAndGetCardInfo-answer')) as Json;
  await remote.inbox.client.publishAsync(remote.topic(rid, 'request/queryAndGetCardInfo/reply'), JSON.stringify({ id: request.id, data: seedAnswer.data }), { qos: 1 });
  const result = await answered;
  t.same(result.answer.data, {
    isExistLatestVersion: 1,
    latestVersion: '20191129134255',
    cardInfos: [
      { cardId: '1234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' },
      { cardId: '2234567', validTime: '2019-11-29 13:58:50', invalidTime: '2029-11-29 13:58:50' },
    ],
  }, 'the seed’s answer, cleaned of stray spaces, with an integer flag');
  t.equal(remote.inbox.unread(remote.topic(rid, 'event/queryAndGetCardInfo')), 0, 'mqtt mode publishes on request/ only');
});

t.test('commands reach the gantry with its envelope and come back as replies', async (t) => {
  const { inbox, sim, topic, command, mqttUrl } = await setup(t, { gantries: { G000211001002110009: { controlUrl: 'http://127.0.0.1:1/x' } } }, { gantries: 2 });
  const [a, b] = sim.gantries.map((g) => g.gantryId) as [string, string];
  t.match(await command(a, 'cabinetControl', { data: { cmd: 5, mode: 1 } }), { ok: false, error: { type: 'offline' } }, 'before any upload');
  await sim.uploadAll();

  const seen = sim.next<ControlRecord>('control');
  t.match(await command(b, 'cabinetControl', { data: { cmd: 5, mode: '1' } }), { id: String, ok: true, code: 1000, message: '成功', data: null, error: null });
  const record = await seen;
  t.match(record.body, { gantryId: b, method: 'cabinetControl', version: sim.gantry(b).version, cabinetControl: { cmd: '5', mode: '1' } });
  t.ok(Math.abs(Number((record.body as Json).timeStamp) - Date.now() / 1000) < 5, 'timeStamp is now, in seconds');
  t.equal(record.headers['binfile-auth'], '123456');
  t.equal(sim.gantry(b).powerMode, '1');

  const opened = sim.next<UploadResult>('upload', (r) => r.gantryId === a && r.method === 'cabinetStatusUpdate');
  t.match(await command(a, 'unlockDoor', {}), { ok: true, code: 1000 }, 'the alias reaches cmd 2');
  await opened;
  t.match(await inbox.json(topic(a, 'event/cabinetStatusUpdate'), (e) => ((e.data as { cabinetStatus: { doors: unknown } }).cabinetStatus.doors as Json).frontDoorClosed === 0), {
    data: { cabinetStatus: { doors: { frontDoorUnlockType: 2 } } },
  }, 'the cabinet reports the door it opened');

  t.match(await command(b, 'getBatteryTestResult', {}), { ok: true, data: { batterysTestResult: { testResult: 2, efficiency: Number } } });
  t.match(await command(b, 'cabinetControl', { data: { cmd: '2', mode: '1' } }), { ok: false, error: { type: 'invalid' } });

  const image = await command(a, 'getCabinetImageVedio', { data: { doorOpenTime: '2019-08-28T01:15:01.321+08:00' } });
  t.match(image, { ok: true, code: null, data: { contentType: 'image/jpeg', bytes: DOOR_JPEG.length, md5: md5(DOOR_JPEG), media: topic(a, 'media/getCabinetImageVedio') } });
  const media = await inbox.take(topic(a, 'media/getCabinetImageVedio'));
  t.ok(media.payload.equals(DOOR_JPEG), 'the JPEG is on media/getCabinetImageVedio');
  const late = await connectClient(t, mqttUrl);
  await late.subscribe(topic(a, 'media/getCabinetImageVedio'));
  const kept = await late.take(topic(a, 'media/getCabinetImageVedio'));
  t.ok(kept.packet.retain && kept.payload.equals(DOOR_JPEG), 'retained for a later subscriber');
  sim.imageMode = 'badMd5';
  t.match(await command(a, 'getDoorImage', { data: { doorOpenTime: '2019-08-28 01:15:01' } }), { ok: false, code: null, error: { type: 'device', message: /binfile-md5/ } });
  sim.imageMode = 'missing';
  t.match(await command(a, 'getDoorImage', { data: { doorOpenTime: '2019-08-28 01:15:01' } }), { ok: false, code: 1009, message: '无对应图像/视频', error: { type: 'device' } });
  sim.forcedCode = '1007';
  t.match(await command(b, 'armDoors', {}), { ok: false, code: 1007, error: { type: 'device', message: '执行控制命令失败' } });
  t.match(await command('G000211001002110009', 'updateNow', {}), { ok: false, error: { type: 'offline', message: /cannot be reached/ } }, 'a configured URL that refuses');
  t.match(await command('G-never', 'updateNow', {}), { ok: false, error: { type: 'offline' } });
});

t.test('a configured control URL works without uploads; a silent gantry times out', async (t) => {
  const requests: IncomingMessage[] = [];
  const silent = createServer((req) => requests.push(req));
  silent.listen(0, '127.0.0.1');
  await once(silent, 'listening');
  t.teardown(() => {
    silent.closeAllConnections();
    silent.close();
  });
  const silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}/remotecontrol.do`;
  const { sim, command } = await setup(t, (s) => ({ gantries: { [s.gantries[0]!.gantryId]: { controlUrl: s.controlUrl }, G000211001002110077: { controlUrl: silentUrl } } }), { gantries: 1 });
  const id = sim.gantries[0]!.gantryId;
  const seen = sim.next<ControlRecord>('control');
  t.match(await command(id, 'computerUpdateNow', {}), { ok: true, code: 1000 });
  t.match((await seen).body, { gantryId: id, version: '1001', computerControl: { updateNow: '1' } }, 'version 1001 before any upload');
  t.match(await command('G000211001002110077', 'updateNow', { timeoutMs: 300 }), { ok: false, error: { type: 'timeout' } });
  t.equal(requests.length, 1);
  const req = requests[0] as IncomingMessage;
  if (!req.socket.destroyed) await once(req.socket, 'close');
  t.pass('the request was aborted with the command');
});

t.test('a gantry silent for three reporting intervals goes offline', async (t) => {
  const { inbox, sim, topic, command } = await setup(t, { gantries: { G000211001002110001: { reportIntervalS: 1 } } }, { gantries: 1 });
  const id = sim.gantries[0]!.gantryId;
  t.equal((await sim.upload(id, 'computerStatusUpdate')).answer.code, '1000');
  t.equal((await inbox.take(topic(id, 'availability'))).payload.toString(), 'online');
  const started = Date.now();
  t.equal((await inbox.take(topic(id, 'availability'), undefined, 10_000)).payload.toString(), 'offline');
  t.ok(Date.now() - started >= 2500, 'after about 3 s');
  t.match(await command(id, 'updateNow', {}), { ok: false, error: { type: 'offline' } });
  t.equal((await sim.upload(id, 'computerStatusUpdate')).answer.code, '1000');
  t.equal((await inbox.take(topic(id, 'availability'))).payload.toString(), 'online', 'back with its next upload');
  const reacted = sim.next<UploadResult>('upload', (r) => r.method === 'cabinetStatusUpdate');
  t.match(await command(id, 'updateNow', {}), { ok: true });
  t.equal((await reacted).answer.code, '1000', 'updateNow made the cabinet upload');
});
