// The composition root: broker, MQTT link, HTTP server and the adapters, started and stopped in
// order. One adapter that fails to start is reported and does not take the others down; a taken
// port does end the start, since the user has to move it.
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { pino, type Logger } from 'pino';
import type { Adapter, AdapterContext, AdapterFactory } from './adapter.js';
import { builtinAdapters } from './adapters.js';
import { Bridge, PlatformRequests } from './bridge.js';
import { EmbeddedBroker, type BrokerAddresses } from './broker.js';
import { DirectHandover, DiskBuffer, type Handover } from './buffer.js';
import { Cluster } from './cluster.js';
import { CommandRouter } from './commands.js';
import { registerConsole } from './console/server.js';
import type { AnswerConfig, GatewayConfig } from './config.js';
import { Devices, type CoreServices } from './devices.js';
import { InstanceError, MqttConnectError, PortInUseError } from './errors.js';
import { instanceIdentity, OwnerRegistry, type InstanceIdentity } from './instances.js';
import { createHttpServer } from './http.js';
import { HomeAssistant } from './homeassistant.js';
import { Mappings } from './mappings.js';
import { Metrics } from './metrics.js';
import { InProcessLink } from './inprocess.js';
import { ThreadBroker, ThreadLink } from './broker-thread.js';
import { MqttLink, type Link } from './mqtt.js';
import { VERSION } from './paths.js';
import { Topics } from './topics.js';
import { asyncApiDocument } from './asyncapi.js';

export interface AdapterDefinition {
  id: string;
  factory: AdapterFactory<never>;
  /** The adapter's configuration section; `enabled: false` leaves it out. */
  config: { enabled: boolean; answers?: Readonly<Record<string, AnswerConfig>> };
  /** Folder of its mappings (default `mappings/{id}`). */
  mappingsDir?: string;
}

export interface GatewayOptions {
  /** The adapters to run; default: the built-in ones, as configured. */
  adapters?: AdapterDefinition[];
  logger?: Logger;
}

interface Running {
  id: string;
  /** Absent when it could not be built (its mappings are broken). */
  adapter?: Adapter;
  devices: Devices;
  mappings?: Mappings;
  listen: string | undefined;
  failed?: string;
}

/** How often `bridge/info` may be republished when device counts change. */
const INFO_INTERVAL_MS = 5000;

export class Gateway {
  readonly config: Readonly<GatewayConfig>;
  readonly logger: Logger;
  readonly metrics = new Metrics({ defaultMetrics: true });
  readonly topics: Topics;
  private readonly definitions: AdapterDefinition[];
  private broker: EmbeddedBroker | ThreadBroker | undefined;
  private brokerAddresses: BrokerAddresses | undefined;
  private link: Link | undefined;
  private router: CommandRouter | undefined;
  private starting: Promise<void> | undefined;
  private readonly handover: Handover;
  private http: FastifyInstance | undefined;
  private httpAddress: string | undefined;
  private readonly running: Running[] = [];
  private listenersUp = false;
  private stopping = false;
  private readonly startedAt = new Date().toISOString();
  private infoTimer: NodeJS.Timeout | undefined;
  private lastInfo = '';
  readonly identity: InstanceIdentity;
  private cluster: Cluster | undefined;

  constructor(config: Readonly<GatewayConfig>, options: GatewayOptions = {}) {
    this.config = config;
    this.logger = options.logger ?? pino({ level: config.log.level, base: { name: 'gate2mqtt' } });
    this.topics = new Topics(config.baseTopic);
    this.identity = instanceIdentity(config);
    this.definitions = (options.adapters ?? builtinAdapters(config)).filter((d) => d.config.enabled);
    this.handover =
      config.buffer.mode === 'disk'
        ? new DiskBuffer({ config: config.buffer, metrics: this.metrics, logger: this.logger.child({ component: 'buffer' }) })
        : new DirectHandover();
  }

  get ready(): boolean {
    return this.listenersUp && this.link?.connected === true && !this.stopping;
  }

  get mqttUrl(): string {
    return this.config.mqtt.url || EmbeddedBroker.localUrl(this.brokerAddresses?.mqtt ?? '');
  }

