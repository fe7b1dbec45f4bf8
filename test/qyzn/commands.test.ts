// Platform-to-device commands end to end: every command of the seed with every seed example (all
// get_configs and config_system groups) through MQTT to a simulated terminal and back, the header
// versions, answers matched by seq, the error-code table, resends.
import t from 'tap';
import { MsgType, RESULTS, messagesTowards } from '../../adapters/qyzn/constants.js';
import { encodeResponse } from '../../adapters/qyzn/encoder.js';
import { TINY_JPEG_BASE64 } from '../../sim/common/jpeg.js';
import type { ReceivedCommand } from '../../sim/qyzn/simulator.js';
import type { JsonObject } from '../../src/adapter.js';
import { notTheNumber } from '../helpers/commands.js';
import { within } from '../helpers/harness.js';
import { bridgeEvent, rig } from './fixtures/rig.js';
import { SEED_COMMAND_EXAMPLES } from './fixtures/seed-examples.js';

const RAISED: Readonly<Record<string, number>> = { add_person_face: 3, config_device_pass_rule: 4 };

t.test('every command of the seed, with each of its seed examples, round trips through MQTT', async (t) => {
  const r = await rig(t);
  const serial = 'SN-ALL';
  const sim = r.device(serial, { headerVersion: 2 });
  await sim.start();
  const names = messagesTowards('platform_to_device');
  t.equal(names.length, 21, 'twenty-one commands');
  for (const name of names) {
    const examples = SEED_COMMAND_EXAMPLES[name] ?? [];
    t.ok(examples.length > 0, `${name} has a seed example`);
    for (const data of examples) {
      const what = `${name} ${JSON.stringify(data).slice(0, 60)}`;
      const reply = await r.command(serial, name, { data });
      t.match(reply, { ok: true, code: 0, message: 'Success', error: null }, `${what}: replied ok`);
      const got = await sim.nextCommand(name);
      t.same([got.msgType, got.data], [MsgType.REQUEST, data], `${what}: the terminal got a REQUEST with the data as published`);
      t.equal(got.version, RAISED[name] ?? 2, `${what}: header version`);
      const answer = reply.data as JsonObject;
      switch (name) {
        case 'add_person':
        case 'add_person_face':
          t.ok(sim.persons.has(String(data.personId)), `${name}: the terminal holds the person`);
          break;
        case 'update_person':
          t.equal(sim.persons.get(String(data.personId))?.name, data.name);
          break;
        case 'delete_person':
          t.notOk(sim.persons.has('100001'), 'the terminal forgot the person');
          break;
        case 'clear_person':
          t.equal(sim.persons.size, 0);
          break;
        case 'snapshot_picture':
          t.same(answer, { image: TINY_JPEG_BASE64 });
          t.same((await r.inbox.take(r.topic(serial, 'media/image'))).payload, Buffer.from(TINY_JPEG_BASE64, 'base64'), 'the image on media/image');
          break;
        case 'sync_person':
          t.same(answer, { person_num: sim.persons.size });
          break;
        case 'swiping_card':
          t.match(answer, { cardType: 0, name: 'Jim', idNum: '420381198802141789', idUsefulLife: '20000101~20300101' });
          break;
        case 'get_configs': {
          const keys = data.groupKey as string[];
          t.same(answer, { RspMsg: keys.length === 1 ? `get_${keys[0] ?? ''}` : 'get_configs', items: keys.map((k) => ({ groupKey: k, ...sim.config[k] })) }, `${what}: every group`);
          break;
        }
        case 'config_system': {
          const [group, settings] = Object.entries(data)[0] ?? [];
          t.same(answer, { RspMsg: `set_${String(group)}` });
          const read = await r.command(serial, 'get_configs', { data: { groupKey: [group] } });
          await sim.nextCommand('get_configs');
          t.match(read, { ok: true, data: { items: [{ groupKey: group, ...(settings as JsonObject) }] } }, `${String(group)}: read back as set`);
          break;
        }
        default:
          t.same(answer, {}, `${what}: no data`);
      }
    }
  }
  const groups = (SEED_COMMAND_EXAMPLES.config_system ?? []).map((d) => Object.keys(d)[0]);
  t.equal(new Set(groups).size, 15, 'all fifteen config_system groups went through');
  t.equal(sim.stats.commands, (Object.values(SEED_COMMAND_EXAMPLES).flat().length) + groups.length, 'nothing else reached the terminal');
});

