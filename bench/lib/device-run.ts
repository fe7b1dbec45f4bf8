// The uplink run shared by every device load worker: the open-loop schedule round-robin over the
// worker's devices, each message stamped, and what became of it (acknowledged, refused, never
// answered). Protocol details stay in the worker, behind LoadDevice.
import { nowUs } from './clock.js';
import { Outcomes, settle, type GenReport } from './outcomes.js';
import type { RunArgs } from './protocols.js';
import { openLoop } from './schedule.js';
import type { BenchStamp } from './tracker.js';

export interface Sending {
  /** true: acknowledged (after the broker's); false: refused by the protocol's failure answer. */
  answer: Promise<boolean>;
  /** The same message again, as the device's protocol retransmits it (same seq / eventid / request_id). */
  retransmit(): Promise<boolean>;
}

export interface LoadDevice {
  readonly serial: string;
  readonly connected: boolean;
  send(stamp: BenchStamp): Sending;
}

/** A real device retries a refused message; the bench does so at most this often, this far apart. */
const MAX_RETRIES = 5;
const RETRY_AFTER_MS = 200;

export async function runDevices(name: string, devices: readonly LoadDevice[], args: RunArgs & { retryRefused: boolean }): Promise<GenReport> {
  const outcomes = new Outcomes(name, args.startAtUs, args.bucketMs);
  const online = devices.filter((d) => d.connected);
  if (online.length === 0) throw new Error('no device online');

  const follow = (device: LoadDevice, seq: number, scheduledUs: number, answer: Promise<boolean>, sending: Sending, attempt: number): void => {
    answer.then(
      (acknowledged) => {
        const at = nowUs();
        if (acknowledged) {
          outcomes.acked(device.serial, seq, scheduledUs, at);
          return;
        }
        const retry = args.retryRefused && attempt < MAX_RETRIES && device.connected;
        outcomes.refusedOne(at, !retry);
        if (!retry) return;
        setTimeout(() => {
          outcomes.retried += 1;
          follow(device, seq, scheduledUs, sending.retransmit(), sending, attempt + 1);
        }, RETRY_AFTER_MS);
      },
      () => outcomes.lost(nowUs(), device.connected ? 'silent' : 'closed'),
    );
  };

  const loop = await openLoop(args, (i, scheduledUs) => {
    const device = online[i % online.length] as LoadDevice;
    const seq = outcomes.next(device.serial);
    if (!device.connected) {
      outcomes.lost(nowUs(), 'closed');
      return;
    }
    const sending = device.send({ r: args.tag, d: device.serial, s: seq, t: scheduledUs, a: nowUs() });
    follow(device, seq, scheduledUs, sending.answer, sending, 0);
  });
  await settle(() => outcomes.inFlight <= 0, args.settleMs);
  return outcomes.report(loop);
}

/** Runs `start` for every serial, `concurrency` at a time; the devices that came online. */
export async function bringUp<D>(serials: readonly string[], concurrency: number, start: (serial: string) => Promise<D>): Promise<{ online: D[]; failed: number; errors: string[] }> {
  const queue = [...serials];
  const online: D[] = [];
  const errors: string[] = [];
  let failed = 0;
  const lane = async (): Promise<void> => {
    for (let serial = queue.shift(); serial !== undefined; serial = queue.shift()) {
      try {
        online.push(await start(serial));
      } catch (err) {
        failed += 1;
        if (errors.length < 5) errors.push(`${serial}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, lane));
  return { online, failed, errors };
}
