import fc from 'fast-check';
import t from 'tap';
import type { JsonObject } from '../../src/adapter.js';
import { ProtocolError } from '../../src/errors.js';
import { Code, COMMANDS, SUCCESS_CODES } from '../../adapters/wsdoor/constants.js';
import {
  commandAnswer,
  decodeDeviceMessage,
  normalizeCode,
  normalizeId,
  type DeviceMessage,
} from '../../adapters/wsdoor/decode.js';
import { encodeCommand, encodeRegisterAnswer, encodeResponse } from '../../adapters/wsdoor/encode.js';
import { parseWsText } from '../../adapters/ws-common/json.js';
import { decodeGatewayMessage, encodeHeartbeat, encodeRealtimeEvent, encodeRegister, encodeReply } from '../../sim/wsdoor/codec.js';
import { COMMAND_ID, commands, device, replies, responses } from './fixtures/seed-examples.js';

const parse = (text: string): JsonObject => parseWsText(text, 1 << 20).message;
const none = (): boolean => false;
const pending = (id: string): boolean => id === COMMAND_ID;

t.test('every terminal upload of the seed is read as what it is', async (t) => {
  const cases: Array<[string, string, Partial<DeviceMessage>]> = [
    ['register', device.register, { kind: 'register', sn: '486468465489', info: { ip: '192.168.0.102', mac: '31231E2EW12W12', sn: '486468465489', type: '0' } }],
    ['heartbeat', device.heartbeat, { kind: 'heartbeat', data: { time: '2023-12-25 15:47:30' } }],
    [
      'realtimeEvent, a passage',
      device.realtimeEventPassage,
      { kind: 'realtimeEvent', eventid: '20240115113644', data: { eventid: '20240115113644', type: '1', data: { userId: '77986', img: 'base64...', door: '0' } } },
    ],
    [
      'realtimeEvent, a user added at the terminal',
      device.realtimeEventUserAdded,
      { kind: 'realtimeEvent', eventid: '20240115113644', data: { eventid: '20240115113644', type: '2', data: { user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', role: '0', img: 'base64.....' } } },
    ],
  ];
  for (const [what, text, expected] of cases) t.same(decodeDeviceMessage(parse(text), none), expected, what);
});

t.test('every command answer of the seed settles its command and reads as a success', async (t) => {
  const expected: Record<keyof typeof replies, { code: string; data: JsonObject | null; media?: string[] }> = {
    addUser: { code: '200', data: null },
    deleteUser: { code: '200', data: null },
    editUser: { code: '200', data: null },
    selectUser: { code: '203', data: { content: [{ user: 'lisi', userId: '12384865', pwd: '1234', name: '李四', role: '0', img: 'base64.....' }] } },
    compareUser: { code: '204', data: { exit: '1' } },
    queryEvent: { code: '208', data: { eventid: '20240115113644', type: '1', data: { userId: '77986', img: 'base64...', door: '0' } }, media: ['data.img'] },
  };
  for (const [name, text] of Object.entries(replies) as Array<[keyof typeof replies, string]>) {
    const decoded = decodeDeviceMessage(parse(text), pending);
    t.equal(decoded.kind, 'reply', `${name}: a reply`);
    if (decoded.kind !== 'reply') continue;
    t.equal(decoded.commandId, COMMAND_ID);
    const answer = commandAnswer(decoded);
    const want = expected[name];
    t.same(answer, { ok: true, code: want.code, message: null, data: want.data, ...(want.media ? { media: want.media } : {}) }, name);
  }
});

t.test('a pending commandId makes any code a reply; without one, codes decide', async (t) => {
  // 207 is also "query answered" (seed 4.2): with a pending commandId it is the command's answer.
  const queryAs207 = { code: '207', content: { eventid: 'e1', type: '1', data: {} }, commandId: COMMAND_ID };
  t.match(decodeDeviceMessage(queryAs207, pending), { kind: 'reply', code: '207' });
  t.match(commandAnswer({ commandId: COMMAND_ID, code: '207', body: { content: {} } }), { ok: true });
  // The same answer once its command timed out is late, not a broken event...
  t.same(decodeDeviceMessage(queryAs207, none), { kind: 'stale', commandId: COMMAND_ID, code: '207' });
  // ...while a 207 shaped as an event is an event, whatever commandId it carries.
  const eventWithId = { code: '207', data: { eventid: 'e2', type: '1', data: {} }, commandId: 'x' };
  t.match(decodeDeviceMessage(eventWithId, none), { kind: 'realtimeEvent', eventid: 'e2' });
  // A late 203 answer is nobody's: ignored, not refused.
  t.same(decodeDeviceMessage(parse(replies.selectUser), none), { kind: 'stale', commandId: COMMAND_ID, code: '203' });
  t.match(decodeDeviceMessage({ code: '500', data: 'busy', commandId: COMMAND_ID }, pending), { kind: 'reply', code: '500' });
  t.match(decodeDeviceMessage({ data: 'no code', commandId: COMMAND_ID }, pending), { kind: 'reply', code: null });
  t.match(decodeDeviceMessage({ code: 205, data: { sn: 42 } }, none), { kind: 'register', sn: 42 }, 'numeric codes are read too');
});

t.test('messages the terminal should not send are refused with a reason', async (t) => {
  const cases: Array<[JsonObject, string]> = [
    [{ data: {} }, 'bad_message'],
    [{ code: 'abc' }, 'bad_message'],
    [{ code: '999', data: {} }, 'unknown_code'],
    [{ code: '200', data: '' }, 'unknown_code'],
    [{ code: '205', data: 'x' }, 'bad_identity'],
    [{ code: '207', data: { type: '1' } }, 'bad_message'],
    [{ code: '207' }, 'bad_message'],
  ];
  for (const [message, reason] of cases) {
    t.match(decodeDeviceMessage(message, none), { kind: 'invalid', reason }, JSON.stringify(message));
  }
});

t.test('answers: success codes, 500 and others, data or content', async (t) => {
  t.same([...SUCCESS_CODES].sort(), ['200', '203', '204', '207', '208']);
  t.same(commandAnswer({ commandId: '1', code: '500', body: { data: 'user exists' } }), {
    ok: false, code: '500', message: 'user exists', data: null,
  });
  t.same(commandAnswer({ commandId: '1', code: '500', body: { data: '' } }), {
    ok: false, code: '500', message: 'the terminal answered code 500', data: null,
  });
  t.same(commandAnswer({ commandId: '1', code: '206', body: {} }), { ok: false, code: '206', message: 'the terminal answered code 206', data: null });
  t.same(commandAnswer({ commandId: '1', code: null, body: {} }), { ok: false, code: null, message: 'the terminal answered without a code', data: null });
  t.same(commandAnswer({ commandId: '1', code: '200', body: { data: { a: 1 } } }), { ok: true, code: '200', message: null, data: { a: 1 } });
  t.same(commandAnswer({ commandId: '1', code: '200', body: { data: [1] } }), { ok: true, code: '200', message: null, data: { data: [1] } });
  t.notOk(commandAnswer({ commandId: '1', code: '208', body: { content: { data: { img: '' } } } }).media, 'an empty image is not media');
});

t.test('the gateway writes what the seed shows, byte for byte', async (t) => {
  t.equal(JSON.stringify(encodeRegisterAnswer(20)), responses.register);
  t.equal(JSON.stringify(encodeResponse(Code.ok)), responses.heartbeat);
  t.equal(JSON.stringify(encodeResponse(Code.ok)), responses.realtimeEvent);
  t.same(encodeResponse(Code.failure, 'not registered'), { command: 'response', content: { code: '500', data: 'not registered' } });
  t.equal(JSON.stringify(encodeCommand(COMMAND_ID, 'addUser', parse(commands.addUser).content as JsonObject)), commands.addUser);
  for (const [name, text] of Object.entries(commands)) {
    const seed = parse(text);
    t.same(encodeCommand(COMMAND_ID, seed.command as string, seed.content as JsonObject), seed, name);
  }
});

t.test('the simulator writes what the seed shows, and the gateway reads it back', async (t) => {
  const register = parse(device.register).data as { ip: string; mac: string; sn: string; type: string };
  t.equal(JSON.stringify(encodeRegister(register)), device.register);
  t.equal(JSON.stringify(encodeHeartbeat('2023-12-25 15:47:30')), device.heartbeat);
  for (const text of [device.realtimeEventPassage, device.realtimeEventUserAdded]) {
    const seed = parse(text);
    const event = seed.data as { eventid: string; type: string; data: JsonObject };
    t.same(encodeRealtimeEvent(event), seed);
  }
  t.equal(JSON.stringify(encodeReply(COMMAND_ID, '200', { data: '' })), replies.addUser);
  t.equal(JSON.stringify(encodeReply(COMMAND_ID, '203', { content: (parse(replies.selectUser).content) })), replies.selectUser);
  t.same(encodeReply(COMMAND_ID, '208', { content: parse(replies.queryEvent).content }), parse(replies.queryEvent));
});

t.test('the simulator reads the gateway: responses and every command', async (t) => {
  t.same(decodeGatewayMessage(parse(responses.register)), { kind: 'response', code: '200', interval: '20', data: '' });
  t.same(decodeGatewayMessage(parse(responses.heartbeat)), { kind: 'response', code: '200', interval: undefined, data: '' });
  for (const [name, text] of Object.entries(commands)) {
    const seed = parse(text);
    t.same(decodeGatewayMessage(seed), { kind: 'command', commandId: COMMAND_ID, name: seed.command, content: seed.content }, name);
  }
  t.match(decodeGatewayMessage({ hello: 1 }), { kind: 'unknown' });
  t.same([...COMMANDS], ['addUser', 'deleteUser', 'editUser', 'selectUser', 'compareUser', 'queryEvent']);
});

t.test('codes and ids are read from strings or integers', async (t) => {
  const codes: Array<[unknown, string | undefined]> = [
    ['200', '200'], [200, '200'], [' 205 ', '205'], ['20x', undefined], [200.5, undefined], [null, undefined], ['', undefined],
  ];
  for (const [input, output] of codes) t.equal(normalizeCode(input), output, JSON.stringify(input));
  const ids: Array<[unknown, string | undefined]> = [['abc', 'abc'], [12, '12'], ['', undefined], [1.5, undefined], [{}, undefined]];
  for (const [input, output] of ids) t.equal(normalizeId(input), output, JSON.stringify(input));
});

t.test('property: any JSON object decodes to one known kind and never throws', async () => {
  const kinds = new Set(['reply', 'stale', 'register', 'heartbeat', 'realtimeEvent', 'invalid']);
  const code = fc.oneof(fc.constantFrom('200', '203', '205', '206', '207', '208', '500', 205, 207), fc.jsonValue());
  const message = fc.record(
    { code, commandId: fc.oneof(fc.constant(COMMAND_ID), fc.jsonValue()), data: fc.jsonValue(), content: fc.jsonValue() },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(message, fc.boolean(), (m, isPending) => {
      const decoded = decodeDeviceMessage(m as JsonObject, () => isPending);
      if (!kinds.has(decoded.kind)) throw new Error(`kind ${decoded.kind}`);
      if (decoded.kind === 'reply') commandAnswer(decoded);
    }),
  );
});

t.test('property: reading any text as a message either works or is a ProtocolError', async () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify(v))), (text) => {
      try {
        parseWsText(text, 1 << 20);
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
      }
    }),
  );
});
