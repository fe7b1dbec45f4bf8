// T6: many devices connected and heartbeating, nothing else: the gateway's RSS and its steady CPU,
// for qyzn terminals and for wsdoor terminals. Home Assistant discovery is on by default, and then
// the embedded broker holds one retained config per device, so each round runs two gateways side by
// side, discovery on (the default, which the targets judge) and off: their fleets log in one after
// the other (the order alternating from round to round, so neither arm is always the older one)
// and are measured in the same window, so that the machine's drifts hit both arms alike. Each
// gateway with no device is measured first, as the baseline of what the devices add.
import { check, verdict, type Check, type GeneratorLine, type RunContext, type Scenario } from '../lib/context.js';
import { unavailable } from '../lib/availability.js';
import { nowUs, sleep } from '../lib/clock.js';
import { GatewayProcess } from '../lib/gateway.js';
import { ProcMonitor, type WindowStats } from '../lib/procstat.js';
import { retainedUnder } from '../lib/retained.js';
import { median, round } from '../lib/stats.js';
import { PER_PROCESS, TerminalFleet, devicesConnected, memoryOf, messagesIn, type MemoryFigures } from '../lib/terminals.js';

/** qyzn terminals heartbeat every GATE2MQTT_QYZN_HEARTBEAT_S (25 s, set by GatewayProcess); wsdoor
 *  terminals at the interval the gateway answers at register (wsdoor.heartbeatIntervalS, 20 s). */
const QYZN_HEARTBEAT_S = 25;

type Adapter = 'qyzn' | 'wsdoor';
export type Discovery = 'on' | 'off';
const ARMS: readonly Discovery[] = ['on', 'off'];
const RSS_TARGET_MB: Record<Adapter, number> = { qyzn: 350, wsdoor: 500 };
/** The gateway's default discovery prefix: the bench leaves homeassistant.* as a user gets it. */
const DISCOVERY_FILTER = 'homeassistant/#';

export interface IdleFigures {
  adapter: Adapter;
  discovery: Discovery;
  round: number;
  devices: number;
  connected: number | undefined;
  loginSeconds: number;
  openFileLimit: number | undefined;
  idleRssMB: number;
  idleCpuPercent: number;
  rssMaxMB: number;
  rssEndMB: number;
  cpuPercent: number;
  windowSeconds: number;
  /** Device messages the gateway counted in the window, per second (heartbeats). */
  heartbeatsPerSec: number;
  /** Read from the gateway's /metrics right after the window. */
  memory: MemoryFigures | undefined;
  /** Retained under homeassistant/#, read by a new subscriber after the window: what the gateway
   *  published there (each device's config once, and the bridge's) and the broker holds. */
  discoveryMessages: number;
  discoveryBytes: number;
  discoveryMaxBytes: number;
}

interface Plan {
  devices: number;
  settleMs: number;
  windowMs: number;
  idleMs: number;
  rounds: number;
  quietMs: number;
}

function plan(ctx: RunContext): Plan {
  return ctx.smoke
    ? { devices: 200, settleMs: 300, windowMs: 1000, idleMs: 300, rounds: 1, quietMs: 300 }
    : { devices: 18_000, settleMs: 10_000, windowMs: 30_000, idleMs: 3000, rounds: 3, quietMs: 1000 };
}

interface Arm {
  discovery: Discovery;
  gateway: GatewayProcess;
  fleet: TerminalFleet;
  monitor: ProcMonitor;
  idle?: WindowStats;
}

/** Both gateways of a round and their fleets' processes (not connected yet), started together, or
 *  none: what started is stopped when anything else could not. */
