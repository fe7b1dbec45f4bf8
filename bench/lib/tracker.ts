// What the subscriber knows about each device's stream: which sequence numbers arrived, how many
// twice, how many after a later one, and how long each took. Loss is decided by the orchestrator,
// which alone knows what the generators sent and what the gateway acknowledged.
import { Buckets, Samples, type Summary } from './stats.js';

/** The `bench` field each load message carries in its data. */
export interface BenchStamp {
  /** Run tag: messages of an earlier run that arrive late are counted apart. */
  r: string;
  /** Device key (the serial). */
  d: string;
  /** Per-device sequence number, from 0. */
  s: number;
  /** Scheduled send instant, monotonic µs (see clock.ts). */
  t: number;
  /** Instant the generator actually sent it (later than `t` when the generator fell behind). */
  a?: number;
}

export function isBenchStamp(value: unknown): value is BenchStamp {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  return typeof v.r === 'string' && typeof v.d === 'string' && typeof v.s === 'number' && typeof v.t === 'number';
}

class DeviceStream {
  bits = new Uint8Array(64);
  max = -1;
  unique = 0;
  duplicates = 0;
  reordered = 0;

  note(seq: number): 'new' | 'duplicate' {
    const byte = seq >> 3;
    if (byte >= this.bits.length) {
      let size = this.bits.length;
      while (size <= byte) size *= 2;
      const grown = new Uint8Array(size);
      grown.set(this.bits);
      this.bits = grown;
    }
    const mask = 1 << (seq & 7);
    if (((this.bits[byte] as number) & mask) !== 0) {
      this.duplicates += 1;
      return 'duplicate';
    }
    this.bits[byte] = (this.bits[byte] as number) | mask;
    this.unique += 1;
    if (seq < this.max) this.reordered += 1;
    else this.max = seq;
    return 'new';
  }

  has(seq: number): boolean {
    const byte = seq >> 3;
    return byte < this.bits.length && ((this.bits[byte] as number) & (1 << (seq & 7))) !== 0;
  }
}

export interface TrackerWindow {
  tag: string;
  startUs: number;
  /** Latency is recorded for messages scheduled in [startUs + fromMs, startUs + toMs). */
  fromMs: number;
  toMs: number;
  bucketMs: number;
}

export interface StreamReport {
  tag: string;
  received: number;
  unique: number;
  duplicates: number;
  reordered: number;
  /** Messages of other run tags (late arrivals of an earlier run). */
  stale: number;
  devices: number;
  latencyUs: Summary;
  /** From the instant each message left its generator: the generator's own lag left out. */
  latencyFromSendUs: Summary;
  /** Receive counts per bucket from startUs. */
  buckets: number[];
  bucketMs: number;
  /** Per device: sequence numbers below `sent` that never arrived (at most LISTED_PER_DEVICE). */
  missing: Record<string, number[]>;
  missingTotal: number;
  /** Devices with a duplicate or a reordering, first 20. */
  badDevices: string[];
}

/** How many missing (or refused) sequence numbers a report lists per device. */
export const LISTED_PER_DEVICE = 1000;

export class StreamTracker {
  readonly window: TrackerWindow;
  private readonly devices = new Map<string, DeviceStream>();
  private readonly latency = new Samples();
  private readonly fromSend = new Samples();
  private readonly buckets: Buckets;
  received = 0;
  stale = 0;
  lastAtUs = 0;

  constructor(window: TrackerWindow) {
    this.window = window;
    this.buckets = new Buckets(window.startUs, window.bucketMs);
  }

  note(stamp: BenchStamp, atUs: number): void {
    if (stamp.r !== this.window.tag) {
      this.stale += 1;
      return;
    }
    this.received += 1;
    this.lastAtUs = atUs;
    this.buckets.add(atUs);
    let stream = this.devices.get(stamp.d);
    if (!stream) {
      stream = new DeviceStream();
      this.devices.set(stamp.d, stream);
    }
    if (stream.note(stamp.s) === 'duplicate') return;
    const fromUs = this.window.startUs + this.window.fromMs * 1000;
    const toUs = this.window.startUs + this.window.toMs * 1000;
    if (stamp.t >= fromUs && stamp.t < toUs) {
      this.latency.add(atUs - stamp.t);
      if (typeof stamp.a === 'number') this.fromSend.add(atUs - stamp.a);
    }
  }

  get unique(): number {
    let n = 0;
    for (const s of this.devices.values()) n += s.unique;
    return n;
  }

  /** `sent`: how many messages each device sent (seq 0 .. n-1). */
  report(sent: Readonly<Record<string, number>>): StreamReport {
    const missing: Record<string, number[]> = {};
    let missingTotal = 0;
    for (const [device, count] of Object.entries(sent)) {
      const stream = this.devices.get(device);
      const gaps: number[] = [];
      let gapCount = 0;
      for (let seq = 0; seq < count; seq++) {
        if (stream?.has(seq)) continue;
        gapCount += 1;
        if (gaps.length < LISTED_PER_DEVICE) gaps.push(seq);
      }
      if (gapCount > 0) {
        missing[device] = gaps;
        missingTotal += gapCount;
      }
    }
    let unique = 0;
    let duplicates = 0;
    let reordered = 0;
    const badDevices: string[] = [];
    for (const [device, s] of this.devices) {
      unique += s.unique;
      duplicates += s.duplicates;
      reordered += s.reordered;
      if ((s.duplicates > 0 || s.reordered > 0) && badDevices.length < 20) badDevices.push(device);
    }
    return {
      tag: this.window.tag,
      received: this.received,
      unique,
      duplicates,
      reordered,
      stale: this.stale,
      devices: this.devices.size,
      latencyUs: this.latency.summary(),
      latencyFromSendUs: this.fromSend.summary(),
      buckets: this.buckets.counts,
      bucketMs: this.window.bucketMs,
      missing,
      missingTotal,
      badDevices,
    };
  }
}
