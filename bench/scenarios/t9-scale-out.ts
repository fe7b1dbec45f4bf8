// T9: scale-out. 1, 2 and 3 gateway instances in multi mode (GATE2MQTT_INSTANCE_MODE=multi, one
// Redis registry under a fresh prefix per arm) on one broker and one base topic, two brokers in
// turn: a Mosquitto of the bench's own on a free port with its queue limits raised (no
// max_queued_messages, so that no event is dropped on the way to a lagging subscriber; its log is
// read for Mosquitto's "dropped" notices, counted per run; BENCH_T9_MOSQUITTO_URL names another),
// and the embedded brokers of the instances clustered over Redis. The same load in every arm: 60
// QYZN terminals in two generator processes, spread evenly over the instances (terminal k of a generator connects to instance
// k % n), sending snapshot_face events (answered after the broker's PUBACK) at a fixed total rate,
// below what one instance carries; and commands at 20/s from an MQTT client, round-robin over the
// terminals in a shuffled order, timed from publish to reply. The custodian takes every command and
// forwards those of devices held elsewhere (one extra hop over the broker).
//
// What is measured per arm: events/s delivered to the subscriber, the CPU of all the gateway
// processes summed (from /proc, µs per delivered event; and idle, just before the load), command
// p50 / p99 split into direct (device on the custodian) and forwarded, and the share forwarded (the
// gateways' own gate2mqtt_commands_forwarded_total). Besides 1, 2 and 3 instances at the same total,
// a control: 1 instance at total / 2 and total / 3, the rate each instance carries in the 2 and 3
// instance arms. Each arm runs on fresh processes; the rounds rotate the arms' order; ratios are per
// round (same broker, same round), the figures medians of rounds. No target: the scenario measures.
// BENCH_T9_BROKERS=mosquitto or =cluster runs one of the two.
// Not part of the default run, nor of the smoke run (30 arms of up to 3 gateway processes, ~9
// min): `npm run bench -- --only T9` (`--smoke --only T9`: one short round of the three counts).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { type GeneratorLine, type RunContext, type Scenario } from '../lib/context.js';
import { nowUs, sleep } from '../lib/clock.js';
import { GatewayProcess } from '../lib/gateway.js';
import { WorkerProcess } from '../lib/ipc.js';
import type { GenReport } from '../lib/outcomes.js';
import { deviceEventFilter, serials } from '../lib/payload.js';
import { ProcMonitor } from '../lib/procstat.js';
import type { CommanderProtocol, CommandReport, DeviceLoadProtocol, SubscriberProtocol } from '../lib/protocols.js';
import { median, rateIn, round, type Summary } from '../lib/stats.js';
import { ownMosquitto } from '../../test/helpers/mosquitto.js';

const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const COMMAND = 'open_door';
const TERMINALS = 60;
const GENERATORS = 2;
const COUNTS = [1, 2, 3] as const;

type Broker = 'mosquitto' | 'cluster';

interface Latency {
  count: number;
  p50Ms: number;
  p99Ms: number;
}

export interface ScalePoint {
  broker: Broker;
  instances: number;
  round: number;
  offeredPerSec: number;
  deliveredPerSec: number;
  /** Event latency, terminal send to subscriber (rises when something does not keep up). */
  eventP50Ms: number;
  eventP99Ms: number;
  sent: number;
  acked: number;
  lostAcked: number;
  duplicates: number;
  /** Mosquitto's "Outgoing messages are being dropped" notices during the run (own Mosquitto only). */
  brokerDrops: number | null;
  /** CPU of each gateway process over the measured window, % of one core. */
  cpuPercent: number[];
  /** Summed CPU of the gateway processes per delivered event. */
  cpuUsPerEvent: number;
  /** CPU of each gateway process idle (terminals connected, no load) just before the run, % of one core. */
  idleCpuPercent: number[];
  /** (summed CPU under load - summed idle CPU) per delivered event: the cost that scales with events. */
  marginalUsPerEvent: number;
  custodian: string;
  /** The custodian at the end of the run was another one (the groups below are then mixed). */
  custodianChanged: boolean;
  commands: {
    sent: number;
    unanswered: number;
    duplicates: number;
    failed: number;
    /** Forwarded by the gateways (their counter) / commands sent. */
    forwardedShare: number;
    /** The share of commands to devices not on the custodian. */
    expectedShare: number;
    all: Latency;
    direct: Latency;
    forwarded: Latency;
  };
  generators: GeneratorLine[];
}

