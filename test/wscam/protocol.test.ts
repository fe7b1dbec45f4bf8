import fc from 'fast-check';
import t from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { parseWsText } from '../../adapters/ws-common/json.js';
import { COMMANDS, Ret } from '../../adapters/wscam/constants.js';
import {
  checkTimestamp,
  commandAnswer,
  decodeDeviceMessage,
  hbIntervalOf,
  intOf,
  type CamReply,
  type DeviceMessage,
} from '../../adapters/wscam/decode.js';
import { encodeAnswer, encodeCommand } from '../../adapters/wscam/encode.js';
import { decodeGatewayMessage, encodeCommandReply, encodeHeartbeat, encodeUploadSnapshot } from '../../sim/wscam/codec.js';
import { commands, REQUEST_ID, replies, SEED_TIME, SN, uploads } from './fixtures/seed-examples.js';

const parse = (text: string): JsonObject => parseWsText(text, 1 << 20).message;
const none = (): boolean => false;
const pending = (id: string): boolean => id === REQUEST_ID;
const compact = (text: string): string => JSON.stringify(JSON.parse(text));

t.test('every camera request of the seed is read as what it is', async (t) => {
  const cases: Array<[string, DeviceMessage]> = [
    [uploads.heartbeat, { kind: 'heartbeat', operate: 'heartbeat', requestId: REQUEST_ID, sn: SN, timestamp: SEED_TIME }],
    [
      uploads.upload_snapshot,
      { kind: 'upload_snapshot', operate: 'upload_snapshot', requestId: REQUEST_ID, sn: '290200001002', timestamp: SEED_TIME, data: { data: '' } },
    ],
  ];
  for (const [text, expected] of cases) t.same(decodeDeviceMessage(parse(text), none), expected, expected.kind);
});

t.test('every command answer of the seed settles its command', async (t) => {
  const expected: Record<keyof typeof replies, JsonObject> = {
    get_dev_config: { mac: '11:22:33', upload_type: 0, upload_addr: 'http://bd.com/api', hb_interval: 60, run_time: 1000 },
    set_dev_config: {},
    upgrade_dev: {},
    control_cmd: {},
  };
  for (const [name, text] of Object.entries(replies) as Array<[keyof typeof replies, string]>) {
    const decoded = decodeDeviceMessage(parse(text), pending);
    t.match(decoded, { kind: 'reply', requestId: REQUEST_ID, operate: `${name}_rsp`, sn: SN, ret: 0, msg: '' }, name);
    if (decoded.kind !== 'reply') continue;
    t.same(commandAnswer(name, decoded), { ok: true, code: 0, message: null, data: expected[name] }, `${name}: the reply`);
  }
  t.same(decodeDeviceMessage(parse(replies.upgrade_dev), none), { kind: 'stale', operate: 'upgrade_dev_rsp', requestId: REQUEST_ID }, 'an answer nobody waits for');
});

t.test('control_cmd answers: take_snapshot image as media/data, io_control without data; failures', async (t) => {
  const reply = (rest: JsonObject, ret: number | null = 0, msg: string | null = ''): CamReply => ({ requestId: '1', operate: 'control_cmd_rsp', sn: SN, ret, msg, rest });
  t.same(commandAnswer('control_cmd', reply({ cmd_data: { type: 'take_snapshot', data: 'AAAA' } })), {
    ok: true, code: 0, message: null, data: { type: 'take_snapshot', data: 'AAAA' }, media: ['data'],
  });
  t.same(commandAnswer('control_cmd', reply({ cmd_data: { type: 'io_control', data: null } })), {
    ok: true, code: 0, message: null, data: { type: 'io_control', data: null },
  });
  t.same(commandAnswer('control_cmd', reply({ cmd_data: { type: 'take_snapshot', data: '' } })).media, undefined, 'no empty media');
  t.same(commandAnswer('upgrade_dev', reply({}, 3, 'download failed')), { ok: false, code: 3, message: 'download failed', data: {} });
  t.same(commandAnswer('upgrade_dev', reply({}, -1, '')), { ok: false, code: -1, message: 'the camera answered ret -1', data: {} });
  t.same(commandAnswer('upgrade_dev', reply({}, null, null)), { ok: false, code: null, message: 'the camera answered ret missing', data: {} });
  t.match(decodeDeviceMessage({ operate: 'upgrade_dev_rsp', request_id: REQUEST_ID, ret: '0' }, pending), { kind: 'reply', ret: 0 }, 'ret as a string');
});

t.test('requests the camera should not send', async (t) => {
  t.match(decodeDeviceMessage({ request_id: '1' }, none), { kind: 'invalid', reason: 'bad_message', answer: undefined });
  t.match(decodeDeviceMessage({ operate: '' }, none), { kind: 'invalid', answer: undefined });
  t.match(decodeDeviceMessage({ operate: 'heartbeat', sn: SN }, none), {
    kind: 'invalid', name: 'heartbeat', reason: 'bad_message', answer: { operate: 'heartbeat', requestId: undefined, sn: SN },
  });
  t.match(decodeDeviceMessage({ operate: 'reboot', request_id: 7, sn: SN, timestamp: 1 }, none), { kind: 'unknown', operate: 'reboot', requestId: 7 });
  t.match(decodeDeviceMessage({ operate: 'get_dev_config_rsp', ret: 0 }, none), { kind: 'invalid', name: 'reply' });
});

