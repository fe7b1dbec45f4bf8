// T1D: what broker.persistence disk and buffer.mode disk cost T1. The same qyzn uplink into two gateways side by side,
// one on a memory store and one on a disk store, their rounds interleaved; once with T1's clean
// subscriber (aedes then touches its store only for retained topics: no QoS 1 event is stored)
// and once with a subscriber on a persistent session (each event is stored for it, updated when
// sent and removed at its PUBACK); then buffer.mode disk vs off, the broker up. Not part of the default run: `npm run bench -- --only T1D`.
import { check, type RunContext, type Scenario, type ScenarioResult } from '../lib/context.js';
import { roundRatios, saturationPlan, saturationRounds } from '../lib/saturation.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig, type RigOptions } from '../lib/uplink.js';
import { strip } from './throughput.js';

type Arm = 'memory' | 'disk';

interface Comparison {
  name: string;
  /** The rig options of each arm: 'memory' is the reference, 'disk' what it costs. */
  arms: Record<Arm, Pick<RigOptions, 'persistence' | 'buffer' | 'persistentSubscriber'>>;
}

async function compare(ctx: RunContext, comparison: Comparison): Promise<{ memory: number; disk: number; ratios: number[]; rounds: unknown[] }> {
  const sat = saturationPlan(ctx, 2000);
  const devices = ctx.smoke ? 20 : 100;
  const rigs: Partial<Record<Arm, UplinkRig>> = {};
  try {
    for (const arm of ['memory', 'disk'] as const) {
      rigs[arm] = await UplinkRig.start(ctx, { name: `T1D-${comparison.name}-${arm}`, devices, generators: 1, baseline: false, ...comparison.arms[arm] });
    }
    const result = await saturationRounds(ctx, ['memory', 'disk'] as const, async (arm, rate, durationMs, warmupMs) => {
      const run = await (rigs[arm] as UplinkRig).run('qyzn', rate, durationMs, warmupMs);
      // Both rigs' runs are qyzn runs: the arm compared is the store.
      return { ...strip(run), arm, generators: run.generators };
    }, sat);
    const rate = (arm: Arm): number => median(result.samples.filter((s) => s.arm === arm).map((s) => s.deliveredPerSec));
    return { memory: rate('memory'), disk: rate('disk'), ratios: roundRatios(result.samples, 'disk', 'memory'), rounds: result.samples.map(({ generators: _generators, ...rest }) => rest) };
  } finally {
    await Promise.all(Object.values(rigs).map((rig) => rig.stop()));
  }
}

const COMPARISONS: Comparison[] = [
  { name: 'clean', arms: { memory: { persistence: 'memory' }, disk: { persistence: 'disk' } } },
  { name: 'persistent', arms: { memory: { persistence: 'memory', persistentSubscriber: true }, disk: { persistence: 'disk', persistentSubscriber: true } } },
  // The broker is always there: what the buffer's check costs the live path (the store stays empty).
  { name: 'buffer', arms: { memory: { persistence: 'memory', buffer: 'off' }, disk: { persistence: 'memory', buffer: 'disk' } } },
];

export const t1disk: Scenario = {
  id: 'T1D',
  title: 'T1 with broker.persistence disk vs memory (clean and persistent subscriber), and buffer.mode disk vs off',
  optional: true,
  run: async (ctx): Promise<Omit<ScenarioResult, 'id' | 'title' | 'seconds'>> => {
    const results: Array<{ comparison: Comparison; result: Awaited<ReturnType<typeof compare>> }> = [];
    for (const comparison of COMPARISONS) results.push({ comparison, result: await compare(ctx, comparison) });
    const pct = (x: number[]): number => round(median(x) * 100, 1);
    const label: Record<string, string> = {
      clean: 'store disk / memory, clean subscriber',
      persistent: 'store disk / memory, persistent subscriber',
      buffer: 'buffer disk / off',
    };
    const checks = results.map(({ comparison, result }) => check(label[comparison.name] as string, pct(result.ratios), '%', 'measured', true, ctx));
    const line = ({ comparison, result: r }: (typeof results)[number]): string =>
      `${label[comparison.name] as string}: ${round(r.disk, 0)}/s vs ${round(r.memory, 0)}/s = ${pct(r.ratios)}% (rounds ${r.ratios.map((x) => round(x * 100, 1)).join(', ')}%)`;
    return {
      status: 'measured',
      summary: results.map(line).join('; '),
      checks,
      generators: [],
      notes: [],
      details: Object.fromEntries(results.map(({ comparison, result }) => [comparison.name, result])),
    };
  },
};
