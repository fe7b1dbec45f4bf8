// Many connected devices (QYZN terminals, wsdoor terminals), split over generator processes so that
// none holds more than PER_PROCESS sockets (the open-file limit is ~20,000 per process on the
// reference machine).
import { WorkerProcess } from './ipc.js';
import { serials } from './payload.js';
import type { DeviceKind, DeviceLoadProtocol, WorkerStats } from './protocols.js';

export const PER_PROCESS = 6000;

export class TerminalFleet {
  readonly workers: WorkerProcess<DeviceLoadProtocol>[];
  readonly serials: string[];
  online = 0;
  loginMs = 0;

  readonly kind: DeviceKind;

  private constructor(kind: DeviceKind, workers: WorkerProcess<DeviceLoadProtocol>[], all: string[]) {
    this.kind = kind;
    this.workers = workers;
    this.serials = all;
  }

  static async start(count: number, group: string, kind: DeviceKind = 'qyzn'): Promise<TerminalFleet> {
    const processes = Math.max(1, Math.ceil(count / PER_PROCESS));
    const script = kind === 'qyzn' ? 'qyzn-load' : 'ws-load';
    const workers = await Promise.all(Array.from({ length: processes }, (_, i) => WorkerProcess.start<DeviceLoadProtocol>(`${kind}-fleet-${i}`, script)));
    return new TerminalFleet(kind, workers, serials(group, count));
  }

  /** Logs every device in (qyzn login, wsdoor register, wscam first heartbeat); throws when some could not. */
  async login(port: number, secret: string, opts: { heartbeatMs: number; concurrency: number }): Promise<void> {
    const per = Math.ceil(this.serials.length / this.workers.length);
    const started = Date.now();
    const results = await Promise.all(
      this.workers.map((w, i) =>
        w.call(
          'login',
          {
            kind: this.kind,
            host: '127.0.0.1',
            port,
            secret,
            serials: this.serials.slice(i * per, (i + 1) * per),
            heartbeatMs: opts.heartbeatMs,
            concurrency: opts.concurrency,
            responseTimeoutMs: 30_000,
          },
          600_000,
        ),
      ),
    );
    this.loginMs = Date.now() - started;
    this.online = results.reduce((n, r) => n + r.online, 0);
    const failed = results.reduce((n, r) => n + r.failed, 0);
    if (failed > 0) throw new Error(`${failed} of ${this.serials.length} terminals could not log in: ${results.flatMap((r) => r.errors).slice(0, 3).join('; ')}`);
  }

  async stats(): Promise<WorkerStats & { processes: number }> {
    const all = await Promise.all(this.workers.map((w) => w.call('stats', null)));
    return {
      online: all.reduce((n, s) => n + s.online, 0),
      commands: all.reduce((n, s) => n + s.commands, 0),
      heartbeats: all.reduce((n, s) => n + s.heartbeats, 0),
      rssMB: Math.max(...all.map((s) => s.rssMB)),
      cpuPercent: Math.max(...all.map((s) => s.cpuPercent)),
      processes: all.length,
    };
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}

/** gate2mqtt_devices_connected{adapter} from the gateway's /metrics. */
export async function devicesConnected(httpPort: number, adapter: string): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const line = new RegExp(`^gate2mqtt_devices_connected\\{adapter="${adapter}"\\} (\\d+)`, 'm').exec(text);
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Sum of gate2mqtt_messages_in_total{adapter} (every message name) from the gateway's /metrics. */
export async function messagesIn(httpPort: number, adapter: string): Promise<number | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    let sum = 0;
    const line = new RegExp(`^gate2mqtt_messages_in_total\\{[^}]*adapter="${adapter}"[^}]*\\} (\\d+)`, 'gm');
    for (const m of text.matchAll(line)) sum += Number(m[1]);
    return sum;
  } catch {
    return undefined;
  }
}

export interface MemoryFigures {
  heapUsedMB: number;
  heapTotalMB: number;
  /** Memory outside V8's heap that V8 accounts for: Buffers (ArrayBuffers) mostly. */
  externalMB: number;
}

/** The gateway's own memory split (process.memoryUsage() through prom-client's default metrics). */
export async function memoryOf(httpPort: number): Promise<MemoryFigures | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${httpPort}/metrics`, { signal: AbortSignal.timeout(5000) });
    const text = await res.text();
    const mb = (name: string): number => {
      const line = new RegExp(`^gate2mqtt_${name} (\\S+)`, 'm').exec(text);
      return line ? Number(line[1]) / 1024 / 1024 : Number.NaN;
    };
    return { heapUsedMB: mb('nodejs_heap_size_used_bytes'), heapTotalMB: mb('nodejs_heap_size_total_bytes'), externalMB: mb('nodejs_external_memory_bytes') };
  } catch {
    return undefined;
  }
}
