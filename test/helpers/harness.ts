// Test harness: real gateways on ports 0, real MQTT clients, a real broker. With
// GATE2MQTT_TEST_MQTT_URL set (CI sets it to the machine's Mosquitto), every gateway uses that
// broker instead of its embedded one. Each test gets its own base topic, so tests never see
// each other's retained messages.
import { randomUUID } from 'node:crypto';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import mqtt, { type IClientOptions, type IPublishPacket, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import { loadConfig, type DeepPartial, type GatewayConfig } from '../../src/config.js';
import { Gateway, type AdapterDefinition } from '../../src/gateway.js';
import { EmbeddedBroker } from '../../src/broker.js';
import { ROOT } from '../../src/paths.js';

export const EXTERNAL_BROKER = process.env.GATE2MQTT_TEST_MQTT_URL ?? '';

/** What tap's `t` offers that the harness uses. */
export interface Teardown {
  teardown(fn: () => unknown): void;
  /** A failure found in a teardown (which must not throw: tap would skip the teardowns after it). */
  fail(message: string): unknown;
}

export const DEADLINE_MS = 10_000;

/** Resolves with the promise's value, or fails naming what did not happen within the deadline. */
export function within<T>(promise: Promise<T>, what: string, ms = DEADLINE_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`deadline: ${what} did not happen within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

export function uniqueBase(): string {
  return `g2mtest/${randomUUID().slice(0, 8)}`;
}

/** A configuration for tests: every port 0, on loopback, a unique base topic and client id. */
export function testConfig(overrides: DeepPartial<GatewayConfig> = {}): GatewayConfig {
  const loopback = { host: '127.0.0.1', port: 0 };
  const baseTopic = uniqueBase();
  const base: DeepPartial<GatewayConfig> = {
    baseTopic,
    // Discovery under the test's own root: nothing retained lands in a real Home Assistant's prefix.
    homeassistant: { prefix: `${baseTopic}/homeassistant` },
    log: { level: process.env.GATE2MQTT_TEST_LOG ?? 'silent' },
    mqtt: { url: EXTERNAL_BROKER, clientId: `g2mtest-${randomUUID().slice(0, 8)}`, reconnectPeriodMs: 200 },
    // memory: tests run side by side, and a disk store is one directory per gateway (its LOCK);
    // the tests of persistence give theirs a fresh one.
    // GATE2MQTT_TEST_BROKER_THREAD=true: the embedded broker in its thread (broker.thread), for a CI pass.
    broker: { host: '127.0.0.1', port: 0, wsPort: 0, persistence: 'memory', thread: process.env.GATE2MQTT_TEST_BROKER_THREAD === 'true' },
    http: loopback,
    qyzn: loopback,
    wsdoor: loopback,
    wscam: loopback,
  };
  return loadConfig({ env: {}, args: [], overrides: merge(base, overrides) }).config as GatewayConfig;
}

function merge<T extends object>(a: T, b: DeepPartial<T>): T {
  const out: Record<string, unknown> = { ...(a as Record<string, unknown>) };
  for (const [key, value] of Object.entries(b)) {
    const current = out[key];
    out[key] =
      value && typeof value === 'object' && !Array.isArray(value) && current && typeof current === 'object'
        ? merge(current as object, value as object)
        : value;
  }
  return out as T;
}

export interface Started {
  gateway: Gateway;
  config: GatewayConfig;
  base: string;
  mqttUrl: string;
  httpUrl: string;
}

export async function startGateway(
  t: Teardown,
  options: { config?: DeepPartial<GatewayConfig>; adapters?: AdapterDefinition[] } = {},
): Promise<Started> {
  const config = testConfig(options.config);
  const gateway = new Gateway(config, {
    ...(options.adapters ? { adapters: options.adapters } : {}),
    logger: pino({ level: config.log.level }),
  });
  t.teardown(() => gateway.stop());
  await gateway.start();
  const http = gateway.addresses().http as string;
  const scheme = config.http.cert && config.http.key ? 'https' : 'http';
  return { gateway, config, base: config.baseTopic, mqttUrl: gateway.mqttUrl, httpUrl: `${scheme}://${http}` };
}

/** A subscriber that keeps every message it got, so a test can wait for one without racing. */
export class Inbox {
  readonly client: MqttClient;
  private readonly messages: Array<{ topic: string; payload: Buffer; packet: IPublishPacket }> = [];
  /** Every message received, taken or not: what a check over the whole test (one reply per
   *  command) reads. */
  private readonly received: Array<{ topic: string; payload: Buffer }> = [];
  private readonly filters: string[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(client: MqttClient) {
    this.client = client;
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, payload, packet });
      this.received.push({ topic, payload });
      for (const wake of this.waiters) wake();
    });
  }

  async subscribe(filter: string | string[]): Promise<void> {
    await this.client.subscribeAsync(filter, { qos: 1 });
    this.filters.push(...(Array.isArray(filter) ? filter : [filter]));
  }

  /** Whether a subscription of this inbox matches `topic`. Subscribing again to a topic already
   *  matched would get its messages twice (Mosquitto sends one copy per matching subscription). */
  covers(topic: string): boolean {
    return this.filters.some((filter) => topicMatches(filter, topic));
  }

  /** Every message received so far (taken ones included) whose topic `accept` takes. */
  history(accept: (topic: string) => boolean): Array<{ topic: string; payload: Buffer }> {
    return this.received.filter((m) => accept(m.topic));
  }

  /** The first message (old or new) on `topic` that `accept` takes; removed from the inbox. */
  async take(
    topic: string,
    accept: (payload: Buffer, packet: IPublishPacket) => boolean = () => true,
    ms = DEADLINE_MS,
  ): Promise<{ payload: Buffer; packet: IPublishPacket }> {
    const find = (): { payload: Buffer; packet: IPublishPacket } | undefined => {
      const index = this.messages.findIndex((m) => m.topic === topic && accept(m.payload, m.packet));
      return index >= 0 ? this.messages.splice(index, 1)[0] : undefined;
    };
    const found = find();
    if (found) return found;
    let wake: () => void = () => undefined;
    const waiting = new Promise<{ payload: Buffer; packet: IPublishPacket }>((resolve) => {
      wake = () => {
        const hit = find();
        if (!hit) return;
        // Leave at once: a waiter that stayed would take (and lose) the next message too.
        this.waiters.delete(wake);
        resolve(hit);
      };
      this.waiters.add(wake);
    });
    try {
      return await within(waiting, `a message on ${topic}`, ms);
    } finally {
      this.waiters.delete(wake);
    }
  }

  async json(topic: string, accept: (body: Record<string, unknown>) => boolean = () => true, ms?: number): Promise<Record<string, unknown>> {
    const { payload } = await this.take(topic, (p) => accept(JSON.parse(p.toString()) as Record<string, unknown>), ms);
    return JSON.parse(payload.toString()) as Record<string, unknown>;
  }

  /** Messages still unread on a topic. */
  unread(topic: string): number {
    return this.messages.filter((m) => m.topic === topic).length;
  }
}

