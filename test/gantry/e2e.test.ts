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
import { connectClient, externalBroker, startGateway, until, type Inbox } from '../helpers/harness.js';
import { Commands, notTheNumber } from '../helpers/commands.js';
import { CuttableLink } from '../helpers/brokers.js';
import { GantryAdapter } from '../../adapters/gantry/adapter.js';
import type { GantryConfig } from '../../adapters/gantry/config.js';
import { TINY_JPEG } from '../../sim/common/jpeg.js';
import { GantrySimulator, type ControlRecord, type SimGantry, type SimulatorOptions, type UploadResult } from '../../sim/gantry/simulator.js';
import { TLS_CA, TLS_CERT, TLS_KEY } from '../helpers/tls/tls.js';
import { SEED_TYPED, UPLOAD_EXAMPLES, seedText } from './fixtures/seeds.js';

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
  // The harness names the server http://; with a certificate configured the same port speaks HTTPS.
  const httpUrl = started.httpUrl;
  sim.setUploadUrl(`${httpUrl}/monitor.do`);
  const topic = (gantryId: string, rest: string): string => `${started.base}/gantry/${gantryId}/${rest}`;
  const commands = new Commands(t, inbox, started.base);
  const command = async (gantryId: string, name: string, payload: Json): Promise<Json> => {
    const id = `c-${Math.random().toString(36).slice(2)}`;
    return (await commands.send('gantry', gantryId, name, { id, ...payload })) as unknown as Json;
  };
  return { base: started.base, mqttUrl: started.mqttUrl, httpUrl, inbox, sim, adapter: adapter as GantryAdapter, topic, command };
}

/** A port nothing listens on: taken from the system, then let go. */
async function closedPort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The value of one gate2mqtt_* sample on /metrics, 0 when it has not been counted yet. */
async function metric(httpUrl: string, name: string, labels: Record<string, string>): Promise<number> {
  const text = await (await fetch(`${httpUrl}/metrics`)).text();
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split('\n')) {
    const m = /^(\w+)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = (m[2] ?? '').split(',');
    if (wanted.every((w) => have.includes(w))) return Number(m[3]);
  }
  return 0;
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

t.test('the seeds’ own bodies, byte for byte, come out typed, and the state merges by id', async (t) => {
  const { httpUrl, inbox, topic } = await setup(t, { maxClockSkewS: 0 });
  const id = 'G000211001002110010';
  t.match(seedText('v037', 'cabinetStatusUpdate'), /" thunderSpd"[^]*" lightningCount "/, 'the bodies keep the seeds’ stray spaces');
  t.match(seedText('v103', 'queryAndGetCardInfo'), /" method"[^]*" curVersion"/);
  for (const edition of ['v037', 'v103'] as const) {
    for (const name of UPLOAD_EXAMPLES) {
      const text = seedText(edition, name);
      // v1.03 writes the address with a double slash; its examples go there.
      const res = await post(`${httpUrl}${edition === 'v103' ? '//' : '/'}monitor.do`, text);
      t.same(res.body, name === 'queryAndGetCardInfo' ? { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } } : { code: '1000', msg: '成功' }, `${edition} ${name} answered`);
      t.equal(res.headers.get('binfile-md5'), md5(JSON.stringify(res.body)), 'the answer carries its MD5');
      const event = await inbox.json(topic(id, `event/${name}`));
      t.match(event, { adapter: 'gantry', deviceId: id, name });
      t.same(event.data, SEED_TYPED[edition][name], `${edition} ${name} typed`);
    }
  }
  const second = JSON.parse(seedText('v103', 'cabinetStatusUpdate')) as { cabinetStatus: Json };
  second.cabinetStatus.id = '2';
  second.cabinetStatus.ups = [{ id: '1', surplusTime: 'NotSupport' }];
  t.same((await post(`${httpUrl}/monitor.do`, JSON.stringify(second))).body, { code: '1000', msg: '成功' });
  const state = await inbox.json(topic(id, 'state'), (s) => Object.keys((s.cabinets as Json | undefined) ?? {}).length === 2);
  t.match(state, {
    computers: { '1': { cpuUsage: 99.99 }, '2': { ip: '192.168.1.2' } },
    cabinets: { '1': { ups: [{ surplusTime: 3600 }], quality: { 'doors.frontDoorUnlockCardId': 'NoData' } }, '2': { ups: [{ surplusTime: null }], quality: { 'ups[0].surplusTime': 'NotSupport' } } },
    cardVersion: '20191129134255',
  });
  // One computer reporting alone updates its entry and leaves the other as it was.
  const lone = JSON.parse(seedText('v037', 'computerStatusUpdate')) as { computerStatus: Json[] };
  lone.computerStatus = [{ ...lone.computerStatus[1], cpuUsage: '12.5' }];
  t.same((await post(`${httpUrl}/monitor.do`, JSON.stringify(lone))).body, { code: '1000', msg: '成功' });
  const merged = await inbox.json(topic(id, 'state'), (s) => (s.computers as Record<string, Json>)['2']?.cpuUsage === 12.5);
  // Computer 1 was last reported by the v1.03 example (without isMainComputer), computer 2 by v0.37.
  t.match(merged, { computers: { '1': { cpuUsage: 99.99 }, '2': { cpuUsage: 12.5, isMainComputer: 0 } }, cabinets: { '1': {}, '2': {} } });
  t.notOk('isMainComputer' in (merged.computers as Record<string, Json>)['1']!, 'an entry is the latest report of that id, not a blend');
  t.same(Object.keys(merged.computers as Json), ['1', '2'], 'still two computers');
});