async function startArms(ctx: RunContext, adapter: Adapter, index: number, order: readonly Discovery[], devices: number): Promise<Arm[]> {
  const gateways = Promise.allSettled(
    order.map((discovery) =>
      GatewayProcess.start({
        name: `T6-${adapter}-${discovery}-${index + 1}`,
        adapters: [adapter],
        logDir: ctx.rawDir,
        // Each device is one socket in the gateway: ask for room above the device count.
        openFiles: devices + 2000,
        // On is left to the default, which is what is judged.
        env: discovery === 'off' ? { GATE2MQTT_HOMEASSISTANT_ENABLED: 'false' } : {},
      }),
    ),
  );
  const fleets = Promise.allSettled(order.map(() => TerminalFleet.start(devices, adapter === 'qyzn' ? 'I' : 'W', adapter)));
  const [g, f] = await Promise.all([gateways, fleets]);
  const failed = [...g, ...f].find((s): s is PromiseRejectedResult => s.status === 'rejected');
  if (failed) {
    await Promise.all([...g, ...f].map((s) => (s.status === 'fulfilled' ? s.value.stop() : undefined)));
    throw failed.reason;
  }
  return order.map((discovery, i) => {
    const gateway = (g[i] as PromiseFulfilledResult<GatewayProcess>).value;
    const fleet = (f[i] as PromiseFulfilledResult<TerminalFleet>).value;
    return { discovery, gateway, fleet, monitor: new ProcMonitor(gateway.pid, 1000) };
  });
}

async function idleRound(ctx: RunContext, adapter: Adapter, index: number, generators: GeneratorLine[]): Promise<IdleFigures[]> {
  const p = plan(ctx);
  const order = index % 2 === 0 ? ARMS : [...ARMS].reverse();
  const arms = await startArms(ctx, adapter, index, order, p.devices);
  try {
    const idleFrom = nowUs();
    for (const arm of arms) arm.monitor.take();
    await sleep(p.idleMs);
    for (const arm of arms) {
      arm.monitor.take();
      arm.idle = arm.monitor.window(idleFrom, nowUs());
    }
    for (const arm of arms) {
      const { fleet } = arm;
      const port = adapter === 'qyzn' ? arm.gateway.ports.qyzn : arm.gateway.ports.wsdoor;
      await fleet.login(port, arm.gateway.secret, { heartbeatMs: QYZN_HEARTBEAT_S * 1000, concurrency: 200 });
      ctx.log(`  round ${index + 1}, discovery ${arm.discovery}: ${fleet.online} ${adapter} devices connected in ${round(fleet.loginMs / 1000, 1)} s over ${fleet.workers.length} processes`);
    }
    await sleep(p.settleMs);
    const fleets = arms.map((arm) => arm.fleet);
    const inBefore = await Promise.all(arms.map(async (arm) => (await messagesIn(arm.gateway.httpPort, adapter)) ?? 0));
    await Promise.all(fleets.map((fleet) => fleet.stats()));
    const from = nowUs();
    for (const arm of arms) arm.monitor.take();
    await sleep(p.windowMs);
    for (const arm of arms) arm.monitor.take();
    const to = nowUs();
    const seconds = (to - from) / 1e6;
    // Read after the window (the reading client's queue in the broker is not in the RSS measured),
    // both arms at once.
    const figures = await Promise.all(
      arms.map(async (arm, i): Promise<IdleFigures> => {
        const { fleet } = arm;
        const window = arm.monitor.window(from, to);
        const [gen, inAfter, memory, connected] = await Promise.all([fleet.stats(), messagesIn(arm.gateway.httpPort, adapter), memoryOf(arm.gateway.httpPort), devicesConnected(arm.gateway.httpPort, adapter)]);
        // After the memory split: the configs read back pass through the gateway's heap.
        const retained = await retainedUnder(arm.gateway.mqttUrl, DISCOVERY_FILTER, arm.discovery === 'on' ? p.devices + 1 : 1, p.quietMs);
        const heartbeatsPerSec = ((inAfter ?? 0) - (inBefore[i] ?? 0)) / seconds;
        generators.push({
          scenario: 'T6',
          name: `${adapter} devices heartbeating, discovery ${arm.discovery} (${fleet.online} in ${gen.processes} processes of <= ${PER_PROCESS})`,
          askedPerSec: round(adapter === 'qyzn' ? p.devices / QYZN_HEARTBEAT_S : p.devices / 20, 0),
          sentPerSec: round(heartbeatsPerSec, 0),
          lagP99Ms: 0,
          cpuPercent: round(gen.cpuPercent, 0),
          headroom: round(100 / Math.max(1, gen.cpuPercent), 1),
        });
        const idle = arm.idle as WindowStats;
        return {
          adapter,
          discovery: arm.discovery,
          round: index + 1,
          devices: p.devices,
          connected,
          loginSeconds: round(fleet.loginMs / 1000, 1),
          openFileLimit: arm.gateway.openFileLimit,
          idleRssMB: round(idle.rssMaxMB, 1),
          idleCpuPercent: round(idle.cpuPercent, 1),
          rssMaxMB: round(window.rssMaxMB, 1),
          rssEndMB: round(window.rssEndMB, 1),
          cpuPercent: round(window.cpuPercent, 1),
          windowSeconds: round(window.seconds, 1),
          heartbeatsPerSec: round(heartbeatsPerSec, 0),
          memory: memory && { heapUsedMB: round(memory.heapUsedMB, 1), heapTotalMB: round(memory.heapTotalMB, 1), externalMB: round(memory.externalMB, 1) },
          discoveryMessages: retained.messages,
          discoveryBytes: retained.payloadBytes,
          discoveryMaxBytes: retained.maxPayloadBytes,
        };
      }),
    );
    return figures;
  } finally {
    for (const arm of arms) arm.monitor.stop();
    await Promise.all(arms.map((arm) => arm.fleet.stop()));
    await Promise.all(arms.map((arm) => arm.gateway.stop()));
  }
}

