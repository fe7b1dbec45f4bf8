// Several gateway instances in multi mode on one broker and base topic, in this process: each a
// real Gateway with its own listeners, all sharing one Redis registry under a prefix of the test's
// own (its keys deleted at teardown). The machine's Redis at 127.0.0.1:6379.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { pino } from 'pino';
import { createQyznAdapter } from '../../adapters/qyzn/adapter.js';
import { QyznSimulator, type SimulatorOptions } from '../../sim/qyzn/simulator.js';
import { createWsdoorAdapter } from '../../adapters/wsdoor/adapter.js';
import { DoorSimulator } from '../../sim/wsdoor/simulator.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import { Gateway } from '../../src/gateway.js';
import { testConfig, uniqueBase, type Teardown } from './harness.js';

export const REDIS_URL = process.env.GATE2MQTT_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
export const SECRET = 'scale-secret';

export interface Instance {
  id: string;
  gateway: Gateway;
  /** The qyzn listener's host:port, and its port. */
  qyzn: string;
  port: number;
  /** The wsdoor listener's URL. */
  wsdoorUrl: string;
  httpUrl: string;
}

export interface Fleet {
  base: string;
  prefix: string;
  mqttUrl: string;
  instances: Instance[];
  /** Starts one more instance (or one again, with the id of a stopped one). */
  start(id: string): Promise<Instance>;
  /** A qyzn terminal connecting to `instance`. */
  /** A qyzn terminal connecting to `instance` (or to a host:port, a load balancer's). */
  device(serial: string, instance: Instance | { port: number }, options?: Partial<SimulatorOptions>): QyznSimulator;
  /** A wsdoor terminal connected (not registered) to `instance`. */
  door(sn: string, instance: Instance): Promise<DoorSimulator>;
  /** Keys of the registry now. */
  keys(): Promise<string[]>;
}

export interface FleetOptions {
  /** Where the test's clients connect; the instances too, unless `mqttUrls`. 'embedded': each
   *  instance runs its embedded broker, the brokers clustered over Redis; clients connect to the
   *  first instance's. */
  mqttUrl: string | 'embedded';
  /** Instance i connects to mqttUrls[i % length] (the nodes of a broker cluster). */
  mqttUrls?: string[];
  count: number;
  /** Short, so a dead instance is found quickly; long enough that a loaded machine does not stall
   *  an instance past it. Default 1500. */
  leaseMs?: number;
  config?: DeepPartial<GatewayConfig>;
  /** The registry's Redis (default: the machine's, REDIS_URL). */
  redisUrl?: string;
}

export async function fleet(t: Teardown, options: FleetOptions): Promise<Fleet> {
  const base = uniqueBase();
  const prefix = `g2mtest:${randomUUID().slice(0, 8)}:`;
  const redisUrl = options.redisUrl ?? REDIS_URL;
  const redis = new Redis(redisUrl);
  const keys = (): Promise<string[]> => redis.keys(`${prefix}*`);
  t.teardown(async () => {
    const left = await keys();
    if (left.length > 0) await redis.del(...left);
    await redis.quit();
  });
  const instances: Instance[] = [];
  let started = 0;
  const start = async (id: string): Promise<Instance> => {
    const embedded = options.mqttUrl === 'embedded';
    const urls = options.mqttUrls ?? [embedded ? '' : options.mqttUrl];
    const mqttUrl = urls[started++ % urls.length] as string;
    const overrides: DeepPartial<GatewayConfig> = {
      ...options.config,
      baseTopic: base,
      homeassistant: { enabled: false },
      mqtt: { url: mqttUrl, clientId: `g2mtest-${id}-${prefix}`, reconnectPeriodMs: 200, ...options.config?.mqtt },
      ...(embedded ? { broker: { persistence: 'memory', cluster: { redisUrl: REDIS_URL, prefix: `${prefix}broker:`, heartbeatMs: 200 } } } : {}),
      instance: { id, mode: 'multi', redisUrl, redisPrefix: prefix, leaseMs: options.leaseMs ?? 1500 },
      qyzn: { secret: SECRET, host: '127.0.0.1', port: 0, ...options.config?.qyzn },
      wsdoor: { host: '127.0.0.1', port: 0, ...options.config?.wsdoor },
    };
    const config = testConfig(overrides);
    const gateway = new Gateway(config, {
      adapters: [
        { id: 'qyzn', factory: createQyznAdapter, config: config.qyzn },
        { id: 'wsdoor', factory: createWsdoorAdapter as AdapterDefinition['factory'], config: config.wsdoor },
      ],
      logger: pino({ level: config.log.level }, pino.destination(2)).child({ instance: id }),
    });
    t.teardown(() => gateway.stop());
    await gateway.start();
    const listen = gateway.addresses().adapters.qyzn ?? '';
    const instance = {
      id,
      gateway,
      qyzn: listen,
      port: Number(listen.slice(listen.lastIndexOf(':') + 1)),
      wsdoorUrl: `ws://${gateway.addresses().adapters.wsdoor ?? ''}/any/path`,
      httpUrl: `http://${gateway.addresses().http ?? ''}`,
    };
    const at = instances.findIndex((i) => i.id === id);
    if (at >= 0) instances[at] = instance;
    else instances.push(instance);
    return instance;
  };
  // One after another: each finds the ones before it alive.
  for (let i = 1; i <= options.count; i++) await start(`inst-${i}`);
  return {
    base,
    prefix,
    mqttUrl: options.mqttUrl === 'embedded' ? (instances[0] as Instance).gateway.mqttUrl : options.mqttUrl,
    instances,
    start,
    keys,
    device(serial, instance, more = {}) {
      const sim = new QyznSimulator({ host: '127.0.0.1', port: instance.port, serial, secret: SECRET, heartbeatMs: 0, responseTimeoutMs: 8000, ...more });
      t.teardown(() => sim.destroy());
      return sim;
    },
    async door(sn, instance) {
      const sim = new DoorSimulator({ url: instance.wsdoorUrl, sn, autoHeartbeat: false, answerTimeoutMs: 8000 });
      await sim.connect();
      t.teardown(() => sim.close().catch(() => undefined));
      return sim;
    },
  };
}
