// Multi-instance mode in the gateway: the registry (src/instances.ts) as the devices and the command
// router see it, the notices between instances, dead instances' devices set offline, and the
// per-instance and aggregate bridge state. docs/scale-out.md has the design and the races it closes.
import type { Logger } from 'pino';
import type { Custody } from './commands.js';
import type { Devices, Ownership } from './devices.js';
import { instanceOfHolder, type InstanceIdentity, type OwnerRegistry } from './instances.js';
import { parseJsonObject } from './json.js';
import type { Metrics } from './metrics.js';
import type { Link } from './mqtt.js';
import type { Topics } from './topics.js';

export interface ClusterOptions {
  registry: OwnerRegistry;
  identity: InstanceIdentity;
  link: Link;
  topics: Topics;
  metrics: Metrics;
  leaseMs: number;
  /** How long a device message may wait for the broker: another instance's run of a retransmission
   *  is waited for that long. */
  publishTimeoutMs: number;
  logger: Logger;
  /** External broker: a connection of its own whose will sets `{base}/bridge/state` offline, held
   *  while this is the only live instance (a will is fixed at CONNECT; see docs/scale-out.md). */
  sentinel?: () => Link;
}

/** A device-scoped retransmission key is remembered across instances this long: a device resends
 *  within seconds of losing its answer, not hours later. */
const RETRANSMISSION_KEEP_MS = 10 * 60_000;

export class Cluster implements Ownership, Custody {
  readonly self: string;
  private readonly options: ClusterOptions;
  private readonly adapters = new Map<string, Devices>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopping = false;
  /** The gateway is up: custody may be taken, dead instances reaped, the sentinel held. */
  private up = false;
  private sentinel: Link | undefined;

  constructor(options: ClusterOptions) {
    this.options = options;
    this.self = options.identity.id;
  }

  admit(received: number): boolean | Promise<boolean> {
    const { registry } = this.options;
    if (this.stopping || !this.up) return false;
    if (registry.custodyAt(received)) return true;
    if (!registry.custodyLapsed(received)) return false;
    // Two refreshes at most: one may have been sent before the command arrived.
    const confirmed = (): boolean => registry.custodyAt(received);
    return this.tick().then(() => confirmed() || (registry.custodyLapsed(received) ? this.tick().then(confirmed) : false));
  }

  /** Before the link connects: the notices that a device of this instance moved to another. */
  listen(): void {
    const { link, topics } = this.options;
    link.subscribe(topics.internal(this.self, 'released'), (_topic, payload) => void this.onReleased(payload));
  }

  attach(adapter: string, devices: Devices): void {
    this.adapters.set(adapter, devices);
  }

  claim(adapter: string, deviceId: string): void {
    const { registry, link, topics, logger } = this.options;
    registry.claim(adapter, deviceId).then(
      (previous) => {
        if (previous === undefined) return;
        const instance = instanceOfHolder(previous);
        // An earlier boot of this instance is dead: nobody to tell.
        if (instance === this.self) return;
        link.publishQueued(topics.internal(instance, 'released'), JSON.stringify({ adapter, deviceId, holder: registry.holder }));
      },
      (err: unknown) => logger.warn({ adapter, deviceId, err: (err as Error).message }, 'device not recorded in the owner registry'),
    );
  }

  release(adapter: string, deviceId: string): Promise<boolean> {
    return this.options.registry.release(adapter, deviceId);
  }

  once(adapter: string, deviceId: string, key: string, work: () => Promise<void>): Promise<void> {
    return this.options.registry.once(`${adapter}/${deviceId}`, key, work, { pendingMs: this.options.publishTimeoutMs + 1000, keepMs: RETRANSMISSION_KEEP_MS });
  }

  async held(adapter: string, deviceId: string): Promise<boolean> {
    return (await this.options.registry.owner(adapter, deviceId)) !== undefined;
  }

  async elsewhere(adapter: string, deviceId: string): Promise<string | undefined> {
    const { registry } = this.options;
    const owner = await registry.owner(adapter, deviceId);
    if (owner === undefined || owner === registry.holder) return undefined;
    return instanceOfHolder(owner);
  }

  private async onReleased(payload: Buffer): Promise<void> {
    const { registry, logger } = this.options;
    let notice;
    try {
      notice = parseJsonObject(payload, 4096);
    } catch (err) {
      logger.warn({ err: (err as Error).message }, 'release notice ignored');
      return;
    }
    const { adapter, deviceId, holder } = notice;
    if (typeof adapter !== 'string' || typeof deviceId !== 'string' || typeof holder !== 'string') return;
    const devices = this.adapters.get(adapter);
    const connection = devices?.get(deviceId);
    if (!devices || !connection) return;
    // The device may have come back here since the notice was sent; and while the registry is
    // asked, a new connection of it may begin here (movedAway leaves that one alone).
    const owner = await registry.owner(adapter, deviceId).catch(() => holder);
    if (owner === registry.holder) return;
    devices.movedAway(deviceId, instanceOfHolder(owner ?? holder), connection);
  }