t.test('each refusal, from a real HTTP request: its own code, a bridge/event and a metric', async (t) => {
  const { httpUrl, inbox, base, sim } = await setup(t, { maxRequestsPerMinute: 3, gantries: { 'G-own': { auth: 'own-code' } } });
  const url = `${httpUrl}/monitor.do`;
  const now = (): string => String(Math.floor(Date.now() / 1000));
  const body = (gantryId: string, over: Json = {}): string =>
    JSON.stringify({ gantryId, method: 'computerStatusUpdate', timeStamp: now(), version: '1001', computerStatus: [{ id: '1', cpuUsage: '10' }], ...over });
  const cases: { what: string; code: string; msg: string; type: string; reason: string; send: () => Promise<{ body: Json }> }[] = [
    { what: 'no binfile-md5', code: '1004', msg: '无效的签名', type: 'protocol_error', reason: 'missing_md5', send: () => post(url, body('G-a'), { 'binfile-md5': null }) },
    { what: 'wrong binfile-md5', code: '1004', msg: '无效的签名', type: 'protocol_error', reason: 'bad_md5', send: () => post(url, body('G-a'), { 'binfile-md5': md5('another body') }) },
    { what: 'no binfile-auth', code: '1001', msg: '无权使用该接口', type: 'auth_failed', reason: 'auth_failed', send: () => post(url, body('G-b'), { 'binfile-auth': null }) },
    { what: 'wrong binfile-auth', code: '1001', msg: '无权使用该接口', type: 'auth_failed', reason: 'auth_failed', send: () => post(url, body('G-b'), { 'binfile-auth': '654321' }) },
    { what: 'the default code for a gantry with its own', code: '1001', msg: '无权使用该接口', type: 'auth_failed', reason: 'auth_failed', send: () => post(url, body('G-own')) },
    { what: 'not JSON', code: '1002', msg: '参数有误', type: 'protocol_error', reason: 'bad_json', send: () => post(url, '{"gantryId": ') },
    { what: 'gantryId not a topic level', code: '1002', msg: '参数有误', type: 'protocol_error', reason: 'bad_identity', send: () => post(url, body('G/1')) },
    { what: 'a key that trims to __proto__', code: '1002', msg: '参数有误', type: 'protocol_error', reason: 'unsafe_key', send: () => post(url, '{"gantryId":"G-c"," __proto__ ":{"x":1}}') },
    { what: 'an unknown method', code: '1002', msg: '参数有误', type: 'protocol_error', reason: 'unknown_method', send: () => post(url, body('G-c', { method: 'rsuStatusUpdate' })) },
    { what: 'a required field missing', code: '1002', msg: '参数有误', type: 'protocol_error', reason: 'missing_fields', send: () => post(url, body('G-c', { computerStatus: undefined })) },
    { what: 'a clock an hour off', code: '1003', msg: '系统时间偏差太大', type: 'protocol_error', reason: 'clock_skew', send: () => post(url, body('G-d', { timeStamp: String(Math.floor(Date.now() / 1000) - 3600) })) },
    { what: 'an unknown version', code: '1006', msg: '未知的接口版本号', type: 'protocol_error', reason: 'unknown_version', send: () => post(url, body('G-e', { version: '2000' })) },
    {
      what: 'a fourth upload within the minute',
      code: '1005',
      msg: '请求过于频繁',
      type: 'protocol_error',
      reason: 'rate_limited',
      send: async () => {
        for (let i = 0; i < 3; i++) t.same((await post(url, body('G-f', { timeStamp: String(Number(now()) - i) }))).body, { code: '1000', msg: '成功' }, `upload ${i + 1} of 3`);
        return post(url, body('G-f'));
      },
    },
  ];
  for (const c of cases) {
    const before = await metric(httpUrl, 'gate2mqtt_protocol_errors_total', { adapter: 'gantry', reason: c.reason });
    t.same((await c.send()).body, { code: c.code, msg: c.msg }, `${c.what}: ${c.code}`);
    // An auth_failed event says why (bad_auth); its metric label is auth_failed.
    const reason = c.type === 'auth_failed' ? 'bad_auth' : c.reason;
    const event = await inbox.json(`${base}/bridge/event`, (e) => e.type === c.type && e.reason === reason);
    t.match(event, { adapter: 'gantry', remote: /^127\.0\.0\.1:\d+$/ }, `${c.what}: ${c.type} on bridge/event`);
    t.equal(await metric(httpUrl, 'gate2mqtt_protocol_errors_total', { adapter: 'gantry', reason: c.reason }), before + 1, `${c.what}: counted`);
  }
  await inbox.json(`${base}/bridge/event`, (e) => e.type === 'device_connected' && e.deviceId === 'G-f');
  t.equal(inbox.unread(`${base}/bridge/event`), 0, 'one event per refusal, and the accepted gantry connected');
  // Nothing of that stopped the gateway or another gantry.
  const other = sim.gantries[1]!.gantryId;
  t.equal((await sim.upload(other, 'cabinetStatusUpdate')).answer.code, '1000', 'another gantry is served as before');
  t.match(await (await fetch(`${httpUrl}/readyz`)).json(), { ready: true }, 'the gateway is still ready');
});

