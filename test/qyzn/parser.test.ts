import t from 'tap';
import fc from 'fast-check';
import { decodeMessage } from '../../adapters/qyzn/body.js';
import { HEADER_SIZE, MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame } from '../../adapters/qyzn/encoder.js';
import { FrameParser, type Frame } from '../../adapters/qyzn/parser.js';
import { registerSign, signMatches } from '../../adapters/qyzn/sign.js';
import { ProtocolError } from '../../src/errors.js';
import { GOLDEN_DATA, GOLDEN_REGISTER, feed, frameBytes, request, splitAt } from './fixtures/frames.js';

const KiB = 1024;
const MiB = 1024 * KiB;

function parseAll(chunks: readonly Buffer[], maxBodyBytes = 64 * KiB): { frames: Frame[]; error?: ProtocolError } {
  const parser = new FrameParser({ maxBodyBytes });
  const frames: Frame[] = [];
  for (const chunk of chunks) {
    const result = feed(parser, chunk);
    frames.push(...result.frames);
    if (result.error) return { frames, error: result.error };
  }
  return { frames };
}

t.test('golden vector: the seed register frame (1.4)', async (t) => {
  t.equal(GOLDEN_REGISTER.length, HEADER_SIZE + 161);
  const { frames, error } = parseAll([GOLDEN_REGISTER]);
  t.equal(error, undefined);
  t.equal(frames.length, 1);
  const frame = frames[0] as Frame;
  t.match(frame, { version: 3, msgType: MsgType.REQUEST, dataType: 1, resv: 0, timestamp: 1564535879, seq: 16 });
  t.equal(frame.body.length, 161, 'datasize 161');
  const body = decodeMessage(frame.body);
  t.equal(body.message, 'register');
  t.same(body.data, GOLDEN_DATA);
  const { serial, mac, timestamp, sign } = body.data as typeof GOLDEN_DATA;
  t.ok(signMatches(registerSign(serial, mac, timestamp), sign), 'its sign verifies');
  t.same(frameBytes(frame), GOLDEN_REGISTER, 're-encodes to the same bytes');
});

t.test('golden vector one byte at a time', async (t) => {
  const parser = new FrameParser({ maxBodyBytes: 64 * KiB });
  const frames: Frame[] = [];
  for (let i = 0; i < GOLDEN_REGISTER.length; i++) {
    const { frames: got, error } = feed(parser, GOLDEN_REGISTER.subarray(i, i + 1));
    t.equal(error, undefined);
    frames.push(...got);
    if (i < GOLDEN_REGISTER.length - 1) t.equal(got.length, 0);
  }
  t.equal(frames.length, 1);
});

t.test('parse table', async (t) => {
  const cases: Array<{ name: string; header: Omit<Frame, 'body'>; body: string }> = [
    { name: 'heartbeat, empty body', header: { version: 2, msgType: MsgType.HEARTBEAT, dataType: 1, resv: 0, timestamp: 0, seq: 0 }, body: '' },
    {
      name: 'notification',
      header: { version: 5, msgType: MsgType.NOTIFICATION, dataType: 1, resv: 0, timestamp: 1_700_000_000, seq: 7 },
      body: '{"message":"logout","data":{}}',
    },
    {
      name: 'response with extreme seq and timestamp',
      header: { version: 255, msgType: MsgType.RESPONSE, dataType: 0, resv: 255, timestamp: 0xffffffff, seq: 0xffffffff },
      body: '{"result":0,"desc":"Success","data":{}}',
    },
    {
      name: 'utf-8 body',
      header: { version: 3, msgType: MsgType.REQUEST, dataType: 1, resv: 0, timestamp: 1, seq: 1 },
      body: '{"message":"snapshot_face","data":{"fullName":"韩梅梅"}}',
    },
  ];
  for (const c of cases) {
    const bytes = encodeFrame(c.header, Buffer.from(c.body, 'utf8'));
    t.equal(bytes.readUInt32LE(16), Buffer.byteLength(c.body), `${c.name}: datasize counts bytes`);
    const { frames, error } = parseAll([bytes]);
    t.equal(error, undefined, c.name);
    t.same(frames, [{ ...c.header, body: Buffer.from(c.body, 'utf8') }], c.name);
  }
});

