// T1 and T2: the most events a second the gateway carries from QYZN terminals to a subscriber,
// against MQTT.js publishing the same envelopes to the same broker and subscriber (saturation.ts
// says how a maximum is measured and compared).
import { check, verdict, type RunContext, type ScenarioResult } from '../lib/context.js';
import { profileGateway } from '../lib/profile.js';
import { baselineByRound, roundRatios, saturationPlan, saturationRounds } from '../lib/saturation.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig, type ArmRun } from '../lib/uplink.js';

export interface ThroughputPlan {
  id: string;
  brokerUrl: string;
  /** Minimum ratio gateway / baseline. */
  target: number;
  devices: number;
}

export async function throughput(ctx: RunContext, plan: ThroughputPlan): Promise<Omit<ScenarioResult, 'id' | 'title' | 'seconds'>> {
  const sat = saturationPlan(ctx, 2000);
  const devices = ctx.smoke ? 20 : plan.devices;
  const rig = await UplinkRig.start(ctx, { name: plan.id, brokerUrl: plan.brokerUrl, devices, generators: 1 });
  const runs: ArmRun[] = [];
  let result;
  try {
    result = await saturationRounds(ctx, ['baseline', 'qyzn'] as const, async (arm, rate, durationMs, warmupMs) => {
      const run = await rig.run(arm, rate, durationMs, warmupMs);
      runs.push(run);
      return run;
    }, sat);
  } finally {
    await rig.stop();
  }
  const measured = result.samples;
  const gw = median(measured.filter((r) => r.arm === 'qyzn').map((r) => r.deliveredPerSec));
  const bl = median(baselineByRound(measured, 'baseline').map((r) => r.best));
  const ratios = roundRatios(measured, 'qyzn', 'baseline');
  const ratio = median(ratios);
  if (plan.brokerUrl === '') ctx.shared.maxRate = gw;
  const checks = [check('gateway / baseline events/s', round(ratio * 100, 1), '%', `>= ${plan.target * 100}% of baseline`, ratio >= plan.target, ctx)];
  const notes: string[] = [];
  const unsaturated = measured.filter((r) => !r.saturated).length;
  if (unsaturated > 0) notes.push(`${unsaturated} of ${measured.length} measured runs were not saturated (delivered >= 95% of offered): their rate is a lower bound.`);
  const measuredRuns = runs.slice(runs.length - measured.length);
  const lost = measuredRuns.reduce((n, r) => n + r.lostAcked, 0);
  if (lost > 0) notes.push(`${lost} acknowledged messages never reached the subscriber in the overloaded runs (broker queue limits for a slow subscriber).`);
  const gwRuns = measuredRuns.filter((r) => r.arm === 'qyzn');
  notes.push(
    `gateway arm at its maximum: gateway CPU ${median(gwRuns.map((r) => r.gateway.cpuPercent))}% of a core, RSS up to ${Math.max(...gwRuns.map((r) => r.gateway.rssMaxMB))} MB, latency p50 ${median(gwRuns.map((r) => r.latencyMs.p50))} ms (queues under overload).`,
  );
  const details: Record<string, unknown> = { estimates: result.estimates, rounds: measuredRuns.map(strip), ratios: ratios.map((x) => round(x, 3)) };
  const status = verdict(checks, ctx);
  if (status === 'missed' && ctx.profile) {
    details.profile = await profileGateway(ctx, { name: `${plan.id}-profile`, brokerUrl: plan.brokerUrl, devices, ratePerSec: Math.round(gw * sat.overload), durationMs: 8000 });
  }
  return {
    status,
    summary: `gateway ${round(gw, 0)}/s vs baseline ${round(bl, 0)}/s = ${round(ratio * 100, 1)}% (median of ${ratios.length} interleaved rounds)`,
    checks,
    generators: measured.flatMap((r) => r.generators),
    notes,
    details,
  };
}

/** A run without its per-bucket series, for results.json. */
export function strip(run: ArmRun): Omit<ArmRun, 'series' | 'generators'> {
  const { series: _series, generators: _generators, ...rest } = run;
  return rest;
}
