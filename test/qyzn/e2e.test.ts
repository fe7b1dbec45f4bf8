// The qyzn adapter end to end: a real gateway and broker, real MQTT clients, simulated terminals
// on real sockets (ports 0). Each test starts its own gateway and base topic.
import { connect as tcpConnect } from 'node:net';
import t from 'tap';
import { createQyznAdapter } from '../../adapters/qyzn/adapter.js';
import type { QyznConfig } from '../../adapters/qyzn/config.js';
import { HEADER_SIZE, MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame, encodeMessage } from '../../adapters/qyzn/encoder.js';
import { QyznSimulator, TINY_JPEG_BASE64, type SimulatorOptions } from '../../adapters/qyzn/simulator.js';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import { connectClient, startGateway, testConfig, within, type Inbox, type Teardown } from '../helpers/harness.js';

const SECRET = 'e2e-secret';

interface Rig {
  base: string;
  mqttUrl: string;
  inbox: Inbox;
  port: number;
  device(serial: string, options?: Partial<SimulatorOptions>): QyznSimulator;
  topic(serial: string, rest: string): string;
  command(serial: string, name: string, body: object): Promise<Record<string, unknown>>;
}

async function rig(t: Teardown, qyzn: DeepPartial<QyznConfig> = {}, more: DeepPartial<GatewayConfig> = {}): Promise<Rig> {
  const overrides: DeepPartial<GatewayConfig> = { ...more, qyzn: { secret: SECRET, ...qyzn } };
  const section = testConfig(overrides).qyzn;
  const started = await startGateway(t, { config: overrides, adapters: [{ id: 'qyzn', factory: createQyznAdapter, config: section }] });
  const listen = started.gateway.addresses().adapters.qyzn ?? '';
  const port = Number(listen.slice(listen.lastIndexOf(':') + 1));
  const inbox = await connectClient(t, started.mqttUrl);
  await inbox.subscribe([`${started.base}/#`]);
  const topic = (serial: string, rest: string): string => `${started.base}/qyzn/${serial}/${rest}`;
  let commandId = 0;
  return {
    base: started.base,
    mqttUrl: started.mqttUrl,
    inbox,
    port,
    topic,
    device(serial, options = {}) {
      const sim = new QyznSimulator({ host: '127.0.0.1', port, serial, heartbeatMs: 0, responseTimeoutMs: 8000, ...options });
      t.teardown(() => sim.destroy());
      return sim;
    },
    async command(serial, name, body) {
      const id = `cmd-${++commandId}`;
      await inbox.client.publishAsync(topic(serial, `command/${name}`), JSON.stringify({ id, ...body }), { qos: 1 });
      return inbox.json(topic(serial, `command/${name}/reply`), (r) => r.id === id);
    },
  };
}

function bridgeEvent(r: Rig, type: string, reason: string): Promise<Record<string, unknown>> {
  return r.inbox.json(`${r.base}/bridge/event`, (e) => e.type === type && e.reason === reason);
}

t.test('register and login: availability, info, device_connected', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0001', { type: 'HG02', firmware: 'V1.0.0' });
  await sim.connect();
  const registered = await sim.register();
  t.equal(registered.result, 0);
  t.same(registered.data, { uuid: 'SN0001', passwd: sim.credentials?.passwd });
  t.match(sim.credentials?.passwd, /^[0-9a-f]{16}$/);
  t.equal((await sim.login()).result, 0);
  t.equal((await r.inbox.take(r.topic('SN0001', 'availability'))).payload.toString(), 'online');
  const info = await r.inbox.json(r.topic('SN0001', 'info'));
  t.match(info, { deviceId: 'SN0001', serial: 'SN0001', mac: sim.options.mac, type: 'HG02', version: 'V1.0.0', protocolVersion: 3, remote: /^127\.0\.0\.1:\d+$/ });
  t.match(await bridgeEvent(r, 'device_connected', 'connected'), { deviceId: 'SN0001' });
});

t.test('the seed register frame is accepted and answered with derived credentials', async (t) => {
  const r = await rig(t);
  const socket = tcpConnect(r.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const { GOLDEN_REGISTER } = await import('./fixtures.js');
  const answer = new Promise<Buffer>((resolve) => {
    let got = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= HEADER_SIZE && got.length >= HEADER_SIZE + got.readUInt32LE(16)) resolve(got);
    });
  });
  socket.write(GOLDEN_REGISTER);
  const frame = await within(answer, 'the register answer');
  t.equal(frame.readUInt8(5), MsgType.RESPONSE);
  t.equal(frame.readUInt32LE(12), 16, 'on the request seq');
  t.equal(frame.readUInt8(4), 3, 'with the request version');
  const body = JSON.parse(frame.subarray(HEADER_SIZE).toString()) as { result: number; data: { uuid: string; passwd: string } };
  t.equal(body.result, 0);
  t.equal(body.data.uuid, '0a9310e7acc298d3');
});

