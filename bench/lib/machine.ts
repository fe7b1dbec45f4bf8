// The machine a run was measured on, for the header of every result.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, totalmem, loadavg } from 'node:os';
import { nowUs } from './clock.js';
import { ROOT } from './gateway.js';
import { quantile, round } from './stats.js';

export interface Machine {
  cores: number;
  cpuModel: string;
  memoryGiB: number;
  node: string;
  commit: string;
  dirty: boolean;
  openFiles: string;
  loadAverage: number[];
  mosquitto: string;
  /** How quiet the machine was, at the start of the run and at its end. */
  noise?: { start: Noise; end?: Noise };
}

/** A 1 ms timer in an otherwise idle process, for 2 s: how late it fired. A quiet 2-core machine
 *  shows a p99 well under 1 ms; tens of ms mean other work (or other tenants of the host) held
 *  the CPU, and every latency figure of the run carries that tail too. */
export interface Noise {
  timerLagP99Ms: number;
  timerLagMaxMs: number;
}

export async function noise(durationMs = 2000): Promise<Noise> {
  const lags: number[] = [];
  const end = nowUs() + durationMs * 1000;
  await new Promise<void>((resolve) => {
    const tick = (due: number): void => {
      const now = nowUs();
      lags.push((now - due) / 1000);
      if (now >= end) resolve();
      else setTimeout(() => tick(now + 1000), 1);
    };
    setTimeout(() => tick(nowUs() + 1000), 1);
  });
  lags.sort((a, b) => a - b);
  return { timerLagP99Ms: round(quantile(lags, 0.99), 2), timerLagMaxMs: round(lags[lags.length - 1] ?? 0, 2) };
}

function run(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return '';
  }
}

export function machine(): Machine {
  const list = cpus();
  // `mosquitto -h` prints its version and exits non-zero.
  const help = spawnSync('mosquitto', ['-h'], { encoding: 'utf8' });
  const mosquitto = /mosquitto version ([\d.]+)/.exec(`${help.stdout ?? ''}${help.stderr ?? ''}`)?.[1] ?? 'unknown';
  return {
    cores: list.length,
    cpuModel: list[0]?.model ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    node: process.version,
    commit: run('git', ['rev-parse', '--short', 'HEAD']) || 'unknown',
    // The run's own results folder does not make the tree dirty.
    dirty: run('git', ['status', '--porcelain', '--', '.', ':!bench/results']) !== '',
    openFiles: run('/bin/sh', ['-c', 'echo "$(ulimit -Sn) soft / $(ulimit -Hn) hard"']),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    mosquitto,
  };
}