t.test('numbers sent as strings reach the terminal as the seed\'s integers; what is not the number is refused naming the parameter', async (t) => {
  const r = await rig(t);
  const serial = 'SN-NUMBERS';
  const sim = r.device(serial);
  await sim.start();
  const cases: [string, JsonObject, JsonObject][] = [
    ['snapshot_picture', { timeoutSeconds: '5' }, { timeoutSeconds: 5 }],
    ['online_open_door', { online: '1', mode: '2' }, { online: 1, mode: 2 }],
    ['serial_output', { index: '0', content: '1234EF' }, { index: 0, content: '1234EF' }],
    ['config_system', { audioctl: { level: '12' } }, { audioctl: { level: 12 } }],
  ];
  for (const [name, data, sent] of cases) {
    t.match(await r.command(serial, name, { data }), { ok: true, code: 0 }, `${name} ${JSON.stringify(data)}`);
    t.strictSame((await sim.nextCommand(name)).data, sent, `${name}: the terminal got integers`);
  }
  const before = sim.stats.commands;
  const refused = async (name: string, data: JsonObject): Promise<unknown> => (await r.command(serial, name, { data })).error;
  for (const wrong of notTheNumber(5)) {
    t.strictSame(await refused('snapshot_picture', { timeoutSeconds: wrong }), { type: 'invalid', message: 'data.timeoutSeconds must be integer' }, `timeoutSeconds ${JSON.stringify(wrong)}`);
    t.strictSame(await refused('config_system', { audioctl: { level: wrong } }), { type: 'invalid', message: 'data.audioctl.level must be integer' }, `audioctl.level ${JSON.stringify(wrong)}`);
  }
  t.strictSame(await refused('serial_output', { index: 0, content: 12 }), { type: 'invalid', message: 'data.content must be string' }, 'hex is no number: 12 is not taken for "12"');
  t.equal(sim.stats.commands, before, 'none of them reached the terminal');
});

t.test('the error-code table names every non-zero result; it is a device error', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-ERR');
  await sim.start();
  for (const [code, text] of RESULTS) {
    if (code === 0) continue;
    sim.answerWith('open_door', { result: code, desc: text.zh });
    const message = `${text.en} (${text.zh})`;
    t.match(await r.command('SN-ERR', 'open_door', {}), { ok: false, code, message, data: {}, error: { type: 'device', message } }, `result ${code}`);
  }
  sim.answerWith('open_door', { result: 777, desc: 'vendor specific' });
  t.match(await r.command('SN-ERR', 'open_door', {}), { ok: false, code: 777, message: 'vendor specific', error: { type: 'device' } }, 'a code outside the table keeps the device desc');
});

t.test('answers are matched by seq, whatever their order', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-SEQ');
  await sim.start();
  sim.answerWith('get_configs', 'silent');
  const slow = r.command('SN-SEQ', 'get_configs', { data: { groupKey: ['audioctl'] } });
  const asked = await sim.nextCommand('get_configs');
  t.match(await r.command('SN-SEQ', 'open_door', {}), { ok: true, data: {} }, 'a later command is answered first');
  sim.sendRaw(encodeResponse({ version: 3, seq: (asked.seq + 1000) >>> 0 }, { result: 0, desc: 'Success', data: { stray: true } }));
  sim.sendRaw(encodeResponse({ version: 3, seq: asked.seq }, { result: 0, desc: 'Success', data: [{ groupKey: 'audioctl', level: 7 }], extra: { RspMsg: 'get_audioctl' } }));
  t.match(await slow, { ok: true, data: { RspMsg: 'get_audioctl', items: [{ groupKey: 'audioctl', level: 7 }] } }, 'the late answer on its own seq');
  t.equal(sim.connected, true, 'an answer to no pending command is ignored');
  t.equal((await r.command('SN-SEQ', 'record_clear', {})).ok, true);
});