t.test('many frames in one chunk, and a chunk ending mid-header', async (t) => {
  const bytes = Buffer.concat([request(1, 'a'), encodeFrame({ version: 3, msgType: MsgType.HEARTBEAT, seq: 0 }), request(2, 'b'), request(3, 'c')]);
  const parser = new FrameParser({ maxBodyBytes: 1024 });
  const first = feed(parser, bytes.subarray(0, bytes.length - 30));
  t.same(first.frames.map((f) => f.seq), [1, 0, 2]);
  const rest = feed(parser, bytes.subarray(bytes.length - 30));
  t.same(rest.frames.map((f) => f.seq), [3]);
});

function header(fields: { magic?: string; msgType?: number; datasize: number }): Buffer {
  const h = Buffer.alloc(HEADER_SIZE);
  h.write(fields.magic ?? 'QYZN', 0, 'latin1');
  h.writeUInt8(3, 4);
  h.writeUInt8(fields.msgType ?? MsgType.REQUEST, 5);
  h.writeUInt32LE(fields.datasize, 16);
  return h;
}

t.test('errors are reported, typed and sticky', async (t) => {
  const cases: Array<{ name: string; bytes: Buffer; limit?: number; reason: string }> = [
    { name: 'garbage first byte', bytes: Buffer.from('GET / HTTP/1.1\r\n'), reason: 'bad_magic' },
    { name: 'fourth magic byte wrong', bytes: header({ magic: 'QYZX', datasize: 0 }), reason: 'bad_magic' },
    { name: 'lowercase magic', bytes: header({ magic: 'qyzn', datasize: 0 }), reason: 'bad_magic' },
    { name: 'msgType 0', bytes: header({ msgType: 0, datasize: 0 }), reason: 'unknown_type' },
    { name: 'msgType 5', bytes: header({ msgType: 5, datasize: 0 }), reason: 'unknown_type' },
    { name: 'msgType 255', bytes: header({ msgType: 255, datasize: 0 }), reason: 'unknown_type' },
    { name: 'one byte over 64 KiB', bytes: header({ datasize: 64 * KiB + 1 }), reason: 'oversize' },
    { name: 'u32 max', bytes: header({ datasize: 0xffffffff }), limit: 8 * MiB, reason: 'oversize' },
    { name: 'limit 0, body 1', bytes: header({ datasize: 1 }), limit: 0, reason: 'oversize' },
  ];
  for (const c of cases) {
    const parser = new FrameParser({ maxBodyBytes: c.limit ?? 64 * KiB });
    const got = feed(parser, c.bytes);
    t.type(got.error, ProtocolError, c.name);
    t.equal(got.error?.reason, c.reason, c.name);
    t.equal(got.error?.code, 'G2M_ERR_PROTOCOL', c.name);
    const after = feed(parser, request(1, 'x'));
    t.same(after.frames, [], `${c.name}: no frame after the stream broke`);
    t.equal(after.error, got.error, `${c.name}: the same error again`);
  }
});

t.test('bad magic is caught on its first byte', async (t) => {
  const parser = new FrameParser({ maxBodyBytes: 10 });
  t.equal(feed(parser, Buffer.from('Q')).error, undefined);
  t.equal(feed(parser, Buffer.from('X')).error?.reason, 'bad_magic');
});

t.test('oversize is refused on the header alone, before any body byte', async (t) => {
  const parser = new FrameParser({ maxBodyBytes: 64 * KiB });
  const got = feed(parser, header({ datasize: 8 * MiB }));
  t.equal(got.error?.reason, 'oversize');
  t.same(feed(parser, Buffer.alloc(16)).frames, [], 'and the body that follows is not read');
});

t.test('frames before an error in the same chunk are still returned', async (t) => {
  const { frames, error } = parseAll([Buffer.concat([request(1, 'a'), request(2, 'b'), Buffer.from('junk')])]);
  t.same(frames.map((f) => f.seq), [1, 2]);
  t.equal(error?.reason, 'bad_magic');
});

t.test('the limit can change at any time: 64 KiB before login, 8 MiB after', async (t) => {
  const big = encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 9 }, Buffer.alloc(64 * KiB + 1, 0x20));
  t.equal(feed(new FrameParser({ maxBodyBytes: 64 * KiB }), big).error?.reason, 'oversize');
  const parser = new FrameParser({ maxBodyBytes: 64 * KiB });
  t.equal(feed(parser, encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 1 }, Buffer.alloc(64 * KiB, 0x20))).frames.length, 1, 'exactly the limit is fine');
  parser.maxBodyBytes = 8 * MiB;
  t.equal(parser.maxBodyBytes, 8 * MiB);
  t.same(feed(parser, big).frames.map((f) => f.body.length), [64 * KiB + 1]);
  // Lowered while a body is on its way: the body accepted under the old limit completes.
  const half = big.subarray(0, 1000);
  t.same(feed(parser, half).frames, []);
  parser.maxBodyBytes = 10;
  t.same(feed(parser, big.subarray(1000)).frames.map((f) => f.seq), [9]);
  t.equal(feed(parser, big).error?.reason, 'oversize', 'the next header meets the new limit');
  t.throws(() => (parser.maxBodyBytes = -1), RangeError);
  t.throws(() => new FrameParser({ maxBodyBytes: 1.5 }), RangeError);
});