t.test('refusals answer their codes and are reported on bridge/event', async (t) => {
  const { inbox, sim, base, httpUrl } = await setup(t, (s) => ({ maxRequestsPerMinute: 3, gantries: { [s.gantries[0]!.gantryId]: { auth: 'own-code' } } }));
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

t.test('with a certificate configured, gantries upload over HTTPS', async (t) => {
  const { sim, inbox, topic, httpUrl, base } = await setup(t, {}, { gantries: 1, ca: TLS_CA }, { http: { cert: TLS_CERT, key: TLS_KEY } });
  t.match(httpUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
  const id = sim.gantries[0]!.gantryId;
  t.same((await sim.upload(id, 'cabinetStatusUpdate')).answer, { code: '1000', msg: '成功' }, '/monitor.do over TLS');
  t.match(await inbox.json(topic(id, 'event/cabinetStatusUpdate')), { deviceId: id, data: { cabinetStatus: { id: '1', thunderSpd: [{ id: '1' }] } } });
  t.equal((await inbox.take(topic(id, 'availability'))).payload.toString(), 'online');
  sim.setUploadUrl(`${httpUrl}//monitor.do`);
  t.same((await sim.upload(id, 'computerStatusUpdate')).answer, { code: '1000', msg: '成功' }, '//monitor.do over TLS');
  t.equal((await sim.upload(id, 'computerStatusUpdate', { md5: 'wrong' })).answer.code, '1004', 'refusals answer over TLS as well');
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'protocol_error'), { reason: 'bad_md5' });
  // A gantry that does not trust the certificate fails the handshake: the port really speaks TLS.
  const stranger = new GantrySimulator({ url: `${httpUrl}/monitor.do`, gantries: [id] });
  t.teardown(() => stranger.stop());
  await t.rejects(stranger.upload(id, 'computerStatusUpdate'), { code: /SELF_SIGNED/ }, 'an untrusted certificate is refused');
  const plain = await fetch(`${httpUrl.replace(/^https:/, 'http:')}/monitor.do`, { method: 'POST', body: '{}' }).then(
    (res) => res.status,
    () => 'refused',
  );
  t.not(plain, 200, `plain HTTP on the TLS port gets no gantry answer (${plain})`);
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
  sim.setUploadUrl(`${started.httpUrl}/monitor.do`);
  const inbox = await connectClient(t, url);
  const id = sim.gantries[0]!.gantryId;
  const eventTopic = `${started.base}/gantry/${id}/event/cabinetStatusUpdate`;
  await inbox.subscribe(eventTopic);
  const text = JSON.stringify(sim.message(id, 'cabinetStatusUpdate'));
  await proxy.cut();
  await until(() => !started.gateway.ready, 'the gateway noticing the broker is gone');
  t.same((await sim.upload(id, 'cabinetStatusUpdate', { rawBody: text })).answer, { code: '1008', msg: '未知系统异常' });
  t.equal(await metric(started.httpUrl, 'gate2mqtt_handover_failures_total', { adapter: 'gantry' }), 1, 'counted as a hand-over failure');
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
  await until(() => local.adapter.whitelist(id)?.latestVersion === '20191201000000', 'the gateway to hold the retained whitelist');
  const held = await local.sim.upload(id, 'queryAndGetCardInfo');
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

  const quiet = await setup(t, { answers: { queryAndGetCardInfo: { mode: 'mqtt', timeoutMs: 300 } } }, { gantries: 1 });
  const qid = quiet.sim.gantries[0]!.gantryId;
  const unanswered = await quiet.sim.upload(qid, 'queryAndGetCardInfo');
  t.same(unanswered.answer, { code: '1000', msg: '成功', data: { isExistLatestVersion: 0 } }, 'no platform answer: no newer version');
  t.match(await quiet.inbox.json(quiet.topic(qid, 'request/queryAndGetCardInfo')), { data: { data: { curVersion: '0' } } }, 'the platform was asked');
  // A held whitelist comes first, even in mqtt mode: answered without a round trip.
  const list = quiet.topic(qid, 'whitelist');
  await quiet.inbox.client.publishAsync(list, JSON.stringify({ latestVersion: '20191202000000', cardInfos: [] }), { qos: 1, retain: true });
  t.teardown(() => quiet.inbox.client.publishAsync(list, '', { qos: 1, retain: true }));
  await until(() => quiet.adapter.whitelist(qid) !== undefined, 'the gateway to hold the whitelist');
  const fromList = await quiet.sim.upload(qid, 'queryAndGetCardInfo');
  t.same(fromList.answer.data, { isExistLatestVersion: 1, latestVersion: '20191202000000', cardInfos: [] });
  t.match(await quiet.inbox.json(quiet.topic(qid, 'event/queryAndGetCardInfo')), { data: { data: { curVersion: '0' } } }, 'published as an event');
  t.equal(quiet.inbox.unread(quiet.topic(qid, 'request/queryAndGetCardInfo')), 0, 'no request went to the platform');
  await quiet.inbox.client.publishAsync(list, '', { qos: 1, retain: true });
  await until(() => quiet.adapter.whitelist(qid) === undefined, 'a cleared retained whitelist to be dropped');
});

t.test('commands reach the gantry with its envelope and come back as replies', async (t) => {
  const refusing = `http://127.0.0.1:${await closedPort()}/remotecontrol.do`;
  const { inbox, sim, topic, command, mqttUrl, base, httpUrl } = await setup(t, { gantries: { G000211001002110009: { controlUrl: refusing } } }, { gantries: 2 });
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
  t.match(image, { ok: true, code: null, data: { contentType: 'image/jpeg', bytes: TINY_JPEG.length, md5: md5(TINY_JPEG), media: topic(a, 'media/getCabinetImageVedio') } });
  const media = await inbox.take(topic(a, 'media/getCabinetImageVedio'));
  t.ok(media.payload.equals(TINY_JPEG), 'the JPEG is on media/getCabinetImageVedio');
  const late = await connectClient(t, mqttUrl);
  await late.subscribe(topic(a, 'media/getCabinetImageVedio'));
  const kept = await late.take(topic(a, 'media/getCabinetImageVedio'));
  t.ok(kept.packet.retain && kept.payload.equals(TINY_JPEG), 'retained for a later subscriber');
  sim.imageMode = 'badMd5';
  t.match(await command(a, 'getDoorImage', { data: { doorOpenTime: '2019-08-28 01:15:01' } }), { ok: false, code: null, error: { type: 'device', message: /binfile-md5/ } });
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'protocol_error'), { adapter: 'gantry', deviceId: a, reason: 'bad_md5', remote: /^127\.0\.0\.1:\d+$/ }, 'a file that fails its MD5 is reported');
  t.equal(await metric(httpUrl, 'gate2mqtt_protocol_errors_total', { adapter: 'gantry', reason: 'bad_md5' }), 1);
  t.equal(inbox.unread(topic(a, 'media/getCabinetImageVedio')), 0, 'and its bytes are not published');
  sim.imageMode = 'noMd5';
  t.match(await command(a, 'getDoorImage', { data: { doorOpenTime: '2019-08-28 01:15:01' } }), { ok: false, code: null, error: { type: 'device', message: /without binfile-md5/ } });
  t.match(await inbox.json(`${base}/bridge/event`, (e) => e.type === 'protocol_error'), { deviceId: a, reason: 'missing_md5' });
  sim.imageMode = 'missing';
  t.match(await command(a, 'getDoorImage', { data: { doorOpenTime: '2019-08-28 01:15:01' } }), { ok: false, code: 1009, message: '无对应图像/视频', error: { type: 'device' } });
  sim.forcedCode = '1007';
  t.match(await command(b, 'armDoors', {}), { ok: false, code: 1007, error: { type: 'device', message: '执行控制命令失败' } });
  t.match(await command('G000211001002110009', 'updateNow', {}), { ok: false, error: { type: 'offline', message: /cannot be reached/ } }, 'a configured URL that refuses');
  t.match(await command('G-never', 'updateNow', {}), { ok: false, error: { type: 'offline' } });
  for (const id of [a, b]) await inbox.json(`${base}/bridge/event`, (e) => e.type === 'device_connected' && e.deviceId === id);
  t.equal(inbox.unread(`${base}/bridge/event`), 0, 'a gantry’s own error codes (1009, 1007) are answers, not protocol errors');
});

