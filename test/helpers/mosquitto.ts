// A Mosquitto of the test's own, on a free loopback port with its own configuration and data
// directory, that the test may kill (SIGKILL, as a crash) and start again on the same port.
// The machine's Mosquitto at 1883 is never touched.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, closeSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { until, within, type Teardown } from './harness.js';

export interface OwnMosquitto {
  url: string;
  port: number;
  /** Its data directory (persistence file). */
  dir: string;
  /** Its log file, with `log: true`. */
  log: string;
  /** Kills the process (SIGKILL unless told) and resolves once it exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and directory; resolves once it accepts connections. */
  start(): Promise<void>;
  /** With `persistence`: resolves once an autosave written after `since` (ms since the epoch) is
   *  on disk, so that a kill after it keeps what the broker held then (a session, a subscription). */
  saved(since: number): Promise<void>;
  readonly running: boolean;
}

export interface MosquittoOptions {
  /** Keep sessions and retained messages in `dir` (saved every second and at a clean exit;
   *  Mosquitto 2.0 writes nothing synchronously, so a SIGKILL loses what came after the last save). */
  persistence?: boolean;
  /** Extra lines for mosquitto.conf. */
  config?: string[];
  /** Log everything to `log` in its directory (a bench reads it for Mosquitto's drop notices). */
  log?: boolean;
}

export async function freePort(host = '127.0.0.1'): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves once a broker at `url` takes an MQTT connection. */
export async function accepting(url: string): Promise<void> {
  for (;;) {
    try {
      const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 1000 });
      await client.endAsync(true);
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

export async function ownMosquitto(t: Teardown, options: MosquittoOptions = {}): Promise<OwnMosquitto> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'g2m-mosquitto-'));
  // Run as root, Mosquitto drops to its own user before it saves anything: in a directory only root
  // may write, every autosave fails (logged, nothing else) and a restart finds no sessions at all.
  chmodSync(dir, 0o777);
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      `listener ${port} 127.0.0.1`,
      'allow_anonymous true',
      // The tests count every message: no queue limit may drop one on the way to a slow subscriber.
      'max_queued_messages 0',
      'max_inflight_messages 100',
      ...(options.persistence ? ['persistence true', `persistence_location ${dir}/`, 'autosave_interval 1'] : ['persistence false']),
      // To stderr, which is the log file opened here: the file is then the test's own to read and
      // remove, whichever user Mosquitto dropped to.
      ...(options.log ? ['log_dest stderr', 'log_type all'] : []),
      ...(options.config ?? []),
      '',
    ].join('\n'),
  );
  const url = `mqtt://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  const kill = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<void> => {
    const current = child;
    child = undefined;
    if (!current || current.exitCode !== null || current.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      current.once('exit', () => resolve());
      current.kill(signal);
    });
  };
  const start = async (): Promise<void> => {
    if (child) throw new Error('this Mosquitto is already running');
    const log = options.log ? openSync(join(dir, 'mosquitto.log'), 'a') : 'ignore';
    const started = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', log] });
    if (typeof log === 'number') closeSync(log);
    child = started;
    started.once('exit', () => {
      if (child === started) child = undefined;
    });
    await within(accepting(url), `Mosquitto on port ${port} to accept connections`);
  };
  const db = join(dir, 'mosquitto.db');
  const saved = async (since: number): Promise<void> => {
    if (!options.persistence) throw new Error('this Mosquitto keeps nothing on disk');
    // Mosquitto writes mosquitto.db.new and renames it: the file's time is that of a whole save.
    const after = (): boolean => (statSync(db, { throwIfNoEntry: false })?.mtimeMs ?? 0) > since;
    await until(after, `Mosquitto on port ${port} to save its state`);
  };
  await start();
  t.teardown(async () => {
    await kill();
    rmSync(dir, { recursive: true, force: true });
  });
  return {
    url,
    port,
    dir,
    log: join(dir, 'mosquitto.log'),
    kill,
    start,
    saved,
    get running() {
      return child !== undefined;
    },
  };
}
