// The qyzn adapter end to end: a real gateway and broker, real MQTT clients, simulated terminals
// on real sockets (ports 0). Each test starts its own gateway and base topic.
import { connect as tcpConnect } from 'node:net';
import t from 'tap';
import { HEADER_SIZE, MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame } from '../../adapters/qyzn/encoder.js';
import { derivePassword } from '../../adapters/qyzn/sign.js';
import type { JsonObject } from '../../src/adapter.js';
import { connectClient, within } from '../helpers/harness.js';
import { SECRET, bridgeEvent, rig } from './fixtures/rig.js';

t.test('register and login: availability, info, device_connected', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0001', { type: 'HG02', firmware: 'V1.0.0' });
  await sim.connect();
  const registered = await sim.register();
  t.equal(registered.result, 0);
  t.same(registered.data, { uuid: 'SN0001', passwd: derivePassword(SECRET, 'SN0001') }, 'uuid is the serial, passwd derived from the secret');
  t.equal((await sim.login()).result, 0);
  t.equal((await r.inbox.take(r.topic('SN0001', 'availability'))).payload.toString(), 'online');
  const info = await r.inbox.json(r.topic('SN0001', 'info'));
  const remote = `127.0.0.1:${String(sim.localPort)}`;
  t.match(info, { deviceId: 'SN0001', serial: 'SN0001', mac: sim.options.mac, type: 'HG02', version: 'V1.0.0', protocolVersion: 3, remote });
  t.match(await bridgeEvent(r, 'device_connected', 'connected'), { deviceId: 'SN0001', remote });
  const late = await connectClient(t, r.mqttUrl);
  await late.subscribe([r.topic('SN0001', 'availability'), r.topic('SN0001', 'info')]);
  const kept = await late.take(r.topic('SN0001', 'availability'));
  t.same([kept.packet.retain, kept.payload.toString()], [true, 'online'], 'availability is retained');
  const keptInfo = await late.take(r.topic('SN0001', 'info'));
  t.equal(keptInfo.packet.retain, true, 'info is retained');
  t.match(JSON.parse(keptInfo.payload.toString()), { serial: 'SN0001', mac: sim.options.mac, type: 'HG02', version: 'V1.0.0', remote });
});

t.test('the seed register frame is accepted and answered with derived credentials', async (t) => {
  const r = await rig(t);
  const socket = tcpConnect(r.port, '127.0.0.1');
  t.teardown(() => socket.destroy());
  const { GOLDEN_REGISTER } = await import('./fixtures/frames.js');
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

  // Registered, not logged in: still nothing but login and heartbeat.
  t.equal((await sim.register()).result, 0, 'register is served');
  const requests: Array<[string, JsonObject]> = [
    ['snapshot_face', { score: 1 }],
    ['qrcode_data', { content: 'QR' }],
    ['device_sync_person', { personId: 'p1' }],
    ['device_call_param', { callRequestId: 'c', callNo: '1' }],
    ['sync_time', {}],
    ['device_call_result', { callRequestId: 'c', callNo: '1' }],
    ['logout', {}],
    ['no_such_request', {}],
  ];
  for (const [name, data] of requests) t.equal((await sim.request(name, data)).result, 100, `${name} before login: 100`);
  sim.notify('door_state', { open: true });
  t.equal((await sim.heartbeat()).msgType, MsgType.HEARTBEAT, 'a heartbeat is still answered');
  t.equal(await r.protocolErrors('not_logged_in'), requests.length + 2, 'each counted, the notification too');
  t.equal((await sim.login()).result, 0, 'then the login');
  // A command's reply goes out on the gateway's link after anything it published before it.
  t.equal((await r.command('SN0004', 'open_door', {})).ok, true, 'and then it is served');
  for (const [name] of requests) t.equal(r.inbox.unread(r.topic('SN0004', `event/${name}`)), 0, `nothing of ${name} was published`);
  t.equal(r.inbox.unread(r.topic('SN0004', 'event/door_state')), 0, 'nor of the notification');
});

