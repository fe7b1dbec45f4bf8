// T10: CPU per qyzn event at one rate every arm carries, in interleaved rounds: the gateway
// process with the terminals; the same process idle while MQTT.js publishes the same envelopes
// through its embedded aedes (the broker's own per-message cost); the floor (bench/floor.ts, the
// contractual work written plainly). With BENCH_AGAINST=<another checkout> a fourth arm runs that
// checkout's gateway, so that one change's effect is measured against the build before it. Then
// the gateway and the floor once more with Mosquitto as the broker (T2's), where the process
// under test does no broker work at all.
import { check, verdict, type Scenario } from '../lib/context.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig, type ArmRun } from '../lib/uplink.js';
import { strip } from './throughput.js';
import { MOSQUITTO_URL } from './t2-mosquitto.js';

type Arm = 'baseline' | 'qyzn' | 'floor' | 'against';
type Run = Omit<ArmRun, 'arm'> & { arm: Arm };

const cpuUs = (run: Run): number => ((run.gateway.cpuPercent / 100) * 1e6) / Math.max(1, run.deliveredPerSec);

export const t10: Scenario = {
  id: 'T10',
  title: 'CPU per qyzn event at one rate: gateway vs the embedded broker alone vs the floor',
  async run(ctx) {
    const rounds = ctx.smoke ? 1 : Number(process.env.BENCH_T10_ROUNDS ?? 3);
    const durationMs = ctx.smoke ? 1000 : 6000;
    const warmupMs = ctx.smoke ? 300 : 1500;
    const devices = ctx.smoke ? 20 : 100;
    const against = process.env.BENCH_AGAINST;
    // Below every arm's maximum, so each does the same work; half of T1's gateway maximum by default.
    const rate = ctx.smoke ? 1000 : Number(process.env.BENCH_T10_RATE ?? Math.round((ctx.shared.maxRate ?? 8000) / 2));
    const [rig, floorRig, againstRig] = (await UplinkRig.startAll(ctx, [
      { name: 'T10', devices, generators: 1 },
      { name: 'T10-floor', devices, generators: 1, entry: 'floor', baseline: false },
      ...(against ? [{ name: 'T10-against', devices, generators: 1, root: against, baseline: false }] : []),
    ])) as [UplinkRig, UplinkRig, UplinkRig | undefined];
    const arms: Arm[] = ['baseline', 'qyzn', 'floor', ...(againstRig ? (['against'] as const) : [])];
    const runs: Run[] = [];
    try {
      for (let r = 0; r < rounds; r++) {
        for (const arm of arms) {
          const on = arm === 'floor' ? floorRig : arm === 'against' && againstRig ? againstRig : rig;
          const run: Run = { ...(await on.run(arm === 'baseline' ? 'baseline' : 'qyzn', rate, durationMs, warmupMs)), arm };
          ctx.log(`  round ${r + 1} ${arm} at ${rate}/s: ${round(cpuUs(run), 1)} µs per event, delivered ${run.deliveredPerSec}/s, p99 ${run.latencyMs.p99} ms, loop delay p99 ${run.loopDelay?.p99Ms ?? '?'} ms`);
          runs.push(run);
        }
      }
    } finally {
      await Promise.all([rig.stop(), floorRig.stop(), againstRig?.stop()]);
    }
    const of = (arm: Arm): Run[] => runs.filter((x) => x.arm === arm);
    const us = (arm: Arm): number => round(median(of(arm).map(cpuUs)), 1);
    // Per round, so that a drift of the machine hits both arms of a ratio alike.
    const perRound = (a: Arm, b: Arm): number[] => {
      const xs = of(a);
      const ys = of(b);
      return xs.map((x, i) => cpuUs(x) / Math.max(1e-9, cpuUs(ys[i] as Run)));
    };
    const overBroker = median(perRound('qyzn', 'baseline'));
    const overFloor = median(perRound('qyzn', 'floor'));
    const checks = [
      check('gateway / embedded broker CPU per event', round(overBroker, 2), 'x', '<= 1.3x', overBroker <= 1.3, ctx),
      check('gateway / floor CPU per event', round(overFloor, 2), 'x', '<= 1.5x', overFloor <= 1.5, ctx),
    ];
    const addedP99 = median(of('qyzn').map((x, i) => x.latencyMs.p99 - (of('baseline')[i]?.latencyMs.p99 ?? 0)));
    const addedP999 = median(of('qyzn').map((x, i) => x.latencyMs.p999 - (of('baseline')[i]?.latencyMs.p999 ?? 0)));
    const loop = (arm: Arm): string => `${round(median(of(arm).map((x) => x.loopDelay?.p99Ms ?? Number.NaN)), 2)}/${round(Math.max(...of(arm).map((x) => x.loopDelay?.maxMs ?? Number.NaN)), 1)} ms`;
    const notes = [
      `at ${rate}/s: gateway ${us('qyzn')} µs, embedded broker alone ${us('baseline')} µs, floor ${us('floor')} µs per event${againstRig ? `, ${against} ${us('against')} µs` : ''}`,
      `added latency (gateway - broker alone, medians of per-round differences): p99 ${round(addedP99, 2)} ms, p99.9 ${round(addedP999, 2)} ms; event loop delay p99/max: gateway ${loop('qyzn')}, broker alone ${loop('baseline')}, floor ${loop('floor')}`,
    ];
    // The same with Mosquitto: the process under test only speaks MQTT to it.
    const external: Run[] = [];
    const [mRig, mFloor] = (await UplinkRig.startAll(ctx, [
      { name: 'T10-mosquitto', brokerUrl: MOSQUITTO_URL, devices, generators: 1, baseline: false },
      { name: 'T10-mosquitto-floor', brokerUrl: MOSQUITTO_URL, devices, generators: 1, entry: 'floor', baseline: false },
    ])) as [UplinkRig, UplinkRig];
    try {
      for (let r = 0; r < rounds; r++) {
        for (const arm of ['qyzn', 'floor'] as const) {
          const run: Run = { ...(await (arm === 'floor' ? mFloor : mRig).run('qyzn', rate, durationMs, warmupMs)), arm };
          ctx.log(`  round ${r + 1} ${arm} with Mosquitto at ${rate}/s: ${round(cpuUs(run), 1)} µs per event, delivered ${run.deliveredPerSec}/s, p99 ${run.latencyMs.p99} ms`);
          external.push(run);
        }
      }
    } finally {
      await Promise.all([mRig.stop(), mFloor.stop()]);
    }
    const mUs = (arm: Arm): number => round(median(external.filter((x) => x.arm === arm).map(cpuUs)), 1);
    const mGw = external.filter((x) => x.arm === 'qyzn');
    const mFl = external.filter((x) => x.arm === 'floor');
    const mRatios = mGw.map((x, i) => cpuUs(x) / Math.max(1e-9, cpuUs(mFl[i] as Run)));
    const overFloorMosquitto = median(mRatios);
    checks.push(check('gateway / floor CPU per event, Mosquitto', round(overFloorMosquitto, 2), 'x', '<= 1.5x', overFloorMosquitto <= 1.5, ctx));
    notes.push(`with Mosquitto at ${rate}/s: gateway ${mUs('qyzn')} µs, floor ${mUs('floor')} µs per event = ${round(overFloorMosquitto, 2)}x (rounds ${mRatios.map((x) => round(x, 3)).join(', ')})`);
    if (againstRig) notes.push(`this build / ${against}: ${round(median(perRound('qyzn', 'against')), 3)}x CPU per event (rounds ${perRound('qyzn', 'against').map((x) => round(x, 3)).join(', ')})`);
    return {
      status: verdict(checks, ctx),
      summary: `at ${rate}/s: gateway ${us('qyzn')} µs/event = ${round(overBroker, 2)}x the embedded broker alone (${us('baseline')} µs), ${round(overFloor, 2)}x the floor (${us('floor')} µs); with Mosquitto ${mUs('qyzn')} µs = ${round(overFloorMosquitto, 2)}x the floor (${mUs('floor')} µs)`,
      checks,
      generators: runs.flatMap((x) => x.generators),
      notes,
      details: {
        ratePerSec: rate,
        cpuUsPerEvent: Object.fromEntries(arms.map((a) => [a, us(a)])),
        cpuUsPerEventMosquitto: { qyzn: mUs('qyzn'), floor: mUs('floor') },
        perRound: { overBroker: perRound('qyzn', 'baseline').map((x) => round(x, 3)), overFloor: perRound('qyzn', 'floor').map((x) => round(x, 3)) },
        addedLatencyMs: { p99: round(addedP99, 2), p999: round(addedP999, 2) },
        rounds: runs.map(strip),
        roundsMosquitto: external.map(strip),
      },
    };
  },
};
