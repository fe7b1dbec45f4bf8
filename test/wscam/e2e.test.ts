// wscam end to end: a real gateway with its embedded broker, simulated cameras over real sockets,
// a real MQTT client watching the topics.
import { once } from 'node:events';
import t from 'tap';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { encodeCommandReply, encodeHeartbeat, encodeUploadSnapshot } from '../../sim/wscam/codec.js';
import { CamSimulator } from '../../sim/wscam/simulator.js';
import { connectClient, externalBroker, until, within } from '../helpers/harness.js';
import { CuttableLink } from '../helpers/brokers.js';
import { notTheNumber } from '../helpers/commands.js';
import { TLS_CA, TLS_CERT, TLS_KEY } from '../helpers/tls/tls.js';
import { bridgeEvent, command, offlineAfter, rawDevice, startWscam, type Reply } from '../helpers/ws-gateway.js';

const OTHER_IMAGE = Buffer.from('a snapshot').toString('base64');

t.test('the first heartbeat binds the connection: answered, availability and info retained', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('200000000001');
  t.equal(camera.extensions, '', 'no permessage-deflate, though the client offers it');
  t.same(await camera.heartbeat({ requestId: 'hb1' }), { operate: 'heartbeat_rsp', requestId: 'hb1', sn: '200000000001', ret: 0, msg: '' });
  t.match(await bridgeEvent(g, 'device_connected'), { adapter: 'wscam', deviceId: '200000000001' });
  const later = await connectClient(t, g.mqttUrl);
  await later.subscribe([g.topic('200000000001', 'availability'), g.topic('200000000001', 'info')]);
  const availability = await later.take(g.topic('200000000001', 'availability'));
  t.equal(availability.payload.toString(), 'online');
  t.ok(availability.packet.retain);
  t.match(await later.json(g.topic('200000000001', 'info')), { deviceId: '200000000001', remote: /^127\.0\.0\.1:\d+$/, connectedAt: String });
  t.match(await camera.heartbeat(), { ret: 0 });
  t.equal(g.inbox.unread(g.topic('200000000001', 'event/heartbeat')), 0, 'heartbeats are not published');
});

t.test('upload_snapshot: published with its image on media/data, then ret 0; the same request_id is not published twice', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam1');
  const events = g.topic('cam1', 'event/upload_snapshot');
  t.same(await camera.uploadSnapshot({ requestId: 's1' }), { operate: 'upload_snapshot_rsp', requestId: 's1', sn: 'cam1', ret: 0, msg: '' });
  t.match(await g.inbox.json(events), { id: String, ts: String, adapter: 'wscam', deviceId: 'cam1', name: 'upload_snapshot', data: { data: TINY_JPEG_BASE64 } });
  t.same((await g.inbox.take(g.topic('cam1', 'media/data'))).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'));
  t.match(await camera.resend('s1'), { requestId: 's1', ret: 0 }, 'the retransmission is answered');
  t.match(await camera.uploadSnapshot({ requestId: 's2', image: '' }), { ret: 0 }, "the seed's empty data");
  t.same((await g.inbox.json(events)).data, { data: '' }, 'the next event is s2, not s1 again');
  t.equal(g.inbox.unread(events), 0);
  t.equal(g.inbox.unread(g.topic('cam1', 'media/data')), 0, 'an empty image does not clear media/data');
  t.same(camera.stats, { sent: 3, acked: 3, refused: 0, skipped: 0, commands: 0 });
});

t.test('timestamps outside ±5 minutes are refused and establish nothing', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam2');
  const skew = bridgeEvent(g, 'protocol_error', 'clock_skew');
  // 5 s either side of the 300 s edge: the gateway reads its clock a moment after the camera did,
  // and a second may tick in between.
  t.match(await camera.heartbeat({ clockOffsetS: 305 }), { ret: 2, msg: /ahead of the gateway clock/ });
  t.match(await skew, { adapter: 'wscam', remote: /^127\.0\.0\.1:/ });
  t.match(await camera.uploadSnapshot({ clockOffsetS: -400 }), { ret: 2, msg: /behind/ });
  t.match(await camera.request({ operate: 'heartbeat', request_id: 'no-time', sn: 'cam2' }), { ret: 1, msg: /timestamp/ });
  t.equal(await g.metric('clock_skew'), 2);
  t.equal(g.inbox.unread(g.topic('cam2', 'availability')), 0, 'not bound: no availability');
  t.match(await camera.uploadSnapshot({ clockOffsetS: 295, requestId: 'in-time' }), { ret: 0 }, 'within the window');
  t.match(await g.inbox.json(g.topic('cam2', 'event/upload_snapshot')), { data: { data: TINY_JPEG_BASE64 } });
  t.match(await camera.heartbeat({ clockOffsetS: -295 }), { ret: 0 }, 'behind, within the window');
  t.match(await camera.heartbeat({ clockOffsetS: 400 }), { ret: 2 }, 'heartbeats too, once bound');
  t.equal(g.inbox.unread(g.topic('cam2', 'event/upload_snapshot')), 0, 'nothing refused was published');
});

