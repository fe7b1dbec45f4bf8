// A gateway in a child process of its own (`node --import tsx src/main.ts`), for tests that need
// the gateway's own RSS, its own file descriptors, or a real signal and exit code. Its log goes to
// a file, not a pipe: pino writes synchronously, so a test process too busy to read a pipe would
// stall the gateway it measures. Readiness is the "gate2mqtt started" line, which names every
// listener's bound address (all ports are 0).
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeepPartial, GatewayConfig } from '../../src/config.js';
import { ROOT } from '../../src/paths.js';
import { EXTERNAL_BROKER, uniqueBase, until, within, type Teardown } from './harness.js';

export interface GatewayProcessOptions {
  /** Environment variables, laid over the defaults below (every port 0 on 127.0.0.1). */
  env?: Record<string, string>;
  /** Options without a variable, written to a JSON file passed as --config. */
  config?: DeepPartial<GatewayConfig>;
  /** How long the start may take (tsx compiles the sources first). Default 30 s. */
  startMs?: number;
}

export interface GatewayAddresses {
  /** host:port of the HTTP server. */
  http: string;
  /** mqtt:// URL of the embedded broker, or the external broker the gateway uses. */
  mqtt: string;
  /** ws:// URL of the embedded broker's MQTT over WebSocket, when it runs. */
  mqttWs: string | undefined;
  /** host:port of each adapter's listener, by adapter id. */
  adapters: Record<string, string | undefined>;
}

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  base: string;
  addresses: GatewayAddresses;
  /** VmRSS of the process in bytes, read from /proc; undefined once it has exited. */
  rss(): number | undefined;
  /** Resolves with the exit code and signal, within `ms`. */
  exited(ms?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The log (stdout and stderr) so far, for a failure message. */
  log(): string;
}

interface StartedLine {
  msg?: string;
  http?: string;
  broker?: { mqtt?: string; ws?: string } | null;
  adapters?: Record<string, string | undefined>;
}

/** The gateway's log lines that are JSON objects (pino); other text (a crash) is skipped. */
function logLines(text: string): StartedLine[] {
  const out: StartedLine[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      out.push(JSON.parse(line) as StartedLine);
    } catch {
      // A line being written as we read.
    }
  }
  return out;
}

export function readRss(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export async function startGatewayProcess(t: Teardown, options: GatewayProcessOptions = {}): Promise<GatewayProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-process-'));
  const logFile = join(dir, 'gateway.log');
  const base = options.env?.GATE2MQTT_BASE_TOPIC ?? uniqueBase();
  const args: string[] = [];
  if (options.config) {
    const file = join(dir, 'config.json');
    writeFileSync(file, JSON.stringify(options.config));
    args.push('--config', file);
  }
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    GATE2MQTT_LOG_LEVEL: 'info',
    GATE2MQTT_BASE_TOPIC: base,
    GATE2MQTT_MQTT_URL: EXTERNAL_BROKER,
    GATE2MQTT_MQTT_CLIENT_ID: `g2mtest-${randomUUID().slice(0, 8)}`,
    GATE2MQTT_QYZN_SECRET: 'process-test-secret',
    ...Object.fromEntries(
      ['BROKER', 'HTTP', 'QYZN', 'WSDOOR', 'WSCAM'].flatMap((part) => [
        [`GATE2MQTT_${part}_HOST`, '127.0.0.1'],
        [`GATE2MQTT_${part}_PORT`, '0'],
      ]),
    ),
    GATE2MQTT_BROKER_WS_PORT: '0',
    ...options.env,
  };
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/main.ts'), ...args], {
    cwd: ROOT,
    env,
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const log = (): string => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const gone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  t.teardown(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await gone;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  let started: StartedLine | undefined;
  let exitedEarly = false;
  void gone.then(() => (exitedEarly = true));
  try {
    await until(
      () => {
        if (exitedEarly) return true;
        started = logLines(log()).find((line) => line.msg === 'gate2mqtt started');
        return started !== undefined;
      },
      'the gateway process to start',
      options.startMs ?? 30_000,
    );
  } catch (err) {
    throw new Error(`${(err as Error).message}; its log:\n${log().slice(-4000)}`);
  }
  if (!started) throw new Error(`the gateway process exited before it started; its log:\n${log().slice(-4000)}`);
  const mqtt = env.GATE2MQTT_MQTT_URL || started.broker?.mqtt;
  if (!mqtt || !started.http) throw new Error(`the start line names no broker or HTTP address: ${JSON.stringify(started)}`);
  const pid = child.pid as number;
  return {
    child,
    pid,
    base,
    addresses: { http: started.http, mqtt, mqttWs: started.broker?.ws, adapters: started.adapters ?? {} },
    rss: () => (child.exitCode === null && child.signalCode === null ? readRss(pid) : undefined),
    exited: (ms = 10_000) => within(gone, 'the gateway process exit', ms),
    log,
  };
}