t.test('an answer after the timeout is no second reply', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-LATE');
  await sim.start();
  sim.answerWith('open_door', 'silent');
  t.match(await r.command('SN-LATE', 'open_door', { timeoutMs: 200 }), { ok: false, error: { type: 'timeout' } });
  const asked = await sim.nextCommand('open_door');
  // The late answer, then the next command's, on one connection: a reply made of the late one would
  // be published before the next one's (r.command checks that no command got two).
  sim.sendRaw(encodeResponse({ version: 3, seq: asked.seq }, { result: 0, desc: 'Success', data: {} }));
  sim.answerWith('open_door', 'answer');
  t.match(await r.command('SN-LATE', 'open_door', {}), { ok: true });
});

t.test('an MQTT 5 command with a response topic is answered there, with its correlation data', async (t) => {
  const r = await rig(t);
  const sim = r.device('SN-RR');
  await sim.start();
  const replies = `${r.base}/my/replies`;
  const { reply, packet } = await r.commands.sendTaking('qyzn', 'SN-RR', 'get_configs', { data: { groupKey: ['version'] } }, { responseTopic: replies, correlationData: Buffer.from('corr-1') });
  t.match(reply, { ok: true, data: { items: [{ groupKey: 'version', devType: 'ZG01-C' }] } });
  t.same(packet.properties?.correlationData, Buffer.from('corr-1'));
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
  t.equal((await sim.deviceCallResult()).version, 5, 'an intercom answer goes out at 5');
  await r.command('SN0015', 'open_door', {});
  t.equal((await sim.nextCommand('open_door')).version, 2, 'neither raised answers nor intercom messages change the device version');
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

t.test('an unanswered command is resent with the same seq while its timeoutMs runs; three unanswered resends close the connection', async (t) => {
  const r = await rig(t, { resendAfterMs: 300 });
  const sim = r.device('SN0016');
  await sim.start();
  const seen: ReceivedCommand[] = [];
  sim.on('command', (command) => seen.push(command));
  sim.answerWith('record_clear', 'silent');
  sim.answerWith('device_restart', 'silent');
  // Times out between the first resend (300 ms) and the second (600 ms): resending stops there.
  t.match(await r.command('SN0016', 'record_clear', { timeoutMs: 450 }), { ok: false, code: null, error: { type: 'timeout' } });
  const reply = r.command('SN0016', 'device_restart', { timeoutMs: 20000 });
  const original = await sim.nextCommand('device_restart');
  for (let i = 1; i <= 3; i++) {
    const resent = await sim.nextCommand('device_restart');
    t.equal(resent.seq, original.seq, `resend ${i} keeps the seq`);
    t.same(resent.data, original.data);
  }
  await within(sim.closed, 'closed after three unanswered resends');
  t.match(await reply, { ok: false, error: { type: 'timeout' } });
  t.match(await bridgeEvent(r, 'device_disconnected', 'timeout'), { deviceId: 'SN0016' });
  const cleared = seen.filter((c) => c.message === 'record_clear');
  t.equal(cleared.length, 2, 'record_clear: sent once, resent once, then no more after its timeout');
  t.equal(cleared[1]?.seq, cleared[0]?.seq);
  t.equal(seen.filter((c) => c.message === 'device_restart').length, 4, 'device_restart: sent and resent three times');
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
  const other = r.device('SN0019');
  await other.start();
  await r.command('SN0019', 'open_door', {});
  const c = await other.nextCommand('open_door');
  t.not(c.seq, a.seq, 'another connection starts elsewhere (random, not a fixed 0 or 1)');
  t.not(c.seq, b.seq);
});

