// A worker's own RSS and CPU, for the generator lines of the report.
import type { WorkerStats } from '../lib/protocols.js';

let last = { cpu: process.cpuUsage(), at: process.hrtime.bigint() };

export function selfStats(extra: Pick<WorkerStats, 'online' | 'commands' | 'heartbeats'>): WorkerStats {
  const cpu = process.cpuUsage(last.cpu);
  const at = process.hrtime.bigint();
  const wallUs = Number(at - last.at) / 1000;
  last = { cpu: process.cpuUsage(), at };
  return { ...extra, rssMB: process.memoryUsage().rss / 1024 / 1024, cpuPercent: wallUs > 0 ? ((cpu.user + cpu.system) / wallUs) * 100 : 0 };
}
