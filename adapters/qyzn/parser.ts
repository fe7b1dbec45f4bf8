// Streaming QYZN frame parser: a two-state machine (header, body) fed with whatever chunks the
// socket delivers. The declared datasize is checked against the limit before a single body byte
// is kept, so what it holds never exceeds HEADER_SIZE + the limit. Errors are returned, never
// thrown: once the byte stream is broken the parser stays failed, since nothing after a bad header
// can be trusted to start on a frame boundary. JSON bodies are decoded apart (body.ts), because a
// well-framed REQUEST with a broken body must still be answerable (result 104).
import { ProtocolError, type ProtocolReason } from '../../src/errors.js';
import { HEADER_SIZE, MAGIC, Offset, isMsgType, type MsgType } from './constants.js';

export interface FrameHeader {
  version: number;
  msgType: MsgType;
  dataType: number;
  resv: number;
  /** Seconds since 1970, as the sender wrote it. */
  timestamp: number;
  seq: number;
}

export interface Frame extends FrameHeader {
  body: Buffer;
}

export interface ParserOptions {
  /** Largest datasize accepted; can be changed at any time (e.g. raised after login). */
  maxBodyBytes: number;
}

type State = 'header' | 'body' | 'failed';

const NO_HEADER: FrameHeader = Object.freeze({ version: 0, msgType: 1, dataType: 0, resv: 0, timestamp: 0, seq: 0 });

export class FrameParser {
  #state: State = 'header';
  #maxBodyBytes: number;
  readonly #header = Buffer.alloc(HEADER_SIZE);
  #headerFill = 0;
  /** Meaningful in the body state only. */
  #current: FrameHeader = NO_HEADER;
  #bodyNeed = 0;
  #parts: Buffer[] = [];
  #partBytes = 0;
  #error: ProtocolError | undefined;
  #ready: Frame | undefined;

  constructor(options: ParserOptions) {
    this.#maxBodyBytes = checkLimit(options.maxBodyBytes);
  }

  get maxBodyBytes(): number {
    return this.#maxBodyBytes;
  }

  /** Applies to the next header; a body already accepted under the old limit is completed. */
  set maxBodyBytes(limit: number) {
    this.#maxBodyBytes = checkLimit(limit);
  }

  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /** Frames completed by `chunk`, one at a time: a consumer that changes the limit while handling a
   *  frame (login) has the next header checked against the new limit. Iterate to the end; after
   *  it, `error` tells whether the stream broke. */
  *frames(chunk: Buffer): Generator<Frame, void, undefined> {
    let offset = 0;
    while (offset < chunk.length && this.#state !== 'failed') {
      offset = this.#state === 'header' ? this.#readHeader(chunk, offset) : this.#readBody(chunk, offset);
      const frame = this.#ready;
      if (frame) {
        this.#ready = undefined;
        yield frame;
      }
    }
  }

  #readHeader(chunk: Buffer, offset: number): number {
    const take = Math.min(HEADER_SIZE - this.#headerFill, chunk.length - offset);
    const from = this.#headerFill;
    chunk.copy(this.#header, from, offset, offset + take);
    this.#headerFill += take;
    // Checked byte by byte so garbage is refused on its first byte, not after twenty.
    for (let i = from; i < Math.min(this.#headerFill, MAGIC.length); i++) {
      if (this.#header[i] !== MAGIC[i]) {
        this.#fail('bad_magic', `frame does not start with "QYZN" (byte ${i} is 0x${hex(this.#header[i])})`);
        return offset + take;
      }
    }
    if (this.#headerFill === HEADER_SIZE) this.#headerDone();
    return offset + take;
  }

  #headerDone(): void {
    const h = this.#header;
    const msgType = h.readUInt8(Offset.msgType);
    if (!isMsgType(msgType)) {
      this.#fail('unknown_type', `unknown message type ${msgType}`);
      return;
    }
    const datasize = h.readUInt32LE(Offset.datasize);
    if (datasize > this.#maxBodyBytes) {
      this.#fail('oversize', `frame declares ${datasize} body bytes, the limit is ${this.#maxBodyBytes}`);
      return;
    }
    this.#current = {
      version: h.readUInt8(Offset.version),
      msgType,
      dataType: h.readUInt8(Offset.dataType),
      resv: h.readUInt8(Offset.resv),
      timestamp: h.readUInt32LE(Offset.timestamp),
      seq: h.readUInt32LE(Offset.seq),
    };
    this.#headerFill = 0;
    this.#bodyNeed = datasize;
    this.#state = 'body';
    if (datasize === 0) this.#emit(Buffer.alloc(0));
  }

  #readBody(chunk: Buffer, offset: number): number {
    const take = Math.min(this.#bodyNeed, chunk.length - offset);
    const piece = chunk.subarray(offset, offset + take);
    this.#bodyNeed -= take;
    if (this.#bodyNeed > 0) {
      this.#parts.push(piece);
      this.#partBytes += take;
    } else if (this.#parts.length === 0) {
      this.#emit(piece);
    } else {
      this.#parts.push(piece);
      this.#emit(Buffer.concat(this.#parts, this.#partBytes + take));
    }
    return offset + take;
  }

  #emit(body: Buffer): void {
    this.#ready = { ...this.#current, body };
    this.#current = NO_HEADER;
    this.#parts = [];
    this.#partBytes = 0;
    this.#state = 'header';
  }

  #fail(reason: ProtocolReason, message: string): void {
    this.#error = new ProtocolError(reason, message);
    this.#state = 'failed';
    this.#headerFill = 0;
    this.#parts = [];
    this.#partBytes = 0;
    this.#current = NO_HEADER;
  }
}

function checkLimit(limit: number): number {
  if (!Number.isInteger(limit) || limit < 0) throw new RangeError(`maxBodyBytes must be a non-negative integer, not ${limit}`);
  return limit;
}

function hex(byte: number | undefined): string {
  return (byte ?? 0).toString(16).padStart(2, '0');
}