  addresses(): { broker: BrokerAddresses | undefined; http: string | undefined; adapters: Record<string, string | undefined> } {
    return {
      broker: this.brokerAddresses,
      http: this.httpAddress,
      adapters: Object.fromEntries(this.running.map((r) => [r.id, r.listen])),
    };
  }

  start(): Promise<void> {
    this.starting ??= this.open();
    return this.starting;
  }

  private async open(): Promise<void> {
    const { config, logger } = this;
    // Before anything listens: a buffer that cannot be opened stops the start.
    await this.handover.open();
    const multi = config.instance.mode === 'multi';
    if (multi && !config.mqtt.url && !config.broker.cluster.redisUrl) {
      throw new InstanceError(
        'instance.mode multi needs one broker shared by the instances: an external broker (mqtt.url, GATE2MQTT_MQTT_URL), or the embedded brokers clustered over Redis (broker.cluster.redisUrl, GATE2MQTT_BROKER_CLUSTER_REDIS_URL); a standalone embedded broker is its own',
      );
    }
    // Before anything listens: an id another live instance holds, or no Redis, stops the start.
    const registry = multi
      ? new OwnerRegistry({
          url: config.instance.redisUrl,
          prefix: config.instance.redisPrefix,
          base: config.baseTopic,
          identity: this.identity,
          leaseMs: config.instance.leaseMs,
          logger: logger.child({ component: 'instances' }),
        })
      : undefined;
    await registry?.start();
    const brokerOptions = {
      ...config.broker,
      baseTopic: config.baseTopic,
      loopbackClient: !config.broker.inProcess,
      logger: logger.child({ component: 'broker' }),
    };
    const threaded = !config.mqtt.url && config.broker.inProcess && config.broker.thread;
    const window = { publishTimeoutMs: config.mqtt.publishTimeoutMs, maxInflight: config.mqtt.maxInflight };
    // The thread logs at the level of the logger its records go back to.
    const thread = threaded ? new ThreadBroker(brokerOptions, { ...window, logLevel: brokerOptions.logger.level }) : undefined;
    const broker = config.mqtt.url || thread ? undefined : new EmbeddedBroker(brokerOptions);
    this.broker = thread ?? broker;
    const inProcess = broker !== undefined && config.broker.inProcess;
    // A loopback client needs the port it connects to; the in-process link subscribes before any
    // client can reach the broker.
    if (broker && !inProcess) this.brokerAddresses = await broker.start();
    const mqttLogger = logger.child({ component: 'mqtt' });
    if (thread) await thread.prepare();
    const link: Link = thread
      ? thread.link({ ...window, logger: mqttLogger })
      : broker && inProcess
        ? new InProcessLink({ broker: await broker.prepare(), ...window, logger: mqttLogger })
        : new MqttLink({
            url: this.mqttUrl,
            config: { ...config.mqtt, clientId: this.identity.clientId },
            // Multi mode: this instance's death is not the bridge's (src/cluster.ts keeps the aggregate).
            will: { topic: multi ? this.topics.instance(this.identity.id, 'state') : this.topics.bridgeState, payload: 'offline' },
            // The embedded broker's users and ACLs are for others: the gateway logs in as itself.
            ...(broker ? { clientOverrides: broker.loopbackLogin() } : {}),
            logger: mqttLogger,
          });
    this.link = link;
    const cluster = registry
      ? new Cluster({
          registry,
          identity: this.identity,
          link,
          topics: this.topics,
          metrics: this.metrics,
          leaseMs: config.instance.leaseMs,
          publishTimeoutMs: config.mqtt.publishTimeoutMs,
          logger: logger.child({ component: 'instances' }),
          ...(broker
            ? {}
            : {
                sentinel: () =>
                  new MqttLink({
                    url: this.mqttUrl,
                    config: { ...config.mqtt, clientId: `${this.identity.clientId}-sentinel`, protocol: '3.1.1' },
                    will: { topic: this.topics.bridgeState, payload: 'offline' },
                    logger: mqttLogger.child({ connection: 'sentinel' }),
                  }),
              }),
        })
      : undefined;
    this.cluster = cluster;
    cluster?.listen();
    cluster?.keepAlive();
    // Commands are taken (and held until the adapters are up) before the first can arrive.
    const router = new CommandRouter(link, this.topics, config.commands, config.output, this.metrics, logger.child({ component: 'commands' }), cluster);
    this.router = router;
    router.listen(this.definitions.map((d) => d.id));
    if (thread || (broker && inProcess)) this.brokerAddresses = await (thread ?? (broker as EmbeddedBroker)).start();
    link.on('disconnect', () => this.metrics.mqttConnected.set(0));
    link.on('connect', () => this.metrics.mqttConnected.set(1));
    const connecting = link.start();
    if (!broker && config.buffer.mode === 'disk') {
      // A cabinet's gateway may start while its uplink is down: the disk buffer takes the devices'
      // messages until the broker is reached (the client keeps trying).
      connecting.catch((err: unknown) =>
        logger.warn({ url: redactUrl(this.mqttUrl), err: (err as Error).message }, 'MQTT broker unreachable at start; device messages go to the disk buffer until it is reached'),
      );
    } else {
      try {
        await connecting;
      } catch (err) {
        throw new MqttConnectError(redactUrl(this.mqttUrl), err);
      }
    }
    this.metrics.mqttConnected.set(link.connected ? 1 : 0);
    this.handover.attach(link);

    const bridge = new Bridge(link, this.topics, this.metrics);
    const requests = new PlatformRequests(link, this.topics, config.commands.maxPayloadBytes, logger);
    const discovery = new HomeAssistant(link, this.topics, config.homeassistant, logger.child({ component: 'homeassistant' }));
    const core: CoreServices = { link, handover: this.handover, topics: this.topics, metrics: this.metrics, bridge, requests, output: config.output, discovery };
    if (cluster) core.ownership = cluster;
    const http = createHttpServer({
      ...config.http,
      metrics: this.metrics,
      readiness: () => ({ mqtt: link.connected, listeners: this.listenersUp && !this.stopping }),
      asyncapi: () => asyncApiDocument({ base: config.baseTopic }),
    });
    this.http = http;
    if (config.http.console) this.console(http, bridge, router);

    for (const definition of this.definitions) {
      const adapterLogger = logger.child({ adapter: definition.id });
      const devices = new Devices(definition.id, core, definition.config.answers ?? {}, adapterLogger);
      const running: Running = { id: definition.id, devices, listen: undefined };
      devices.forgetStale();
      cluster?.attach(definition.id, devices);
      this.running.push(running);
      let mappings: Mappings | undefined;
      try {
        mappings = new Mappings(definition.id, definition.mappingsDir);
        // Before the adapter listens: its first device is discovered too.
        discovery.register(definition.id, mappings);
        running.mappings = mappings;
        running.adapter = definition.factory(this.context(definition, { link, bridge, http, devices, mappings, logger: adapterLogger }));
        running.listen = await running.adapter.start();
      } catch (err) {
        if (err instanceof PortInUseError) throw err;
        running.failed = (err as Error).message;
        adapterLogger.error({ err }, 'adapter failed to start; the others go on');
      }
      // Routed even when it failed: its commands are answered `offline`, not left unanswered.
      router.route(definition.id, devices, mappings, running.failed);
      if (running.failed === undefined) requests.listen(definition.id);
    }
    router.open();
    await discovery.start();

    await http.listen({ port: config.http.port, host: config.http.host }).catch((err: NodeJS.ErrnoException) => {
      throw err.code === 'EADDRINUSE' ? new PortInUseError('the HTTP server', config.http.port, 'GATE2MQTT_HTTP_PORT') : err;
    });
    const address = http.server.address() as AddressInfo;
    this.httpAddress = `${config.http.host}:${address.port}`;

    this.listenersUp = this.running.every((r) => r.failed === undefined);
    if (cluster) {
      await cluster.begin(this.info(), this.listenersUp);
    } else {
      await link.retain(this.topics.bridgeInfo, this.info());
      if (this.listenersUp) await link.retain(this.topics.bridgeState, 'online');
    }
    this.infoTimer = setInterval(() => this.refreshInfo(), INFO_INTERVAL_MS);
    this.infoTimer.unref();
    logger.info({ http: this.httpAddress, broker: this.brokerAddresses, adapters: this.addresses().adapters }, 'gate2mqtt started');
  }

