// The gateway under test, in its own process (`node --import tsx src/main.ts`), configured through
// GATE2MQTT_* variables as a user would, every port free and on loopback. Its RSS and CPU are read
// from /proc, apart from the load generators'.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.js';
import { freePorts } from './ports.js';
import { openFileLimit, sampleProc, type ProcSample } from './procstat.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface GatewayOptions {
  /** Names the log file and the profile. */
  name: string;
  /** External broker URL; empty: the embedded broker, on a free port. */
  mqttUrl?: string;
  /** Adapters to enable (the others are disabled, so that they hold no port). */
  adapters: ReadonlyArray<'qyzn' | 'wsdoor' | 'wscam' | 'gantry'>;
  logDir: string;
  /** Write V8 CPU profiles into this folder at exit (`node --cpu-prof`), one per thread. */
  cpuProfDir?: string;
  /** Raise the soft open-file limit to this (the hard limit caps it); the effective one is reported. */
  openFiles?: number;
  env?: Record<string, string>;
  /** The embedded broker's store (default memory, as in every run before it existed); disk: in a
   *  fresh directory, removed at stop. */
  persistence?: 'memory' | 'disk';
  /** buffer.mode (default off); disk: in a fresh directory, removed at stop. */
  buffer?: 'off' | 'disk';
  /** The base topic (default: a fresh `bench/<id>`); instances of one multi-mode gateway share one. */
  base?: string;
  /** GATE2MQTT_QYZN_SECRET (default: a fresh one); instances of one multi-mode gateway share one. */
  secret?: string;
  /** What runs: the gateway (default), or the floor (bench/floor.ts: the same contractual work
   *  written as plainly as possible, on the same aedes). */
  entry?: 'gateway' | 'floor';
  /** Another checkout's gateway (BENCH_AGAINST), to compare two builds side by side. */
  root?: string;
}

/** prom-client's (and the floor's) monitorEventLoopDelay resolution. */
const LOOP_SAMPLE_MS = 10;

/** The event loop's delay in a window, read from the process's /metrics (prom-client resets it at each scrape). */
export interface LoopDelay {
  p99Ms: number;
  maxMs: number;
}

export class GatewayProcess {
  readonly options: GatewayOptions;
  readonly child: ChildProcess;
  readonly base: string;
  readonly clientId: string;
  readonly secret: string;
  readonly mqttUrl: string;
  readonly httpPort: number;
  readonly ports: { qyzn: number; wsdoor: number; wscam: number; broker: number };
  readonly storeDir: string | undefined;
  private stderr = '';
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(options: GatewayOptions, child: ChildProcess, fields: Pick<GatewayProcess, 'base' | 'clientId' | 'secret' | 'mqttUrl' | 'httpPort' | 'ports' | 'storeDir'>) {
    this.options = options;
    this.child = child;
    this.base = fields.base;
    this.clientId = fields.clientId;
    this.secret = fields.secret;
    this.mqttUrl = fields.mqttUrl;
    this.httpPort = fields.httpPort;
    this.ports = fields.ports;
    this.storeDir = fields.storeDir;
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
    child.stderr?.on('data', (chunk: Buffer) => {
      this.stderr = (this.stderr + chunk.toString()).slice(-4000);
    });
  }

