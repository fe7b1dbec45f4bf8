// One clock for every process of a run. process.hrtime is CLOCK_MONOTONIC, which is system-wide
// on Linux: a send time stamped in a load generator can be subtracted from a receive time read in
// the subscriber's process, at microsecond resolution, with no wall-clock steps in between.

/** Monotonic microseconds, comparable across the processes of one machine. */
export function nowUs(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Sleeps until the monotonic instant `atUs` (returns at once if it has passed). */
export async function sleepUntil(atUs: number): Promise<void> {
  const ms = (atUs - nowUs()) / 1000;
  if (ms > 0) await sleep(ms);
}