  private context(
    definition: AdapterDefinition,
    parts: { link: Link; bridge: Bridge; http: FastifyInstance; devices: Devices; mappings: Mappings; logger: Logger },
  ): AdapterContext<never> {
    const { config, topics } = this;
    const { link, bridge, http, devices, mappings, logger } = parts;
    return {
      id: definition.id,
      config: definition.config as never,
      output: config.output,
      deviceTimeZone: config.deviceTimeZone,
      logger,
      metrics: this.metrics.forAdapter(definition.id),
      devices,
      events: bridge.forAdapter(definition.id, logger),
      mappings,
      http,
      watch: (kind, handler) =>
        link.subscribe(topics.deviceFilter(definition.id, kind), (topic, payload) => {
          const deviceId = topics.deviceOf(topic);
          if (deviceId === undefined) return;
          try {
            handler(deviceId, payload);
          } catch (err) {
            logger.warn({ topic, err: (err as Error).message }, `${kind} ignored`);
          }
        }),
    };
  }

  /** The console's views of what the gateway runs, and the router's command path. */
  private console(http: FastifyInstance, bridge: Bridge, router: CommandRouter): void {
    registerConsole(http, {
      bridge: () => ({ state: this.ready ? 'online' : 'offline', ...this.infoObject() }),
      adapters: () =>
        this.running.map((r) => ({
          id: r.id,
          listen: r.listen ?? null,
          failed: r.failed ?? null,
          devices: () => r.devices.list(),
          commands: () => r.mappings?.describe() ?? [],
          observe: (observer) => r.devices.observe(observer),
        })),
      onBridgeEvent: (listener) => bridge.listen(listener),
      command: (adapter, deviceId, name, body) => router.submit({ adapter, deviceId, name }, body),
    });
  }