  /** From the registry's start on, the lease is refreshed (a start may take longer than the lease);
   *  custody is taken only once the gateway is up (begin). */
  keepAlive(): void {
    this.timer = setInterval(() => void this.tick(), Math.max(50, Math.floor(this.options.leaseMs / 3)));
    this.timer.unref();
  }

  /** The gateway is up: this instance's info and state, the aggregate, and custody of commands. */
  async begin(info: string, online: boolean): Promise<void> {
    const { link, topics } = this.options;
    await link.retain(topics.instance(this.self, 'info'), info);
    if (online) {
      await link.retain(topics.instance(this.self, 'state'), 'online');
      await link.retain(topics.bridgeState, 'online');
    }
    this.up = true;
    await this.ticking;
    await this.tick();
  }

  info(info: string): void {
    void this.options.link.retain(this.options.topics.instance(this.self, 'info'), info);
  }

  private tick(): Promise<void> {
    this.ticking ??= this.refresh().finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  private async refresh(): Promise<void> {
    const { registry, metrics, logger } = this.options;
    try {
      const tick = await registry.tick({ custody: this.up && !this.stopping });
      metrics.custodian.set(tick.custodian ? 1 : 0);
      metrics.instancesLive.set(tick.others.length + 1);
      for (const { holder, devices } of tick.reaped) await this.reaped(holder, devices, tick.others);
      if (tick.revived && this.up) this.reclaim();
      if (this.up) await this.keepSentinel(tick.others.length === 0);
    } catch (err) {
      metrics.custodian.set(0);
      logger.warn({ err: (err as Error).message }, 'owner registry lease not refreshed; custody of commands is given up until it is');
    }
  }

  /** Taken for dead after a stall: every device still connected here is claimed again and said
   *  online (a survivor said it offline). */
  private reclaim(): void {
    const { link, topics, logger } = this.options;
    let count = 0;
    for (const [adapter, devices] of this.adapters) {
      for (const device of devices.list()) {
        if (!device.online) continue;
        count += 1;
        this.claim(adapter, device.deviceId);
        void link.retain(topics.device(adapter, device.deviceId, 'availability'), 'online');
      }
    }
    logger.warn({ devices: count }, 'this instance was taken for dead (a stall longer than instance.leaseMs): its devices claimed again');
  }

  /** A dead instance's devices, released from the registry now: offline, unless they connected
   *  elsewhere meanwhile (their new holder corrects an offline that crossed its online). */
  private async reaped(holder: string, devices: string[], live: string[]): Promise<void> {
    const { link, topics, logger } = this.options;
    const instance = instanceOfHolder(holder);
    logger.warn({ instance: holder, devices: devices.length }, 'instance dead (its lease ran out): its devices set offline');
    const publishes = devices.map((member) => {
      const slash = member.indexOf('/');
      const topic = topics.device(member.slice(0, slash), member.slice(slash + 1), 'availability');
      // Not retain(): this instance must not say it again after its own reconnect.
      return link.publish(topic, 'offline', { retain: true });
    });
    // The dead instance's will says this on a broker that has its connection; not on every broker.
    if (!live.some((h) => instanceOfHolder(h) === instance)) publishes.push(link.publish(topics.instance(instance, 'state'), 'offline', { retain: true }));
    const results = await Promise.allSettled(publishes);
    const failed = results.filter((r) => r.status === 'rejected').length;
    if (failed > 0) logger.warn({ instance: holder, failed }, 'offline of a dead instance\'s devices not acknowledged');
  }

  private async keepSentinel(alone: boolean): Promise<void> {
    const factory = this.options.sentinel;
    if (!factory || this.stopping) return;
    if (alone && !this.sentinel) {
      const sentinel = factory();
      this.sentinel = sentinel;
      await sentinel.start().then(
        () => this.options.logger.info('bridge state sentinel open: this is the only live instance, its death sets bridge/state offline'),
        (err: unknown) => this.options.logger.warn({ err: (err as Error).message }, 'bridge state sentinel not connected'),
      );
    } else if (!alone && this.sentinel) {
      const sentinel = this.sentinel;
      this.sentinel = undefined;
      // A clean DISCONNECT: its will is discarded, another instance is alive.
      await sentinel.stop();
      this.options.logger.info('bridge state sentinel closed: another instance is alive');
    }
  }

  /** A clean stop, after every device was released: custody and the lease given up; this
   *  instance offline; the aggregate offline only if no other instance is alive. */
  async stop(): Promise<void> {
    const { registry, link, topics, logger } = this.options;
    this.stopping = true;
    clearInterval(this.timer);
    await this.ticking;
    const others = await registry.others().catch((err: unknown) => {
      logger.warn({ err: (err as Error).message }, 'live instances unknown at stop; bridge/state left as it is');
      return undefined;
    });
    await registry.stop();
    if (link.connected) {
      await link.retain(topics.instance(this.self, 'state'), 'offline');
      if (others !== undefined && others.length === 0) await link.retain(topics.bridgeState, 'offline');
    }
    await this.sentinel?.stop();
    this.sentinel = undefined;
  }
}
