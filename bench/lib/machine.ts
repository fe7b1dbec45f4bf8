// The machine a run was measured on, for the header of every result.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpus, totalmem, loadavg } from 'node:os';
import { ROOT } from './gateway.js';

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
    dirty: run('git', ['status', '--porcelain']) !== '',
    openFiles: run('/bin/sh', ['-c', 'echo "$(ulimit -Sn) soft / $(ulimit -Hn) hard"']),
    loadAverage: loadavg().map((x) => Math.round(x * 100) / 100),
    mosquitto,
  };
}