t.test('a REQUEST with broken JSON gets 104 and the connection stays', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN0010');
  await sim.start();
  const answerTo = (seq: number): Promise<number> =>
    within(new Promise<number>((resolve) => sim.on('response', (resp) => resp.seq === seq && resolve(resp.result))), `the answer to seq ${seq}`);
  const broken = answerTo(4242);
  sim.sendRaw(encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 4242 }, Buffer.from('{"message":"snapshot_face","data":{{')));
  t.equal(await broken, 104);
  await bridgeEvent(r, 'protocol_error', 'bad_json');
  t.equal(await r.protocolErrors('bad_json'), 1, 'counted in gate2mqtt_protocol_errors_total');
  t.equal((await sim.syncTime()).result, 0, 'still served');
  const unsafe: Array<[number, string]> = [
    [4243, '{"__proto__":{"x":1}}'],
    [4244, '{"constructor":{"prototype":{"x":1}}}'],
  ];
  for (const [seq, data] of unsafe) {
    const answer = answerTo(seq);
    sim.sendRaw(encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq }, Buffer.from(`{"message":"snapshot_face","data":${data}}`)));
    t.equal(await answer, 104, data);
  }
  await bridgeEvent(r, 'protocol_error', 'unsafe_key');
  await bridgeEvent(r, 'protocol_error', 'unsafe_key');
  t.equal(await r.protocolErrors('unsafe_key'), 2);
  const noName = answerTo(4245);
  sim.sendRaw(encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 4245 }, Buffer.from('{"data":{}}')));
  t.equal(await noName, 104, 'a body without a message name');
  await bridgeEvent(r, 'protocol_error', 'bad_message');
  sim.notify('not/a/level', { x: 1 });
  t.match(await bridgeEvent(r, 'protocol_error', 'bad_name'), { deviceId: 'SN0010' }, 'a notification whose name cannot be a topic level');
  t.equal(await r.protocolErrors('bad_message'), 1);
  t.equal(await r.protocolErrors('bad_name'), 1, 'refused by the core');
  t.equal(r.inbox.unread(r.topic('SN0010', 'event/snapshot_face')), 0, 'nothing was published');
  t.equal((await r.command('SN0010', 'open_door', {})).ok, true, 'the connection still carries commands');
});

t.test('bad magic, unknown type and oversize close the connection; other devices go on', async (t) => {
  const r = await rig(t);
  const bystander = r.device('SN-BYSTANDER');
  await bystander.start();
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
    t.equal(await r.protocolErrors(reason), 1, `${reason} counted in gate2mqtt_protocol_errors_total`);
  }
  const online = r.device('SN0011');
  await online.start();
  const big = 'A'.repeat(200 * 1024);
  t.equal((await online.snapshotFace({ snapPic: big })).result, 0, 'after login 200 KiB frames are accepted');
  online.sendRaw(Buffer.from('junk'));
  await within(online.closed, 'closed after junk');
  t.equal((await r.inbox.take(r.topic('SN0011', 'availability'), (p) => p.toString() === 'offline')).payload.toString(), 'offline');
  t.match(await bridgeEvent(r, 'device_disconnected', 'protocol_error'), { deviceId: 'SN0011' });
  t.equal(bystander.connected, true, 'the bystander kept its connection');
  t.equal((await bystander.syncTime()).result, 0, 'and is still served');
  t.equal((await r.command('SN-BYSTANDER', 'open_door', {})).ok, true, 'and still takes commands');
});

t.test('frame limits are configurable, before and after login', async (t) => {
  const r = await rig(t, { maxFrameBytesBeforeLogin: 2048, maxFrameBytes: 8192 });
  const early = r.device('SN-EARLY', { type: 'T'.repeat(2048) });
  await early.connect();
  await t.rejects(early.register(), /connection closed/, 'a register above 2 KiB is not read');
  await bridgeEvent(r, 'protocol_error', 'oversize');
  const sim = r.device('SN-LIMIT');
  await sim.start();
  t.equal((await sim.request('device_call_result', { callNo: '1', callRequestId: 'x', pad: 'p'.repeat(7000) })).result, 0, 'after login 7 KiB is fine');
  const refused = sim.request('device_call_result', { callNo: '1', callRequestId: 'y', pad: 'p'.repeat(8200) });
  await t.rejects(refused, /connection closed/, 'above 8 KiB the connection is closed');
  t.match(await bridgeEvent(r, 'protocol_error', 'oversize'), { deviceId: 'SN-LIMIT' });
  t.equal(await r.protocolErrors('oversize'), 2);
});