  private info(): string {
    this.lastInfo = JSON.stringify(this.infoObject());
    return this.lastInfo;
  }

  private infoObject(): Record<string, unknown> {
    return {
      version: VERSION,
      startedAt: this.startedAt,
      baseTopic: this.config.baseTopic,
      instance: { id: this.identity.id, bootId: this.identity.bootId, mode: this.config.instance.mode },
      mqtt: {
        url: redactUrl(this.mqttUrl),
        protocolVersion: this.link?.protocolVersion === 5 ? '5' : '3.1.1',
        embedded: !this.config.mqtt.url,
        inProcess: this.link instanceof InProcessLink || this.link instanceof ThreadLink,
      },
      broker: this.brokerAddresses ?? null,
      http: this.httpAddress ?? null,
      buffer: this.handover.stats(),
      adapters: Object.fromEntries(
        this.running.map((r) => [r.id, { listen: r.listen ?? null, devices: r.devices.size, ...(r.failed ? { failed: r.failed } : {}) }]),
      ),
    };
  }

  private refreshInfo(): void {
    const previous = this.lastInfo;
    const next = this.info();
    if (next === previous || !this.link) return;
    if (this.cluster) this.cluster.info(next);
    else void this.link.retain(this.topics.bridgeInfo, next);
  }

  /** Stops accepting, publishes every device offline, then `bridge/state` offline, then closes. */
  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    clearInterval(this.infoTimer);
    this.router?.close('the gateway is stopping');
    // Whatever a start still in progress opens, this closes.
    await this.starting?.catch(() => undefined);
    await Promise.all(
      this.running.map(async (r) => {
        try {
          await r.adapter?.stop();
        } catch (err) {
          this.logger.error({ err, adapter: r.id }, 'adapter failed to stop cleanly');
        }
        await r.devices.closeAll();
      }),
    );
    await this.http?.close();
    if (this.link) {
      if (this.cluster) await this.cluster.stop();
      else if (this.link.connected) await this.link.retain(this.topics.bridgeState, 'offline');
      await this.link.stop();
    }
    await this.handover.close();
    await this.broker?.stop();
    this.logger.info('gate2mqtt stopped');
  }
}

function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@');
}

export type { Adapter };
