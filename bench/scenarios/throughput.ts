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
  /** Said before the check names, for a scenario that measures twice (T2: two Mosquittos). */
  label?: string;
}

export async function throughput(ctx: RunContext, plan: ThroughputPlan): Promise<Omit<ScenarioResult, 'id' | 'title' | 'seconds'>> {
  const sat = saturationPlan(ctx, 2000);
  const devices = ctx.smoke ? 20 : plan.devices;
  // Processes' logs and profiles are named by it (raw/): a second measurement must not overwrite the first's.
  const name = plan.label ? `${plan.id}-${plan.label.replace(/\W+/g, '-')}` : plan.id;
  // The floor (bench/floor.ts) in a rig of its own: its own process, terminals and subscriber, on
  // the same kind of broker; its rounds interleave with the other two arms'.
  const [rig, floorRig] = (await UplinkRig.startAll(ctx, [
    { name, brokerUrl: plan.brokerUrl, devices, generators: 1 },
    { name: `${name}-floor`, brokerUrl: plan.brokerUrl, devices, generators: 1, entry: 'floor', baseline: false },
  ])) as [UplinkRig, UplinkRig];
  let result;
  try {
    result = await saturationRounds(ctx, ['baseline', 'qyzn', 'floor'] as const, async (arm, rate, durationMs, warmupMs): Promise<FloorRun | ArmRun> =>
      arm === 'floor' ? { ...(await floorRig.run('qyzn', rate, durationMs, warmupMs)), arm: 'floor' as const } : rig.run(arm, rate, durationMs, warmupMs),
    sat);
  } finally {
    await Promise.all([rig.stop(), floorRig.stop()]);
  }
  const measured = result.samples;
  const gw = median(measured.filter((r) => r.arm === 'qyzn').map((r) => r.deliveredPerSec));
  const bl = median(baselineByRound(measured, 'baseline').map((r) => r.best));
  const fl = median(baselineByRound(measured, 'floor').map((r) => r.best));
  const ratios = roundRatios(measured, 'qyzn', 'baseline');
  const floorRatios = roundRatios(measured, 'qyzn', 'floor');
  const ratio = median(ratios);
  const floorRatio = median(floorRatios);
  if (plan.brokerUrl === '') ctx.shared.maxRate = gw;
  const label = plan.label ? `${plan.label}: ` : '';
  const checks = [
    check(`${label}gateway / baseline events/s`, round(ratio * 100, 1), '%', `>= ${plan.target * 100}% of baseline`, ratio >= plan.target, ctx),
    check(`${label}gateway / floor events/s`, round(floorRatio * 100, 1), '%', 'measured', true, ctx),
  ];
  const notes: string[] = [];
  const unsaturated = measured.filter((r) => !r.saturated).length;
  if (unsaturated > 0) notes.push(`${unsaturated} of ${measured.length} measured runs were not saturated (delivered >= 95% of offered): their rate is a lower bound.`);
  const measuredRuns = measured;
  const lost = measuredRuns.reduce((n, r) => n + r.lostAcked, 0);
  if (lost > 0) notes.push(`${lost} acknowledged messages never reached the subscriber in the overloaded runs (broker queue limits for a slow subscriber).`);
  for (const arm of ['qyzn', 'floor'] as const) {
    const armRuns = measuredRuns.filter((r) => r.arm === arm);
    notes.push(
      `${arm === 'qyzn' ? 'gateway' : 'floor'} arm at its maximum: process CPU ${median(armRuns.map((r) => r.gateway.cpuPercent))}% of a core, RSS up to ${Math.max(...armRuns.map((r) => r.gateway.rssMaxMB))} MB, latency p50 ${median(armRuns.map((r) => r.latencyMs.p50))} ms (queues under overload).`,
    );
  }
  const details: Record<string, unknown> = { estimates: result.estimates, rounds: measuredRuns.map(strip), ratios: ratios.map((x) => round(x, 3)), floorRatios: floorRatios.map((x) => round(x, 3)), floorPerSec: round(fl, 0) };
  const status = verdict(checks, ctx);
  if (status === 'missed' && ctx.profile) {
    details.profile = await profileGateway(ctx, { name: `${name}-profile`, brokerUrl: plan.brokerUrl, devices, ratePerSec: Math.round(gw * sat.overload), durationMs: 8000 });
  }
  return {
    status,
    summary: `gateway ${round(gw, 0)}/s vs baseline ${round(bl, 0)}/s = ${round(ratio * 100, 1)}%, vs floor ${round(fl, 0)}/s = ${round(floorRatio * 100, 1)}% (medians of ${ratios.length} interleaved rounds)`,
    checks,
    generators: measured.flatMap((r) => r.generators),
    notes,
    details,
  };
}

/** A run of the floor's rig, under its own arm name. */
export type FloorRun = Omit<ArmRun, 'arm'> & { arm: 'floor' };

/** A run without its per-bucket series, for results.json. */
export function strip<R extends Omit<ArmRun, 'arm'>>(run: R): Omit<R, 'series' | 'generators'> {
  const { series: _series, generators: _generators, ...rest } = run;
  return rest;
}