t.test('every command and every cmd: a round trip through MQTT to the simulated cabinet and back', async (t) => {
  const { sim, command, topic, inbox } = await setup(t, {}, { gantries: 2, reactToCommands: false });
  t.same((await sim.uploadAll()).map((r) => r.answer.code), Array(6).fill('1000'), 'both gantries uploaded: their {ip} is known');
  type Case = { name: string; data: Json; method: string; sent: Json; effect: (g: SimGantry) => unknown; reply?: Json };
  const cases: Case[] = [
    { name: 'computerControl', data: { updateNow: 1 }, method: 'computerControl', sent: { updateNow: '1' }, effect: () => true },
    { name: 'computerControl', data: { setServer: '10.0.0.9/monitor.do' }, method: 'computerControl', sent: { setServer: '10.0.0.9/monitor.do' }, effect: (g) => g.server === '10.0.0.9/monitor.do' },
    { name: 'computerControl', data: { setFrequency: 600 }, method: 'computerControl', sent: { setFrequency: '600' }, effect: (g) => g.intervalS === 600 },
    { name: 'cabinetControl', data: { updateNow: '1' }, method: 'cabinetControl', sent: { updateNow: '1' }, effect: () => true },
    { name: 'cabinetControl', data: { setServer: '10.0.0.8/monitor.do' }, method: 'cabinetControl', sent: { setServer: '10.0.0.8/monitor.do' }, effect: (g) => g.server === '10.0.0.8/monitor.do' },
    { name: 'cabinetControl', data: { setFrequency: '120' }, method: 'cabinetControl', sent: { setFrequency: '120' }, effect: (g) => g.intervalS === 120 },
    { name: 'cabinetControl', data: { cmd: 1, rebootIp: '192.168.1.20', rebootPort: 502 }, method: 'cabinetControl', sent: { cmd: '1', rebootIp: '192.168.1.20', rebootPort: '502' }, effect: (g) => g.reboots.at(-1)?.port === '502' },
    { name: 'cabinetControl', data: { cmd: '2', cabinetId: '1', unlockDoorId: '1' }, method: 'cabinetControl', sent: { cmd: '2', cabinetId: '1', unlockDoorId: '1' }, effect: (g) => g.frontDoorOpen },
    { name: 'cabinetControl', data: { cmd: 2, unlockDoorId: 2 }, method: 'cabinetControl', sent: { cmd: '2', unlockDoorId: '2' }, effect: (g) => g.backDoorOpen },
    { name: 'cabinetControl', data: { cmd: 3, airId: 0, airOperate: 2 }, method: 'cabinetControl', sent: { cmd: '3', airId: '0', airOperate: '2' }, effect: (g) => !g.airOn },
    { name: 'cabinetControl', data: { cmd: '4', airId: '1', autoRefrigerationTemp: 30, autoHeatingTemp: '-5.5' }, method: 'cabinetControl', sent: { cmd: '4', airId: '1', autoRefrigerationTemp: '30', autoHeatingTemp: '-5.5' }, effect: (g) => g.airSetPoints.refrigeration === '30' && g.airSetPoints.heating === '-5.5' },
    { name: 'cabinetControl', data: { cmd: '5', mode: '2' }, method: 'cabinetControl', sent: { cmd: '5', mode: '2' }, effect: (g) => g.powerMode === '2' },
    { name: 'cabinetControl', data: { cmd: '6', isDoorDefend: '0' }, method: 'cabinetControl', sent: { cmd: '6', isDoorDefend: '0' }, effect: (g) => g.defendMode === '0' },
    {
      name: 'cabinetControl',
      data: { cmd: 7, cardInfos: [{ cardId: '1234567', expireDate: '2029-11-29' }, { cardId: '2234567' }] },
      method: 'cabinetControl',
      sent: { cmd: '7', cardInfos: [{ cardId: '1234567', expireDate: '2029-11-29' }, { cardId: '2234567' }] },
      effect: (g) => g.cards.length === 2,
    },
    { name: 'cabinetControl', data: { cmd: '8', cabinetId: 1, onOff: 0 }, method: 'cabinetControl', sent: { cmd: '8', cabinetId: '1', onOff: '0' }, effect: (g) => !g.rectifierOn },
    { name: 'cabinetControl', data: { cmd: '9', testStartStop: '1' }, method: 'cabinetControl', sent: { cmd: '9', testStartStop: '1' }, effect: (g) => g.batteryTesting },
    {
      name: 'cabinetControl',
      data: { cmd: '10', cabinetId: '1' },
      method: 'cabinetControl',
      sent: { cmd: '10', cabinetId: '1' },
      effect: () => true,
      reply: { data: { batterysTestResult: { testStartTime: /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+08:00$/, testResult: 2, efficiency: Number, dischargeTime: Number, dischargeEndVoltage: Number, dischargeAvCurrent: Number, dischargeAhCurrent: Number, testTemperature: Number, testEndCourse: 2 } } },
    },
  ];
  for (const g of sim.gantries) {
    for (const c of cases) {
      const what = `${g.edition} ${c.name} ${JSON.stringify(c.data)}`;
      const seen = sim.next<ControlRecord>('control', (r) => r.gantryId === g.gantryId);
      const reply = await command(g.gantryId, c.name, { data: c.data });
      // The cabinet answers 1001/1004 to a wrong binfile-auth/binfile-md5: 1000 means both were right.
      t.match(reply, { ok: true, code: 1000, message: '成功', error: null, ...(c.reply ?? { data: null }) }, what);
      const record = await seen;
      t.match(record.body, { gantryId: g.gantryId, method: c.method, version: g.version, timeStamp: /^\d{10}$/ }, `${what}: the envelope`);
      t.strictSame(record.data, c.sent, `${what}: sent as strings under ${c.method}`);
      t.ok(c.effect(g), `${what}: the cabinet did it`);
    }
    const seen = sim.next<ControlRecord>('control', (r) => r.gantryId === g.gantryId);
    const image = await command(g.gantryId, 'getCabinetImageVedio', { data: { cabinetId: '1', doorOpenTime: '2019-08-28T01:15:01.321+08:00' } });
    t.match(image, {
      ok: true,
      code: null,
      error: null,
      data: { filename: new RegExp(`^${g.gantryId}_\\d{17}\\.jpg$`), contentType: 'image/jpeg', bytes: TINY_JPEG.length, md5: md5(TINY_JPEG), media: topic(g.gantryId, 'media/getCabinetImageVedio') },
    }, `${g.edition} getCabinetImageVedio`);
    t.same((await seen).data, { cabinetId: '1', doorOpenTime: '2019-08-28 01:15:01.321' }, 'asked in device time');
    t.ok((await inbox.take(topic(g.gantryId, 'media/getCabinetImageVedio'))).payload.equals(TINY_JPEG), 'the JPEG bytes on media/getCabinetImageVedio');
  }

  // Each command checks its own fields; nothing invalid reaches the cabinet.
  let reached = 0;
  sim.on('control', () => reached++);
  const g = sim.gantries[0]!.gantryId;
  const invalid: [string, Json][] = [
    ['computerControl', { updateNow: '2' }],
    ['computerControl', { setFrequency: '0' }],
    ['computerControl', { setServer: 'a b' }],
    ['computerControl', { cmd: '5', mode: '1' }],
    ['cabinetControl', {}],
    ['cabinetControl', { cmd: '1', rebootPort: '5x' }],
    ['cabinetControl', { cmd: '2', unlockDoorId: '3' }],
    ['cabinetControl', { cmd: '3', airId: '0', airOperate: '0' }],
    ['cabinetControl', { cmd: '4', airId: '0' }],
    ['cabinetControl', { cmd: '5', mode: '4' }],
    ['cabinetControl', { cmd: '6', isDoorDefend: '2' }],
    ['cabinetControl', { cmd: '7', cardInfos: [{ expireDate: '2029-11-29' }] }],
    ['cabinetControl', { cmd: '8', onOff: 'on' }],
    ['cabinetControl', { cmd: '9', testStartStop: '2' }],
    ['cabinetControl', { cmd: '10', cabinetId: '0' }],
    ['cabinetControl', { cmd: '11' }],
    ['cabinetControl', { cmd: '5', mode: '1', unlockDoorId: '1' }],
    ['getCabinetImageVedio', { doorOpenTime: 'yesterday' }],
  ];
  for (const [name, data] of invalid) {
    t.match(await command(g, name, { data }), { ok: false, code: null, error: { type: 'invalid', message: /^data/ } }, `${name} ${JSON.stringify(data)} is invalid`);
  }
  t.match(await command(g, 'noSuchCommand', {}), { ok: false, error: { type: 'unsupported' } });
  t.equal(reached, 0, 'the cabinet saw none of them');
});