t.test('an identity that is not a topic level is refused with 104', async (t) => {
  const r = await rig(t);
  // A control character: Mosquitto closes the connection of a client that publishes to such a
  // topic, so one device's serial must not reach the gateway's link (CI runs this on Mosquitto).
  for (const serial of ['a/b', 'x+y', 'z#', 'SN\u0001', ' SN-PAD']) {
    const sim = r.device(serial, { secret: SECRET });
    await sim.connect();
    t.equal((await sim.register()).result, 104, `register ${serial}`);
    t.equal((await sim.login()).result, 104, `login ${serial}`);
    t.equal(sim.connected, true, 'the connection stays: the framing is intact');
  }
  await bridgeEvent(r, 'protocol_error', 'bad_identity');
  t.equal(await r.protocolErrors('bad_identity'), 10);
  const sim = r.device('SN-AFTER');
  await sim.start();
  t.equal((await r.command('SN-AFTER', 'open_door', {})).ok, true, 'the link to the broker is intact');
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
  t.match(await bridgeEvent(r, 'device_disconnected', 'replaced'), { deviceId: 'SN0014', remote: `127.0.0.1:${String(first.localPort)}` });
  t.equal((await second.syncTime()).result, 0);
  const reply = await r.command('SN0014', 'open_door', {});
  t.equal(reply.ok, true, 'commands reach the new connection');
  t.equal(second.stats.commands, 1, 'and only the new connection');
  const availability = r.topic('SN0014', 'availability');
  await r.inbox.take(availability, (p) => p.toString() === 'online');
  await r.inbox.take(availability, (p) => p.toString() === 'online');
  t.equal(r.inbox.unread(availability), 0, 'no offline in between: the device never went away');
  const info = await r.inbox.json(r.topic('SN0014', 'info'), (i) => i.remote === `127.0.0.1:${String(second.localPort)}`);
  t.match(info, { serial: 'SN0014' }, 'info names the new connection');
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
  const r = await rig(t, { loginTimeoutMs: 1000 });
  const prompt = r.device('SN0018');
  await prompt.start();
  const sim = r.device('SN0019');
  await sim.connect();
  await sim.heartbeat();
  await within(sim.closed, 'closed for want of a login');
  t.match(await bridgeEvent(r, 'auth_failed', 'login_timeout'), { remote: `127.0.0.1:${String(sim.localPort)}` });
  t.equal(prompt.connected, true, 'a device that logged in in time stays');
});

t.test('heartbeats are answered and keep a device online; silence for three periods means offline', async (t) => {
  const r = await rig(t, { heartbeatS: 1 });
  const beating = r.device('SN0017');
  await beating.start();
  const answer = await beating.heartbeat();
  t.match(answer, { msgType: MsgType.HEARTBEAT, version: 3, seq: 0 }, 'answered with a heartbeat');
  t.equal(answer.body.length, 0, 'with an empty body');
  beating.startHeartbeats(250);
  // Logged in after the beating one, so without its heartbeats the beating one would go first.
  const sim = r.device('SN0020');
  await sim.start();
  await within(sim.closed, 'closed after 3 s of silence', 8000);
  t.match(await bridgeEvent(r, 'device_disconnected', 'timeout'), { deviceId: 'SN0020' });
  await r.inbox.take(r.topic('SN0020', 'availability'), (p) => p.toString() === 'offline');
  t.equal(beating.connected, true, 'the heartbeating device is still connected');
  t.equal((await beating.syncTime()).result, 0, 'and served');
});

t.test('clock skew is refused when maxClockSkewS is set', async (t) => {
  const r = await rig(t, { maxClockSkewS: 60 });
  const late = r.device('SN0021', { clockOffsetS: -3600 });
  await late.connect();
  t.equal((await late.register()).result, 104);
  await bridgeEvent(r, 'auth_failed', 'clock_skew');
  const fine = r.device('SN0022', { clockOffsetS: 30 });
  await fine.connect();
  t.equal((await fine.register()).result, 0, 'within the window');
  t.equal((await fine.login()).result, 0);
  const lateLogin = r.device('SN0022', { clockOffsetS: 3600, secret: SECRET });
  await lateLogin.connect();
  t.equal((await lateLogin.login()).result, 104, 'a login outside the window');
});

