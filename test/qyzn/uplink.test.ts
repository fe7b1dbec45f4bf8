// Device-to-platform messages end to end: events, platform requests in both answer modes, media,
// retransmissions, notifications, and the answer that waits for the broker.
import t from 'tap';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import { connectClient } from '../helpers/harness.js';
import { bridgeEvent, rig } from './fixtures/rig.js';

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
  const r = await rig(t, { answers: { qrcode_data: { mode: 'mqtt', timeoutMs: 5000 } } });
  const sim = r.device('SN0006');
  await sim.start();
  // An event: the resend after the answer gets the same answer, with no second event or media.
  const faceSeq = sim.peekSeq();
  const face = await sim.snapshotFace();
  const faceAgain = await sim.retransmit(faceSeq);
  t.same([faceAgain.seq, faceAgain.result, faceAgain.data], [faceSeq, face.result, face.data]);
  // A platform request resent while the platform is still deciding: one request, both answered.
  const seq = sim.peekSeq();
  const first = sim.qrcodeData('door-1');
  const request = await r.inbox.json(r.topic('SN0006', 'request/qrcode_data'));
  const again = sim.retransmit(seq);
  await r.inbox.client.publishAsync(r.topic('SN0006', 'request/qrcode_data/reply'), JSON.stringify({ id: request.id, data: { opendoor: 1 } }));
  t.same((await first).data, { opendoor: 1 });
  t.same([(await again).seq, (await again).data], [seq, { opendoor: 1 }], 'the resend gets the platform answer too');
  t.same((await sim.retransmit(seq)).data, { opendoor: 1 }, 'and so does a resend after the answer');
  // Published in order on one connection, so once this event is here the duplicates would be too.
  await sim.syncTime();
  await r.inbox.json(r.topic('SN0006', 'event/sync_time'));
  t.equal(r.inbox.unread(r.topic('SN0006', 'request/qrcode_data')), 0, 'the request was published once');
  await r.inbox.json(r.topic('SN0006', 'event/snapshot_face'));
  t.equal(r.inbox.unread(r.topic('SN0006', 'event/snapshot_face')), 0, 'the event was published once');
  await r.inbox.take(r.topic('SN0006', 'media/snapPic'));
  t.equal(r.inbox.unread(r.topic('SN0006', 'media/snapPic')), 0, 'its media once');
  const other = await sim.snapshotFace({ score: 11 });
  t.equal(other.result, 0);
  t.match(await r.inbox.json(r.topic('SN0006', 'event/snapshot_face')), { data: { score: 11 } }, 'a new seq is a new event');
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
  // The platform's result by the rule of commands (README "Commands"): "105" is the integer 105.
  const busy = sim.deviceCallParam('306');
  const third = await r.inbox.json(r.topic('SN0008', 'request/device_call_param'), (m) => (m.data as { callNo?: string }).callNo === '306');
  await r.inbox.client.publishAsync(r.topic('SN0008', 'request/device_call_param/reply'), JSON.stringify({ id: third.id, result: '105', desc: 'Nobody answered', data: {} }));
  const refused = await busy;
  t.equal(refused.body.result, 105, 'the terminal gets the integer');
  t.equal(refused.body.desc, 'Nobody answered');
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
  const seq = sim.peekSeq();
  const refused = await sim.snapshotFace({ score: 42 });
  t.equal(refused.result, -1, 'the device gets the protocol failure and retries by itself');
  t.equal(r.inbox.unread(r.topic('SN0030', 'event/snapshot_face')), 0);
  // The broker comes back on the same port; the failed run was not cached, so the retry publishes.
  const again = new EmbeddedBroker({ host: '127.0.0.1', port: Number(new URL(url).port), wsEnabled: false, wsPort: 0, logger: pino({ level: 'silent' }) });
  await again.start();
  t.teardown(() => again.stop());
  await r.inbox.take(r.topic('SN0030', 'availability'), (p) => p.toString() === 'online');
  const retried = await sim.retransmit(seq);
  t.equal(retried.result, 0, 'the retry is answered 0 once the broker took it');
  t.match(await r.inbox.json(r.topic('SN0030', 'event/snapshot_face')), { data: { score: 42 } });
});

