// T11: does a second core help? With the embedded broker, broker and adapters share one thread.
// Measured three ways, in interleaved maximum-rate rounds (saturation.ts), with the CPU per event
// summed over every process (and thread) doing the gateway's and the broker's work:
//   - the gateway with broker.thread (src/broker-thread.ts) against the gateway in one thread;
//   - the gateway with its broker in a second process (an aedes of its own, bench/floor.ts as a
//     plain broker, over MQTT on loopback) against the gateway with its embedded broker;
//   - the floor with its aedes in a worker_thread, fed in one message per turn and acknowledging
//     the same way (BENCH_FLOOR_BROKER=thread), against the floor in one thread: what the cheapest
//     possible split gains for the same work, an upper bound for a gateway split the same way.
// Only with --only T11: it answers a design question, and its answer is in docs/benchmarks.md.
import { check, verdict, type Scenario } from '../lib/context.js';
import { GatewayProcess } from '../lib/gateway.js';
import { ProcMonitor } from '../lib/procstat.js';
import { baselineByRound, roundRatios, saturationPlan, saturationRounds } from '../lib/saturation.js';
import { median, round } from '../lib/stats.js';
import { UplinkRig, type ArmRun } from '../lib/uplink.js';
import { strip } from './throughput.js';

type Arm = 'embedded' | 'thread' | 'second-process' | 'floor' | 'floor-thread';
type Run = Omit<ArmRun, 'arm'> & { arm: Arm; cpuPercentTotal: number };

export const t11: Scenario = {
  id: 'T11',
  title: 'the second core: broker in a second process or a worker_thread vs one thread',
  optional: true,
  async run(ctx) {
    const sat = saturationPlan(ctx, 2000);
    const devices = ctx.smoke ? 20 : 100;
    const broker = await GatewayProcess.start({ name: 'T11-broker', adapters: [], logDir: ctx.rawDir, entry: 'floor' });
    const brokerMonitor = new ProcMonitor(broker.pid, 250);
    let rigs: UplinkRig[];
    try {
      rigs = await UplinkRig.startAll(ctx, [
        { name: 'T11-embedded', devices, generators: 1, baseline: false },
        { name: 'T11-thread', devices, generators: 1, baseline: false, env: { GATE2MQTT_BROKER_THREAD: 'true' } },
        { name: 'T11-second-process', brokerUrl: `mqtt://127.0.0.1:${broker.ports.broker}`, devices, generators: 1, baseline: false },
        { name: 'T11-floor', devices, generators: 1, entry: 'floor', baseline: false },
        { name: 'T11-floor-thread', devices, generators: 1, entry: 'floor', baseline: false, env: { BENCH_FLOOR_BROKER: 'thread' } },
      ]);
    } catch (err) {
      brokerMonitor.stop();
      await broker.stop();
      throw err;
    }
    const [embedded, thread, secondProcess, floor, floorThread] = rigs as [UplinkRig, UplinkRig, UplinkRig, UplinkRig, UplinkRig];
    const rigOf: Record<Arm, UplinkRig> = { embedded, thread, 'second-process': secondProcess, floor, 'floor-thread': floorThread };
    let result;
    try {
      result = await saturationRounds(ctx, ['embedded', 'thread', 'second-process', 'floor', 'floor-thread'] as const, async (arm, rate, durationMs, warmupMs) => {
        const run = await rigOf[arm].run('qyzn', rate, durationMs, warmupMs);
        const extra = arm === 'second-process' ? brokerMonitor.window(run.startAtUs, run.startAtUs + durationMs * 1000).cpuPercent : 0;
        const full: Run = { ...run, arm, cpuPercentTotal: round(run.gateway.cpuPercent + extra, 1) };
        return full;
      }, sat);
    } finally {
      brokerMonitor.stop();
      await Promise.all(rigs.map((r) => r.stop()));
      await broker.stop();
    }
    const measured = result.samples;
    const best = (arm: Arm): number => round(median(baselineByRound(measured, arm).map((r) => r.best)), 0);
    const split = median(roundRatios(measured, 'second-process', 'embedded'));
    const threaded = median(roundRatios(measured, 'thread', 'embedded'));
    const floorThreaded = median(roundRatios(measured, 'floor-thread', 'floor'));
    const measuredRuns = measured;
    const cpuUs = (arm: Arm): number => round(median(measuredRuns.filter((r) => r.arm === arm).map((r) => ((r.cpuPercentTotal / 100) * 1e6) / Math.max(1, r.deliveredPerSec))), 1);
    const cpu = (arm: Arm): number => round(median(measuredRuns.filter((r) => r.arm === arm).map((r) => r.cpuPercentTotal)), 0);
    // Where cores are free (the load elsewhere), the busiest thread sets the maximum: its CPU per
    // event is read per thread from /proc, which the shared 2 cores of this machine cannot show directly.
    const perThread = (arm: Arm, which: 'mainThreadCpuPercent' | 'otherThreadCpuPercent'): number =>
      round(median(measuredRuns.filter((r) => r.arm === arm).map((r) => ((r.gateway[which] / 100) * 1e6) / Math.max(1, r.deliveredPerSec))), 1);
    const threads = (arm: Arm): string => {
      const main = perThread(arm, 'mainThreadCpuPercent');
      const other = perThread(arm, 'otherThreadCpuPercent');
      return `${arm} main thread ${main} µs, busiest other thread ${other} µs per event (${round(1e6 / Math.max(main, other, 0.1), 0)}/s if each had a core of its own)`;
    };
    const checks = [
      check('gateway, broker.thread / embedded in one thread, events/s', round(threaded * 100, 1), '%', 'measured', true, ctx),
      check('gateway, broker in a second process / embedded, events/s', round(split * 100, 1), '%', 'measured', true, ctx),
      check('floor, broker in a worker_thread / one thread, events/s', round(floorThreaded * 100, 1), '%', 'measured', true, ctx),
    ];
    return {
      status: verdict(checks, ctx),
      summary: `gateway embedded ${best('embedded')}/s, broker.thread ${best('thread')}/s = ${round(threaded * 100, 1)}%, broker in a second process ${best('second-process')}/s = ${round(split * 100, 1)}%; floor one thread ${best('floor')}/s, broker in a worker_thread ${best('floor-thread')}/s = ${round(floorThreaded * 100, 1)}%`,
      checks,
      generators: measured.flatMap((r) => r.generators),
      notes: [
        `CPU per event by thread: ${(['embedded', 'thread', 'floor', 'floor-thread'] as const).map(threads).join('; ')}`,
        `CPU at the maximum, summed over the processes under test (% of one core) and per event: embedded ${cpu('embedded')}% ${cpuUs('embedded')} µs, broker.thread ${cpu('thread')}% ${cpuUs('thread')} µs, second process ${cpu('second-process')}% ${cpuUs('second-process')} µs, floor ${cpu('floor')}% ${cpuUs('floor')} µs, floor with a broker thread ${cpu('floor-thread')}% ${cpuUs('floor-thread')} µs`,
      ],
      details: { estimates: result.estimates, rounds: measuredRuns.map(strip) },
    };
  },
};
