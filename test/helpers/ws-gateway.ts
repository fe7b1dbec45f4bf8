// A real gateway (embedded broker or GATE2MQTT_TEST_MQTT_URL, a real MQTT client subscribed to
// everything) running one of the WebSocket adapters, with simulated devices torn down with the
// test: the wsdoor and wscam end-to-end tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import WebSocket from 'ws';
import { join } from 'node:path';
import type { JsonObject } from '../../src/adapter.js';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { ROOT } from '../../src/paths.js';
import { createWscamAdapter } from '../../adapters/wscam/adapter.js';
import type { WscamConfig } from '../../adapters/wscam/config.js';
import { CamSimulator, type CamSimulatorOptions } from '../../sim/wscam/simulator.js';
import { createWsdoorAdapter } from '../../adapters/wsdoor/adapter.js';
import type { WsdoorConfig } from '../../adapters/wsdoor/config.js';
import { DoorSimulator, type DoorSimulatorOptions } from '../../sim/wsdoor/simulator.js';
import { Commands, type Reply } from './commands.js';
import { connectClient, DEADLINE_MS, startGateway, testConfig, within, type Inbox, type Started, type Teardown } from './harness.js';

export type { Reply };

export interface WsGateway extends Started {
  definitionId: string;
  /** The adapter's listener, on an arbitrary path (devices may use any). */
  url: string;
  inbox: Inbox;
  /** Commands over MQTT, each checked for exactly one reply. */
  commands: Commands;
  /** `{base}/{adapter}/{sn}/{rest}` */
  topic(sn: string, rest: string): string;
  /** gate2mqtt_protocol_errors_total of the adapter for `reason`, from /metrics. */
  metric(reason: string): Promise<number>;
}

export async function startWsGateway(
  t: Teardown,
  definition: AdapterDefinition & { config: { tlsCert?: string } },
  gateway: DeepPartial<GatewayConfig> = {},
): Promise<WsGateway> {
  const id = definition.id;
  const started = await startGateway(t, { adapters: [definition], config: gateway });
  const scheme = definition.config.tlsCert ? 'wss' : 'ws';
  const inbox = await connectClient(t, started.mqttUrl);
  await inbox.subscribe(`${started.base}/#`);
  return {
    ...started,
    definitionId: id,
    url: `${scheme}://${started.gateway.addresses().adapters[id] as string}/any/path`,
    inbox,
    commands: new Commands(t, inbox, started.base),
    topic: (sn, rest) => `${started.base}/${id}/${sn}/${rest}`,
    metric: async (reason) => {
      const text = await (await fetch(`${started.httpUrl}/metrics`)).text();
      const line = new RegExp(`^gate2mqtt_protocol_errors_total\\{adapter="${id}",reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
      return line ? Number(line[1]) : 0;
    },
  };
}

/** A simulated device connected to the gateway and closed at teardown. Tests drive heartbeats
 *  themselves unless they ask for `autoHeartbeat`, and every request has a deadline. */
async function device<D extends { connect(): Promise<unknown>; close(): Promise<unknown> }>(t: Teardown, sim: D): Promise<D> {
  await sim.connect();
  t.teardown(() => sim.close().catch(() => undefined));
  return sim;
}

export function wsdoorDefinition(config: WsdoorConfig): AdapterDefinition & { config: WsdoorConfig } {
  return { id: 'wsdoor', factory: createWsdoorAdapter as AdapterDefinition['factory'], config };
}

export function wscamDefinition(config: WscamConfig): AdapterDefinition & { config: WscamConfig } {
  return { id: 'wscam', factory: createWscamAdapter as AdapterDefinition['factory'], config };
}

export interface DoorGateway extends WsGateway {
  door(sn: string, options?: Partial<DoorSimulatorOptions>): Promise<DoorSimulator>;
}

export async function startWsdoor(t: Teardown, adapter: DeepPartial<WsdoorConfig> = {}, gateway: DeepPartial<GatewayConfig> = {}): Promise<DoorGateway> {
  const g = await startWsGateway(t, wsdoorDefinition(testConfig({ wsdoor: adapter }).wsdoor), gateway);
  return { ...g, door: (sn, options = {}) => device(t, new DoorSimulator({ url: g.url, sn, autoHeartbeat: false, answerTimeoutMs: DEADLINE_MS, ...options })) };
}

export interface CamGateway extends WsGateway {
  camera(sn: string, options?: Partial<CamSimulatorOptions>): Promise<CamSimulator>;
}

export async function startWscam(t: Teardown, adapter: DeepPartial<WscamConfig> = {}, gateway: DeepPartial<GatewayConfig> = {}): Promise<CamGateway> {
  const g = await startWsGateway(t, wscamDefinition(testConfig({ wscam: adapter }).wscam), gateway);
  return { ...g, camera: (sn, options = {}) => device(t, new CamSimulator({ url: g.url, sn, autoHeartbeat: false, answerTimeoutMs: DEADLINE_MS, ...options })) };
}

/** A device written by hand on a raw WebSocket, for what no simulator would send; every message it
 *  receives is kept in `received`. */
export async function rawDevice(t: Teardown, g: WsGateway): Promise<{ raw: WebSocket; received: JsonObject[] }> {
  const raw = new WebSocket(g.url);
  t.teardown(() => raw.terminate());
  await within(once(raw, 'open'), 'the socket open');
  const received: JsonObject[] = [];
  raw.on('message', (data) => received.push(JSON.parse(String(data)) as JsonObject));
  return { raw, received };
}

/** Publishes a command over MQTT and resolves with its reply, once no second reply came. */
export function command(g: WsGateway, sn: string, name: string, body: JsonObject): Promise<Reply> {
  return g.commands.send(g.definitionId, sn, name, body);
}

/** The next bridge/event of `type` (and `reason`). */
export function bridgeEvent(g: Started & { inbox: Inbox }, type: string, reason?: string): Promise<Record<string, unknown>> {
  return g.inbox.json(`${g.base}/bridge/event`, (e) => e.type === type && (reason === undefined || e.reason === reason));
}

/** Resolves with how long (ms) it took until the device's availability turned `offline`. */
export async function offlineAfter(g: WsGateway, sn: string, since: number, ms = 8000): Promise<number> {
  await g.inbox.take(g.topic(sn, 'availability'), (p) => p.toString() === 'offline', ms);
  return Date.now() - since;
}

/** Runs a simulator CLI as a user does (`node --import tsx sim/{id}/simulator-cli.ts ...`). */
export async function runSimulatorCli(id: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, `sim/${id}/simulator-cli.ts`), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await within(once(child, 'exit'), `the ${id} simulator CLI to exit`, 30_000)) as [number | null];
  return { code, stdout, stderr };
}