t.test('wrong register sign gets 104, wrong password 100; both are auth_failed', async (t) => {
  const r = await rig(t);
  const badSign = r.device('SN0002', { wrongRegisterSign: true });
  await badSign.connect();
  t.equal((await badSign.register()).result, 104);
  t.match(await bridgeEvent(r, 'auth_failed', 'bad_sign'), { deviceId: 'SN0002' });
  const badPassword = r.device('SN0003', { wrongPassword: true, secret: SECRET });
  await badPassword.connect();
  const login = await badPassword.login();
  t.equal(login.result, 100);
  t.equal(login.desc, 'Unregistered');
  await bridgeEvent(r, 'auth_failed', 'bad_sign');
  const rightPassword = r.device('SN0003', { secret: SECRET });
  await rightPassword.connect();
  t.equal((await rightPassword.login()).result, 0, 'a login with the derived password and no register works');
});

t.test('before login only register, login and heartbeat are served', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0004');
  await sim.connect();
  await sim.heartbeat();
  const early = await sim.snapshotFace();
  t.equal(early.result, 100);
  await bridgeEvent(r, 'protocol_error', 'not_logged_in');
  t.equal(r.inbox.unread(r.topic('SN0004', 'event/snapshot_face')), 0);
});

t.test('snapshot_face: event, media, answer after the broker acknowledged', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0005');
  await sim.start();
  const answer = await sim.snapshotFace({ score: 97 });
  t.same({ result: answer.result, data: answer.data }, { result: 0, data: {} }, 'local mode answers {} and leaves the door to the device');
  const event = await r.inbox.json(r.topic('SN0005', 'event/snapshot_face'));
  t.match(event, { adapter: 'qyzn', deviceId: 'SN0005', name: 'snapshot_face', data: { score: 97, snapPic: TINY_JPEG_BASE64 } });
  const jpeg = Buffer.from(TINY_JPEG_BASE64, 'base64');
  for (const field of ['snapPic', 'comparePic']) {
    const media = await r.inbox.take(r.topic('SN0005', `media/${field}`));
    t.same(media.payload, jpeg, `media/${field} carries the bytes`);
  }
  const late = await connectClient(t, r.mqttUrl);
  await late.subscribe(r.topic('SN0005', 'media/+'));
  const kept = await late.take(r.topic('SN0005', 'media/snapPic'));
  t.equal(kept.packet.retain, true, 'retained for later subscribers');
});

t.test('a retransmission (same seq) is answered again and published once', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0006');
  await sim.start();
  const seq = sim.peekSeq();
  const first = await sim.qrcodeData('door-1');
  const again = await sim.retransmit(seq);
  t.equal(again.seq, seq);
  t.same(again.data, first.data);
  await r.inbox.json(r.topic('SN0006', 'request/qrcode_data'));
  await sim.syncTime();
  await r.inbox.json(r.topic('SN0006', 'event/sync_time'));
  t.equal(r.inbox.unread(r.topic('SN0006', 'request/qrcode_data')), 0, 'not published twice');
});

t.test('qrcode_data asks the platform; its reply decides, silence gives opendoor 0', async (t) => {
  const r = await rig(t, { answers: { qrcode_data: { mode: 'mqtt', timeoutMs: 400 } } });
  const sim = r.device('SN0007');
  await sim.start();
  const asked = sim.qrcodeData('visitor-42');
  const request = await r.inbox.json(r.topic('SN0007', 'request/qrcode_data'));
  t.match(request, { name: 'qrcode_data', data: { content: 'visitor-42' } });
  await r.inbox.client.publishAsync(r.topic('SN0007', 'request/qrcode_data/reply'), JSON.stringify({ id: request.id, data: { opendoor: 1 } }));
  t.same((await asked).data, { opendoor: 1 });
  const silent = await sim.qrcodeData('nobody-answers');
  t.same({ result: silent.result, data: silent.data }, { result: 0, data: { opendoor: 0 } });
});

