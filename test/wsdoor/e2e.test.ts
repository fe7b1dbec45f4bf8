// wsdoor end to end: a real gateway with its embedded broker, simulated terminals over real
// sockets, a real MQTT client watching the topics.
import { once } from 'node:events';
import { createServer, type AddressInfo } from 'node:net';
import t from 'tap';
import WebSocket from 'ws';
import type { JsonObject } from '../../src/adapter.js';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { encodeRegister, encodeReply } from '../../sim/wsdoor/codec.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import { connectClient, externalBroker, startGateway, testConfig, until, within } from '../helpers/harness.js';
import { CuttableLink } from '../helpers/brokers.js';
import { notTheNumber } from '../helpers/commands.js';
import { TLS_CA, TLS_CERT, TLS_KEY } from '../helpers/tls/tls.js';
import { bridgeEvent, command, offlineAfter, rawDevice, startWsdoor, wsdoorDefinition, type Reply } from '../helpers/ws-gateway.js';

const OK = { code: '200', interval: undefined, data: '' };
// A second tiny image, to tell apart which one reached media/img.
const OTHER_IMAGE = Buffer.from('another image').toString('base64');

t.test('register: answered with the heartbeat interval; availability and info retained', async (t) => {
  const g = await startWsdoor(t, { heartbeatIntervalS: 25 });
  const sn = '486468465489';
  const door = await g.door(sn, { ip: '192.168.0.102', mac: '31231E2EW12W12', type: '0' });
  t.equal(door.extensions, '', 'no permessage-deflate, though the client offers it');
  t.same(await door.register(), { code: '200', interval: '25', data: '' });
  t.same(await door.heartbeat(), OK, 'heartbeat answered');
  t.match(await bridgeEvent(g, 'device_connected'), { adapter: 'wsdoor', deviceId: sn });

  const later = await connectClient(t, g.mqttUrl);
  await later.subscribe([g.topic(sn, 'availability'), g.topic(sn, 'info')]);
  const availability = await later.take(g.topic(sn, 'availability'));
  t.equal(availability.payload.toString(), 'online');
  t.ok(availability.packet.retain, 'availability is retained');
  const info = await later.json(g.topic(sn, 'info'));
  t.match(info, { deviceId: sn, ip: '192.168.0.102', mac: '31231E2EW12W12', sn, type: '0', remote: /^127\.0\.0\.1:\d+$/, connectedAt: String });
  t.equal(g.inbox.unread(g.topic(sn, 'event/heartbeat')), 0, 'heartbeats are not published');
  const plain = await fetch(g.url.replace('ws:', 'http:'));
  t.equal(plain.status, 426, 'plain HTTP is told to upgrade');
});

t.test('a taken port ends the start naming the variable that moves it', async (t) => {
  const taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  t.teardown(() => taken.close());
  const port = (taken.address() as AddressInfo).port;
  await t.rejects(startWsdoor(t, { port }), { name: 'PortInUseError', message: new RegExp(`port ${port} .*GATE2MQTT_WSDOOR_PORT`) });
});