t.test('the first sn binds the connection; another sn on it is refused', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam3');
  await camera.heartbeat();
  const mismatch = bridgeEvent(g, 'protocol_error', 'sn_mismatch');
  t.match(await camera.heartbeat({ sn: 'intruder' }), { sn: 'intruder', ret: 3, msg: /belongs to sn cam3/ });
  t.match(await mismatch, { deviceId: 'cam3' });
  t.match(await camera.uploadSnapshot({ sn: 'intruder' }), { ret: 3 });
  t.match(await camera.uploadSnapshot({ requestId: 'own' }), { ret: 0 }, 'its own sn still works');
  t.match(await g.inbox.json(g.topic('cam3', 'event/upload_snapshot')), { deviceId: 'cam3' });
  t.equal(g.inbox.unread(g.topic('intruder', 'availability')), 0);
  t.equal(g.inbox.unread(g.topic('intruder', 'event/upload_snapshot')), 0);
  t.equal(await g.metric('sn_mismatch'), 2);
});

t.test('identities: not a topic level, missing, not allowed', async (t) => {
  const g = await startWscam(t, { allowSn: ['cam-ok', '200000000009'] });
  const camera = await g.camera('a/b');
  for (const sn of ['a/b', '', 'x+', '#']) t.match(await camera.heartbeat({ sn }), { ret: 1, msg: /^sn / }, JSON.stringify(sn));
  t.equal(await g.metric('bad_identity'), 4);
  const missing = bridgeEvent(g, 'protocol_error', 'bad_identity');
  t.match(await camera.request({ operate: 'heartbeat', request_id: 'no-sn', timestamp: camera.nowS() }), { sn: '', ret: 1, msg: /^sn is missing/ });
  t.match(await missing, { adapter: 'wscam', remote: /^127\.0\.0\.1:/ });
  t.equal(await g.metric('bad_identity'), 5, 'four that are not a topic level, one missing');
  t.match(await camera.request({ operate: 'heartbeat', request_id: 'numeric', timestamp: camera.nowS(), sn: 200000000009 }), { ret: 0 }, 'an sn sent as a number');
  t.equal((await g.inbox.take(g.topic('200000000009', 'availability'))).payload.toString(), 'online');

  const stranger = await g.camera('stranger');
  const auth = bridgeEvent(g, 'auth_failed', 'not_allowed');
  t.match(await stranger.heartbeat(), { ret: 4 });
  t.match(await auth, { deviceId: 'stranger' });
  t.equal((await within(stranger.closed, 'stranger closed')).code, 1008);
  const allowed = await g.camera('cam-ok');
  t.match(await allowed.heartbeat(), { ret: 0 });
});

