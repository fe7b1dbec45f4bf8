// Maximum-rate comparisons (T1, T2, T3): each arm is driven open-loop a little above its own
// maximum, so what it delivers in the measured window is that maximum. A short doubling probe
// finds where each arm stops keeping up; rounds then interleave the arms (A B A B ...) so that the
// drifts of a shared, noisy machine hit every arm alike, and the caller takes the median of the
// per-round ratios.
import type { GeneratorLine, RunContext } from './context.js';

export interface ArmSample {
  arm: string;
  offeredPerSec: number;
  deliveredPerSec: number;
  /** Delivered < 95% of offered: the arm was at its maximum. */
  saturated: boolean;
  generators: GeneratorLine[];
}

export type RunArm<A extends string, S extends ArmSample = ArmSample> = (arm: A, ratePerSec: number, durationMs: number, warmupMs: number) => Promise<S>;

export interface SaturationPlan {
  rounds: number;
  durationMs: number;
  warmupMs: number;
  /** First rate of the doubling probe; the smoke run uses it as the rate and does not probe. */
  probeFrom: number;
  probeStepMs: number;
  /** Offered rate over the estimated maximum. Mild: a broker offered far more than it carries
   *  (aedes, Mosquitto with a subscriber falling behind) can collapse to a fraction of its maximum,
   *  and the round then measures the collapse. */
  overload: number;
}

export function saturationPlan(ctx: RunContext, probeFrom: number): SaturationPlan {
  return ctx.smoke
    ? { rounds: 1, durationMs: 1000, warmupMs: 300, probeFrom, probeStepMs: 0, overload: 1 }
    : { rounds: 3, durationMs: 5000, warmupMs: 1500, probeFrom, probeStepMs: 2000, overload: 1.15 };
}

/** Doubles the offered rate until the arm falls behind; its best delivered rate. */
export async function probe<A extends string>(ctx: RunContext, runArm: RunArm<A>, arm: A, plan: SaturationPlan): Promise<number> {
  let rate = plan.probeFrom;
  let best = 0;
  for (let step = 0; step < 7; step++) {
    const sample = await runArm(arm, rate, plan.probeStepMs, Math.min(500, plan.probeStepMs / 3));
    ctx.log(`  probe ${arm}: offered ${rate}/s delivered ${sample.deliveredPerSec}/s`);
    best = Math.max(best, sample.deliveredPerSec);
    if (sample.saturated) return best;
    rate *= 2;
  }
  return best;
}

export async function saturationRounds<A extends string, S extends ArmSample>(ctx: RunContext, arms: readonly A[], runArm: RunArm<A, S>, plan: SaturationPlan): Promise<{ samples: Array<S & { round: number }>; estimates: Record<string, number> }> {
  // The best rate each arm has delivered so far: rounds offer `overload` times that. A round slowed
  // down by the machine's other load then still saturates the next one (a rate that only ever
  // ratchets up), which a "last delivered" estimate would not.
  const best: Record<string, number> = {};
  for (const arm of arms) best[arm] = ctx.smoke ? plan.probeFrom : await probe(ctx, runArm, arm, plan);
  const samples: Array<S & { round: number }> = [];
  for (let round = 0; round < plan.rounds; round++) {
    for (const arm of arms) {
      // A round that kept up measured a lower bound only (a probe step that collapsed under
      // overload can leave the estimate far below the maximum): it is run again higher, twice at most.
      let sample: S | undefined;
      for (let attempt = 0; attempt < (ctx.smoke ? 1 : 3) && !sample?.saturated; attempt++) {
        sample = await runArm(arm, Math.round((best[arm] ?? plan.probeFrom) * plan.overload), plan.durationMs, plan.warmupMs);
        ctx.log(`  round ${round + 1} ${arm}: offered ${sample.offeredPerSec}/s delivered ${sample.deliveredPerSec}/s${sample.saturated ? '' : ' (not saturated)'}`);
        best[arm] = Math.max(best[arm] ?? 0, sample.deliveredPerSec);
      }
      if (sample) samples.push({ ...sample, round });
    }
  }
  return { samples, estimates: best };
}

/** Per round, arm `a` over arm `b`, where `b` (the baseline) counts at the best it delivered so far:
 *  overloaded, a baseline can collapse below its own maximum (Mosquitto drops QoS 1 messages for a
 *  subscriber that falls behind), and a collapsed baseline would flatter `a`. `a` counts at what it
 *  delivered in that round, collapse included. */
export function roundRatios(samples: ReadonlyArray<ArmSample & { round: number }>, a: string, b: string): number[] {
  const out: number[] = [];
  for (const { round, best } of baselineByRound(samples, b)) {
    const x = samples.find((s) => s.round === round && s.arm === a);
    if (x && best > 0) out.push(x.deliveredPerSec / best);
  }
  return out;
}

/** The baseline's figure per round: the best it delivered up to and including that round. */
export function baselineByRound(samples: ReadonlyArray<ArmSample & { round: number }>, b: string): Array<{ round: number; best: number }> {
  const rounds = [...new Set(samples.map((s) => s.round))].sort((x, y) => x - y);
  let best = 0;
  const out: Array<{ round: number; best: number }> = [];
  for (const round of rounds) {
    const y = samples.find((s) => s.round === round && s.arm === b);
    if (!y) continue;
    best = Math.max(best, y.deliveredPerSec);
    out.push({ round, best });
  }
  return out;
}
