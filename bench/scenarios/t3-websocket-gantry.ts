// T3: wsdoor and wscam uplink against qyzn's, through the same gateway, broker and subscriber
// (WebSocket >= 80% of the qyzn rate); gantry uploads (the seed's cabinetStatusUpdate body, keep-
// alive, 64 connections) against a bare fastify route that answers 1000 without publishing
// (>= 80%). Every part also runs the floor (bench/floor.ts) and, for the WebSocket devices, the
// raw broker (MQTT.js), so that each row says how far it is from both. Each part is a maximum-rate comparison with interleaved rounds (saturation.ts). Runs
// only for the adapters wired into src/adapters.ts; the others report "not available yet".
import { check, verdict, type Check, type GeneratorLine, type RunContext, type Scenario } from '../lib/context.js';
import { unavailable } from '../lib/availability.js';
import { nowUs } from '../lib/clock.js';
import { GatewayProcess } from '../lib/gateway.js';
import { WorkerProcess } from '../lib/ipc.js';
import { ProcMonitor } from '../lib/procstat.js';
import type { BareHttpProtocol, DeviceKind, GantryLoadProtocol } from '../lib/protocols.js';
import { baselineByRound, roundRatios, saturationPlan, saturationRounds, type ArmSample } from '../lib/saturation.js';
import { median, rateIn, round } from '../lib/stats.js';
import { UplinkRig } from '../lib/uplink.js';

const GANTRY_CONNECTIONS = 64;

interface Part {
  checks: Check[];
  summary: string;
  generators: GeneratorLine[];
  details: Record<string, unknown>;
}

async function websocketPart(ctx: RunContext, kinds: Array<'wsdoor' | 'wscam'>): Promise<Part> {
  const sat = saturationPlan(ctx, 2000);
  const devices = ctx.smoke ? 20 : 100;
  // Beside the qyzn arm the target compares with: the raw broker (MQTT.js publishing the same
  // envelopes) and the floor (bench/floor.ts, qyzn's contractual work written plainly).
  const [rig, floorRig] = (await UplinkRig.startAll(ctx, [
    { name: 'T3-ws', devices, generators: 1, kinds: ['qyzn', ...kinds] },
    { name: 'T3-ws-floor', devices, generators: 1, entry: 'floor', baseline: false },
  ])) as [UplinkRig, UplinkRig];
  let result;
  try {
    const arms: Array<DeviceKind | 'baseline' | 'floor'> = ['qyzn', ...kinds, 'baseline', 'floor'];
    result = await saturationRounds(ctx, arms, async (arm, rate, d, w) => (arm === 'floor' ? { ...(await floorRig.run('qyzn', rate, d, w)), arm } : rig.run(arm, rate, d, w)), sat);
  } finally {
    await Promise.all([rig.stop(), floorRig.stop()]);
  }
  const rate = (arm: string): number => round(median(result.samples.filter((s) => s.arm === arm).map((s) => s.deliveredPerSec)), 0);
  const checks: Check[] = [];
  const best = (arm: string): number => round(median(baselineByRound(result.samples, arm).map((r) => r.best)), 0);
  const parts: string[] = [`qyzn ${best('qyzn')}/s`];
  const ratios: Record<string, number[]> = {};
  for (const kind of kinds) {
    ratios[kind] = roundRatios(result.samples, kind, 'qyzn').map((x) => round(x, 3));
    const ratio = median(ratios[kind] ?? []);
    checks.push(check(`${kind} / qyzn events/s`, round(ratio * 100, 1), '%', '>= 80% of qyzn', ratio >= 0.8, ctx));
    parts.push(`${kind} ${rate(kind)}/s = ${round(ratio * 100, 1)}%`);
  }
  const against: string[] = [];
  for (const kind of ['qyzn', ...kinds]) {
    for (const base of ['baseline', 'floor'] as const) {
      const key = `${kind}/${base}`;
      ratios[key] = roundRatios(result.samples, kind, base).map((x) => round(x, 3));
      against.push(`${key} ${round(median(ratios[key] ?? []) * 100, 1)}%`);
    }
  }
  parts.push(`raw broker ${best('baseline')}/s, floor ${best('floor')}/s (${against.join(', ')})`);
  return { checks, summary: parts.join(', '), generators: result.samples.flatMap((s) => s.generators), details: { estimates: result.estimates, samples: result.samples.map(({ generators: _g, ...rest }) => rest), ratios } };
}