t.test('bad input: the protocol error where there is one, a protocol_error and a metric; others never notice', async (t) => {
  const g = await startWscam(t, { maxPayloadBytes: 4096 });
  const good = await g.camera('good');
  await good.heartbeat();
  const bad = await g.camera('bad');
  await bad.heartbeat();
  const unknown = bridgeEvent(g, 'protocol_error', 'unknown_operate');
  t.same(await bad.request({ operate: 'reboot', request_id: 'r1', timestamp: bad.nowS(), sn: 'bad' }), {
    operate: 'reboot_rsp', requestId: 'r1', sn: 'bad', ret: 5, msg: 'unknown operate reboot',
  });
  t.match(await unknown, { deviceId: 'bad' });
  t.equal(await g.metric('unknown_operate'), 1);
  const noIdEvent = bridgeEvent(g, 'protocol_error', 'bad_message');
  const noId = new Promise((resolve) => bad.once('answer', resolve));
  bad.sendRaw({ operate: 'heartbeat', timestamp: bad.nowS(), sn: 'bad' });
  t.match(await within(noId, 'the refusal'), { operate: 'heartbeat_rsp', ret: 1 }, 'a request without request_id gets ret 1');
  t.match(await noIdEvent, { deviceId: 'bad' });
  const cases: Array<[string, string]> = [
    ['not json', 'bad_json'],
    ['[1,2]', 'bad_json'],
    ['{"__proto__":{"x":1}}', 'unsafe_key'],
    ['{"operate":"heartbeat"," constructor":{}}', 'unsafe_key'],
    ['{"request_id":"x"}', 'bad_message'],
  ];
  for (const [input, reason] of cases) {
    const event = bridgeEvent(g, 'protocol_error', reason);
    bad.sendRaw(input);
    t.match(await event, { adapter: 'wscam', deviceId: 'bad' }, `${reason}: no answer possible, reported`);
    t.match(await good.heartbeat(), { ret: 0 }, `${reason}: the other camera never noticed`);
  }
  t.equal(await g.metric('bad_json'), 2);
  t.equal(await g.metric('unsafe_key'), 2);
  t.equal(await g.metric('bad_message'), 2);
  t.match(await bad.uploadSnapshot(), { ret: 0 }, 'the camera keeps its connection');
  t.equal(g.inbox.unread(g.topic('bad', 'event/upload_snapshot')), 1, 'only the good snapshot was published');

  const oversize = bridgeEvent(g, 'protocol_error', 'oversize');
  bad.sendRaw(JSON.stringify({ operate: 'upload_snapshot', request_id: 'big', timestamp: bad.nowS(), sn: 'bad', data: 'x'.repeat(5000) }));
  t.equal((await within(bad.closed, 'bad closed')).code, 1009);
  await oversize;
  t.equal((await g.inbox.take(g.topic('bad', 'availability'), (p) => p.toString() === 'offline')).payload.toString(), 'offline');
  t.match(await good.uploadSnapshot(), { ret: 0 }, 'the other camera never noticed');
  t.equal(await g.metric('oversize'), 1);
});

t.test('the first message deadline closes a connection that never identified, even if it talked', async (t) => {
  const g = await startWscam(t, { identifyTimeoutMs: 300 });
  const bound = await g.camera('bound');
  await bound.heartbeat();
  const late = await g.camera('late');
  t.match(await late.heartbeat({ clockOffsetS: 1000 }), { ret: 2 }, 'refused: establishes nothing');
  const event = bridgeEvent(g, 'protocol_error', 'identify_timeout');
  t.equal((await within(late.closed, 'late closed')).code, 1008);
  await event;
  t.match(await bound.heartbeat(), { ret: 0 });
});

t.test('a second connection of the same camera replaces the first', async (t) => {
  const g = await startWscam(t);
  const first = await g.camera('cam9');
  await first.heartbeat();
  const second = await g.camera('cam9');
  const replaced = bridgeEvent(g, 'device_disconnected', 'replaced');
  await second.heartbeat();
  t.equal((await within(first.closed, 'first closed')).code, 4000);
  await replaced;
  const seen = second.waitCommand('get_dev_config');
  t.match(await command(g, 'cam9', 'get_dev_config', { id: 'g1' }), { ok: true });
  await seen;
  const availability = g.topic('cam9', 'availability');
  await g.inbox.take(availability, (p) => p.toString() === 'online');
  await g.inbox.take(availability, (p) => p.toString() === 'online');
  t.equal(g.inbox.unread(availability), 0, 'it never went offline');
});

t.test('three silent hb_intervals: offline; the interval set by set_dev_config counts', async (t) => {
  const g = await startWscam(t, { heartbeatIntervalS: 1 });
  const alive = await g.camera('alive', { autoHeartbeat: true, hbInterval: 1 });
  await alive.start();
  const silent = await g.camera('silent');
  const binding = Date.now();
  await silent.heartbeat();
  const skewed = await g.camera('skewed');
  await skewed.heartbeat();
  // Refused heartbeats (a clock off by 1000 s) do not keep a camera alive.
  const refused = setInterval(() => skewed.sendRaw(encodeHeartbeat({ requestId: 'r', timestamp: skewed.nowS(1000), sn: 'skewed' })), 200);
  t.teardown(() => clearInterval(refused));
  // Three intervals of 1 s: not one, and not never (offlineAfter's deadline).
  t.ok((await offlineAfter(g, 'silent', binding)) >= 2950, 'offline after three silent intervals, not before');
  await within(silent.closed, 'silent closed');
  await g.inbox.take(g.topic('skewed', 'availability'), (p) => p.toString() === 'offline', 8000);
  await within(skewed.closed, 'skewed closed');
  clearInterval(refused);
  t.match(await alive.heartbeat(), { ret: 0 });

  const learned = await startWscam(t);
  const camera = await learned.camera('learner');
  await camera.heartbeat();
  t.match(await command(learned, 'learner', 'set_dev_config', { id: 's', data: { hb_interval: 1 } }), { ok: true });
  t.equal(camera.config.hb_interval, 1);
  const gone = await learned.inbox.take(learned.topic('learner', 'availability'), (p) => p.toString() === 'offline', 8000);
  t.equal(gone.payload.toString(), 'offline', 'offline after 3 s, not after the configured 3 x 60 s');
});