  /** A port found free can be taken, before the gateway binds it, by another process's outgoing
   *  connection (ephemeral ports come from the same range): then the gateway starts again on new ports. */
  static async start(options: GatewayOptions): Promise<GatewayProcess> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await GatewayProcess.startOnce(options);
      } catch (err) {
        if (attempt >= 3 || !(err instanceof Error) || !err.message.includes('is already in use')) throw err;
      }
    }
  }

  private static async startOnce(options: GatewayOptions): Promise<GatewayProcess> {
    const [broker, http, qyzn, wsdoor, wscam, brokerWs] = (await freePorts(6)) as [number, number, number, number, number, number];
    const id = randomBytes(4).toString('hex');
    const base = options.base ?? `bench/${id}`;
    const clientId = `g2m-bench-${id}`;
    const secret = options.secret ?? randomBytes(16).toString('hex');
    const mqttUrl = options.mqttUrl || `mqtt://127.0.0.1:${broker}`;
    const onDisk = options.persistence === 'disk' || options.buffer === 'disk';
    const storeDir = onDisk ? mkdtempSync(join(tmpdir(), 'g2m-bench-store-')) : undefined;
    const enabled = (a: 'qyzn' | 'wsdoor' | 'wscam' | 'gantry'): string => String(options.adapters.includes(a));
    const env: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      GATE2MQTT_LOG_LEVEL: 'warn',
      GATE2MQTT_BASE_TOPIC: base,
      GATE2MQTT_MQTT_URL: options.mqttUrl ?? '',
      GATE2MQTT_MQTT_CLIENT_ID: clientId,
      GATE2MQTT_BROKER_HOST: '127.0.0.1',
      GATE2MQTT_BROKER_PORT: String(broker),
      GATE2MQTT_BROKER_WS_ENABLED: 'false',
      GATE2MQTT_BROKER_WS_PORT: String(brokerWs),
      GATE2MQTT_HTTP_HOST: '127.0.0.1',
      GATE2MQTT_HTTP_PORT: String(http),
      GATE2MQTT_QYZN_ENABLED: enabled('qyzn'),
      GATE2MQTT_QYZN_HOST: '127.0.0.1',
      GATE2MQTT_QYZN_PORT: String(qyzn),
      GATE2MQTT_QYZN_SECRET: secret,
      GATE2MQTT_QYZN_HEARTBEAT_S: '25',
      GATE2MQTT_WSDOOR_ENABLED: enabled('wsdoor'),
      GATE2MQTT_WSDOOR_HOST: '127.0.0.1',
      GATE2MQTT_WSDOOR_PORT: String(wsdoor),
      GATE2MQTT_WSCAM_ENABLED: enabled('wscam'),
      GATE2MQTT_WSCAM_HOST: '127.0.0.1',
      GATE2MQTT_WSCAM_PORT: String(wscam),
      GATE2MQTT_GANTRY_ENABLED: enabled('gantry'),
      GATE2MQTT_GANTRY_AUTH: 'bench-auth',
      GATE2MQTT_BROKER_PERSISTENCE: options.persistence ?? 'memory',
      ...(storeDir ? { GATE2MQTT_BROKER_DATA_DIR: join(storeDir, 'broker'), GATE2MQTT_BUFFER_DIR: join(storeDir, 'buffer') } : {}),
      ...(options.buffer ? { GATE2MQTT_BUFFER_MODE: options.buffer } : {}),
      // The disk buffer's settings pass through, so a run can measure buffer.mode disk.
      ...Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('GATE2MQTT_BUFFER_') && e[1] !== undefined)),
      ...options.env,
      // For looking closer at one setting (e.g. GATE2MQTT_MQTT_MAX_INFLIGHT=1000); not used by the suite.
      ...Object.fromEntries((process.env.BENCH_GATEWAY_ENV ?? '').split(',').filter((kv) => kv.includes('=')).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)])),
    };
    const nodeArgs = ['--import', 'tsx'];
    // One file per thread (tsx's loader hooks run in a thread of their own): no fixed name, or
    // the threads overwrite each other's profile.
    if (options.cpuProfDir) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfDir}`);
    // For looking closer at one run (e.g. --trace-gc); not used by the suite.
    nodeArgs.push(...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(' ').filter(Boolean));
    const root = options.root ?? ROOT;
    nodeArgs.push(options.entry === 'floor' ? join(ROOT, 'bench/floor.ts') : join(root, 'src/main.ts'));
    // `ulimit -n` in a shell that then execs node: Node cannot raise its own limit. The shell
    // keeps the pid, so /proc/<pid> is node's.
    const raise = options.openFiles ? `ulimit -n ${options.openFiles} 2>/dev/null || ulimit -n hard 2>/dev/null; ` : '';
    const child = spawn('/bin/sh', ['-c', `${raise}exec "$0" "$@"`, process.execPath, ...nodeArgs], {
      cwd: options.entry === 'floor' ? ROOT : root,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const log = createWriteStream(join(options.logDir, `${options.name}.log`));
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const gateway = new GatewayProcess(options, child, {
      base,
      clientId,
      secret,
      mqttUrl,
      httpPort: http,
      ports: { qyzn, wsdoor, wscam, broker },
      storeDir,
    });
    await gateway.waitReady();
    return gateway;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get openFileLimit(): number | undefined {
    return openFileLimit(this.pid);
  }

  sample(): ProcSample | undefined {
    return sampleProc(this.pid);
  }

  /** GET /readyz: 200 when the broker is connected and every listener is up. */
  async ready(): Promise<boolean> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/readyz`, { signal: AbortSignal.timeout(2000) });
      await res.arrayBuffer();
      return res.status === 200;
    } catch {
      return false;
    }
  }

  /** The event loop's delay (p99, max) since the previous call: call once at the start of a window
   *  to begin it. Undefined when the process does not say. */
  async loopDelay(): Promise<LoopDelay | undefined> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
      const text = await res.text();
      const read = (name: string): number | undefined => {
        const m = new RegExp(`^gate2mqtt_nodejs_eventloop_lag_${name}_seconds(?:\\{[^}]*\\})? (\\S+)$`, 'm').exec(text);
        // The histogram holds each 10 ms sampling timer's whole interval: the period is taken off,
        // what is left is how late the loop ran it.
        return m ? Math.max(0, Number(m[1]) * 1000 - LOOP_SAMPLE_MS) : undefined;
      };
      const p99Ms = read('p99');
      const maxMs = read('max');
      return p99Ms === undefined || maxMs === undefined ? undefined : { p99Ms, maxMs };
    } catch {
      return undefined;
    }
  }

  private async waitReady(timeoutMs = 30_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      if (!this.alive) throw new Error(`gateway ${this.options.name} exited at start: ${this.stderr}`);
      if (await this.ready()) return;
      await sleep(100);
    }
    throw new Error(`gateway ${this.options.name} not ready within ${timeoutMs} ms: ${this.stderr}`);
  }

  /** SIGTERM (the gateway publishes offline and exits, writing its CPU profile), SIGKILL after 15 s. */
  async stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.alive) this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    const result = await this.exited;
    clearTimeout(timer);
    if (this.storeDir) rmSync(this.storeDir, { recursive: true, force: true });
    return result;
  }
}
