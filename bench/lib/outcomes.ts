// What a load generator knows after a run: per device how many it sent, which the gateway (or,
// for the baseline, the broker) acknowledged, which were refused, and which got no answer at all.
import { Buckets, Samples, type Summary } from './stats.js';
import { LISTED_PER_DEVICE } from './tracker.js';
import type { OpenLoopResult } from './schedule.js';

export interface GenReport {
  name: string;
  loop: OpenLoopResult;
  /** Acknowledged: qyzn result 0 (after the broker's PUBACK), or the baseline's PUBACK. */
  ok: number;
  /** Answered with a failure (qyzn result -1 when the gateway could not hand it over). */
  refused: number;
  /** Never answered within the device's response timeout: a silent drop. */
  silent: number;
  /** Lost with a closed connection. */
  closed: number;
  /** Still waiting when the report was taken. */
  pending: number;
  /** Retransmissions of refused messages (T5). */
  retried: number;
  /** Messages sent per device (seq 0 .. n-1). */
  sent: Record<string, number>;
  /** Per device, seqs never acknowledged (refused, silent, closed or pending), first 50. */
  notOk: Record<string, number[]>;
  okBuckets: number[];
  refusedBuckets: number[];
  silentBuckets: number[];
  bucketMs: number;
  /** Scheduled send to acknowledgement, as the device saw it (µs). */
  answerUs: Summary;
}

export class Outcomes {
  readonly name: string;
  readonly startUs: number;
  readonly bucketMs: number;
  ok = 0;
  refused = 0;
  silent = 0;
  closed = 0;
  retried = 0;
  inFlight = 0;
  readonly sent = new Map<string, number>();
  private readonly unacked = new Map<string, Set<number>>();
  private readonly okB: Buckets;
  private readonly refusedB: Buckets;
  private readonly silentB: Buckets;
  private readonly answer = new Samples(500_000);

  constructor(name: string, startUs: number, bucketMs: number) {
    this.name = name;
    this.startUs = startUs;
    this.bucketMs = bucketMs;
    this.okB = new Buckets(startUs, bucketMs);
    this.refusedB = new Buckets(startUs, bucketMs);
    this.silentB = new Buckets(startUs, bucketMs);
  }

  /** A new message: returns its per-device sequence number. */
  next(device: string): number {
    const seq = this.sent.get(device) ?? 0;
    this.sent.set(device, seq + 1);
    let set = this.unacked.get(device);
    if (!set) {
      set = new Set();
      this.unacked.set(device, set);
    }
    set.add(seq);
    this.inFlight += 1;
    return seq;
  }

  acked(device: string, seq: number, scheduledUs: number, atUs: number): void {
    this.ok += 1;
    this.inFlight -= 1;
    this.unacked.get(device)?.delete(seq);
    this.okB.add(atUs);
    this.answer.add(atUs - scheduledUs);
  }

  /** Refused; `final` when it will not be retried. */
  refusedOne(atUs: number, final: boolean): void {
    this.refused += 1;
    if (final) this.inFlight -= 1;
    this.refusedB.add(atUs);
  }

  lost(atUs: number, how: 'silent' | 'closed'): void {
    if (how === 'silent') this.silent += 1;
    else this.closed += 1;
    this.inFlight -= 1;
    this.silentB.add(atUs);
  }

  report(loop: OpenLoopResult): GenReport {
    const notOk: Record<string, number[]> = {};
    for (const [device, set] of this.unacked) if (set.size > 0) notOk[device] = [...set].slice(0, LISTED_PER_DEVICE);
    return {
      name: this.name,
      loop,
      ok: this.ok,
      refused: this.refused,
      silent: this.silent,
      closed: this.closed,
      pending: this.inFlight,
      retried: this.retried,
      sent: Object.fromEntries(this.sent),
      notOk,
      okBuckets: this.okB.counts,
      refusedBuckets: this.refusedB.counts,
      silentBuckets: this.silentB.counts,
      bucketMs: this.bucketMs,
      answerUs: this.answer.summary(),
    };
  }
}

/** Waits until `done()` or `maxMs`, checking every 20 ms. */
export async function settle(done: () => boolean, maxMs: number): Promise<void> {
  const until = Date.now() + maxMs;
  while (!done() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, 20));
}
