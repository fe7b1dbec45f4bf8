// Shared test data for the qyzn adapter: the seed's golden register frame (section 1.4) and helpers.
import { MsgType } from '../../adapters/qyzn/constants.js';
import { encodeFrame } from '../../adapters/qyzn/encoder.js';
import type { Frame } from '../../adapters/qyzn/parser.js';

/** Section 1.4, byte for byte: the header (red) and the JSON body (blue). */
export const GOLDEN_REGISTER_HEX = [
  '51 59 5a 4e 03 03 01 00 47 ec 40 5d 10 00 00 00',
  'a1 00 00 00 7b 22 6d 65 73 73 61 67 65 22 3a 22',
  '72 65 67 69 73 74 65 72 22 2c 22 64 61 74 61 22',
  '3a 7b 22 73 65 72 69 61 6c 22 3a 22 30 61 39 33',
  '31 30 65 37 61 63 63 32 39 38 64 33 22 2c 22 6d',
  '61 63 22 3a 22 30 30 36 34 38 37 31 45 43 42 30',
  '31 22 2c 22 74 69 6d 65 73 74 61 6d 70 22 3a 22',
  '31 35 36 34 35 33 35 38 37 39 22 2c 22 73 69 67',
  '6e 22 3a 22 39 66 35 62 35 37 65 64 62 63 39 35',
  '33 64 65 33 33 64 61 65 31 38 35 36 63 63 33 35',
  '64 37 39 62 22 2c 22 74 79 70 65 22 3a 22 48 47',
  '30 32 22 7d 7d',
].join(' ');

export const GOLDEN_REGISTER = Buffer.from(GOLDEN_REGISTER_HEX.replace(/\s+/g, ''), 'hex');

export const GOLDEN_DATA = {
  serial: '0a9310e7acc298d3',
  mac: '0064871ECB01',
  timestamp: '1564535879',
  sign: '9f5b57edbc953de33dae1856cc35d79b',
  type: 'HG02',
};

export function frameBytes(frame: Frame): Buffer {
  const { body, ...header } = frame;
  return encodeFrame(header, body);
}

export function request(seq: number, message: string, data: object = {}, version = 3): Buffer {
  return encodeFrame({ version, msgType: MsgType.REQUEST, seq, timestamp: 1_700_000_000 }, Buffer.from(JSON.stringify({ message, data })));
}

/** Cuts a buffer at the given offsets (sorted, deduplicated, inside the buffer). */
export function splitAt(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  const points = [...new Set(cuts.map((c) => Math.max(0, Math.min(bytes.length, c))))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let from = 0;
  for (const p of points) {
    out.push(bytes.subarray(from, p));
    from = p;
  }
  out.push(bytes.subarray(from));
  return out.filter((b) => b.length > 0);
}
