// For the fault tests: qyzn terminals that keep sending numbered messages and retry each one by
// the protocol until it is accepted, and a persistent subscriber that counts what arrives by
// (device, number). Together they say what the devices were told was accepted and what reached
// the platform: lost, doubled, out of order.
import { randomUUID } from 'node:crypto';
import mqtt, { type MqttClient } from 'mqtt';
import type { QyznSimulator } from '../../sim/qyzn/simulator.js';
import type { Teardown } from './harness.js';

/** One terminal's record: what it was told, message by message. */
export interface TerminalLog {
  serial: string;
  /** Numbers the gateway answered 0 for, in order. */
  accepted: number[];
  /** Numbers that got a failure (-1) or no answer at least once before being accepted. */
  retried: Set<number>;
  /** Accepted while `outage()` said the broker was down. */
  acceptedDuringOutage: number;
  /** The first and last numbers accepted during the outage (for a failure's report). */
  outageSpan?: [number, number];
  /** Requests and retransmissions written. */
  attempts: number;
  failures: number;
  timeouts: number;
}

export interface TrafficOptions {
  /** Pause between one accepted message and the next. */
  intervalMs: number;
  /** Pause before a retry after a failure. */
  retryMs: number;
  /** Whether the broker is down now (for acceptedDuringOutage). */
  outage: () => boolean;
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Sends `{serial}:{n}` as qrcode_data, n = 0, 1, 2 ..., each retried with the same seq (a qyzn
 *  retransmission) until answered 0, until stop() is called; then resolves its log. Stopped by
 *  the test's teardown should the test fail first. */
export function sendNumbered(t: Teardown, sim: QyznSimulator, serial: string, options: TrafficOptions): { log: TerminalLog; stop(): Promise<TerminalLog>; abort(): void } {
  const log: TerminalLog = { serial, accepted: [], retried: new Set(), acceptedDuringOutage: 0, attempts: 0, failures: 0, timeouts: 0 };
  let stopping = false;
  let aborted = false;
  const run = (async () => {
    for (let n = 0; !stopping && !aborted; n++) {
      const seq = sim.peekSeq();
      let attempt = sim.request('qrcode_data', { content: `${serial}:${n}` });
      for (;;) {
        log.attempts += 1;
        const outcome = await attempt.then(
          (r) => r.result,
          () => 'timeout' as const,
        );
        if (outcome === 0 || aborted) break;
        log.retried.add(n);
        if (outcome === 'timeout') log.timeouts += 1;
        else log.failures += 1;
        await pause(options.retryMs);
        attempt = sim.retransmit(seq);
      }
      if (aborted) return;
      log.accepted.push(n);
      if (options.outage()) {
        log.acceptedDuringOutage += 1;
        log.outageSpan = [log.outageSpan?.[0] ?? n, n];
      }
      await pause(options.intervalMs);
    }
  })();
  t.teardown(() => {
    aborted = true;
  });
  return {
    log,
    async stop() {
      stopping = true;
      await run;
      return log;
    },
    /** A failed test's teardown: give up at once, whatever is unanswered. */
    abort() {
      aborted = true;
    },
  };
}

export interface Arrival {
  n: number;
  /** Sent again by the broker (DUP): its own QoS 1 redelivery to this subscriber. */
  dup: boolean;
}

/** A subscriber with a persistent session (fixed client id, clean: false, QoS 1) that stays
 *  connected and reconnects on its own, resubscribing when a restarted broker lost its session. */
export class PersistentCounter {
  readonly client: MqttClient;
  readonly arrivals = new Map<string, Arrival[]>();
  /** Reconnections the broker answered without the session (it lost the subscription). */
  sessionsLost = 0;

  private constructor(client: MqttClient) {
    this.client = client;
    client.on('connect', (connack) => {
      if (!connack.sessionPresent) this.sessionsLost += 1;
    });
    client.on('message', (topic, payload, packet) => {
      if (!topic.endsWith('/event/qrcode_data')) return;
      const envelope = JSON.parse(payload.toString()) as { deviceId: string; data: { content: string } };
      const n = Number(envelope.data.content.slice(envelope.deviceId.length + 1));
      const list = this.arrivals.get(envelope.deviceId) ?? [];
      list.push({ n, dup: packet.dup });
      this.arrivals.set(envelope.deviceId, list);
    });
  }

  static async connect(t: Teardown, url: string, filter: string): Promise<PersistentCounter> {
    const client = await mqtt.connectAsync(url, {
      clientId: `g2mtest-persistent-${randomUUID().slice(0, 8)}`,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 100,
    });
    t.teardown(() => client.endAsync(true));
    await client.subscribeAsync(filter, { qos: 1 });
    return new PersistentCounter(client);
  }

  count(): number {
    let total = 0;
    for (const list of this.arrivals.values()) total += list.length;
    return total;
  }

  /** Per device, the accepted numbers that have not arrived, and whether each was retried. */
  missing(logs: TerminalLog[]): Record<string, Array<{ n: number; retried: boolean }>> {
    const out: Record<string, Array<{ n: number; retried: boolean }>> = {};
    for (const log of logs) {
      const seen = new Set((this.arrivals.get(log.serial) ?? []).map((a) => a.n));
      const lost = log.accepted.filter((n) => !seen.has(n)).map((n) => ({ n, retried: log.retried.has(n) }));
      if (lost.length > 0) out[`${log.serial} (accepted ${log.accepted.length}, in the outage ${log.outageSpan?.join('-') ?? 'none'})`] = lost;
    }
    return out;
  }

  /** Whether every accepted number of every log has arrived. */
  has(logs: TerminalLog[]): boolean {
    return Object.keys(this.missing(logs)).length === 0;
  }
}

export interface Tally {
  /** Requests and retransmissions the terminals wrote. */
  sent: number;
  accepted: number;
  arrived: number;
  lost: number;
  /** Arrived twice or more, not as the broker's DUP redelivery: the gateway published it twice. */
  doubled: number;
  /** Doubled, and its device had a failure or no answer for it: a lost PUBACK, allowed. */
  doubledAfterRetry: number;
  /** The broker's own redeliveries (DUP) of something that had already arrived. */
  redelivered: number;
  /** First arrivals of a device out of the order it sent them. */
  outOfOrder: number;
}

/** Compares what the terminals were told with what the subscriber got. */
export function tally(logs: TerminalLog[], counter: PersistentCounter): Tally {
  const result: Tally = { sent: 0, accepted: 0, arrived: 0, lost: 0, doubled: 0, doubledAfterRetry: 0, redelivered: 0, outOfOrder: 0 };
  for (const log of logs) {
    const arrivals = counter.arrivals.get(log.serial) ?? [];
    result.sent += log.attempts;
    result.accepted += log.accepted.length;
    result.arrived += arrivals.length;
    const copies = new Map<number, number>();
    let highest = -1;
    for (const arrival of arrivals) {
      const seen = copies.get(arrival.n) ?? 0;
      copies.set(arrival.n, seen + 1);
      if (seen === 0) {
        if (arrival.n < highest) result.outOfOrder += 1;
        highest = Math.max(highest, arrival.n);
      } else if (arrival.dup) {
        result.redelivered += 1;
      } else {
        result.doubled += 1;
        if (log.retried.has(arrival.n)) result.doubledAfterRetry += 1;
      }
    }
    for (const n of log.accepted) if (!copies.has(n)) result.lost += 1;
  }
  return result;
}