/** MQTT topic-filter matching: `+` one level, `#` the rest. */
export function topicMatches(filter: string, topic: string): boolean {
  const parts = filter.split('/');
  const levels = topic.split('/');
  for (let i = 0; i < parts.length; i++) {
    if (parts[i] === '#') return true;
    if (i >= levels.length || (parts[i] !== '+' && parts[i] !== levels[i])) return false;
  }
  return parts.length === levels.length;
}

export async function connectClient(t: Teardown, url: string, options: IClientOptions = {}): Promise<Inbox> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: `g2mtest-sub-${randomUUID().slice(0, 8)}`, reconnectPeriod: 200, ...options });
  t.teardown(() => client.endAsync(true));
  return new Inbox(client);
}

/** A broker outside the gateway: the machine's Mosquitto in CI, else an aedes of the test's own. */
export async function externalBroker(t: Teardown): Promise<string> {
  if (EXTERNAL_BROKER) return EXTERNAL_BROKER;
  const broker = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, logger: pino({ level: 'silent' }) });
  const { mqtt: url } = await broker.start();
  t.teardown(() => broker.stop());
  return url;
}

/** Every listener of a spawned gateway on a free port. */
export const PORTS_ZERO: Readonly<Record<string, string>> = {
  GATE2MQTT_BROKER_PORT: '0',
  GATE2MQTT_BROKER_WS_PORT: '0',
  GATE2MQTT_HTTP_PORT: '0',
  GATE2MQTT_QYZN_PORT: '0',
  GATE2MQTT_WSDOOR_PORT: '0',
  GATE2MQTT_WSCAM_PORT: '0',
};

/** The gateway as a user runs it, in its own process (through tsx, so no build is needed). */
export function spawnGateway(t: Teardown, env: Record<string, string>, args: string[] = []): ChildProcess & { stderrText: () => string } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), ...args], {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', GATE2MQTT_LOG_LEVEL: 'warn', GATE2MQTT_BROKER_PERSISTENCE: 'memory', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout?.resume();
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  return Object.assign(child, { stderrText: () => stderr });
}

export function exited(child: ChildProcess, ms = DEADLINE_MS): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return within(
    new Promise((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve({ code: child.exitCode, signal: child.signalCode });
      else child.once('exit', (code, signal) => resolve({ code, signal }));
    }),
    'the gateway process exit',
    ms,
  );
}

/** Waits until `condition` holds, checking as the event loop turns, within the deadline. */
export async function until(condition: () => boolean, what: string, ms = DEADLINE_MS): Promise<void> {
  // Past the deadline the check stops too: left running, it would keep a failed test's process alive.
  let over = false;
  const check = async (): Promise<void> => {
    while (!over && !condition()) await new Promise((resolve) => setTimeout(resolve, 5));
  };
  try {
    await within(check(), what, ms);
  } finally {
    over = true;
  }
}
