// A real gateway (embedded broker, real MQTT client subscribed to everything) running one of the
// WebSocket adapters, for the wsdoor and wscam end-to-end tests.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import type { AdapterDefinition } from '../../src/gateway.js';
import { ROOT } from '../../src/paths.js';
import { connectClient, startGateway, within, type Inbox, type Started, type Teardown } from './harness.js';

export interface WsGateway extends Started {
  /** The adapter's listener, on an arbitrary path (devices may use any). */
  url: string;
  inbox: Inbox;
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
    url: `${scheme}://${started.gateway.addresses().adapters[id] as string}/any/path`,
    inbox,
    topic: (sn, rest) => `${started.base}/${id}/${sn}/${rest}`,
    metric: async (reason) => {
      const text = await (await fetch(`${started.httpUrl}/metrics`)).text();
      const line = new RegExp(`^gate2mqtt_protocol_errors_total\\{adapter="${id}",reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
      return line ? Number(line[1]) : 0;
    },
  };
}

/** The next bridge/event of `type` (and `reason`). */
export function bridgeEvent(g: Started & { inbox: Inbox }, type: string, reason?: string): Promise<Record<string, unknown>> {
  return g.inbox.json(`${g.base}/bridge/event`, (e) => e.type === type && (reason === undefined || e.reason === reason));
}

/** Runs a simulator CLI as a user does (`node --import tsx adapters/{id}/simulator-cli.ts ...`). */
export async function runSimulatorCli(id: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, `adapters/${id}/simulator-cli.ts`), ...args], {
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
