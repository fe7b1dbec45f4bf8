// RSS and CPU of another process, read from /proc, so the gateway is measured from outside and
// apart from the load generators.
import { readFileSync, readdirSync } from 'node:fs';
import { nowUs } from './clock.js';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_S = 100;

export interface ProcSample {
  atUs: number;
  rssBytes: number;
  /** user + system CPU time so far, in ms. */
  cpuMs: number;
  /** The same per thread (by thread id; the main thread's id is the pid). */
  threads: Map<number, number>;
}

function cpuMsOf(stat: string): number {
  // Fields after the command name, which is in parentheses and may hold spaces.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS_PER_S;
}

/** Per thread: which thread is the bottleneck is what tells whether a second core can help. */
function threadTimes(pid: number): Map<number, number> {
  const times = new Map<number, number>();
  try {
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        times.set(Number(tid), cpuMsOf(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8')));
      } catch {
        // The thread ended between the listing and the read.
      }
    }
  } catch {
    // The process ended.
  }
  return times;
}

export function sampleProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    return { atUs: nowUs(), rssBytes: Number(rss?.[1] ?? 0) * 1024, cpuMs: cpuMsOf(stat), threads: threadTimes(pid) };
  } catch {
    return undefined;
  }
}

/** Open-file limit (soft) of a running process. */
export function openFileLimit(pid: number): number | undefined {
  try {
    const limits = readFileSync(`/proc/${pid}/limits`, 'utf8');
    const line = /Max open files\s+(\d+)/.exec(limits);
    return line ? Number(line[1]) : undefined;
  } catch {
    return undefined;
  }
}

export interface WindowStats {
  rssStartMB: number;
  rssEndMB: number;
  rssMaxMB: number;
  /** Average CPU over the window, % of one core. */
  cpuPercent: number;
  /** Of it, the main thread's. */
  mainThreadCpuPercent: number;
  /** The busiest other thread's (a worker_thread, or else GC and libuv helpers). */
  otherThreadCpuPercent: number;
  seconds: number;
}

/** Samples a process at a fixed period; windows are read between two marks. */
export class ProcMonitor {
  readonly pid: number;
  readonly samples: ProcSample[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(pid: number, periodMs = 500) {
    this.pid = pid;
    this.take();
    this.timer = setInterval(() => this.take(), periodMs);
    this.timer.unref();
  }

  take(): ProcSample | undefined {
    const sample = sampleProc(this.pid);
    if (sample) this.samples.push(sample);
    return sample;
  }

  /** Stats between two instants (monotonic µs), from the samples in between, end points taken now if needed. */
  window(fromUs: number, toUs: number): WindowStats {
    const inside = this.samples.filter((s) => s.atUs >= fromUs && s.atUs <= toUs);
    const first = inside[0];
    const last = inside[inside.length - 1];
    if (!first || !last) return { rssStartMB: 0, rssEndMB: 0, rssMaxMB: 0, cpuPercent: 0, mainThreadCpuPercent: 0, otherThreadCpuPercent: 0, seconds: 0 };
    const seconds = (last.atUs - first.atUs) / 1e6;
    const mb = (b: number): number => b / 1024 / 1024;
    const percent = (ms: number): number => (seconds > 0 ? (ms / 1000 / seconds) * 100 : 0);
    let other = 0;
    for (const [tid, ms] of last.threads) if (tid !== this.pid) other = Math.max(other, ms - (first.threads.get(tid) ?? 0));
    return {
      rssStartMB: mb(first.rssBytes),
      rssEndMB: mb(last.rssBytes),
      rssMaxMB: mb(Math.max(...inside.map((s) => s.rssBytes))),
      cpuPercent: percent(last.cpuMs - first.cpuMs),
      mainThreadCpuPercent: percent((last.threads.get(this.pid) ?? 0) - (first.threads.get(this.pid) ?? 0)),
      otherThreadCpuPercent: percent(other),
      seconds,
    };
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
