// T4: latency at half of T1's maximum rate, gateway against baseline at the same rate, from the
// scheduled send instant to the subscriber's receipt. The verdict is the median over interleaved
// rounds of (gateway p99 - baseline p99).
import { check, verdict, type Scenario } from '../lib/context.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig, type ArmRun } from '../lib/uplink.js';
import { maxRate } from './rates.js';
import { strip } from './throughput.js';

export const t4: Scenario = {
  id: 'T4',
  title: 'latency at half of T1 maximum: added p99',
  async run(ctx) {
    const rounds = ctx.smoke ? 1 : 3;
    const durationMs = ctx.smoke ? 1000 : 8000;
    const warmupMs = ctx.smoke ? 300 : 2000;
    const rig = await UplinkRig.start(ctx, { name: 'T4', devices: ctx.smoke ? 20 : 100, generators: 1 });
    const runs: ArmRun[] = [];
    const added: number[] = [];
    const addedP999: number[] = [];
    const addedFromSend: number[] = [];
    let rate = 0;
    try {
      rate = Math.round((await maxRate(ctx, rig)) / 2);
      for (let r = 0; r < rounds; r++) {
        const baseline = await rig.run('baseline', rate, durationMs, warmupMs);
        const gateway = await rig.run('qyzn', rate, durationMs, warmupMs);
        ctx.log(`  round ${r + 1} at ${rate}/s: p99 baseline ${baseline.latencyMs.p99} ms, gateway ${gateway.latencyMs.p99} ms`);
        runs.push(baseline, gateway);
        added.push(gateway.latencyMs.p99 - baseline.latencyMs.p99);
        addedP999.push(gateway.latencyMs.p999 - baseline.latencyMs.p999);
        addedFromSend.push(gateway.latencyFromSendMs.p99 - baseline.latencyFromSendMs.p99);
      }
    } finally {
      await rig.stop();
    }
    const p = (arm: 'qyzn' | 'baseline', key: 'p50' | 'p99'): number => round(median(runs.filter((x) => x.arm === arm).map((x) => x.latencyMs[key])), 2);
    const addedP99 = round(median(added), 2);
    const addedP999Ms = round(median(addedP999), 2);
    // The gateway process's own event loop: a tail the loop shows was the gateway's (or its GC's);
    // one the loop does not show came from elsewhere (the machine, the other processes).
    const loop = (arm: 'qyzn' | 'baseline', key: 'p99Ms' | 'maxMs'): number => {
      const values = runs.filter((x) => x.arm === arm).map((x) => x.loopDelay?.[key] ?? Number.NaN);
      return round(key === 'maxMs' ? Math.max(...values) : median(values), 2);
    };
    const addedP99FromSend = round(median(addedFromSend), 2);
    // The gateway process's CPU per delivered event at the same rate: in the baseline arm it runs
    // the embedded broker alone, in the gateway arm the broker and everything the gateway adds.
    const cpuUs = (arm: 'qyzn' | 'baseline'): number =>
      round(median(runs.filter((x) => x.arm === arm).map((x) => (x.gateway.cpuPercent / 100) * 1e6 / Math.max(1, x.deliveredPerSec))), 1);
    const lag = (arm: 'qyzn' | 'baseline'): number => round(median(runs.filter((x) => x.arm === arm).flatMap((x) => x.generators.map((g) => g.lagP99Ms))), 2);
    const checks = [check('added p99 latency', addedP99, 'ms', '<= 3 ms over baseline', addedP99 <= 3, ctx)];
    const unsaturated = runs.every((x) => !x.saturated);
    return {
      status: verdict(checks, ctx),
      summary: `at ${rate}/s: p99 gateway ${p('qyzn', 'p99')} ms vs baseline ${p('baseline', 'p99')} ms (p50 ${p('qyzn', 'p50')} vs ${p('baseline', 'p50')}); added p99 ${addedP99} ms, p99.9 ${addedP999Ms} ms; gateway event loop delay p99 ${loop('qyzn', 'p99Ms')} ms (from the instant each message left its generator, whose own lag p99 was ${lag('qyzn')} ms for the terminals and ${lag('baseline')} ms for MQTT.js: ${addedP99FromSend} ms)`,
      checks,
      generators: runs.flatMap((x) => x.generators),
      notes: [
        ...(unsaturated ? [] : ['some runs did not deliver 95% of the offered rate: the rate is not below the maximum on this machine now']),
        `gateway process CPU per event at ${rate}/s: ${cpuUs('qyzn')} µs with the terminals, ${cpuUs('baseline')} µs for the embedded broker alone (baseline arm)`,
        `added latency p99.9: ${addedP999Ms} ms; the gateway process's event loop delay (monitorEventLoopDelay, 10 ms sampling taken off) p99 ${loop('qyzn', 'p99Ms')} ms, max ${loop('qyzn', 'maxMs')} ms with the terminals, p99 ${loop('baseline', 'p99Ms')} ms, max ${loop('baseline', 'maxMs')} ms in the baseline arm`,
      ],
      details: {
        ratePerSec: rate,
        cpuUsPerEvent: { gateway: cpuUs('qyzn'), brokerAlone: cpuUs('baseline') },
        addedP999Ms: addedP999.map((x) => round(x, 2)),
        loopDelayMs: { gateway: { p99: loop('qyzn', 'p99Ms'), max: loop('qyzn', 'maxMs') }, baseline: { p99: loop('baseline', 'p99Ms'), max: loop('baseline', 'maxMs') } },
        addedP99Ms: added.map((x) => round(x, 2)), addedP99FromSendMs: addedFromSend.map((x) => round(x, 2)), rounds: runs.map(strip) },
    };
  },
};
