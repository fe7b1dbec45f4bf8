// A gateway that stops and starts again on the same ports, and simulator CLIs that outlive it:
// what a device sees when the gateway restarts. The broker is outside the gateway (the machine's
// Mosquitto in CI, else an aedes of the test's own), so the test's MQTT client and the retained
// topics outlive both gateways, which share one base topic.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import { ROOT } from '../../src/paths.js';
import { Commands } from './commands.js';
import { connectClient, DEADLINE_MS, externalBroker, startGateway, uniqueBase, within, type Inbox, type Started, type Teardown } from './harness.js';
import { freePort } from './mosquitto.js';

export interface Ports {
  http: number;
  qyzn: number;
  wsdoor: number;
  wscam: number;
}

export interface RestartableGateway {
  base: string;
  ports: Ports;
  inbox: Inbox;
  commands: Commands;
  /** `{base}/{adapter}/{deviceId}/{rest}` */
  topic(adapter: string, deviceId: string, rest: string): string;
  /** Starts a gateway on the ports; the first call is made by restartableGateway itself. */
  start(): Promise<Started>;
  /** Stops the running gateway, as a restart does (its devices see their connections end). */
  stop(): Promise<void>;
}

/** Starts a gateway on fixed free ports (port 0 would move them at the restart). */
export async function restartableGateway(t: Teardown, config: DeepPartial<GatewayConfig> = {}): Promise<RestartableGateway> {
  const url = await externalBroker(t);
  const base = uniqueBase();
  const ports: Ports = { http: await freePort(), qyzn: await freePort(), wsdoor: await freePort(), wscam: await freePort() };
  const loopback = (port: number): { host: string; port: number } => ({ host: '127.0.0.1', port });
  const fixed: DeepPartial<GatewayConfig> = {
    ...config,
    baseTopic: base,
    homeassistant: { prefix: `${base}/homeassistant` },
    mqtt: { url },
    http: loopback(ports.http),
    qyzn: { ...config.qyzn, ...loopback(ports.qyzn) },
    wsdoor: { ...config.wsdoor, ...loopback(ports.wsdoor) },
    wscam: { ...config.wscam, ...loopback(ports.wscam) },
  };
  const inbox = await connectClient(t, url);
  await inbox.subscribe(`${base}/#`);
  let running: Started | undefined;
  const gateway: RestartableGateway = {
    base,
    ports,
    inbox,
    commands: new Commands(t, inbox, base),
    topic: (adapter, deviceId, rest) => `${base}/${adapter}/${deviceId}/${rest}`,
    async start() {
      running = await startGateway(t, { config: fixed });
      return running;
    },
    async stop() {
      await running?.gateway.stop();
      running = undefined;
    },
  };
  await gateway.start();
  return gateway;
}

export interface SimulatorProcess {
  child: ChildProcess;
  /** stdout and stderr so far, in the order they came. */
  output(): string;
  /** Resolves once the output has a line matching `pattern` (one not yet taken by an earlier wait). */
  line(pattern: RegExp, ms?: number): Promise<string>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals, ms?: number): Promise<number | null>;
  /** Resolves with the exit code once it ends by itself. */
  exited(ms?: number): Promise<number | null>;
}

/** A simulator CLI as a user leaves it running (`node --import tsx sim/{id}/simulator-cli.ts ...`). */
export function spawnSimulatorCli(t: Teardown, id: string, args: string[]): SimulatorProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, `sim/${id}/simulator-cli.ts`), ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exit;
    }
  });
  let text = '';
  /** Lines already handed to a wait: a second wait for the same pattern wants a later one. */
  let taken = 0;
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer): void => {
    text += chunk.toString();
    for (const wake of [...listeners]) wake();
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  return {
    child,
    output: () => text,
    line(pattern, ms = DEADLINE_MS) {
      let wake: () => void = () => undefined;
      const found = new Promise<string>((resolve) => {
        wake = () => {
          const lines = text.split('\n');
          // The last piece may be a line still being written.
          for (let i = taken; i < lines.length - 1; i++) {
            const candidate = lines[i] ?? '';
            if (!pattern.test(candidate)) continue;
            taken = i + 1;
            listeners.delete(wake);
            resolve(candidate);
            return;
          }
        };
        listeners.add(wake);
        wake();
      });
      return within(found, `a line ${String(pattern)} from the ${id} simulator`, ms)
        .catch((err: Error) => {
          throw new Error(`${err.message}; it wrote:\n${text}`);
        })
        .finally(() => listeners.delete(wake));
    },
    async stop(signal = 'SIGINT', ms = DEADLINE_MS) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return within(exit, `the ${id} simulator to exit on ${signal}`, ms);
    },
    exited: (ms = DEADLINE_MS) => within(exit, `the ${id} simulator to exit by itself`, ms),
  };
}