t.test('realtimeEvent: published with its image on media/img, then answered; a retransmission is not published twice', async (t) => {
  const g = await startWsdoor(t);
  const door = await g.door('door1');
  await door.register();
  const events = g.topic('door1', 'event/realtimeEvent');
  t.same(await door.sendEvent({ eventid: 'e1' }), OK);
  t.match(await g.inbox.json(events), {
    id: String,
    ts: String,
    adapter: 'wsdoor',
    deviceId: 'door1',
    name: 'realtimeEvent',
    data: { eventid: 'e1', type: '1', data: { userId: '77986', img: TINY_JPEG_BASE64, door: '0' } },
  });
  const media = await g.inbox.take(g.topic('door1', 'media/img'));
  t.same(media.payload, Buffer.from(TINY_JPEG_BASE64, 'base64'), 'the image bytes on media/img');
  t.same(await door.resendEvent('e1'), OK, 'the retransmission is answered');
  t.same(await door.sendEvent({ eventid: 'e2', type: '2', data: { user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', role: '0', img: OTHER_IMAGE } }), OK);
  t.match(await g.inbox.json(events), { data: { eventid: 'e2', type: '2' } }, 'the next event, not e1 again');
  t.equal(g.inbox.unread(events), 0);
});

t.test('an event resent on a new connection (its answer lost with the old one) is answered, not published again', async (t) => {
  const g = await startWsdoor(t);
  const first = await g.door('door2');
  await first.register();
  const events = g.topic('door2', 'event/realtimeEvent');
  t.same(await first.sendEvent({ eventid: 'r1' }), OK);
  await g.inbox.json(events);
  await first.close();
  const second = await g.door('door2');
  await second.register();
  t.same(await second.sendEvent({ eventid: 'r1' }), OK, 'answered again');
  t.same(await second.sendEvent({ eventid: 'r2' }), OK);
  t.match(await g.inbox.json(events), { data: { eventid: 'r2' } }, 'the next event, not r1 again');
  t.equal(g.inbox.unread(events), 0);
});

t.test('before register: nothing is published and the terminal gets 500', async (t) => {
  const g = await startWsdoor(t);
  const door = await g.door('door2');
  const error = bridgeEvent(g, 'protocol_error', 'not_registered');
  t.same(await door.sendEvent({ eventid: 'early' }), { code: '500', interval: undefined, data: 'not registered' });
  t.match(await error, { adapter: 'wsdoor', remote: /^127\.0\.0\.1:/ });
  t.match(await door.heartbeat(), { code: '500' }, 'a heartbeat too');
  t.equal(await g.metric('not_registered'), 2);
  await door.register();
  t.same(await door.sendEvent({ eventid: 'late' }), OK);
  t.match(await g.inbox.json(g.topic('door2', 'event/realtimeEvent')), { data: { eventid: 'late' } }, 'the first event published is the one after register');
});

t.test('bad input gets 500, a protocol_error and a metric; oversize closes; other terminals never notice', async (t) => {
  const g = await startWsdoor(t, { maxPayloadBytes: 4096 });
  const good = await g.door('good');
  await good.register();
  const bad = await g.door('bad');
  await bad.register();
  const cases: Array<[string, string]> = [
    ['not json', 'bad_json'],
    ['[1,2]', 'bad_json'],
    ['{"__proto__":{"admin":true}}', 'unsafe_key'],
    ['{"code":"205","data":{"sn":"bad"," constructor":{}}}', 'unsafe_key'],
    ['{"code":"999","data":{}}', 'unknown_code'],
    ['{"data":{}}', 'bad_message'],
    ['{"code":"207","data":{"type":"1"}}', 'bad_message'],
  ];
  for (const [input, reason] of cases) {
    const event = bridgeEvent(g, 'protocol_error', reason);
    t.match(await bad.request(input), { code: '500', data: String }, `${reason}: ${input}`);
    t.match(await event, { adapter: 'wsdoor', deviceId: 'bad', reason });
  }
  t.equal(await g.metric('bad_json'), 2);
  t.equal(await g.metric('unsafe_key'), 2);
  t.equal(await g.metric('unknown_code'), 1);
  t.same(await bad.sendEvent({ eventid: 'still-fine' }), OK, 'the terminal keeps its connection after bad JSON');

  const oversize = bridgeEvent(g, 'protocol_error', 'oversize');
  bad.sendRaw(JSON.stringify({ code: '207', data: { eventid: 'big', type: '1', data: { img: 'x'.repeat(5000) } } }));
  t.equal((await within(bad.closed, 'bad closed')).code, 1009, 'closed with 1009 Message Too Big');
  t.match(await oversize, { deviceId: 'bad' });
  t.equal(await g.metric('oversize'), 1);
  t.equal((await g.inbox.take(g.topic('bad', 'availability'), (p) => p.toString() === 'offline')).payload.toString(), 'offline');

  t.same(await good.sendEvent({ eventid: 'g1' }), OK, 'the other terminal never noticed');
  t.same(await good.heartbeat(), OK);
  const published = await g.inbox.json(g.topic('bad', 'event/realtimeEvent'));
  t.match(published, { data: { eventid: 'still-fine' } });
  t.equal(g.inbox.unread(g.topic('bad', 'event/realtimeEvent')), 0, 'nothing of the bad input was published');
});

t.test('identities that are not a topic level, or not allowed, are refused', async (t) => {
  const g = await startWsdoor(t, { allowSn: ['door-ok', 'a/b'] });
  const door = await g.door('a/b');
  for (const sn of ['a/b', '', 'x+y', 'x#', 'a\u0000b']) {
    const event = bridgeEvent(g, 'protocol_error', 'bad_identity');
    t.match(await door.register({ sn }), { code: '500', data: /^sn / }, JSON.stringify(sn));
    await event;
  }
  const missing = bridgeEvent(g, 'protocol_error', 'bad_identity');
  t.match(await door.request({ code: '205', data: { ip: '10.0.0.1' } }), { code: '500', data: /^sn is missing/ }, 'no sn at all');
  t.match(await missing, { adapter: 'wsdoor', remote: /^127\.0\.0\.1:/ });
  t.equal(await g.metric('bad_identity'), 6, 'five that are not a topic level, one missing');
  t.match(await door.sendEvent(), { code: '500', data: 'not registered' }, 'a refused register established nothing');

  const stranger = await g.door('stranger');
  const auth = bridgeEvent(g, 'auth_failed', 'not_allowed');
  t.match(await stranger.register(), { code: '500' });
  t.match(await auth, { deviceId: 'stranger' });
  t.equal((await within(stranger.closed, 'stranger closed')).code, 1008, 'a terminal not in the allow-list is closed');
  t.equal(await g.metric('auth_failed'), 1);

  const allowed = await g.door('door-ok');
  t.match(await allowed.register(), { code: '200' });
  const mismatch = bridgeEvent(g, 'protocol_error', 'sn_mismatch');
  t.match(await allowed.register({ sn: 'door-ok2' }), { code: '500' }, 'another sn on a registered connection');
  await mismatch;
  t.same(await allowed.heartbeat(), OK, 'still bound to its first sn');
  t.match(await allowed.register({ ip: '10.1.1.1' }), { code: '200' }, 'registering again with the same sn refreshes info');
  t.match(await g.inbox.json(g.topic('door-ok', 'info'), (i) => i.ip === '10.1.1.1'), { sn: 'door-ok' });
  for (const sn of ['stranger', 'door-ok2']) t.equal(g.inbox.unread(g.topic(sn, 'availability')), 0, `${sn} never appeared`);
});

t.test('the first message deadline closes silent connections, not registered ones', async (t) => {
  const g = await startWsdoor(t, { identifyTimeoutMs: 200 });
  const quick = await g.door('quick');
  await quick.register();
  const silent = await g.door('silent');
  const event = bridgeEvent(g, 'protocol_error', 'identify_timeout');
  t.equal((await within(silent.closed, 'silent closed')).code, 1008);
  t.match(await event, { remote: /^127\.0\.0\.1:/ });
  t.same(await quick.heartbeat(), OK, 'the registered terminal, older than the silent one, stays');
});

t.test('a second connection of the same terminal replaces the first', async (t) => {
  const g = await startWsdoor(t);
  const first = await g.door('door9');
  await first.register();
  const second = await g.door('door9');
  const replaced = bridgeEvent(g, 'device_disconnected', 'replaced');
  await second.register();
  t.equal((await within(first.closed, 'first closed')).code, 4000, 'the old connection is closed');
  await replaced;
  const seen = second.waitCommand('selectUser');
  const reply = await command(g, 'door9', 'selectUser', { id: 'after-replace', data: {} });
  t.match(reply, { ok: true, code: '203' }, 'commands go to the new connection');
  t.match(await seen, { name: 'selectUser' });
  const availability = g.topic('door9', 'availability');
  await g.inbox.take(availability, (p) => p.toString() === 'online');
  await g.inbox.take(availability, (p) => p.toString() === 'online');
  t.equal(g.inbox.unread(availability), 0, 'it never went offline');
});

t.test('three silent heartbeat intervals: offline and closed; a heartbeating terminal stays', async (t) => {
  const g = await startWsdoor(t, { heartbeatIntervalS: 1 });
  const alive = await g.door('alive', { autoHeartbeat: true });
  t.match(await alive.register(), { interval: '1' });
  const sleepy = await g.door('sleepy');
  const gone = bridgeEvent(g, 'device_disconnected', 'timeout');
  const registering = Date.now();
  await sleepy.register();
  // Three intervals of 1 s: not one, and not never (offlineAfter's deadline).
  t.ok((await offlineAfter(g, 'sleepy', registering)) >= 2950, 'offline after three silent intervals, not before');
  t.match(await gone, { deviceId: 'sleepy' });
  await within(sleepy.closed, 'sleepy closed');
  t.same(await alive.heartbeat(), OK);
  t.equal(g.inbox.unread(g.topic('alive', 'availability')), 1, 'only its online');
});

t.test('commands: each reaches the terminal with its own commandId; answers matched whatever their code', async (t) => {
  const g = await startWsdoor(t);
  const door = await g.door('door5');
  await door.register();
  const user = { user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', role: '0', img: OTHER_IMAGE };
  const ids = new Set<string>();
  const run = async (name: string, data: unknown, id: string): Promise<Reply> => {
    const seen = door.waitCommand(name);
    const reply = await command(g, 'door5', name, { id, data: data as JsonObject });
    const got = await seen;
    t.match(got.commandId, /^\d{18}$/, `${name}: a commandId of the seed's shape`);
    ids.add(got.commandId);
    t.same(got.content, data, `${name}: data is the content`);
    return reply;
  };

  t.same(await run('addUser', user, 'c1'), { id: 'c1', ok: true, code: '200', message: null, data: null, error: null });
  t.match(await run('selectUser', {}, 'c2'), { ok: true, code: '203', data: { content: [user] } });
  t.match(await run('compareUser', { img: OTHER_IMAGE }, 'c3'), { ok: true, code: '204', data: { exit: '1' } });
  t.match(await run('editUser', { userId: '12384865', name: '王五' }, 'c4'), { ok: true, code: '200' });
  t.match(await run('selectUser', { userId: '12384865' }, 'c5'), { data: { content: [{ name: '王五' }] } });

  door.events.set('old', { eventid: 'old', type: '1', data: { userId: '77986', img: OTHER_IMAGE, door: '1' } });
  t.match(await run('queryEvent', { eventid: 'old' }, 'c6'), { ok: true, code: '208', data: { eventid: 'old', data: { door: '1', img: OTHER_IMAGE } } });
  t.same((await g.inbox.take(g.topic('door5', 'media/img'))).payload, Buffer.from(OTHER_IMAGE, 'base64'), 'the queried image on media/img');
  door.answerWith('queryEvent', '207');
  t.match(await run('queryEvent', { eventid: 'old' }, 'c7'), { ok: true, code: '207' }, '207 with the commandId is the answer');

  t.match(await run('deleteUser', { userId: '12384865' }, 'c8'), { ok: true, code: '200' });
  t.same(await run('deleteUser', { userId: '12384865' }, 'c9'), {
    id: 'c9', ok: false, code: '500', message: 'no such user', data: null, error: { type: 'device', message: 'no such user' },
  });
  door.failNext('compareUser');
  t.match(await run('compareUser', { img: 'x' }, 'c10'), { ok: false, code: '500', error: { type: 'device', message: 'simulated failure' } });
  door.answerWith('selectUser', '206');
  t.match(await run('selectUser', {}, 'c11'), { ok: false, code: '206', error: { type: 'device', message: 'the terminal answered code 206' } }, 'an unknown code with the commandId is the answer, a failure');
  t.equal(ids.size, 11, 'one commandId per command');

  const answered = door.stats.commands;
  t.match(await command(g, 'door5', 'addUser', { id: 'bad', data: { userId: 'x' } }), { ok: false, code: null, error: { type: 'invalid' } });
  t.match(await command(g, 'door5', 'openDoor', { id: 'nope' }), { error: { type: 'unsupported' } });
  t.match(await command(g, 'nobody', 'selectUser', { id: 'away' }), { error: { type: 'offline' } });
  t.equal(door.stats.commands, answered, 'nothing was sent for refused commands');
});

t.test('numbers for the seed\'s numeric strings: the terminal gets strings; what is not the number is refused naming the parameter', async (t) => {
  const g = await startWsdoor(t);
  const door = await g.door('door6');
  await door.register();
  const seen = door.waitCommand('addUser');
  const user = { user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', img: OTHER_IMAGE };
  t.match(await command(g, 'door6', 'addUser', { id: 'n1', data: { ...user, role: 1 } }), { ok: true, code: '200' });
  t.strictSame((await seen).content, { ...user, role: '1' }, 'role 1 went as "1", as every seed example writes it');
  const answered = door.stats.commands;
  for (const wrong of [...notTheNumber(1), 2, 0.5]) {
    const reply = await command(g, 'door6', 'editUser', { data: { userId: '12384865', role: wrong } });
    // The schema says `type: string` beside the enum: a value no rule reads as a string hears both.
    const typed = typeof wrong === 'string' || typeof wrong === 'number' ? '' : 'data.role must be string; ';
    t.strictSame(reply.error, { type: 'invalid', message: `${typed}data.role must be one of "0", "1"` }, `role ${JSON.stringify(wrong)}`);
  }
  const id = await command(g, 'door6', 'deleteUser', { data: { userId: 12384865 } });
  t.strictSame(id.error, { type: 'invalid', message: 'data.userId must be string' }, 'an id is no numeric string: its schema says so');
  t.equal(door.stats.commands, answered, 'none of them reached the terminal');
});

t.test('a command without answer times out; its late answer is ignored; a closed connection fails it offline', async (t) => {
  const g = await startWsdoor(t);
  const { raw, received } = await rawDevice(t, g);
  raw.send(JSON.stringify(encodeRegister({ ip: '10.0.0.9', mac: 'm', sn: 'mute', type: '0' })));
  await until(() => received.length === 1, 'the register answer');
  t.match(await command(g, 'mute', 'selectUser', { id: 't1', timeoutMs: 200, data: {} }), { ok: false, error: { type: 'timeout' } });
  const sent = received[1] as JsonObject;
  t.match(sent, { command: 'selectUser', commandId: /^\d{18}$/, content: {} });
  raw.send(JSON.stringify(encodeReply(sent.commandId as string, '203', { content: [] })));
  raw.send(JSON.stringify({ code: '206', data: { time: '2024-01-01 00:00:00' } }));
  await until(() => received.length === 3, 'the heartbeat answer');
  t.match(received[2], { command: 'response', content: { code: '200' } }, 'the late answer drew no 500; the heartbeat its 200');

  const pending = command(g, 'mute', 'selectUser', { id: 't2', timeoutMs: 5000, data: {} });
  await until(() => received.length === 4, 'the second command');
  raw.close();
  t.match(await pending, { id: 't2', ok: false, error: { type: 'offline' } }, 'the connection ended before the answer');
});

t.test('the broker did not take a realtimeEvent: 500, and published once when sent again', async (t) => {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const g = await startWsdoor(t, {}, { mqtt: { url: proxy.url } });
  const watcher = await connectClient(t, url);
  const events = g.topic('door7', 'event/realtimeEvent');
  await watcher.subscribe(events);
  const door = await g.door('door7');
  await door.register();

  await proxy.cut();
  await until(() => !g.gateway.ready, 'the gateway noticing the broker is gone');
  t.match(await door.sendEvent({ eventid: 'h1' }), { code: '500' }, 'the terminal hears the failure');
  await proxy.open();
  await until(() => g.gateway.ready, 'the gateway back on its broker', 20_000);
  t.same(await door.resendEvent('h1'), OK, "the terminal's retry goes through");
  t.match(await watcher.json(events), { data: { eventid: 'h1' } });
  t.same(await door.sendEvent({ eventid: 'h2' }), OK);
  t.match(await watcher.json(events), { data: { eventid: 'h2' } });
  t.equal(watcher.unread(events), 0, 'h1 was published once');
});

t.test('wss:// when a certificate is configured; a half configuration fails the adapter, not the gateway', async (t) => {
  const g = await startWsdoor(t, { tlsCert: TLS_CERT, tlsKey: TLS_KEY });
  t.match(g.url, /^wss:\/\//);
  const door = await g.door('secure', { ca: TLS_CA });
  t.match(await door.register(), { code: '200' });
  await t.rejects(new DoorSimulator({ url: g.url.replace('wss:', 'ws:'), sn: 'plain' }).connect(), 'plain ws:// gets no WebSocket');

  const half = await startGateway(t, { adapters: [wsdoorDefinition(testConfig({ wsdoor: { tlsCert: TLS_CERT } }).wsdoor)] });
  const watcher = await connectClient(t, half.mqttUrl);
  await watcher.subscribe(`${half.base}/bridge/info`);
  t.match(await watcher.json(`${half.base}/bridge/info`), { adapters: { wsdoor: { listen: null, failed: /tlsCert and wsdoor\.tlsKey/ } } });
});

t.test('ping/pong keep-alive: a peer that stops answering pings is dropped; others stay', async (t) => {
  const g = await startWsdoor(t, { pingIntervalMs: 100 });
  const live = await g.door('live');
  await live.register();
  const mute = new WebSocket(g.url, { autoPong: false });
  t.teardown(() => mute.terminate());
  await within(once(mute, 'open'), 'the socket open');
  mute.send(JSON.stringify(encodeRegister({ ip: '10.0.0.2', mac: 'm', sn: 'no-pong', type: '0' })));
  const [code] = (await within(once(mute, 'close'), 'the mute peer cut')) as [number];
  t.equal(code, 1006, 'cut without a close handshake');
  await g.inbox.take(g.topic('no-pong', 'availability'), (p) => p.toString() === 'offline');
  t.same(await live.heartbeat(), OK, 'the terminal that answers pings is still connected');
});

t.test('stop closes every terminal with 1001 (going away)', async (t) => {
  const g = await startWsdoor(t);
  const door = await g.door('door3');
  await door.register();
  const started = Date.now();
  await g.gateway.stop();
  t.equal((await within(door.closed, 'door closed')).code, 1001);
  t.ok(Date.now() - started < 5000, 'within the shutdown budget');
  await t.rejects(door.heartbeat(), /not connected/, 'a closed terminal fails at once instead of waiting forever');
});