t.test('a limit raised while a frame is handled applies to the next header of the same chunk', async (t) => {
  // A device that sends its first big message right behind its login, in one TCP segment.
  const login = request(1, 'login');
  const big = encodeFrame({ version: 3, msgType: MsgType.REQUEST, seq: 2 }, Buffer.alloc(100 * KiB, 0x20));
  const parser = new FrameParser({ maxBodyBytes: 64 * KiB });
  const seen: number[] = [];
  for (const frame of parser.frames(Buffer.concat([login, big]))) {
    seen.push(frame.seq);
    if (frame.seq === 1) parser.maxBodyBytes = 8 * MiB;
  }
  t.same(seen, [1, 2]);
  t.equal(parser.error, undefined);
  const strict = new FrameParser({ maxBodyBytes: 64 * KiB });
  t.same(feed(strict, Buffer.concat([login, big])).frames.map((f) => f.seq), [1], 'without the raise, the big frame is refused');
  t.equal(strict.error?.reason, 'oversize');
});

// Property tests ------------------------------------------------------------------------------

const frameArb: fc.Arbitrary<Frame> = fc.record({
  version: fc.integer({ min: 0, max: 255 }),
  msgType: fc.constantFrom(MsgType.HEARTBEAT, MsgType.NOTIFICATION, MsgType.REQUEST, MsgType.RESPONSE),
  dataType: fc.integer({ min: 0, max: 255 }),
  resv: fc.integer({ min: 0, max: 255 }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }),
  seq: fc.integer({ min: 0, max: 0xffffffff }),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

t.test('property: any split of any sequence of valid frames parses to the same frames', async (t) => {
  fc.assert(
    fc.property(fc.array(frameArb, { maxLength: 8 }), fc.array(fc.nat({ max: 3000 }), { maxLength: 40 }), (frames, cuts) => {
      const bytes = Buffer.concat(frames.map(frameBytes));
      const { frames: got, error } = parseAll(splitAt(bytes, cuts), 300);
      return error === undefined && got.length === frames.length && got.every((f, i) => frameBytes(f).equals(frameBytes(frames[i] as Frame)));
    }),
    { numRuns: 500 },
  );
  t.pass('500 runs');
});

t.test('property: one byte at a time equals all at once', async (t) => {
  fc.assert(
    fc.property(fc.array(frameArb, { minLength: 1, maxLength: 4 }), (frames) => {
      const bytes = Buffer.concat(frames.map(frameBytes));
      const single = parseAll([bytes], 300).frames;
      const bytewise = parseAll([...bytes].map((b) => Buffer.from([b])), 300).frames;
      return single.length === frames.length && bytewise.length === frames.length && single.every((f, i) => frameBytes(f).equals(frameBytes(bytewise[i] as Frame)));
    }),
    { numRuns: 100 },
  );
  t.pass('100 runs');
});

t.test('property: random bytes never throw and never yield a body over the limit', async (t) => {
  const chunks = fc.array(fc.uint8Array({ maxLength: 200 }).map((a) => Buffer.from(a)), { maxLength: 30 });
  // Random bytes after a valid prefix, so the body state is reached too, not only bad magic.
  const prefixed = fc.tuple(fc.array(frameArb, { maxLength: 2 }), chunks, fc.boolean(), fc.nat({ max: 400 }));
  fc.assert(
    fc.property(prefixed, ([valid, random, withMagic, limit]) => {
      const parser = new FrameParser({ maxBodyBytes: limit });
      const input = [...valid.map(frameBytes), ...(withMagic ? [Buffer.from('QYZN')] : []), ...random];
      let broke: ProtocolError | undefined;
      for (const chunk of input) {
        const result = feed(parser, chunk);
        if (result.frames.some((f) => f.body.length > limit)) return false;
        if (broke && result.error !== broke) return false;
        if (result.error && !(result.error instanceof ProtocolError)) return false;
        broke = result.error;
      }
      return true;
    }),
    { numRuns: 1000 },
  );
  t.pass('1000 runs');
});