const lat = (s: Summary | undefined): Latency => ({ count: s?.count ?? 0, p50Ms: round((s?.p50 ?? Number.NaN) / 1000, 2), p99Ms: round((s?.p99 ?? Number.NaN) / 1000, 2) });

async function metricsText(gw: GatewayProcess): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  return res.text();
}

function metricValue(text: string, name: string): number {
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1]);
  return sum;
}

/** Waits until exactly one instance has custody and every instance counts all n live; its index. */
async function custodianOf(gateways: readonly GatewayProcess[], timeoutMs = 20_000): Promise<number> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const texts = await Promise.all(gateways.map(metricsText));
    const holders = texts.map((t, i) => (metricValue(t, 'gate2mqtt_instance_custodian') === 1 ? i : -1)).filter((i) => i >= 0);
    const live = texts.every((t) => metricValue(t, 'gate2mqtt_instances_live') === gateways.length);
    if (holders.length === 1 && live) return holders[0] as number;
    if (Date.now() > until) throw new Error(`no single custodian among ${gateways.length} instances within ${timeoutMs} ms (custodians: ${holders.join(',') || 'none'})`);
    await sleep(200);
  }
}

async function forwardedTotal(gateways: readonly GatewayProcess[]): Promise<number> {
  const texts = await Promise.all(gateways.map(metricsText));
  return texts.reduce((n, t) => n + metricValue(t, 'gate2mqtt_commands_forwarded_total'), 0);
}

async function deleteKeys(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.del(...keys);
  } while (cursor !== '0');
}

