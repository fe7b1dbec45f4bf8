// A Redis of the test's own, on a free loopback port, nothing on disk: for a test that stalls it
// (a long script holds every client of a Redis), which the machine's shared Redis must not be.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './mosquitto.js';
import { within, type Teardown } from './harness.js';

export interface OwnRedis {
  url: string;
  /** Holds every client of this Redis for `ms` (a script that runs that long); resolves at its end. */
  stall(ms: number): Promise<void>;
}

const STALL = `local t0 = redis.call('TIME'); local start = t0[1] * 1000000 + t0[2]
repeat local t = redis.call('TIME') until t[1] * 1000000 + t[2] - start >= tonumber(ARGV[1]) * 1000
return 1`;

export async function ownRedis(t: Teardown): Promise<OwnRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'g2m-redis-'));
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' });
  const url = `redis://127.0.0.1:${port}`;
  let client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
  t.teardown(async () => {
    client.disconnect();
    if (child.exitCode === null && child.signalCode === null) {
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  await within(
    (async () => {
      for (;;) {
        try {
          await client.connect();
          await client.ping();
          return;
        } catch {
          client.disconnect();
          client = new Redis(url, { lazyConnect: true, retryStrategy: () => null });
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    })(),
    `Redis on port ${port} to answer`,
  );
  return {
    url,
    async stall(ms) {
      await client.eval(STALL, 0, ms);
    },
  };
}
