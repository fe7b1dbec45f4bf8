// The uplink rig of T1, T2, T4, T5 and T8: a gateway process, QYZN terminals in generator
// processes, the baseline MQTT.js publisher, and one subscriber, all on one broker (the gateway's
// embedded aedes, or an external one). Each run is one arm of a comparison: "gateway" (terminals
// -> gateway -> broker -> subscriber) or "baseline" (MQTT.js -> the same broker -> the same
// subscriber), on the same schedule and payload, with its own run tag.
import { randomBytes } from 'node:crypto';
import type { RunContext, GeneratorLine } from './context.js';
import { nowUs, sleep } from './clock.js';
import { GatewayProcess, type LoopDelay } from './gateway.js';
import { WorkerProcess } from './ipc.js';
import type { GenReport } from './outcomes.js';
import { deviceEventFilter, eventFilter, serials } from './payload.js';
import { ProcMonitor, type WindowStats } from './procstat.js';
import type { DeviceKind, DeviceLoadProtocol, MqttLoadProtocol, SubscriberProtocol } from './protocols.js';
import { addSeries, rateIn, round, type Summary } from './stats.js';
import { LISTED_PER_DEVICE, type StreamReport } from './tracker.js';

/** A device kind (its simulators -> the gateway -> broker -> subscriber), or the MQTT.js baseline. */
export type Arm = DeviceKind | 'baseline';

export interface RigOptions {
  name: string;
  /** External broker; empty: the gateway's embedded one. */
  brokerUrl?: string;
  devices: number;
  /** Generator processes for the qyzn terminals. */
  generators: number;
  /** Device kinds driven through the gateway (default qyzn); each gets `devices` devices. */
  kinds?: DeviceKind[];
  /** The gateway's broker store (default memory). */
  persistence?: 'memory' | 'disk';
  /** The gateway's buffer.mode (default off). */
  buffer?: 'off' | 'disk';
  /** The subscriber keeps a persistent session (default: clean), so the broker stores each message for it. */
  persistentSubscriber?: boolean;
  /** Start the MQTT.js baseline publisher (default true). */
  baseline?: boolean;
  /** How long a terminal waits for its RESPONSE (longer than the gateway's publishTimeoutMs in T8). */
  responseTimeoutMs?: number;
  cpuProfDir?: string;
  /** The process under test: the gateway (default) or the floor (bench/floor.ts). */
  entry?: 'gateway' | 'floor';
  /** Another checkout's gateway, for a side-by-side comparison of two builds. */
  root?: string;
  /** More environment for the process under test. */
  env?: Record<string, string>;
}

export interface ArmRun {
  arm: Arm;
  offeredPerSec: number;
  sentPerSec: number;
  /** Subscriber receive rate in the measured window (after the warm-up). */
  deliveredPerSec: number;
  /** delivered < 95% of offered: the arm was at its maximum. */
  saturated: boolean;
  ok: number;
  refused: number;
  silent: number;
  closed: number;
  sent: number;
  unique: number;
  /** Acknowledged to the device but never received by the subscriber. */
  lostAcked: number;
  /** Refused (or unanswered) yet received by the subscriber: a device's retransmission of one of
   *  these would be published a second time. */
  deliveredUnacked: number;
  duplicates: number;
  reordered: number;
  latencyMs: Summary;
  /** From the instant each message left its generator (the generator's own lag left out). */
  latencyFromSendMs: Summary;
  answerMs: Summary;
  gateway: WindowStats;
  /** The event loop's own delay in the process under test over the run (p99, max). */
  loopDelay: LoopDelay | undefined;
  generators: GeneratorLine[];
  /** Per-bucket series, for T8. */
  series: { bucketMs: number; received: number[]; ok: number[]; refused: number[]; silent: number[] };
  startAtUs: number;
}

const ms = (s: Summary): Summary => ({
  count: s.count,
  p50: round(s.p50 / 1000, 2),
  p90: round(s.p90 / 1000, 2),
  p99: round(s.p99 / 1000, 2),
  p999: round(s.p999 / 1000, 2),
  max: round(s.max / 1000, 2),
  mean: round(s.mean / 1000, 2),
});