interface ArmSummary {
  rssMB: number;
  cpuPercent: number;
  heapUsedMB: number;
  heapTotalMB: number;
  externalMB: number;
  discoveryMessages: number;
  discoveryMB: number;
  rounds: IdleFigures[];
}

function summarise(figures: readonly IdleFigures[]): ArmSummary {
  const med = (pick: (f: IdleFigures) => number): number => round(median(figures.map(pick)), 1);
  return {
    rssMB: med((f) => f.rssMaxMB),
    cpuPercent: med((f) => f.cpuPercent),
    heapUsedMB: med((f) => f.memory?.heapUsedMB ?? Number.NaN),
    heapTotalMB: med((f) => f.memory?.heapTotalMB ?? Number.NaN),
    externalMB: med((f) => f.memory?.externalMB ?? Number.NaN),
    discoveryMessages: median(figures.map((f) => f.discoveryMessages)),
    discoveryMB: round(median(figures.map((f) => f.discoveryBytes)) / 1024 / 1024, 1),
    rounds: [...figures],
  };
}

const list = (values: number[], unit: string): string => `${values.join(', ')}${unit}`;

/** The default (on) is held to the targets; off is shown beside it, and what discovery adds. */
function checksOf(adapter: Adapter, on: ArmSummary, off: ArmSummary, devices: number, ctx: RunContext): Check[] {
  const target = RSS_TARGET_MB[adapter];
  const allConnected = [...on.rounds, ...off.rounds].every((f) => f.connected === devices);
  const added = on.rounds.map((f, i) => round(f.rssMaxMB - (off.rounds[i]?.rssMaxMB ?? Number.NaN), 1));
  return [
    check(`${adapter} devices connected (every round, both arms)`, allConnected ? devices : 'not all', '', `${devices}`, allConnected, ctx),
    check(`${adapter} gateway RSS, discovery on (default; median of rounds ${list(on.rounds.map((f) => f.rssMaxMB), ' MB')})`, on.rssMB, 'MB', `<= ${target} MB`, on.rssMB <= target, ctx),
    check(`${adapter} steady CPU, discovery on (rounds ${list(on.rounds.map((f) => f.cpuPercent), '%')})`, on.cpuPercent, '% of a core', '<= 30%', on.cpuPercent <= 30, ctx),
    check(`${adapter} gateway RSS, discovery off (rounds ${list(off.rounds.map((f) => f.rssMaxMB), ' MB')})`, off.rssMB, 'MB', 'measured', true, ctx),
    check(`${adapter} steady CPU, discovery off (rounds ${list(off.rounds.map((f) => f.cpuPercent), '%')})`, off.cpuPercent, '% of a core', 'measured', true, ctx),
    check(`${adapter} RSS discovery adds, on - off (rounds ${list(added, ' MB')})`, round(median(added), 1), 'MB', 'measured', true, ctx),
    check(`${adapter} discovery configs retained (on; off: ${off.discoveryMessages})`, on.discoveryMessages, '', `${devices + 1} (each device, the bridge)`, on.discoveryMessages === devices + 1 && off.discoveryMessages === 0, ctx),
  ];
}