t.test('timestamps: within ±maxSkewS of now, as numbers or digit strings; 0 turns the check off', async (t) => {
  const now = SEED_TIME + 300;
  t.equal(checkTimestamp(SEED_TIME, now, 300), undefined, 'exactly 300 s behind');
  t.equal(checkTimestamp(now + 300, now, 300), undefined, 'exactly 300 s ahead');
  t.equal(checkTimestamp(String(SEED_TIME), now, 300), undefined);
  t.same(checkTimestamp(SEED_TIME - 1, now, 300), { ret: Ret.clockSkew, reason: 'clock_skew', message: 'timestamp is 301 s behind the gateway clock (at most 300)' });
  t.match(checkTimestamp(now + 301, now, 300), { ret: Ret.clockSkew, message: /ahead/ });
  t.match(checkTimestamp(undefined, now, 300), { ret: Ret.badRequest, reason: 'bad_message' });
  t.match(checkTimestamp('soon', now, 300), { ret: Ret.badRequest });
  t.match(checkTimestamp(1.5, now, 300), { ret: Ret.badRequest });
  t.equal(checkTimestamp(undefined, now, 0), undefined);
  t.equal(checkTimestamp(0, now, 0), undefined);
});

t.test('the gateway writes what the seed shows', async (t) => {
  t.equal(JSON.stringify(encodeAnswer('heartbeat', REQUEST_ID, SN, Ret.ok)), compact(uploads.heartbeat_rsp));
  t.equal(JSON.stringify(encodeAnswer('upload_snapshot', REQUEST_ID, SN, Ret.ok)), compact(uploads.upload_snapshot_rsp));
  for (const [name, text] of Object.entries(commands)) {
    const seed = parse(text);
    const { operate: _o, request_id: _r, timestamp: _ts, sn: _sn, ...data } = seed;
    t.equal(JSON.stringify(encodeCommand(name, REQUEST_ID, SN, SEED_TIME, data)), compact(text), name);
  }
  t.same(
    encodeCommand('set_dev_config', 'r1', SN, 5, { hb_interval: 30, sn: 'other', operate: 'x', request_id: 'y', timestamp: 1 }),
    { operate: 'set_dev_config', request_id: 'r1', timestamp: 5, sn: SN, hb_interval: 30 },
    'command data never overrides the envelope',
  );
  t.same(encodeAnswer('heartbeat', undefined, '', Ret.badRequest, 'why'), { operate: 'heartbeat_rsp', sn: '', ret: 1, msg: 'why' });
});

t.test('the simulator writes what the seed shows, and reads the gateway', async (t) => {
  t.equal(JSON.stringify(encodeHeartbeat({ requestId: REQUEST_ID, timestamp: SEED_TIME, sn: SN })), compact(uploads.heartbeat));
  t.equal(JSON.stringify(encodeUploadSnapshot({ requestId: REQUEST_ID, timestamp: SEED_TIME, sn: '290200001002' }, '')), compact(uploads.upload_snapshot));
  const config = parse(replies.get_dev_config);
  const { operate: _o, request_id: _r, sn: _s, ret: _ret, msg: _m, ...results } = config;
  t.equal(JSON.stringify(encodeCommandReply('get_dev_config', REQUEST_ID, SN, 0, '', results)), compact(replies.get_dev_config));
  for (const name of ['set_dev_config', 'upgrade_dev', 'control_cmd'] as const) {
    t.equal(JSON.stringify(encodeCommandReply(name, REQUEST_ID, SN, 0, '')), compact(replies[name]), name);
  }
  for (const [name, text] of Object.entries(commands)) {
    t.match(decodeGatewayMessage(parse(text)), { kind: 'command', name, requestId: REQUEST_ID, sn: SN, timestamp: SEED_TIME }, name);
  }
  t.same(decodeGatewayMessage(parse(uploads.heartbeat_rsp)), { kind: 'answer', operate: 'heartbeat_rsp', requestId: REQUEST_ID, sn: SN, ret: 0, msg: '' });
  t.match(decodeGatewayMessage({ operate: 'x' }), { kind: 'unknown' });
  t.same([...COMMANDS], ['get_dev_config', 'set_dev_config', 'upgrade_dev', 'control_cmd']);
});

t.test('ints and hb_interval', async (t) => {
  const ints: Array<[unknown, number | undefined]> = [[0, 0], [-1, -1], ['60', 60], [' 7 ', 7], ['x', undefined], [1.5, undefined], [null, undefined]];
  for (const [input, output] of ints) t.equal(intOf(input), output, JSON.stringify(input));
  const hb: Array<[unknown, number | undefined]> = [[15, 15], [360, 360], [10, 10], [0, undefined], [361, undefined], ['60', 60], [1.5, undefined]];
  for (const [input, output] of hb) t.equal(hbIntervalOf(input), output, JSON.stringify(input));
});

t.test('property: any JSON object decodes to one known kind and never throws', async () => {
  const kinds = new Set(['reply', 'stale', 'heartbeat', 'upload_snapshot', 'unknown', 'invalid']);
  const message = fc.record(
    {
      operate: fc.oneof(fc.constantFrom('heartbeat', 'upload_snapshot', 'get_dev_config_rsp', 'control_cmd_rsp', 'x'), fc.jsonValue()),
      request_id: fc.oneof(fc.constant(REQUEST_ID), fc.jsonValue()),
      sn: fc.jsonValue(),
      timestamp: fc.oneof(fc.integer(), fc.jsonValue()),
      ret: fc.jsonValue(),
      msg: fc.jsonValue(),
      cmd_data: fc.jsonValue(),
      data: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(message, fc.boolean(), fc.integer(), (m, isPending, now) => {
      const decoded = decodeDeviceMessage(m as JsonObject, () => isPending);
      if (!kinds.has(decoded.kind)) throw new Error(`kind ${decoded.kind}`);
      if (decoded.kind === 'reply') commandAnswer('control_cmd', decoded);
      checkTimestamp(m.timestamp, now, 300);
    }),
  );
});
