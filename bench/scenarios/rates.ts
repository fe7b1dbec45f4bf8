// T4, T5 and T8 run at a share of T1's maximum. When T1 did not run first (--only), the maximum
// is found here with the same doubling probe.
import type { RunContext } from '../lib/context.js';
import { probe, saturationPlan } from '../lib/saturation.js';
import type { UplinkRig } from '../lib/uplink.js';

export async function maxRate(ctx: RunContext, rig: UplinkRig): Promise<number> {
  if (ctx.shared.maxRate !== undefined) return ctx.shared.maxRate;
  if (ctx.smoke) return 1000;
  ctx.log('  no T1 result in this run: probing the gateway maximum');
  const found = await probe(ctx, (arm, rate, durationMs, warmupMs) => rig.run(arm, rate, durationMs, warmupMs, { settleMs: 5000 }), 'qyzn', saturationPlan(ctx, 2000));
  ctx.shared.maxRate = found;
  return found;
}