t.test('numbers for the protocol\'s strings: the cabinet gets strings; what is not the number is refused naming the parameter', async (t) => {
  const { sim, command } = await setup(t, {}, { gantries: 1, reactToCommands: false });
  await sim.uploadAll();
  const g = sim.gantries[0]!.gantryId;
  const cases: [string, Json, Json][] = [
    ['cabinetControl', { cmd: 5, mode: 1 }, { cmd: '5', mode: '1' }],
    ['cabinetControl', { cmd: 4, airId: 0, autoRefrigerationTemp: 30.5, autoHeatingTemp: -5 }, { cmd: '4', airId: '0', autoRefrigerationTemp: '30.5', autoHeatingTemp: '-5' }],
    ['computerControl', { setFrequency: 600 }, { setFrequency: '600' }],
    ['setPowerMode', { mode: 2 }, { cmd: '5', mode: '2' }],
    ['unlockDoor', { unlockDoorId: 2, cabinetId: 3 }, { cmd: '2', unlockDoorId: '2', cabinetId: '3' }],
  ];
  for (const [name, data, sent] of cases) {
    const seen = sim.next<ControlRecord>('control');
    t.match(await command(g, name, { data }), { ok: true, code: 1000 }, `${name} ${JSON.stringify(data)}`);
    t.strictSame((await seen).data, sent, `${name}: the cabinet got the seed's strings`);
  }
  let reached = 0;
  sim.on('control', () => reached++);
  const refused = async (name: string, data: Json): Promise<unknown> => (await command(g, name, { data })).error;
  for (const wrong of [...notTheNumber(1), 1.5, 11]) {
    t.strictSame(await refused('cabinetControl', { cmd: '5', mode: wrong }), { type: 'invalid', message: 'data.mode must be one of "0", "1", "2", "3"' }, `mode ${JSON.stringify(wrong)}`);
  }
  for (const wrong of notTheNumber(5)) {
    t.strictSame(await refused('cabinetControl', { cmd: wrong }), { type: 'invalid', message: 'data.cmd must be one of "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"' }, `cmd ${JSON.stringify(wrong)}`);
  }
  t.strictSame(await refused('computerControl', { setFrequency: 1e21 }), { type: 'invalid', message: 'data.setFrequency must be string' }, 'a number without a plain decimal text');
  t.equal(reached, 0, 'none of them reached the cabinet');
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
  const { inbox, sim, topic, command } = await setup(t, (s) => ({ gantries: { [s.gantries[0]!.gantryId]: { reportIntervalS: 1 } } }), { gantries: 1 });
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

t.test('behind a load balancer: http.trustProxy takes the gantry address from X-Forwarded-For, and only then', async (t) => {
  const text = seedText('v037', 'computerStatusUpdate');
  const gantryId = String((JSON.parse(text) as { gantryId: string }).gantryId);
  for (const [trustProxy, expected] of [
    ['true', '10.20.30.40'],
    ['127.0.0.1', '10.20.30.40'],
    ['', '127.0.0.1'],
  ] as const) {
    const g = await setup(t, { maxClockSkewS: 0 }, { gantries: 0 }, { http: { trustProxy } });
    const res = await post(`${g.httpUrl}/monitor.do`, text, { 'x-forwarded-for': '10.20.30.40' });
    t.equal(res.body.code, '1000', `trustProxy ${JSON.stringify(trustProxy)}: accepted`);
    t.match(await g.inbox.json(g.topic(gantryId, 'info')), { ip: expected }, `trustProxy ${JSON.stringify(trustProxy)}: ip ${expected}`);
  }
});