async function gantryPart(ctx: RunContext): Promise<Part> {
  const sat = saturationPlan(ctx, 500);
  // The per-gantry upload bound (60 a minute, a token bucket) is turned off: 64 gantries sending
  // thousands of uploads a second is the point here, and would otherwise be answered 1005.
  // The floor (bench/floor.ts) answers POST /monitor.do after publishing the upload's event and
  // state on its own aedes: the gantry's contractual work written plainly.
  const [gateway, floor, bare, load] = await Promise.all([
    GatewayProcess.start({ name: 'T3-gantry', adapters: ['gantry'], logDir: ctx.rawDir, env: { GATE2MQTT_GANTRY_MAX_REQUESTS_PER_MINUTE: '0' } }),
    GatewayProcess.start({ name: 'T3-gantry-floor', adapters: [], logDir: ctx.rawDir, entry: 'floor' }),
    WorkerProcess.start<BareHttpProtocol>('bare-fastify', 'bare-fastify'),
    WorkerProcess.start<GantryLoadProtocol>('gantry-load', 'gantry-load'),
  ]);
  const monitor = new ProcMonitor(gateway.pid, 250);
  let result;
  try {
    const { port } = await bare.call('listen', null);
    const auth = 'bench-auth';
    const common = { gantries: GANTRY_CONNECTIONS, auth, connections: GANTRY_CONNECTIONS };
    await load.call('setup', { target: 'gantry', url: `http://127.0.0.1:${gateway.httpPort}/monitor.do`, ...common });
    await load.call('setup', { target: 'fastify', url: `http://127.0.0.1:${port}/monitor.do`, ...common });
    await load.call('setup', { target: 'floor', url: `http://127.0.0.1:${floor.httpPort}/monitor.do`, ...common });
    result = await saturationRounds(
      ctx,
      ['fastify', 'gantry', 'floor'] as const,
      async (arm, rate, durationMs, warmupMs): Promise<ArmSample> => {
        const startAtUs = nowUs() + 300_000;
        const report = await load.call('run', { target: arm, tag: `${arm}-${startAtUs}`, ratePerSec: rate, durationMs, startAtUs, bucketMs: 100, settleMs: 10_000 });
        // Uploads answered 1000 per second in the window: the HTTP client's view.
        const delivered = rateIn(report.okBuckets, report.bucketMs, warmupMs, durationMs);
        const cpu = arm === 'gantry' ? monitor.window(startAtUs, startAtUs + durationMs * 1000).cpuPercent : undefined;
        return {
          arm,
          offeredPerSec: rate,
          deliveredPerSec: round(delivered, 0),
          saturated: delivered < 0.95 * rate,
          generators: [
            {
              scenario: 'T3',
              name: `GantrySimulator, ${GANTRY_CONNECTIONS} keep-alive connections -> ${arm === 'gantry' ? 'gateway' : arm === 'floor' ? 'floor' : 'bare fastify'}${cpu !== undefined ? ` (gateway cpu ${round(cpu, 0)}%)` : ''}`,
              askedPerSec: rate,
              sentPerSec: round(report.loop.sent / (durationMs / 1000), 0),
              lagP99Ms: round(report.loop.lagUs.p99 / 1000, 2),
              cpuPercent: round(report.loop.cpuPercent, 0),
              headroom: round(100 / Math.max(1, report.loop.cpuPercent), 1),
            },
          ],
        };
      },
      sat,
    );
  } finally {
    monitor.stop();
    await Promise.all([bare.stop(), load.stop(), floor.stop()]);
    await gateway.stop();
  }
  const ratios = roundRatios(result.samples, 'gantry', 'fastify');
  const ratio = median(ratios);
  const floorRatios = roundRatios(result.samples, 'gantry', 'floor');
  const floorRatio = median(floorRatios);
  const rate = (arm: string): number => round(median(result.samples.filter((s) => s.arm === arm).map((s) => s.deliveredPerSec)), 0);
  const best = (arm: string): number => round(median(baselineByRound(result.samples, arm).map((r) => r.best)), 0);
  return {
    checks: [
      check('gantry / bare fastify uploads/s', round(ratio * 100, 1), '%', '>= 80% of bare fastify', ratio >= 0.8, ctx),
      check('gantry / floor uploads/s', round(floorRatio * 100, 1), '%', 'measured', true, ctx),
    ],
    summary: `gantry ${rate('gantry')}/s vs bare fastify ${best('fastify')}/s = ${round(ratio * 100, 1)}%, vs floor ${best('floor')}/s = ${round(floorRatio * 100, 1)}%`,
    generators: result.samples.flatMap((s) => s.generators),
    details: { estimates: result.estimates, samples: result.samples.map(({ generators: _g, ...rest }) => rest), ratios: ratios.map((x) => round(x, 3)), floorRatios: floorRatios.map((x) => round(x, 3)) },
  };
}

export const t3: Scenario = {
  id: 'T3',
  title: 'wsdoor/wscam uplink vs qyzn; gantry uploads vs bare fastify',
  async run(ctx) {
    const notes: string[] = [];
    const parts: Part[] = [];
    const ws = (['wsdoor', 'wscam'] as const).filter((kind) => {
      const why = unavailable(kind);
      if (why) notes.push(`${kind}: not available yet (${why})`);
      return why === undefined;
    });
    if (ws.length > 0) parts.push(await websocketPart(ctx, [...ws]));
    const gantryWhy = unavailable('gantry');
    if (gantryWhy) notes.push(`gantry: not available yet (${gantryWhy})`);
    else parts.push(await gantryPart(ctx));
    if (parts.length === 0) {
      return { status: 'not available yet', summary: 'not available yet: wsdoor, wscam and gantry are not wired', checks: [], generators: [], notes, details: {} };
    }
    const checks = parts.flatMap((p) => p.checks);
    return {
      status: verdict(checks, ctx),
      summary: parts.map((p) => p.summary).join('; '),
      checks,
      generators: parts.flatMap((p) => p.generators),
      notes,
      details: Object.fromEntries(parts.map((p, i) => [i === 0 && ws.length > 0 ? 'websocket' : 'gantry', p.details])),
    };
  },
};