export class UplinkRig {
  readonly options: RigOptions;
  readonly gateway: GatewayProcess;
  readonly monitor: ProcMonitor;
  readonly subscriber: WorkerProcess<SubscriberProtocol>;
  readonly loads: ReadonlyMap<DeviceKind, WorkerProcess<DeviceLoadProtocol>[]>;
  readonly publisher: WorkerProcess<MqttLoadProtocol> | undefined;
  readonly serials: string[];
  /** The baseline's topic root: beside the gateway's, so the gateway never sees it. */
  readonly baselineBase: string;
  private constructor(options: RigOptions, parts: Pick<UplinkRig, 'gateway' | 'subscriber' | 'loads' | 'publisher' | 'serials' | 'baselineBase'>) {
    this.options = options;
    this.gateway = parts.gateway;
    this.subscriber = parts.subscriber;
    this.loads = parts.loads;
    this.publisher = parts.publisher;
    this.serials = parts.serials;
    this.baselineBase = parts.baselineBase;
    this.monitor = new ProcMonitor(parts.gateway.pid, 250);
  }

  static async start(ctx: RunContext, options: RigOptions): Promise<UplinkRig> {
    const kinds = options.kinds ?? ['qyzn'];
    // The gateway and the workers start side by side: each is a Node process of its own. Every
    // worker that did start is kept in `spawned`, so a failed start stops them all.
    const spawned: Array<{ stop(): Promise<void> }> = [];
    const keep = <T extends { stop(): Promise<void> }>(w: T): T => {
      spawned.push(w);
      return w;
    };
    const workers = Promise.all([
      WorkerProcess.start<SubscriberProtocol>('subscriber', 'subscriber').then(keep),
      options.baseline === false ? Promise.resolve(undefined) : WorkerProcess.start<MqttLoadProtocol>('mqtt-load', 'mqtt-load').then(keep),
      ...kinds.flatMap((kind) =>
        Array.from({ length: kind === 'qyzn' ? options.generators : 1 }, (_, i) =>
          WorkerProcess.start<DeviceLoadProtocol>(`${kind}-load-${i}`, kind === 'qyzn' ? 'qyzn-load' : 'ws-load').then((w) => ({ kind, w: keep(w) })),
        ),
      ),
    ]);
    const gatewayStarting = GatewayProcess.start({
      name: options.name,
      adapters: kinds,
      logDir: ctx.rawDir,
      ...(options.brokerUrl ? { mqttUrl: options.brokerUrl } : {}),
      ...(options.cpuProfDir ? { cpuProfDir: options.cpuProfDir } : {}),
      ...(options.entry ? { entry: options.entry } : {}),
      ...(options.root ? { root: options.root } : {}),
      ...(options.env ? { env: options.env } : {}),
      ...(options.persistence ? { persistence: options.persistence } : {}),
      ...(options.buffer ? { buffer: options.buffer } : {}),
    });
    const [both, gatewayOutcome] = await Promise.allSettled([workers, gatewayStarting]);
    const started = spawned;
    if (both.status === 'rejected' || gatewayOutcome.status === 'rejected') {
      await Promise.all(started.map((w) => w.stop()));
      if (gatewayOutcome.status === 'fulfilled') await gatewayOutcome.value.stop();
      throw both.status === 'rejected' ? both.reason : gatewayOutcome.status === 'rejected' ? gatewayOutcome.reason : new Error('start failed');
    }
    const gateway = gatewayOutcome.value;
    const [subscriber, publisher, ...rest] = both.value;
    try {
      const id = randomBytes(3).toString('hex');
      const loads = new Map<DeviceKind, WorkerProcess<DeviceLoadProtocol>[]>();
      for (const { kind, w } of rest) loads.set(kind, [...(loads.get(kind) ?? []), w]);
      const baselineBase = `${gateway.base}-baseline`;
      await subscriber.call('connect', { url: gateway.mqttUrl, clientId: `g2m-bench-sub-${id}`, persistent: options.persistentSubscriber === true });
      await subscriber.call('subscribe', { filters: [...kinds.map((k) => deviceEventFilter(gateway.base, k)), eventFilter(baselineBase)] });
      await publisher?.call('connect', { url: gateway.mqttUrl, clientId: `g2m-bench-pub-${id}`, inflightCap: 32 * options.devices });
      const qyznSerials = serials('Q', options.devices);
      const letters: Record<DeviceKind, string> = { qyzn: 'Q', wsdoor: 'D', wscam: 'K' };
      const ports: Record<DeviceKind, number> = { qyzn: gateway.ports.qyzn, wsdoor: gateway.ports.wsdoor, wscam: gateway.ports.wscam };
      const logins = await Promise.all(
        [...loads].flatMap(([kind, workers]) => {
          const all = kind === 'qyzn' ? qyznSerials : serials(letters[kind], options.devices);
          const per = Math.ceil(all.length / workers.length);
          return workers.map((t, i) =>
            t.call('login', {
              kind,
              host: '127.0.0.1',
              port: ports[kind],
              secret: gateway.secret,
              serials: all.slice(i * per, (i + 1) * per),
              heartbeatMs: 25_000,
              concurrency: 100,
              responseTimeoutMs: options.responseTimeoutMs ?? 10_000,
            }),
          );
        }),
      );
      const failed = logins.reduce((n, l) => n + l.failed, 0);
      if (failed > 0) throw new Error(`${failed} devices could not log in: ${logins.flatMap((l) => l.errors).join('; ')}`);
      return new UplinkRig(options, { gateway, subscriber, loads, publisher, serials: qyznSerials, baselineBase });
    } catch (err) {
      await Promise.all(started.map((w) => w.stop()));
      await gateway.stop();
      throw err;
    }
  }