const armLine = (s: ArmSummary): string =>
  `RSS ${s.rssMB} MB (rounds ${list(s.rounds.map((f) => f.rssMaxMB), '')}), CPU ${s.cpuPercent}% (rounds ${list(s.rounds.map((f) => f.cpuPercent), '')}), heap ${s.heapUsedMB}/${s.heapTotalMB} MB, external ${s.externalMB} MB`;

const line = (adapter: Adapter, devices: number, on: ArmSummary, off: ArmSummary): string =>
  `${adapter} ${devices}, discovery on (default): ${armLine(on)}, ${on.discoveryMessages} configs retained, ${on.discoveryMB} MB; discovery off: ${armLine(off)}`;

export const t6: Scenario = {
  id: 'T6',
  title: '18,000 idle devices (qyzn; wsdoor), Home Assistant discovery on (default) and off side by side: RSS and steady CPU',
  async run(ctx) {
    const p = plan(ctx);
    const generators: GeneratorLine[] = [];
    const notes: string[] = [];
    const checks: Check[] = [];
    const summaries: string[] = [];
    const figures: IdleFigures[] = [];
    const adapters: Adapter[] = ['qyzn'];
    const missing = unavailable('wsdoor');
    if (missing) notes.push(`wsdoor: not available yet (${missing}).`);
    else adapters.push('wsdoor');
    const lines = new Map<Adapter, GeneratorLine[]>(adapters.map((a) => [a, []]));
    const rounds = async (adapter: Adapter): Promise<IdleFigures[]> => {
      const mine: IdleFigures[] = [];
      for (let i = 0; i < p.rounds; i += 1) mine.push(...(await idleRound(ctx, adapter, i, lines.get(adapter) as GeneratorLine[])));
      return mine;
    };
    // The smoke run's 200 devices leave room for both protocols at once, which keeps it under a
    // minute (four gateways and four fleets to start); the full run's 36,000 sockets of a round
    // run one protocol at a time.
    const measured = ctx.smoke ? await Promise.all(adapters.map(rounds)) : [];
    if (!ctx.smoke) for (const adapter of adapters) measured.push(await rounds(adapter));
    for (const [a, adapter] of adapters.entries()) {
      const mine = measured[a] as IdleFigures[];
      figures.push(...mine);
      generators.push(...(lines.get(adapter) as GeneratorLine[]));
      const on = summarise(mine.filter((f) => f.discovery === 'on'));
      const off = summarise(mine.filter((f) => f.discovery === 'off'));
      checks.push(...checksOf(adapter, on, off, p.devices, ctx));
      summaries.push(line(adapter, p.devices, on, off));
      const first = mine[0];
      if (first) {
        const idle = (d: Discovery): string => list(mine.filter((f) => f.discovery === d).map((f) => f.idleRssMB), ' MB');
        notes.push(`${adapter}: gateway open-file limit ${first.openFileLimit ?? '?'} (asked ${p.devices + 2000}; capped by the hard limit, which cannot be raised here); the idle gateway alone: discovery on ${idle('on')}, off ${idle('off')}.`);
      }
      if (on.discoveryMessages > 0) {
        const max = Math.max(...mine.map((f) => f.discoveryMaxBytes));
        notes.push(`${adapter}: discovery payloads ${round((median(on.rounds.map((f) => f.discoveryBytes)) / Math.max(1, on.discoveryMessages)) / 1024, 2)} kB on average, ${round(max / 1024, 2)} kB the largest (read back retained after the window, by a new subscriber to ${DISCOVERY_FILTER}).`);
      }
    }
    notes.push('the two arms of a round run side by side (one gateway each, their fleets logged in one after the other, the order alternating across rounds): CPU figures carry what else the shared machine ran, alike for both arms.');
    return {
      status: verdict(checks, ctx),
      summary: summaries.join('; ') + (missing ? '; wsdoor: not available yet' : ''),
      checks,
      generators,
      notes,
      details: { figures },
    };
  },
};