t.test('answer modes: snapshot_face and device_sync_person may ask the platform, qrcode_data may answer locally', async (t) => {
  const r = await rig(t, {
    answers: { snapshot_face: { mode: 'mqtt', timeoutMs: 5000 }, device_sync_person: { mode: 'mqtt', timeoutMs: 5000 }, qrcode_data: { mode: 'local' } },
  });
  const sim = r.device('SN0031');
  await sim.start();
  const face = sim.snapshotFace({ score: 88 });
  const asked = await r.inbox.json(r.topic('SN0031', 'request/snapshot_face'));
  t.match(asked, { name: 'snapshot_face', data: { score: 88 } });
  const decided = { snaptime: '2018-11-16 16:10:00', opendoor: 1, screenDisp: '余额不足' };
  await r.inbox.client.publishAsync(r.topic('SN0031', 'request/snapshot_face/reply'), JSON.stringify({ id: asked.id, data: decided }));
  t.same((await face).data, decided, 'the platform opens the door and writes on the screen');
  const person = sim.deviceSyncPerson({ personId: 'P7', faces: [{ faceId: 'F7', image: TINY_JPEG_BASE64 }] });
  const sync = await r.inbox.json(r.topic('SN0031', 'request/device_sync_person'));
  const renamed = { oriPersonId: 'P7', newPersonId: 'P8', faces: [{ oriFaceId: 'F7', newFaceId: 'F9' }] };
  await r.inbox.client.publishAsync(r.topic('SN0031', 'request/device_sync_person/reply'), JSON.stringify({ id: sync.id, result: 101, desc: 'exists', data: renamed }));
  const personAnswer = await person;
  t.same([personAnswer.result, personAnswer.desc, personAnswer.data], [101, 'exists', renamed], 'result, desc and data are the platform own');
  const qr = await sim.qrcodeData('local-1');
  t.same([qr.result, qr.data], [0, { opendoor: 0 }], 'local mode answers the default at once');
  t.match(await r.inbox.json(r.topic('SN0031', 'event/qrcode_data')), { data: { content: 'local-1' } }, 'and publishes an event');
  t.equal(r.inbox.unread(r.topic('SN0031', 'event/snapshot_face')), 0, 'mqtt mode publishes no event');
  t.equal(r.inbox.unread(r.topic('SN0031', 'request/qrcode_data')), 0, 'local mode publishes no request');
});

t.test('a NOTIFICATION is an event, even of a message the platform would otherwise answer', async (t) => {
  const r = await rig(t, { answers: { qrcode_data: { mode: 'mqtt', timeoutMs: 5000 } } });
  const sim = r.device('SN0032');
  await sim.start();
  sim.notify('qrcode_data', { content: 'told-not-asked' });
  t.match(await r.inbox.json(r.topic('SN0032', 'event/qrcode_data')), { name: 'qrcode_data', data: { content: 'told-not-asked' } });
  sim.notify('sync_time', { timestamp: '20190531145826123' });
  await r.inbox.json(r.topic('SN0032', 'event/sync_time'));
  sim.notify('snapshot_face', { score: 5, snapPic: TINY_JPEG_BASE64 });
  t.match(await r.inbox.json(r.topic('SN0032', 'event/snapshot_face')), { data: { score: 5 } });
  t.same((await r.inbox.take(r.topic('SN0032', 'media/snapPic'))).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'));
  t.equal(r.inbox.unread(r.topic('SN0032', 'request/qrcode_data')), 0, 'no platform request for a notification');
  let answered = 0;
  sim.on('response', () => (answered += 1));
  t.equal((await sim.syncTime()).result, 0);
  t.equal(answered, 1, 'notifications got no answer: the only response is the sync_time request one');
});
