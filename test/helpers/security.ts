// What the security tests share: a gateway whose log lines a test can read, broker users with
// hashes made once per file, and connections that are expected to be refused.
import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { pino } from 'pino';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import { Gateway, type AdapterDefinition } from '../../src/gateway.js';
import { hashPassword } from '../../src/passwd.js';
import { testConfig, within, type Teardown } from './harness.js';

export interface LoggedGateway {
  gateway: Gateway;
  config: GatewayConfig;
  base: string;
  /** Every log line so far, parsed. */
  lines: () => Array<{ level: number; msg: string } & Record<string, unknown>>;
}

/** A gateway with the embedded broker (whatever GATE2MQTT_TEST_MQTT_URL says: these tests are
 *  about it) and a logger the test reads. */
export async function loggedGateway(
  t: Teardown,
  config: DeepPartial<GatewayConfig>,
  adapters?: AdapterDefinition[],
): Promise<LoggedGateway> {
  const full = testConfig({ ...config, mqtt: { url: '', ...config.mqtt } });
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString().split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const gateway = new Gateway(full, { ...(adapters ? { adapters } : {}), logger: pino({ level: 'debug' }, sink) });
  t.teardown(() => gateway.stop());
  await gateway.start();
  return {
    gateway,
    config: full,
    base: full.baseTopic,
    lines: () => lines.map((line) => JSON.parse(line) as { level: number; msg: string }),
  };
}

export interface TestUser {
  username: string;
  /** The clear password, which the test logs in with. */
  secret: string;
  publish: string[];
  subscribe: string[];
}

/** Users as broker.users wants them: the clear password replaced by its hash. */
export async function brokerUsers(users: TestUser[]): Promise<Array<{ username: string; password: string; publish: string[]; subscribe: string[] }>> {
  return Promise.all(users.map(async ({ secret, ...user }) => ({ ...user, password: await hashPassword(secret) })));
}

/** How a connection attempt that must fail ends: its error (a CONNACK refusal has the reason
 *  code as `code`), or `closed` when the connection ended without one. Fails the test when it
 *  connects instead. */
export function refused(url: string, options: IClientOptions = {}): Promise<Error & { code?: string | number }> {
  const client = mqtt.connect(url, {
    protocolVersion: 5,
    clientId: `g2mtest-refused-${randomUUID().slice(0, 8)}`,
    reconnectPeriod: 0,
    connectTimeout: 5000,
    ...options,
  });
  const outcome = new Promise<Error & { code?: string | number }>((resolve, reject) => {
    client.once('connect', () => reject(new Error(`${url} accepted a connection that should have been refused`)));
    client.once('error', (err) => resolve(err as Error & { code?: string | number }));
    client.once('close', () => resolve(Object.assign(new Error('closed'), { code: 'closed' })));
  });
  return within(outcome, `the refusal of a connection to ${url}`).finally(() => client.end(true));
}

/** The SUBACK codes of a subscription that must be refused. */
export async function subscribeRefused(client: MqttClient, filter: string): Promise<number[]> {
  try {
    await client.subscribeAsync(filter, { qos: 1 });
  } catch (err) {
    return (err as { packet?: { granted?: number[] } }).packet?.granted ?? [];
  }
  throw new Error(`the subscription to ${filter} was granted`);
}

/** MQTT reason codes the tests expect. */
export const BAD_LOGIN_V5 = 0x86;
export const BAD_LOGIN_V311 = 4;
export const NOT_AUTHORIZED_V5 = 0x87;
export const SUBACK_FAILURE_V311 = 0x80;