  /** Several rigs side by side; when one cannot start, the others are stopped before the error is
   *  thrown (no gateway or worker is left running). */
  static async startAll(ctx: RunContext, options: readonly RigOptions[]): Promise<UplinkRig[]> {
    const outcomes = await Promise.allSettled(options.map((o) => UplinkRig.start(ctx, o)));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    const started = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    if (failed) {
      await Promise.all(started.map((rig) => rig.stop()));
      throw failed.reason;
    }
    return started;
  }

  /** One arm at `ratePerSec` for `durationMs`; the window measured starts after `warmupMs`. */
  async run(arm: Arm, ratePerSec: number, durationMs: number, warmupMs: number, opts: { bucketMs?: number; retryRefused?: boolean; settleMs?: number; during?: (startAtUs: number) => Promise<void> } = {}): Promise<ArmRun> {
    const bucketMs = opts.bucketMs ?? 100;
    const settleMs = opts.settleMs ?? 12_000;
    const tag = randomBytes(4).toString('hex');
    const startAtUs = nowUs() + 300_000;
    await this.subscriber.call('begin', { tag, startUs: startAtUs, fromMs: warmupMs, toMs: durationMs, bucketMs });
    const base = { tag, durationMs, startAtUs, bucketMs, settleMs };
    const workers = arm === 'baseline' ? [] : (this.loads.get(arm) ?? []);
    if (arm !== 'baseline' && workers.length === 0) throw new Error(`no ${arm} devices in this rig`);
    const publisher = this.publisher;
    if (arm === 'baseline' && !publisher) throw new Error('this rig has no baseline publisher');
    const running: Promise<GenReport>[] =
      arm === 'baseline' && publisher
        ? [publisher.call('run', { ...base, ratePerSec, base: this.baselineBase, serials: this.serials })]
        : workers.map((t) => t.call('run', { ...base, ratePerSec: ratePerSec / workers.length, retryRefused: opts.retryRefused ?? false }));
    await this.gateway.loopDelay();
    const during = opts.during?.(startAtUs);
    const reports = await Promise.all(running);
    await during;
    const loopDelay = await this.gateway.loopDelay();
    const gatewayWindow = this.monitor.window(startAtUs, startAtUs + durationMs * 1000);
    const ok = reports.reduce((n, r) => n + r.ok, 0);
    await this.drain(ok);
    const sent: Record<string, number> = Object.assign({}, ...reports.map((r) => r.sent)) as Record<string, number>;
    const stream = await this.subscriber.call('report', { sent });
    return this.summarise(arm, ratePerSec, durationMs, warmupMs, reports, stream, gatewayWindow, loopDelay, startAtUs);
  }

  /** Waits until the subscriber has every acknowledged message, or nothing arrived for 1.5 s. */
  private async drain(acked: number): Promise<void> {
    let last = -1;
    let still = 0;
    for (let i = 0; i < 300; i++) {
      const { unique, received } = await this.subscriber.call('progress', null);
      if (unique >= acked) return;
      if (received === last) {
        still += 1;
        if (still >= 15) return;
      } else {
        still = 0;
      }
      last = received;
      await sleep(100);
    }
  }

