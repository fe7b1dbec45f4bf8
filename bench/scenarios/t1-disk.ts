// T1D: what broker.persistence disk costs T1. The same qyzn uplink into two gateways side by side,
// one on a memory store and one on a disk store, their rounds interleaved; once with T1's clean
// subscriber (aedes then touches its store only for retained topics: no QoS 1 event is stored)
// and once with a subscriber on a persistent session (each event is stored for it, updated when
// sent and removed at its PUBACK). Not part of the default run: `npm run bench -- --only T1D`.
import { check, type RunContext, type Scenario, type ScenarioResult } from '../lib/context.js';
import { roundRatios, saturationPlan, saturationRounds } from '../lib/saturation.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig } from '../lib/uplink.js';
import { strip } from './throughput.js';

type Store = 'memory' | 'disk';

async function compare(ctx: RunContext, persistentSubscriber: boolean): Promise<{ memory: number; disk: number; ratios: number[]; rounds: unknown[] }> {
  const sat = saturationPlan(ctx, 2000);
  const devices = ctx.smoke ? 20 : 100;
  const kind = persistentSubscriber ? 'persistent' : 'clean';
  const rigs: Partial<Record<Store, UplinkRig>> = {};
  try {
    for (const store of ['memory', 'disk'] as const) {
      rigs[store] = await UplinkRig.start(ctx, { name: `T1D-${store}-${kind}`, devices, generators: 1, baseline: false, persistence: store, persistentSubscriber });
    }
    const result = await saturationRounds(ctx, ['memory', 'disk'] as const, async (store, rate, durationMs, warmupMs) => {
      const run = await (rigs[store] as UplinkRig).run('qyzn', rate, durationMs, warmupMs);
      // Both rigs' runs are qyzn runs: the arm compared is the store.
      return { ...strip(run), arm: store, generators: run.generators };
    }, sat);
    const rate = (store: Store): number => median(result.samples.filter((s) => s.arm === store).map((s) => s.deliveredPerSec));
    return { memory: rate('memory'), disk: rate('disk'), ratios: roundRatios(result.samples, 'disk', 'memory'), rounds: result.samples.map(({ generators: _generators, ...rest }) => rest) };
  } finally {
    await Promise.all(Object.values(rigs).map((rig) => rig.stop()));
  }
}

export const t1disk: Scenario = {
  id: 'T1D',
  title: 'T1 with broker.persistence disk vs memory (clean and persistent subscriber)',
  optional: true,
  run: async (ctx): Promise<Omit<ScenarioResult, 'id' | 'title' | 'seconds'>> => {
    const clean = await compare(ctx, false);
    const persistent = await compare(ctx, true);
    const pct = (x: number[]): number => round(median(x) * 100, 1);
    const checks = [
      check('disk / memory, clean subscriber', pct(clean.ratios), '%', 'measured', true, ctx),
      check('disk / memory, persistent subscriber', pct(persistent.ratios), '%', 'measured', true, ctx),
    ];
    const line = (name: string, r: typeof clean): string => `${name}: disk ${round(r.disk, 0)}/s vs memory ${round(r.memory, 0)}/s = ${pct(r.ratios)}% (rounds ${r.ratios.map((x) => round(x * 100, 1)).join(', ')}%)`;
    return {
      status: 'measured',
      summary: `${line('clean subscriber', clean)}; ${line('persistent subscriber', persistent)}`,
      checks,
      generators: [],
      notes: [],
      details: { clean, persistent },
    };
  },
};