/** A fixed shuffle (same order every run), so consecutive commands go to devices on different instances. */
function shuffled<T>(items: readonly T[], seed = 9): T[] {
  const out = [...items];
  let x = seed;
  for (let i = out.length - 1; i > 0; i--) {
    x = (x * 1103515245 + 12345) % 2147483648;
    const j = x % (i + 1);
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

interface Plan {
  ratePerSec: number;
  commandsPerSec: number;
  durationMs: number;
  warmupMs: number;
  /** How long the instances are measured idle before each run. */
  idleMs: number;
  /** Before the measured run, every instance carries the same number of events (this rate per
   *  instance for primeMs), so that each is as warm (V8's tiers, caches) as the others whatever
   *  its share of the measured rate: a fresh process at a third of the rate warms up three times
   *  slower. 0: no priming. */
  primePerInstance: number;
  primeMs: number;
}

/** The broker arms' connection: the external broker's URL, and a count of the drops it has logged so far. */
interface BrokerArm {
  broker: Broker;
  mqttUrl?: string;
  drops?: () => number;
}

async function runPoint(ctx: RunContext, redis: Redis, arm: BrokerArm, n: number, roundIndex: number, plan: Plan): Promise<ScalePoint> {
  const { broker } = arm;
  const dropsBefore = arm.drops?.() ?? 0;
  const id = randomBytes(4).toString('hex');
  const base = `bench/scale-${id}`;
  const prefix = `g2mbench:${id}:`;
  const secret = randomBytes(16).toString('hex');
  const names = Array.from({ length: n }, (_, i) => `i${i + 1}`);
  const spawned: Array<{ stop(): Promise<unknown> }> = [];
  const keep = <T extends { stop(): Promise<unknown> }>(w: T): T => {
    spawned.push(w);
    return w;
  };
  const monitors: ProcMonitor[] = [];
  const gateways: GatewayProcess[] = [];
  try {
    const startGateway = (name: string): Promise<GatewayProcess> =>
      GatewayProcess.start({
        name: `T9-${broker}-${n}-r${roundIndex + 1}-${name}`,
        adapters: ['qyzn'],
        logDir: ctx.rawDir,
        base,
        secret,
        ...(arm.mqttUrl !== undefined ? { mqttUrl: arm.mqttUrl } : {}),
        env: {
          GATE2MQTT_INSTANCE_MODE: 'multi',
          GATE2MQTT_INSTANCE_ID: name,
          GATE2MQTT_INSTANCE_REDIS_URL: REDIS_URL,
          GATE2MQTT_INSTANCE_REDIS_PREFIX: prefix,
          ...(broker === 'cluster' ? { GATE2MQTT_BROKER_CLUSTER_REDIS_URL: REDIS_URL, GATE2MQTT_BROKER_CLUSTER_PREFIX: `${prefix}broker:`, GATE2MQTT_BROKER_PERSISTENCE: 'memory' } : {}),
        },
      }).then(keep);
    const [started, workers] = await Promise.all([
      Promise.all(names.map(startGateway)),
      Promise.all([
        WorkerProcess.start<SubscriberProtocol>('T9-subscriber', 'subscriber').then(keep),
        WorkerProcess.start<CommanderProtocol>('T9-commander', 'commander').then(keep),
        ...Array.from({ length: GENERATORS }, (_, i) => WorkerProcess.start<DeviceLoadProtocol>(`T9-qyzn-load-${i}`, 'qyzn-load').then(keep)),
      ]),
    ]);
    gateways.push(...started);
    const [subscriber, commander, ...loads] = workers as [WorkerProcess<SubscriberProtocol>, WorkerProcess<CommanderProtocol>, ...WorkerProcess<DeviceLoadProtocol>[]];
    // The bench's clients connect to the first instance's broker (the cluster: any node would do).
    const url = (gateways[0] as GatewayProcess).mqttUrl;
    await subscriber.call('connect', { url, clientId: `g2m-bench-sub-${id}` });
    await subscriber.call('subscribe', { filters: [deviceEventFilter(base, 'qyzn')] });
    await commander.call('connect', { url, clientId: `g2m-bench-cmd-${id}`, replyFilters: [`${base}/qyzn/+/command/+/reply`] });
    const all = serials('S', TERMINALS);
    const per = Math.ceil(all.length / loads.length);
    const ports = gateways.map((g) => g.ports.qyzn);
    const instanceOf = new Map<string, number>();
    const logins = await Promise.all(
      loads.map((w, i) => {
        const mine = all.slice(i * per, (i + 1) * per);
        mine.forEach((serial, k) => instanceOf.set(serial, k % n));
        return w.call('login', { kind: 'qyzn', host: '127.0.0.1', port: ports[0] as number, ports, secret, serials: mine, heartbeatMs: 25_000, concurrency: 20, responseTimeoutMs: 10_000 });
      }),
    );
    const failedLogins = logins.reduce((x, l) => x + l.failed, 0);
    if (failedLogins > 0) throw new Error(`${failedLogins} terminals could not log in: ${logins.flatMap((l) => l.errors).join('; ')}`);
    const custodian = await custodianOf(gateways);
    const groups = Object.fromEntries(all.map((s) => [s, instanceOf.get(s) === custodian ? 'direct' : 'forwarded']));
    // The commander goes round the shuffled list: the share of its commands that must be forwarded.
    const order = shuffled(all);
    const planned = Math.floor((plan.commandsPerSec * plan.durationMs) / 1000);
    let toForward = 0;
    for (let i = 0; i < planned; i++) if (groups[order[i % order.length] as string] === 'forwarded') toForward += 1;
    const expectedShare = planned > 0 ? toForward / planned : 0;
    // The registry records each login; a moment for the last ones.
    await sleep(500);
    for (const g of gateways) monitors.push(new ProcMonitor(g.pid, 250));
    if (plan.primeMs > 0) {
      const primeAtUs = nowUs() + 300_000;
      await Promise.all(
        loads.map((w) => w.call('run', { tag: `${id}-prime`, ratePerSec: (plan.primePerInstance * n) / loads.length, durationMs: plan.primeMs, startAtUs: primeAtUs, bucketMs: 100, settleMs: 10_000, retryRefused: false })),
      );
      await sleep(1000);
    }
    // The instances idle (terminals connected and heartbeating, no events, no commands).
    const idleFromUs = nowUs();
    await sleep(plan.idleMs);
    const idle = monitors.map((m) => m.window(idleFromUs, nowUs()));
    const forwardedBefore = await forwardedTotal(gateways);

    const tag = randomBytes(4).toString('hex');
    const startAtUs = nowUs() + 500_000;
    const settleMs = 10_000;
    await subscriber.call('begin', { tag, startUs: startAtUs, fromMs: plan.warmupMs, toMs: plan.durationMs, bucketMs: 100 });
    const eventRuns = loads.map((w) => w.call('run', { tag, ratePerSec: plan.ratePerSec / loads.length, durationMs: plan.durationMs, startAtUs, bucketMs: 100, settleMs, retryRefused: false }));
    const commandRun = commander.call('run', {
      tag: `${tag}-cmd`,
      base,
      serials: order,
      command: COMMAND,
      ratePerSec: plan.commandsPerSec,
      durationMs: plan.durationMs,
      startAtUs,
      settleMs,
      warmupMs: plan.warmupMs,
      groups,
    });
    const reports: GenReport[] = await Promise.all(eventRuns);
    const cmd: CommandReport = await commandRun;
    const windows = monitors.map((m) => m.window(startAtUs + plan.warmupMs * 1000, startAtUs + plan.durationMs * 1000));
    const forwarded = (await forwardedTotal(gateways)) - forwardedBefore;
    const custodianAfter = await custodianOf(gateways, 5000).catch(() => -1);
    // Wait for the subscriber to have every acknowledged event (or nothing more for 1.5 s).
    const acked = reports.reduce((x, r) => x + r.ok, 0);
    for (let i = 0, last = -1, still = 0; i < 300 && still < 15; i++) {
      const { unique, received } = await subscriber.call('progress', null);
      if (unique >= acked) break;
      still = received === last ? still + 1 : 0;
      last = received;
      await sleep(100);
    }
    const sentBy: Record<string, number> = Object.assign({}, ...reports.map((r) => r.sent)) as Record<string, number>;
    const stream = await subscriber.call('report', { sent: sentBy });
    const delivered = rateIn(stream.buckets, stream.bucketMs, plan.warmupMs, plan.durationMs);
    const sent = reports.reduce((x, r) => x + r.loop.sent, 0);
    const cpuPercent = windows.map((w) => round(w.cpuPercent, 1));
    const cpuCores = windows.reduce((x, w) => x + w.cpuPercent / 100, 0);
    const idleCores = idle.reduce((x, w) => x + w.cpuPercent / 100, 0);
    const failedCommands = Object.values(cmd.failed).reduce((a, b) => a + b, 0);
    const generators: GeneratorLine[] = [
      ...reports.map((r) => ({
        scenario: 'T9',
        name: `qyzn devices (${Object.keys(r.sent).length}), ${broker} x${n}@${plan.ratePerSec} ${r.name}`,
        askedPerSec: round(plan.ratePerSec / reports.length, 0),
        sentPerSec: round(r.loop.sent / (plan.durationMs / 1000), 0),
        lagP99Ms: round(r.loop.lagUs.p99 / 1000, 2),
        cpuPercent: round(r.loop.cpuPercent, 0),
        headroom: round(100 / Math.max(1, r.loop.cpuPercent), 1),
      })),
      {
        scenario: 'T9',
        name: `MQTT commander, ${broker} x${n}@${plan.ratePerSec}`,
        askedPerSec: plan.commandsPerSec,
        sentPerSec: round(cmd.loop.sent / (plan.durationMs / 1000), 0),
        lagP99Ms: round(cmd.loop.lagUs.p99 / 1000, 2),
        cpuPercent: round(cmd.loop.cpuPercent, 0),
        headroom: round(100 / Math.max(1, cmd.loop.cpuPercent), 1),
      },
    ];
    return {
      broker,
      instances: n,
      round: roundIndex + 1,
      offeredPerSec: plan.ratePerSec,
      deliveredPerSec: round(delivered, 0),
      eventP50Ms: round(stream.latencyFromSendUs.p50 / 1000, 2),
      eventP99Ms: round(stream.latencyFromSendUs.p99 / 1000, 2),
      sent,
      acked,
      lostAcked: Math.max(0, stream.missingTotal - (sent - acked)),
      duplicates: stream.duplicates,
      brokerDrops: arm.drops ? arm.drops() - dropsBefore : null,
      cpuPercent,
      cpuUsPerEvent: round(delivered > 0 ? (cpuCores * 1e6) / delivered : Number.NaN, 1),
      idleCpuPercent: idle.map((w) => round(w.cpuPercent, 1)),
      marginalUsPerEvent: round(delivered > 0 ? ((cpuCores - idleCores) * 1e6) / delivered : Number.NaN, 1),
      custodian: names[custodian] as string,
      custodianChanged: custodianAfter !== custodian,
      commands: {
        sent: cmd.sent,
        unanswered: cmd.unanswered,
        duplicates: cmd.duplicates,
        failed: failedCommands,
        forwardedShare: round(cmd.sent > 0 ? forwarded / cmd.sent : 0, 3),
        expectedShare: round(expectedShare, 3),
        all: lat(cmd.replyFromSendUs),
        direct: lat(cmd.byGroup?.direct?.replyFromSendUs),
        forwarded: lat(cmd.byGroup?.forwarded?.replyFromSendUs),
      },
      generators,
    };
  } finally {
    for (const m of monitors) m.stop();
    await Promise.all(spawned.map((s) => s.stop()));
    await deleteKeys(redis, prefix).catch(() => undefined);
  }
}

/** The Mosquitto arm's broker: BENCH_T9_MOSQUITTO_URL if given, else one of the bench's own with
 *  its queue limits raised, whose log is read for the notices Mosquitto writes when it drops
 *  messages to a client. */
async function mosquittoArm(teardowns: Array<() => unknown>): Promise<BrokerArm> {
  const given = process.env.BENCH_T9_MOSQUITTO_URL;
  if (given) return { broker: 'mosquitto', mqttUrl: given };
  const own = await ownMosquitto(
    {
      teardown: (fn) => void teardowns.push(fn),
      fail: (message) => {
        throw new Error(message);
      },
    },
    { log: true, config: ['set_tcp_nodelay true'] },
  );
  // Mosquitto 2.0's notice: "Outgoing messages are being dropped for client {id}.". Read, not
  // guessed at: a log that is not there is an error, never 0.
  const drops = (): number => readFileSync(own.log, 'utf8').split('\n').filter((line) => line.includes('being dropped')).length;
  return { broker: 'mosquitto', mqttUrl: own.url, drops };
}

/** One arm: an instance count and the total event rate it is offered. */
interface Arm {
  instances: number;
  ratePerSec: number;
}

const key = (a: Arm): string => `x${a.instances}@${a.ratePerSec}`;
const isArm = (p: ScalePoint, a: Arm): boolean => p.instances === a.instances && p.offeredPerSec === a.ratePerSec;

/** Per-round ratio of a figure of arm `a` to the same round's arm `ref`, same broker. */
function ratios(points: readonly ScalePoint[], broker: Broker, a: Arm, ref: Arm, f: (p: ScalePoint) => number): number[] {
  const out: number[] = [];
  for (const p of points.filter((x) => x.broker === broker && isArm(x, a))) {
    const r = points.find((x) => x.broker === broker && isArm(x, ref) && x.round === p.round);
    if (r && f(r) > 0) out.push(f(p) / f(r));
  }
  return out;
}

export const t9: Scenario = {
  id: 'T9',
  title: 'scale-out: 1, 2, 3 instances in multi mode, cost per event and command round trip',
  optional: true,
  async run(ctx) {
    const plan: Plan = ctx.smoke ? { ratePerSec: 600, commandsPerSec: 20, durationMs: 2000, warmupMs: 500, idleMs: 1000, primePerInstance: 1000, primeMs: 1000 }
      : { ratePerSec: 1500, commandsPerSec: 20, durationMs: 7000, warmupMs: 1000, idleMs: 1500, primePerInstance: 1500, primeMs: 3000 };
    // For looking closer (not used by the suite): another total event rate or command rate.
    if (process.env.BENCH_T9_RATE) plan.ratePerSec = Number(process.env.BENCH_T9_RATE);
    if (process.env.BENCH_T9_COMMANDS_PER_SEC) plan.commandsPerSec = Number(process.env.BENCH_T9_COMMANDS_PER_SEC);
    if (process.env.BENCH_T9_PRIME_MS) plan.primeMs = Number(process.env.BENCH_T9_PRIME_MS);
    const total = plan.ratePerSec;
    // The same total over 1, 2 and 3 instances (what the comparison is about), and 1 instance at
    // the rate each instance then carries (total / 2, total / 3): the control that tells a cost of
    // the instance count from a cost of the lower rate per instance.
    const arms: Arm[] = [
      ...COUNTS.map((instances) => ({ instances, ratePerSec: total })),
      ...(ctx.smoke ? [] : [2, 3].map((d) => ({ instances: 1, ratePerSec: Math.round(total / d) }))),
    ];
    const rounds = ctx.smoke ? 1 : 3;
    const brokers: Broker[] = (process.env.BENCH_T9_BROKERS ?? 'mosquitto,cluster').split(',').filter((b): b is Broker => b === 'mosquitto' || b === 'cluster');
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 2 });
    await redis.connect();
    const points: ScalePoint[] = [];
    const notes: string[] = [];
    const teardowns: Array<() => unknown> = [];
    const brokerArms: BrokerArm[] = [];
    try {
      for (const broker of brokers) brokerArms.push(broker === 'mosquitto' ? await mosquittoArm(teardowns) : { broker });
      for (let r = 0; r < rounds; r++) {
        // The arms in a rotated order from round to round, so that no arm is always first or last.
        const order = arms.map((_, i) => arms[(i + r * 2) % arms.length] as Arm);
        for (const brokerArm of brokerArms) {
          const { broker } = brokerArm;
          for (const arm of order) {
            const p = await runPoint(ctx, redis, brokerArm, arm.instances, r, { ...plan, ratePerSec: arm.ratePerSec });
            points.push(p);
            ctx.log(
              `  round ${r + 1} ${broker} ${key(arm)}: ${p.deliveredPerSec}/s delivered (offered ${p.offeredPerSec}, event p50 ${p.eventP50Ms} ms p99 ${p.eventP99Ms} ms), gateways CPU ${p.cpuPercent.join('+')}% = ${p.cpuUsPerEvent} µs/event (idle ${p.idleCpuPercent.join('+')}%, marginal ${p.marginalUsPerEvent} µs/event); commands p50 ${p.commands.all.p50Ms} ms p99 ${p.commands.all.p99Ms} ms (direct p50 ${p.commands.direct.p50Ms}, forwarded p50 ${p.commands.forwarded.p50Ms}), forwarded ${round(p.commands.forwardedShare * 100, 1)}% (expected ${round(p.commands.expectedShare * 100, 1)}%), custodian ${p.custodian}${p.custodianChanged ? ' (changed)' : ''}; ${p.lostAcked} acknowledged events lost, ${p.duplicates} duplicated${p.brokerDrops === null ? '' : `, ${p.brokerDrops} drop notices from Mosquitto`}`,
            );
          }
        }
      }
    } finally {
      await redis.quit();
      for (const fn of teardowns.reverse()) await fn();
    }
    const rows: Record<string, unknown>[] = [];
    const summaryParts: string[] = [];
    const one: Arm = { instances: 1, ratePerSec: total };
    for (const broker of brokers) {
      for (const arm of arms) {
        const ps = points.filter((p) => p.broker === broker && isArm(p, arm));
        if (ps.length === 0) continue;
        const n = arm.instances;
        // The same rate per instance, on one instance (the control arm), where it ran.
        const perInstance: Arm = { instances: 1, ratePerSec: Math.round(arm.ratePerSec / n) };
        const hasControl = n > 1 && arms.some((a) => key(a) === key(perInstance));
        const costRatios = ratios(points, broker, arm, one, (p) => p.cpuUsPerEvent);
        const controlRatios = hasControl ? ratios(points, broker, arm, perInstance, (p) => p.cpuUsPerEvent) : [];
        // Forwarded minus direct p50, within each run (same load, same moment).
        const hop = ps.filter((p) => p.commands.forwarded.count > 0 && p.commands.direct.count > 0).map((p) => p.commands.forwarded.p50Ms - p.commands.direct.p50Ms);
        const row = {
          broker,
          arm: key(arm),
          instances: n,
          offeredPerSec: arm.ratePerSec,
          rounds: ps.length,
          deliveredPerSec: median(ps.map((p) => p.deliveredPerSec)),
          eventP50Ms: round(median(ps.map((p) => p.eventP50Ms)), 2),
          eventP99Ms: round(median(ps.map((p) => p.eventP99Ms)), 2),
          cpuPercentSum: round(median(ps.map((p) => p.cpuPercent.reduce((a, b) => a + b, 0))), 1),
          cpuUsPerEvent: round(median(ps.map((p) => p.cpuUsPerEvent)), 1),
          costVsX1SameTotal: arm.ratePerSec === total ? round(median(costRatios), 3) : null,
          costVsX1SameTotalRounds: arm.ratePerSec === total ? costRatios.map((x) => round(x, 3)) : [],
          costVsX1SamePerInstance: hasControl ? round(median(controlRatios), 3) : null,
          costVsX1SamePerInstanceRounds: controlRatios.map((x) => round(x, 3)),
          idleCpuPercentSum: round(median(ps.map((p) => p.idleCpuPercent.reduce((a, b) => a + b, 0))), 1),
          marginalUsPerEvent: round(median(ps.map((p) => p.marginalUsPerEvent)), 1),
          commandP50Ms: round(median(ps.map((p) => p.commands.all.p50Ms)), 2),
          commandP99Ms: round(median(ps.map((p) => p.commands.all.p99Ms)), 2),
          directP50Ms: round(median(ps.map((p) => p.commands.direct.p50Ms).filter(Number.isFinite)), 2),
          forwardedP50Ms: n === 1 ? null : round(median(ps.map((p) => p.commands.forwarded.p50Ms).filter(Number.isFinite)), 2),
          forwardedP99Ms: n === 1 ? null : round(median(ps.map((p) => p.commands.forwarded.p99Ms).filter(Number.isFinite)), 2),
          hopP50Ms: n === 1 ? null : round(median(hop), 2),
          hopP50MsRounds: hop.map((x) => round(x, 2)),
          forwardedShare: round(median(ps.map((p) => p.commands.forwardedShare)), 3),
          expectedShare: round(median(ps.map((p) => p.commands.expectedShare)), 3),
        };
        rows.push(row);
        if (n > 1) {
          summaryParts.push(
            `${broker} x${n}: cost/event ${round((row.costVsX1SameTotal ?? Number.NaN) * 100, 1)}% of x1 at the same total${hasControl ? `, ${round((row.costVsX1SamePerInstance ?? Number.NaN) * 100, 1)}% of x1 at the same rate per instance` : ''}; forward hop ${row.hopP50Ms} ms p50`,
          );
        }
      }
    }
    const fmt = (x: unknown, unit = ''): string => (x === null || x === undefined || (typeof x === 'number' && !Number.isFinite(x)) ? '-' : `${String(x)}${unit}`);
    const pct = (x: unknown): string => (typeof x === 'number' && Number.isFinite(x) ? `${round(x * 100, 1)}%` : '-');
    const markdownTable = [
      '| broker | arm | events/s (offered) | gateways CPU % (idle) | CPU µs/event | vs x1, same total | vs x1, same rate per instance | event p50 / p99 ms | command p50 / p99 ms | direct p50 | forwarded p50 / p99 | hop p50 | forwarded (expected) |',
      '| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...rows.map((r) =>
        `| ${fmt(r.broker)} | ${fmt(r.arm)} | ${fmt(r.deliveredPerSec)} (${fmt(r.offeredPerSec)}) | ${fmt(r.cpuPercentSum)} (${fmt(r.idleCpuPercentSum)}) | ${fmt(r.cpuUsPerEvent)} | ${pct(r.costVsX1SameTotal)} | ${pct(r.costVsX1SamePerInstance)} | ${fmt(r.eventP50Ms)} / ${fmt(r.eventP99Ms)} | ${fmt(r.commandP50Ms)} / ${fmt(r.commandP99Ms)} | ${fmt(r.directP50Ms)} | ${fmt(r.forwardedP50Ms)} / ${fmt(r.forwardedP99Ms)} | ${fmt(r.hopP50Ms)} | ${pct(r.forwardedShare)} (${pct(r.expectedShare)}) |`,
      ),
    ];
    const lost = points.reduce((x, p) => x + p.lostAcked, 0);
    const drops = points.reduce((x, p) => x + (p.brokerDrops ?? 0), 0);
    const unanswered = points.reduce((x, p) => x + p.commands.unanswered, 0);
    const extra = points.reduce((x, p) => x + p.commands.duplicates, 0);
    const failed = points.reduce((x, p) => x + p.commands.failed, 0);
    const changed = points.filter((p) => p.custodianChanged).length;
    const short = points.filter((p) => p.deliveredPerSec < 0.95 * p.offeredPerSec).length;
    if (short > 0) notes.push(`${short} of ${points.length} runs delivered less than 95% of the offered rate: there the gateways (or the machine) did not keep up.`);
    if (changed > 0) notes.push(`custody moved during ${changed} run(s): their direct / forwarded split is mixed.`);
    notes.push(`events and commands over all runs: ${lost} acknowledged events lost${brokerArms.some((a) => a.drops) ? ` (Mosquitto logged ${drops} drop notices)` : ''}, ${unanswered} commands unanswered, ${extra} extra replies, ${failed} replies ok: false.`);
    notes.push('CPU is every gateway process of the arm summed (utime + stime from /proc) over the measured window, commands, lease refreshes and registry upkeep included; Mosquitto, Redis, the generators and the subscriber are not in it (in the cluster arm each gateway process holds its embedded broker, whose work is in it: compare the cluster rows with each other, not with Mosquitto\'s). Command times are from the instant of publishing to the reply at the commander.');
    return {
      status: 'measured',
      summary: `${total} events/s + ${plan.commandsPerSec} commands/s over ${TERMINALS} terminals; ${summaryParts.join('; ')} (medians of ${rounds} interleaved rounds)`,
      checks: [],
      generators: points.flatMap((p) => p.generators),
      notes,
      details: { plan: { ...plan, terminals: TERMINALS, generators: GENERATORS, rounds, brokers, arms: arms.map(key) }, table: rows, markdownTable, points: points.map(({ generators: _g, ...rest }) => rest) },
    };
  },
};