t.test('commands: each with its own request_id; the *_rsp matched by it', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam5', { mac: 'AA:BB:CC:00:11:22', image: OTHER_IMAGE });
  await camera.heartbeat();
  const ids = new Set<string>();
  const run = async (name: string, data: JsonObject, id: string): Promise<Reply> => {
    const seen = camera.waitCommand(name);
    const reply = await command(g, 'cam5', name, { id, data });
    const got = await seen;
    ids.add(String(got.requestId));
    t.same(got.data, data, `${name}: data beside the envelope`);
    t.match(got.requestId, /^\d{18}$/, `${name}: a request_id of the gateway's`);
    t.equal(got.reply.request_id, got.requestId, `${name}: the rsp echoes the request_id`);
    t.equal(got.sn, 'cam5', `${name}: sent to the camera's sn`);
    t.ok(typeof got.timestamp === 'number' && Math.abs(got.timestamp - camera.nowS()) <= 5, `${name}: timestamp is now, in seconds`);
    return reply;
  };

  const config = await run('get_dev_config', {}, 'c1');
  t.match(config, { id: 'c1', ok: true, code: 0, message: null, error: null, data: { mac: 'AA:BB:CC:00:11:22', upload_type: 0, upload_addr: '', hb_interval: 60, run_time: Number } });
  t.match(await g.inbox.json(g.topic('cam5', 'info'), (i) => i.mac !== undefined), { mac: 'AA:BB:CC:00:11:22' }, 'the mac reaches info');
  t.same(await run('set_dev_config', { upload_type: 1, upload_addr: 'mqtt://broker/x', hb_interval: 30 }, 'c2'), {
    id: 'c2', ok: true, code: 0, message: null, data: {}, error: null,
  });
  t.match(camera.config, { upload_type: 1, upload_addr: 'mqtt://broker/x', hb_interval: 30 });
  t.match(await run('upgrade_dev', { package_url: 'http://app.bin' }, 'c3'), { ok: true, code: 0 });
  t.equal(camera.upgradedFrom, 'http://app.bin');
  t.same(await run('control_cmd', { cmd_data: { type: 'take_snapshot' } }, 'c4'), {
    id: 'c4', ok: true, code: 0, message: null, data: { type: 'take_snapshot', data: OTHER_IMAGE }, error: null,
  });
  t.same((await g.inbox.take(g.topic('cam5', 'media/data'))).payload, Buffer.from(OTHER_IMAGE, 'base64'), 'the snapshot on media/data');
  t.match(await run('control_cmd', { cmd_data: { type: 'io_control', io0: 0, io1: 1 } }, 'c5'), { ok: true, data: { type: 'io_control', data: null } });
  t.same(camera.io, { io0: 0, io1: 1 });
  camera.failNext('upgrade_dev', 7, 'no space');
  t.match(await run('upgrade_dev', { package_url: 'http://big.bin' }, 'c6'), { ok: false, code: 7, message: 'no space', error: { type: 'device', message: 'no space' } });
  t.equal(ids.size, 6, 'one request_id per command');

  const answered = camera.stats.commands;
  t.match(await command(g, 'cam5', 'set_dev_config', { id: 'bad', data: { hb_interval: 'often' } }), { error: { type: 'invalid' } });
  t.match(await command(g, 'cam5', 'reboot', { id: 'nope' }), { error: { type: 'unsupported' } });
  t.match(await command(g, 'nobody', 'get_dev_config', { id: 'away' }), { error: { type: 'offline' } });
  t.equal(camera.stats.commands, answered, 'nothing was sent for refused commands');
});

