// T5: integrity over a 60 s run at 80% of T1's maximum: per device, every message the gateway
// acknowledged arrives once and in order. Refused messages are retransmitted with the same QYZN
// seq, as a terminal does, which must not give duplicates either.
import { check, verdict, type Scenario } from '../lib/context.js';
import { round } from '../lib/stats.js';
import { UplinkRig } from '../lib/uplink.js';
import { maxRate } from './rates.js';
import { strip } from './throughput.js';

export const t5: Scenario = {
  id: 'T5',
  title: 'integrity at 80% of T1 maximum for 60 s: lost, duplicated, reordered',
  async run(ctx) {
    const durationMs = ctx.smoke ? 1000 : 60_000;
    const rig = await UplinkRig.start(ctx, { name: 'T5', devices: ctx.smoke ? 20 : 100, generators: 1 });
    let run;
    let rate = 0;
    try {
      rate = Math.round((await maxRate(ctx, rig)) * 0.8);
      run = await rig.run('qyzn', rate, durationMs, Math.min(2000, durationMs / 4), { retryRefused: true, bucketMs: 1000, settleMs: 20_000 });
    } finally {
      await rig.stop();
    }
    const checks = [
      check('lost (acknowledged, never received)', run.lostAcked, 'messages', '0', run.lostAcked === 0, ctx),
      check('duplicated', run.duplicates, 'messages', '0', run.duplicates === 0, ctx),
      check('reordered (per device)', run.reordered, 'messages', '0', run.reordered === 0, ctx),
    ];
    const notes: string[] = [];
    if (run.refused > 0) notes.push(`${run.refused} refusals (result -1), each retransmitted with its seq.`);
    if (run.silent + run.closed > 0) notes.push(`${run.silent} not answered within the terminal's 10 s and ${run.closed} lost with a closed connection (device side); ${run.deliveredUnacked} messages not acknowledged were delivered all the same.`);
    notes.push(`gateway RSS up to ${run.gateway.rssMaxMB} MB, CPU ${run.gateway.cpuPercent}% of a core; latency p50 ${run.latencyMs.p50} ms.`);
    return {
      status: verdict(checks, ctx),
      summary: `${run.sent} sent at ${rate}/s over ${durationMs / 1000} s: ${run.ok} acknowledged, ${run.unique} received; lost ${run.lostAcked}, duplicated ${run.duplicates}, reordered ${run.reordered}; p99 ${run.latencyMs.p99} ms`,
      checks,
      generators: run.generators,
      notes,
      details: { ratePerSec: rate, run: strip(run), deliveredPerSec: round(run.deliveredPerSec, 0) },
    };
  },
};