  private summarise(arm: Arm, rate: number, durationMs: number, warmupMs: number, reports: GenReport[], stream: StreamReport, gateway: WindowStats, loopDelay: LoopDelay | undefined, startAtUs: number): ArmRun {
    const sum = (f: (r: GenReport) => number): number => reports.reduce((n, r) => n + f(r), 0);
    const sentTotal = sum((r) => r.loop.sent);
    const notOkTotal = sentTotal - sum((r) => r.ok);
    // Missing at the subscriber and acknowledged to the device: lost. Counted per device where
    // the lists are complete, and never less than what the totals prove.
    let lostListed = 0;
    const notOk: Record<string, number[]> = Object.assign({}, ...reports.map((r) => r.notOk)) as Record<string, number[]>;
    for (const [device, gaps] of Object.entries(stream.missing)) {
      const listed = notOk[device] ?? [];
      const refused = new Set(listed);
      // Past the last listed refusal of a cut-off list, a gap may be a refusal not listed.
      const upTo = listed.length < LISTED_PER_DEVICE ? Number.POSITIVE_INFINITY : Math.max(...listed);
      lostListed += gaps.filter((seq) => seq <= upTo && !refused.has(seq)).length;
    }
    const lostAcked = Math.max(lostListed, stream.missingTotal - notOkTotal);
    const delivered = rateIn(stream.buckets, stream.bucketMs, warmupMs, durationMs);
    const generators: GeneratorLine[] = reports.map((r) => ({
      scenario: this.options.name,
      name: arm === 'baseline' ? 'MQTT.js publisher (baseline)' : `${arm} devices (${Object.keys(r.sent).length}) ${r.name}`,
      askedPerSec: round(rate / reports.length, 0),
      sentPerSec: round(r.loop.sent / (durationMs / 1000), 0),
      lagP99Ms: round(r.loop.lagUs.p99 / 1000, 2),
      cpuPercent: round(r.loop.cpuPercent, 0),
      headroom: round(100 / Math.max(1, r.loop.cpuPercent), 1),
    }));
    let okSeries: number[] = [];
    let refusedSeries: number[] = [];
    let silentSeries: number[] = [];
    for (const r of reports) {
      okSeries = addSeries(okSeries, r.okBuckets);
      refusedSeries = addSeries(refusedSeries, r.refusedBuckets);
      silentSeries = addSeries(silentSeries, r.silentBuckets);
    }
    const answer = reports[0]?.answerUs;
    return {
      arm,
      offeredPerSec: round(rate, 0),
      sentPerSec: round(sentTotal / (durationMs / 1000), 0),
      deliveredPerSec: round(delivered, 0),
      saturated: delivered < 0.95 * rate,
      ok: sum((r) => r.ok),
      refused: sum((r) => r.refused),
      silent: sum((r) => r.silent),
      closed: sum((r) => r.closed),
      sent: sentTotal,
      unique: stream.unique,
      lostAcked,
      deliveredUnacked: Math.max(0, notOkTotal - (stream.missingTotal - lostAcked)),
      duplicates: stream.duplicates,
      reordered: stream.reordered,
      latencyMs: ms(stream.latencyUs),
      latencyFromSendMs: ms(stream.latencyFromSendUs),
      answerMs: ms(answer ?? stream.latencyUs),
      gateway: {
        rssStartMB: round(gateway.rssStartMB, 1),
        rssEndMB: round(gateway.rssEndMB, 1),
        rssMaxMB: round(gateway.rssMaxMB, 1),
        cpuPercent: round(gateway.cpuPercent, 1),
        mainThreadCpuPercent: round(gateway.mainThreadCpuPercent, 1),
        otherThreadCpuPercent: round(gateway.otherThreadCpuPercent, 1),
        seconds: round(gateway.seconds, 1),
      },
      loopDelay: loopDelay && { p99Ms: round(loopDelay.p99Ms, 2), maxMs: round(loopDelay.maxMs, 2) },
      generators,
      series: { bucketMs: stream.bucketMs, received: stream.buckets, ok: okSeries, refused: refusedSeries, silent: silentSeries },
      startAtUs,
    };
  }

  async stop(): Promise<void> {
    this.monitor.stop();
    await Promise.all([this.subscriber.stop(), this.publisher?.stop(), ...[...this.loads.values()].flat().map((t) => t.stop())]);
    await this.gateway.stop();
  }
}