t.test('device_call_param: version 5; fallback 104, or what the platform answers', async (t) => {
  const r = await rig(t, { answers: { device_call_param: { mode: 'mqtt', timeoutMs: 300 } } });
  const sim = r.device('SN0008');
  await sim.start();
  const fallback = await sim.deviceCallParam('304');
  t.equal(fallback.version, 5);
  t.equal(fallback.result, 104);
  t.equal(fallback.body.message, 'device_call_param');
  t.match(fallback.data, { callNo: '304' });
  const media = await r.inbox.take(r.topic('SN0008', 'media/picture'));
  t.same(media.payload, Buffer.from(TINY_JPEG_BASE64, 'base64'));
  const asked = sim.deviceCallParam('305');
  await r.inbox.json(r.topic('SN0008', 'request/device_call_param'));
  const request = await r.inbox.json(r.topic('SN0008', 'request/device_call_param'), (m) => (m.data as { callNo?: string }).callNo === '305');
  const data = { callRequestId: 'x', callNo: '305', deviceId: 'd', deviceToken: 't', deviceName: 'Gate', callMaxSeconds: 60, calleds: [] };
  await r.inbox.client.publishAsync(r.topic('SN0008', 'request/device_call_param/reply'), JSON.stringify({ id: request.id, result: 0, data }));
  const answered = await asked;
  t.equal(answered.result, 0);
  t.same(answered.data, data);
});

t.test('sync_time, device_sync_person, device_call_result, unknown notifications', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0009');
  await sim.start();
  const before = Date.now();
  const time = await sim.syncTime();
  const stamp = String((time.data as { timestamp?: string }).timestamp);
  t.match(stamp, /^\d{17}$/);
  // Asia/Shanghai is UTC+8 with no daylight saving.
  const asUtc = Date.UTC(+stamp.slice(0, 4), +stamp.slice(4, 6) - 1, +stamp.slice(6, 8), +stamp.slice(8, 10) - 8, +stamp.slice(10, 12), +stamp.slice(12, 14), +stamp.slice(14));
  t.ok(asUtc >= before - 1000 && asUtc <= Date.now() + 1000, `gateway clock in the device time zone (${stamp})`);
  await r.inbox.json(r.topic('SN0009', 'event/sync_time'));
  const synced = await sim.deviceSyncPerson({ personId: 'P1', faces: [{ faceId: 'F1', image: TINY_JPEG_BASE64 }] });
  t.same(synced.data, { oriPersonId: 'P1', newPersonId: 'P1', faces: [{ oriFaceId: 'F1', newFaceId: 'F1' }] });
  t.match(await r.inbox.json(r.topic('SN0009', 'event/device_sync_person')), { data: { personId: 'P1' } });
  t.same((await r.inbox.take(r.topic('SN0009', 'media/image'))).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'), 'faces[].image on media/image');
  const result = await sim.deviceCallResult('304', 'call-9');
  t.match(result.body, { message: 'device_call_result', result: 0 });
  t.equal(result.version, 5);
  t.match(await r.inbox.json(r.topic('SN0009', 'event/device_call_result')), { data: { callRequestId: 'call-9' } });
  sim.notify('door_alarm', { door: 1 });
  t.match(await r.inbox.json(r.topic('SN0009', 'event/door_alarm')), { data: { door: 1 } });
  const unknown = await sim.request('no_such_request');
  t.equal(unknown.result, 103);
  await bridgeEvent(r, 'protocol_error', 'unknown_message');
});

t.test('a REQUEST with broken JSON gets 104 and the connection stays', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0010');
  await sim.start();
  const answer = new Promise<number>((resolve) => sim.on('response', (resp) => resp.seq === 4242 && resolve(resp.result)));
  sim.sendRaw(encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 4242 }, Buffer.from('{"message":"snapshot_face","data":{{')));
  t.equal(await within(answer, 'the 104 answer'), 104);
  await bridgeEvent(r, 'protocol_error', 'bad_json');
  t.equal((await sim.syncTime()).result, 0, 'still served');
  const proto = new Promise<number>((resolve) => sim.on('response', (resp) => resp.seq === 4243 && resolve(resp.result)));
  sim.sendRaw(encodeMessage({ version: 3, seq: 4243 }, 'snapshot_face', JSON.parse('{"__proto__":{"x":1}}')));
  t.equal(await within(proto, 'the unsafe-key answer'), 104);
  await bridgeEvent(r, 'protocol_error', 'unsafe_key');
});

