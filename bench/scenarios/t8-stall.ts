// T8: the subscriber stalls (SIGSTOP: it stops reading its socket, like a hung consumer) for 30 s
// while the terminals keep sending at half of T1's maximum. The gateway must not grow by more than
// 100 MB nor crash; each terminal must hear an answer to every message (result 0, or -1 when it
// could not be handed over: refused cleanly, never silently dropped); and within 10 s of the
// subscriber's return the gateway must acknowledge and the subscriber receive the full rate again.
import { check, verdict, type Scenario } from '../lib/context.js';
import { nowUs, sleepUntil } from '../lib/clock.js';
import { round } from '../lib/stats.js';
import { UplinkRig, type ArmRun } from '../lib/uplink.js';
import { maxRate } from './rates.js';
import { strip } from './throughput.js';

/** First bucket from `fromIndex` where both series reach `share` of the offered rate. */
function recoveredAt(run: ArmRun, fromIndex: number, share: number): number | undefined {
  const { bucketMs, ok, received } = run.series;
  const need = (run.offeredPerSec * bucketMs * share) / 1000;
  for (let i = fromIndex; i < Math.max(ok.length, received.length); i++) {
    if ((ok[i] ?? 0) >= need && (received[i] ?? 0) >= need) return i;
  }
  return undefined;
}

function rssSeries(samples: ReadonlyArray<{ atUs: number; rssBytes: number }>, fromUs: number, bucketMs: number): number[] {
  const out: number[] = [];
  for (const { atUs, rssBytes } of samples) {
    if (atUs < fromUs) continue;
    const i = Math.floor((atUs - fromUs) / 1000 / bucketMs);
    out[i] = Math.max(out[i] ?? 0, round(rssBytes / 1024 / 1024, 1));
  }
  return Array.from(out, (x) => x ?? 0);
}

export const t8: Scenario = {
  id: 'T8',
  title: 'subscriber stalled 30 s under load: RSS, refusals, recovery',
  async run(ctx) {
    const beforeMs = ctx.smoke ? 500 : 10_000;
    const stallMs = ctx.smoke ? 1000 : 30_000;
    const afterMs = ctx.smoke ? 1000 : 30_000;
    const bucketMs = ctx.smoke ? 250 : 1000;
    // Longer than the gateway's publishTimeoutMs (10 s) plus the stall, so that "no answer" means
    // the gateway never answered, not that the terminal gave up first.
    const rig = await UplinkRig.start(ctx, { name: 'T8', devices: ctx.smoke ? 20 : 100, generators: 1, responseTimeoutMs: 120_000 });
    let run: ArmRun;
    let rate = 0;
    let stallAtUs = 0;
    let resumeAtUs = 0;
    let rssAtStallMB = 0;
    let alive = false;
    let ready = false;
    try {
      rate = Math.round((await maxRate(ctx, rig)) / 2);
      const subscriberPid = rig.subscriber.pid;
      run = await rig.run('qyzn', rate, beforeMs + stallMs + afterMs, 0, {
        bucketMs,
        settleMs: ctx.smoke ? 15_000 : 60_000,
        during: async (startAtUs) => {
          await sleepUntil(startAtUs + beforeMs * 1000);
          rssAtStallMB = (rig.gateway.sample()?.rssBytes ?? 0) / 1024 / 1024;
          stallAtUs = nowUs();
          process.kill(subscriberPid, 'SIGSTOP');
          ctx.log(`  subscriber stopped (SIGSTOP) for ${stallMs / 1000} s; gateway RSS ${round(rssAtStallMB, 1)} MB`);
          await sleepUntil(stallAtUs + stallMs * 1000);
          process.kill(subscriberPid, 'SIGCONT');
          resumeAtUs = nowUs();
          ctx.log('  subscriber resumed (SIGCONT)');
        },
      });
      alive = rig.gateway.alive;
      ready = await rig.gateway.ready();
    } finally {
      await rig.stop();
    }
    const window = rig.monitor.window(stallAtUs, nowUs());
    const growthMB = round(window.rssMaxMB - rssAtStallMB, 1);
    // Split at the resume: what the stall itself held, and what the catch-up at full speed took.
    const stalled = rig.monitor.window(stallAtUs, resumeAtUs);
    const stallGrowthMB = round(stalled.rssMaxMB - rssAtStallMB, 1);
    const resumeIndex = Math.ceil((resumeAtUs - run.startAtUs) / 1000 / bucketMs);
    const at = recoveredAt(run, resumeIndex, 0.95);
    const recoverySec = at === undefined ? Number.POSITIVE_INFINITY : round(((at + 1) * bucketMs - (resumeAtUs - run.startAtUs) / 1000) / 1000, 1);
    const unanswered = run.silent + run.closed;
    const checks = [
      check('gateway RSS growth during the stall', growthMB, 'MB', '<= 100 MB', growthMB <= 100, ctx),
      check('gateway alive and ready after', alive && ready ? 'yes' : 'no', '', 'no crash', alive && ready, ctx),
      check('messages never answered (silent drops)', unanswered, 'messages', '0 (refused with -1 instead)', unanswered === 0, ctx),
      check('acknowledged but never delivered', run.lostAcked, 'messages', '0', run.lostAcked === 0, ctx),
      check('full rate back after resume', Number.isFinite(recoverySec) ? recoverySec : 'never', 's', '<= 10 s', recoverySec <= 10, ctx),
    ];
    return {
      status: verdict(checks, ctx),
      summary: `at ${rate}/s: RSS +${growthMB} MB (+${stallGrowthMB} MB while stalled, the rest in the catch-up after), ${run.refused} refused (-1), ${unanswered} unanswered, ${run.lostAcked} acked-but-lost, full rate back ${Number.isFinite(recoverySec) ? `${recoverySec} s` : 'never'} after resume; answer max ${run.answerMs.max} ms`,
      checks,
      generators: run.generators,
      notes: [
        `terminals waited up to ${round(run.answerMs.max / 1000, 1)} s for an answer (p50 ${round(run.answerMs.p50 / 1000, 1)} s): messages held in the gateway's paused sockets are not under mqtt.publishTimeoutMs.`,
        `${run.deliveredUnacked} of the ${run.refused} refused messages reached the subscriber anyway: a terminal retransmitting them would have them published twice.`,
      ],
      details: {
        ratePerSec: rate,
        rssAtStallMB: round(rssAtStallMB, 1),
        rssMaxMB: window.rssMaxMB,
        rssMaxWhileStalledMB: stalled.rssMaxMB,
        recoverySec,
        // The gateway's RSS per bucket from the start of the run (stall from bucket beforeMs / bucketMs).
        rssSeriesMB: rssSeries(rig.monitor.samples, run.startAtUs, bucketMs),
        run: strip(run),
        series: run.series,
      },
    };
  },
};