t.test('numbers sent as strings reach the camera as the seed\'s integers; what is not the number is refused naming the parameter', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam6');
  await camera.heartbeat();
  const cases: [string, JsonObject, JsonObject][] = [
    ['set_dev_config', { upload_type: '1', hb_interval: '30' }, { upload_type: 1, hb_interval: 30 }],
    ['control_cmd', { cmd_data: { type: 'io_control', io0: '0', io1: '1' } }, { cmd_data: { type: 'io_control', io0: 0, io1: 1 } }],
  ];
  for (const [name, data, sent] of cases) {
    const seen = camera.waitCommand(name);
    t.match(await command(g, 'cam6', name, { data }), { ok: true, code: 0 }, `${name} ${JSON.stringify(data)}`);
    t.strictSame((await seen).data, sent, `${name}: the camera got integers`);
  }
  t.match(camera.config, { upload_type: 1, hb_interval: 30 });
  const answered = camera.stats.commands;
  for (const wrong of notTheNumber(30)) {
    const reply = await command(g, 'cam6', 'set_dev_config', { data: { hb_interval: wrong } });
    t.strictSame(reply.error, { type: 'invalid', message: 'data.hb_interval must be integer' }, `hb_interval ${JSON.stringify(wrong)}`);
  }
  t.equal(camera.stats.commands, answered, 'none of them reached the camera');
});

t.test('an answer naming another sn is refused; the command times out', async (t) => {
  const g = await startWscam(t);
  const { raw, received } = await rawDevice(t, g);
  raw.send(JSON.stringify(encodeHeartbeat({ requestId: 'h', timestamp: Math.floor(Date.now() / 1000), sn: 'cam6' })));
  await until(() => received.length === 1, 'the heartbeat answer');
  const reply = command(g, 'cam6', 'upgrade_dev', { id: 'u1', timeoutMs: 500, data: { package_url: 'http://x' } });
  await until(() => received.length === 2, 'the command');
  const sent = received[1] as JsonObject;
  t.match(sent, { operate: 'upgrade_dev', sn: 'cam6', timestamp: Number, package_url: 'http://x' });
  const mismatch = bridgeEvent(g, 'protocol_error', 'sn_mismatch');
  raw.send(JSON.stringify(encodeCommandReply('upgrade_dev', sent.request_id as string, 'other', 0, '')));
  await mismatch;
  t.match(await reply, { id: 'u1', ok: false, error: { type: 'timeout' } });
});

t.test('the broker did not take a snapshot: ret -1, and published once when sent again', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const g = await startWscam(t, {}, { mqtt: { url: proxy.url } });
  const watcher = await connectClient(t, url);
  const events = g.topic('cam7', 'event/upload_snapshot');
  await watcher.subscribe(events);
  const camera = await g.camera('cam7');
  await camera.heartbeat();

  await proxy.cut();
  await until(() => !g.gateway.ready, 'the gateway noticing the broker is gone');
  t.match(await camera.uploadSnapshot({ requestId: 'h1' }), { ret: -1 }, 'the camera hears the failure');
  await proxy.open();
  await until(() => g.gateway.ready, 'the gateway back on its broker', 20_000);
  t.match(await camera.resend('h1'), { ret: 0 });
  t.match(await camera.uploadSnapshot({ requestId: 'h2', image: OTHER_IMAGE }), { ret: 0 });
  t.match(await watcher.json(events), { data: { data: TINY_JPEG_BASE64 } });
  t.match(await watcher.json(events), { data: { data: OTHER_IMAGE } });
  t.equal(watcher.unread(events), 0, 'h1 was published once');
});