t.test('bad magic, unknown type and oversize close the connection', async (t) => {
  const r = await rig(t);
  const cases: Array<[string, Buffer]> = [
    ['bad_magic', Buffer.from('GET / HTTP/1.1\r\n\r\n')],
    ['unknown_type', (() => {
      const f = encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 1 });
      f.writeUInt8(9, 5);
      return f;
    })()],
    ['oversize', (() => {
      const f = encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 1 });
      f.writeUInt32LE(64 * 1024 + 1, 16);
      return f;
    })()],
  ];
  for (const [reason, bytes] of cases) {
    const sim = r.device(`SN-${reason}`);
    await sim.connect();
    sim.sendRaw(bytes);
    await within(sim.closed, `${reason}: closed`);
    await bridgeEvent(r, 'protocol_error', reason);
  }
  const online = r.device('SN0011');
  await online.start();
  const big = 'A'.repeat(200 * 1024);
  t.equal((await online.snapshotFace({ snapPic: big })).result, 0, 'after login 200 KiB frames are accepted');
  online.sendRaw(Buffer.from('junk'));
  await within(online.closed, 'closed after junk');
  t.equal((await r.inbox.take(r.topic('SN0011', 'availability'), (p) => p.toString() === 'offline')).payload.toString(), 'offline');
});

t.test('logout (request or notification): answered, offline, closed', async (t) => {
  const r = await rig(t);
  for (const [serial, as] of [['SN0012', 'request'], ['SN0013', 'notification']] as const) {
    const sim = r.device(serial);
    await sim.start();
    await r.inbox.take(r.topic(serial, 'availability'), (p) => p.toString() === 'online');
    const answer = await sim.logout(as);
    if (as === 'request') t.equal(answer?.result, 0);
    await within(sim.closed, `${serial} closed by the gateway`);
    await r.inbox.take(r.topic(serial, 'availability'), (p) => p.toString() === 'offline');
    t.match(await bridgeEvent(r, 'device_disconnected', 'logout'), { deviceId: serial });
  }
});

t.test('a second connection of the same device replaces the first', async (t) => {
  const r = await rig(t);
  const first = r.device('SN0014');
  await first.start();
  const second = r.device('SN0014');
  await second.start();
  await within(first.closed, 'the first connection closed');
  await bridgeEvent(r, 'device_disconnected', 'replaced');
  t.equal((await second.syncTime()).result, 0);
  const reply = await r.command('SN0014', 'open_door', {});
  t.equal(reply.ok, true, 'commands reach the new connection');
});

t.test('commands: replies, media, versions, errors', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0015', { headerVersion: 2 });
  await sim.start();
  t.match(await r.command('SN0015', 'open_door', {}), { ok: true, code: 0, message: 'Success', data: {}, error: null });
  const picture = await r.command('SN0015', 'snapshot_picture', { data: { timeoutSeconds: 5 } });
  t.match(picture, { ok: true, data: { image: TINY_JPEG_BASE64 } });
  t.same((await r.inbox.take(r.topic('SN0015', 'media/image'))).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'));
  const configs = await r.command('SN0015', 'get_configs', { data: { groupKey: ['version', 'audioctl'] } });
  t.match(configs, { ok: true, data: { items: [{ groupKey: 'version' }, { groupKey: 'audioctl', level: 3 }], RspMsg: 'get_configs' } });
  t.match(await r.command('SN0015', 'config_system', { data: { audioctl: { level: 9 } } }), { ok: true, data: { RspMsg: 'set_audioctl' } });
  const plain = await sim.nextCommand('open_door');
  t.equal(plain.version, 2, 'the device version');
  await r.command('SN0015', 'add_person_face', {
    data: { personId: '1', personCode: '1', name: 'a', type: 1, passNum: 1, passMonday: true, passTuesday: true, passWednesday: true, passThursday: true, passFriday: true, passSaturday: true, passSunday: true, faces: [], extPassRule: {} },
  });
  t.equal((await sim.nextCommand('add_person_face')).version, 3, 'raised to 3 for add_person_face');
  await r.command('SN0015', 'config_device_pass_rule', { data: { weekly: { mon: { mode: 1 } } } });
  t.equal((await sim.nextCommand('config_device_pass_rule')).version, 4, 'raised to 4 for config_device_pass_rule');
  await r.command('SN0015', 'online_openDoor', { data: { online: 1, mode: 1 } });
  t.equal((await sim.nextCommand('online_open_door')).message, 'online_open_door', 'the alias sends the example spelling');
  sim.answerWith('add_face', { result: 102, desc: 'person 9 not found' });
  const failed = await r.command('SN0015', 'add_face', { data: { personId: '9', faceId: 'f', image: TINY_JPEG_BASE64 } });
  t.match(failed, { ok: false, code: 102, message: 'Object does not exist (对象不存在): person 9 not found', error: { type: 'device' } });
  sim.answerWith('open_door', { result: 109, desc: 'Success', data: { waitSeconds: 3 } });
  t.match(await r.command('SN0015', 'open_door', {}), { ok: false, code: 109, data: { waitSeconds: 3 }, error: { type: 'device' } });
  t.match(await r.command('SN0015', 'open_door', { data: { x: 1 }, timeoutMs: 0 }), { ok: false, error: { type: 'invalid' } });
  t.match(await r.command('SN0015', 'delete_person', { data: { idSet: [] } }), { ok: false, error: { type: 'invalid' } });
  t.match(await r.command('SN0015', 'no_such', {}), { ok: false, error: { type: 'unsupported' } });
  t.match(await r.command('NOBODY', 'open_door', {}), { ok: false, error: { type: 'offline' } });
});

