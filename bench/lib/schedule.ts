// The open-loop scheduler every load generator uses. Message i is due at start + i / rate, fixed
// before the run: a slow answer never delays the next send (a closed loop would, and would hide
// the very latency it is meant to measure). Each message is stamped with its *scheduled* instant,
// so a generator that falls behind shows up as added latency, and its own lag is reported.
import { nowUs } from './clock.js';
import { Samples, type Summary } from './stats.js';

export interface OpenLoopOptions {
  /** Messages per second sent by this process. */
  ratePerSec: number;
  durationMs: number;
  /** Monotonic µs at which message 0 is due; shared by the processes of one run. */
  startAtUs: number;
}

export interface OpenLoopResult {
  planned: number;
  sent: number;
  /** How late each send was against its schedule (µs). */
  lagUs: Summary;
  /** CPU this process used during the schedule, in % of one core. */
  cpuPercent: number;
  wallMs: number;
}

/** Longest run of sends without yielding, so that answers are read even when far behind. */
const MAX_BATCH = 1000;

/** Runs `send(i, scheduledUs)` on the fixed schedule; resolves when the last one was sent. */
export function openLoop(options: OpenLoopOptions, send: (index: number, scheduledUs: number) => void): Promise<OpenLoopResult> {
  const { ratePerSec, durationMs, startAtUs } = options;
  const planned = Math.max(0, Math.floor((ratePerSec * durationMs) / 1000));
  const intervalUs = 1e6 / ratePerSec;
  const lag = new Samples(500_000);
  const cpuStart = process.cpuUsage();
  let wallStart = 0;
  let next = 0;
  return new Promise((resolve) => {
    const finish = (): void => {
      const cpu = process.cpuUsage(cpuStart);
      const wallUs = Math.max(1, nowUs() - wallStart);
      resolve({ planned, sent: next, lagUs: lag.summary(), cpuPercent: ((cpu.user + cpu.system) / wallUs) * 100, wallMs: wallUs / 1000 });
    };
    const tick = (): void => {
      const now = nowUs();
      if (wallStart === 0) wallStart = now;
      let batch = 0;
      while (next < planned && batch < MAX_BATCH) {
        const due = startAtUs + next * intervalUs;
        if (due > now) break;
        lag.add(now - due);
        send(next, due);
        next += 1;
        batch += 1;
      }
      if (next >= planned) {
        finish();
        return;
      }
      if (batch === MAX_BATCH) {
        setImmediate(tick);
        return;
      }
      const waitMs = (startAtUs + next * intervalUs - nowUs()) / 1000;
      // Timers fire no sooner than 1 ms; sends due earlier go in the next tick's batch.
      setTimeout(tick, Math.max(0, Math.floor(waitMs)));
    };
    if (planned === 0) {
      wallStart = nowUs();
      finish();
      return;
    }
    setTimeout(tick, Math.max(0, Math.floor((startAtUs - nowUs()) / 1000)));
  });
}