t.test('wss:// when a certificate is configured', async (t) => {
  const g = await startWscam(t, { tlsCert: TLS_CERT, tlsKey: TLS_KEY });
  t.match(g.url, /^wss:\/\//);
  const camera = await g.camera('secure', { ca: TLS_CA });
  t.match(await camera.heartbeat(), { ret: 0 });
  await t.rejects(new CamSimulator({ url: g.url, sn: 'untrusted' }).connect(), 'a certificate the camera does not trust');
});

t.test('ping/pong keep-alive: a camera that stops answering pings is dropped; others stay', async (t) => {
  const g = await startWscam(t, { pingIntervalMs: 100 });
  const live = await g.camera('live');
  t.match(await live.heartbeat(), { ret: 0 });
  const mute = new WebSocket(g.url, { autoPong: false });
  t.teardown(() => mute.terminate());
  await within(once(mute, 'open'), 'the socket open');
  mute.send(JSON.stringify(encodeHeartbeat({ requestId: 'h', timestamp: Math.floor(Date.now() / 1000), sn: 'no-pong' })));
  const [code] = (await within(once(mute, 'close'), 'the mute peer cut')) as [number];
  t.equal(code, 1006, 'cut without a close handshake');
  t.match(await bridgeEvent(g, 'device_disconnected', 'timeout'), { deviceId: 'no-pong' });
  await g.inbox.take(g.topic('no-pong', 'availability'), (p) => p.toString() === 'offline');
  t.match(await live.heartbeat(), { ret: 0 }, 'the camera that answers pings is still connected');
});

t.test('stop closes every camera with 1001 (going away)', async (t) => {
  const g = await startWscam(t);
  const camera = await g.camera('cam8');
  await camera.heartbeat();
  const started = Date.now();
  await g.gateway.stop();
  t.equal((await within(camera.closed, 'camera closed')).code, 1001);
  t.ok(Date.now() - started < 5000, 'within the shutdown budget');
});

t.test('a message refused for its clock or its sn gets exactly one answer, non-zero, and establishes nothing', async (t) => {
  const g = await startWscam(t);
  const { raw, received } = await rawDevice(t, g);
  const now = (): number => Math.floor(Date.now() / 1000);
  /** Sends `message`, then a sentinel answered after it on this connection (ordered), and returns
   *  every answer that came before the sentinel's. */
  let sentinels = 0;
  const answersTo = async (message: JsonObject, sentinelSn: string): Promise<JsonObject[]> => {
    const from = received.length;
    raw.send(JSON.stringify(message));
    const sentinel = `sentinel-${++sentinels}`;
    // An unknown operate is answered at once and binds nothing: a safe sentinel.
    raw.send(JSON.stringify({ operate: 'no_such_operate', request_id: sentinel, timestamp: now(), sn: sentinelSn }));
    await until(() => received.slice(from).some((m) => m.request_id === sentinel), `the answer to ${sentinel}`);
    return received.slice(from).filter((m) => m.request_id !== sentinel);
  };
  const refusals: Array<[string, JsonObject, number]> = [
    ['a heartbeat 400 s ahead', encodeHeartbeat({ requestId: 'h-ahead', timestamp: now() + 400, sn: 'camA' }), 2],
    ['a snapshot 400 s behind', encodeUploadSnapshot({ requestId: 's-behind', timestamp: now() - 400, sn: 'camA' }, TINY_JPEG_BASE64), 2],
    ['a heartbeat without a timestamp', { operate: 'heartbeat', request_id: 'h-none', sn: 'camA' }, 1],
    ['a heartbeat whose sn is no topic level', encodeHeartbeat({ requestId: 'h-bad-sn', timestamp: now(), sn: 'cam/A' }), 1],
  ];
  for (const [what, message, ret] of refusals) {
    const answers = await answersTo(message, 'camA');
    t.equal(answers.length, 1, `${what}: exactly one answer`);
    t.match(answers[0], { operate: `${String(message.operate)}_rsp`, request_id: message.request_id, ret }, `${what}: ret ${ret}`);
  }
  // Nothing was established: the next valid message binds the connection, to any sn.
  t.match(await answersTo(encodeHeartbeat({ requestId: 'h-ok', timestamp: now(), sn: 'camB' }), 'camB'), [{ request_id: 'h-ok', ret: 0 }], 'a later sn binds it');
  t.equal((await g.inbox.take(g.topic('camB', 'availability'))).payload.toString(), 'online');
  // Refused once bound: the sn of another camera, and a clock off; one answer each, nothing bound.
  const mismatch = await answersTo(encodeUploadSnapshot({ requestId: 's-other', timestamp: now(), sn: 'camA' }, TINY_JPEG_BASE64), 'camB');
  t.match(mismatch, [{ request_id: 's-other', ret: 3 }], 'another sn: exactly one answer, ret 3');
  t.match(await answersTo(encodeUploadSnapshot({ requestId: 's-skew', timestamp: now() + 1000, sn: 'camB' }, TINY_JPEG_BASE64), 'camB'), [{ request_id: 's-skew', ret: 2 }]);
  // A command's reply comes after whatever the gateway published for the messages before it.
  t.match(await command(g, 'camB', 'get_dev_config', { id: 'after', timeoutMs: 300 }), { id: 'after', error: { type: 'timeout' } }, 'the raw camera does not answer commands');
  for (const sn of ['camA', 'cam/A']) {
    for (const rest of ['availability', 'info', 'event/upload_snapshot', 'event/heartbeat', 'media/data']) t.equal(g.inbox.unread(g.topic(sn, rest)), 0, `nothing on ${sn}/${rest}`);
  }
  t.equal(g.inbox.unread(g.topic('camB', 'event/upload_snapshot')), 0, 'no refused snapshot of camB was published');
});
