import t from 'tap';
import fc from 'fast-check';
import { decodeMessage, decodeResponse } from '../../adapters/qyzn/body.js';
import { MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame, encodeHeartbeat, encodeMessage, encodeResponse, unixSeconds } from '../../adapters/qyzn/encoder.js';
import { FrameParser } from '../../adapters/qyzn/parser.js';
import { GOLDEN_DATA, GOLDEN_REGISTER, feed } from './fixtures/frames.js';

const parseOne = (bytes: Buffer) => {
  const { frames, error } = feed(new FrameParser({ maxBodyBytes: 1 << 20 }), bytes);
  if (error || frames.length !== 1) throw new Error(`expected one frame, got ${frames.length} ${String(error)}`);
  return frames[0]!;
};

t.test('encodes the seed register frame byte for byte', async (t) => {
  const bytes = encodeMessage({ version: 3, seq: 16, timestamp: 1564535879 }, 'register', GOLDEN_DATA);
  t.same(bytes, GOLDEN_REGISTER);
});

t.test('encode table', async (t) => {
  const cases: Array<[string, Buffer, string]> = [
    ['heartbeat', encodeHeartbeat(2, 0, 0x01020304), '5159 5a4e 02 01 01 00 04030201 00000000 00000000'],
    ['empty notification body', encodeFrame({ version: 5, msgType: MsgType.NOTIFICATION, seq: 0x0a0b0c0d, timestamp: 0 }), '5159 5a4e 05 02 01 00 00000000 0d0c0b0a 00000000'],
    ['response', encodeResponse({ version: 3, seq: 1, timestamp: 0 }, { result: 0, desc: 'OK' }), '5159 5a4e 03 04 01 00 00000000 01000000 22000000'],
    ['explicit data type and resv', encodeFrame({ version: 4, msgType: MsgType.REQUEST, seq: 2, timestamp: 0, dataType: 7, resv: 9 }, Buffer.from('{}')), '5159 5a4e 04 03 07 09 00000000 02000000 02000000 7b7d'],
  ];
  for (const [name, bytes, hex] of cases) t.equal(bytes.subarray(0, hex.replace(/\s/g, '').length / 2).toString('hex'), hex.replace(/\s/g, ''), name);
  t.same(decodeResponse(parseOne(cases[2]![1]).body), { result: 0, desc: 'OK', data: {}, extra: {} });
});

t.test('responses carry extra keys (intercom answers name their message)', async (t) => {
  const frame = parseOne(encodeResponse({ version: 5, seq: 3 }, { result: 104, desc: 'Wrong call number', data: {}, extra: { message: 'device_call_param' } }));
  t.match(frame, { version: 5, msgType: MsgType.RESPONSE, seq: 3 });
  t.same(JSON.parse(frame.body.toString()), { message: 'device_call_param', result: 104, desc: 'Wrong call number', data: {} });
});

t.test('the timestamp defaults to now', async (t) => {
  const before = unixSeconds();
  const frame = parseOne(encodeMessage({ version: 2, seq: 1 }, 'x'));
  t.ok(frame.timestamp >= before && frame.timestamp <= unixSeconds());
  t.equal(unixSeconds(1_564_535_879_999), 1564535879);
});

t.test('out-of-range header fields are programming errors', async (t) => {
  t.throws(() => encodeFrame({ version: 256, msgType: MsgType.REQUEST, seq: 0 }), RangeError);
  t.throws(() => encodeFrame({ version: 2, msgType: MsgType.REQUEST, seq: -1 }), RangeError);
  t.throws(() => encodeFrame({ version: 2, msgType: MsgType.REQUEST, seq: 2 ** 32 }), RangeError);
  t.throws(() => encodeFrame({ version: 2, msgType: MsgType.REQUEST, seq: 1.5 }), RangeError);
  t.throws(() => encodeFrame({ version: 2, msgType: MsgType.REQUEST, seq: 1, timestamp: -5 }), RangeError);
});

t.test('property: encode then parse round-trips header and JSON body', async (t) => {
  // Keys the decoder refuses on purpose (at any depth, padded or not) are not round-trip material.
  const unsafe = /"\s*(__proto__|constructor|prototype)\s*"/;
  const json = fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }).filter((d) => !unsafe.test(JSON.stringify(d)));
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 255 }),
      fc.constantFrom(MsgType.REQUEST, MsgType.NOTIFICATION),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.string({ minLength: 1, maxLength: 20 }).filter((s) => s.trim() !== ''),
      json,
      (version, msgType, seq, timestamp, message, data) => {
        const frame = parseOne(encodeMessage({ version, msgType, seq, timestamp }, message, data));
        const body = decodeMessage(frame.body);
        return (
          frame.version === version &&
          frame.msgType === msgType &&
          frame.seq === seq &&
          frame.timestamp === timestamp &&
          frame.dataType === 1 &&
          body.message === message.trim() &&
          JSON.stringify(body.raw.data) === JSON.stringify(JSON.parse(JSON.stringify(data)))
        );
      },
    ),
    { numRuns: 300 },
  );
  t.pass('300 runs');
});