t.test('an unanswered command is resent with the same seq, then the connection is closed', async (t) => {
  const r = await rig(t, { resendAfterMs: 150 });
  const sim = r.device('SN0016');
  await sim.start();
  sim.answerWith('device_restart', 'silent');
  const reply = r.command('SN0016', 'device_restart', { timeoutMs: 20000 });
  const original = await sim.nextCommand('device_restart');
  for (let i = 1; i <= 3; i++) {
    const resent = await sim.nextCommand('device_restart');
    t.equal(resent.seq, original.seq, `resend ${i} keeps the seq`);
  }
  await within(sim.closed, 'closed after three unanswered resends');
  t.match(await reply, { ok: false, error: { type: 'timeout' } });
  t.equal(sim.stats.commands, 4);
});

t.test('seq numbers increase from a random start', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0018');
  await sim.start();
  await r.command('SN0018', 'open_door', {});
  await r.command('SN0018', 'open_door', {});
  const a = await sim.nextCommand('open_door');
  const b = await sim.nextCommand('open_door');
  t.equal(b.seq, (a.seq + 1) >>> 0);
});

t.test('allow list: serials or MACs', async (t) => {
  const r = await rig(t, { allowList: ['SN-OK', '00-64-AA-BB-CC-DD'] });
  const listed = r.device('SN-OK');
  await listed.start();
  const byMac = r.device('SN-MAC', { mac: '0064AABBCCDD' });
  await byMac.start();
  const stranger = r.device('SN-NO');
  await stranger.connect();
  t.equal((await stranger.register()).result, 104);
  t.match(await bridgeEvent(r, 'auth_failed', 'not_allowed'), { deviceId: 'SN-NO' });
});

t.test('no login within loginTimeoutMs closes the connection', async (t) => {
  const r = await rig(t, { loginTimeoutMs: 150 });
  const sim = r.device('SN0019');
  await sim.connect();
  await within(sim.closed, 'closed for want of a login');
  await bridgeEvent(r, 'auth_failed', 'login_timeout');
});

t.test('silence for three heartbeat periods means offline', async (t) => {
  const r = await rig(t, { heartbeatS: 1 });
  const sim = r.device('SN0020');
  await sim.start();
  await within(sim.closed, 'closed after 3 s of silence', 8000);
  t.match(await bridgeEvent(r, 'device_disconnected', 'timeout'), { deviceId: 'SN0020' });
});

t.test('clock skew is refused when maxClockSkewS is set', async (t) => {
  const r = await rig(t, { maxClockSkewS: 60 });
  const late = r.device('SN0021', { clockOffsetS: -3600 });
  await late.connect();
  t.equal((await late.register()).result, 104);
  await bridgeEvent(r, 'auth_failed', 'clock_skew');
  const fine = r.device('SN0022', { clockOffsetS: 30 });
  await fine.start();
});

t.test('a message the broker cannot take is answered -1', async (t) => {
  const { EmbeddedBroker } = await import('../../src/broker.js');
  const { pino } = await import('pino');
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, logger: pino({ level: 'silent' }) });
  const { mqtt: url } = await broker.start();
  let brokerUp = true;
  t.teardown(() => (brokerUp ? broker.stop() : undefined));
  const r = await rig(t, {}, { mqtt: { url, publishTimeoutMs: 500, reconnectPeriodMs: 100 } });
  const sim = r.device('SN0030');
  await sim.start();
  await r.inbox.take(r.topic('SN0030', 'availability'), (p) => p.toString() === 'online');
  brokerUp = false;
  await broker.stop();
  const refused = await sim.snapshotFace();
  t.equal(refused.result, -1, 'the device gets the protocol failure and retries by itself');
});
