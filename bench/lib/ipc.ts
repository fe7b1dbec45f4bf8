// Load generators, the subscriber and the command publisher run as child processes, each with a
// typed request/answer protocol over the IPC channel. Separate processes keep their CPU apart from
// the gateway's, and keep each under the per-process open-file limit.
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** A protocol: command name -> its argument and its answer. */
export type Protocol = Record<string, { args: unknown; result: unknown }>;

interface Request {
  id: number;
  cmd: string;
  args: unknown;
}

interface Answer {
  id: number;
  ok: boolean;
  result?: unknown;
  error?: string;
}

function isAnswer(message: unknown): message is Answer {
  return typeof message === 'object' && message !== null && typeof (message as Answer).id === 'number' && typeof (message as Answer).ok === 'boolean';
}

function isRequest(message: unknown): message is Request {
  return typeof message === 'object' && message !== null && typeof (message as Request).cmd === 'string' && typeof (message as Request).id === 'number';
}

const WORKERS_DIR = fileURLToPath(new URL('../workers/', import.meta.url));

export class WorkerProcess<P extends Protocol> {
  readonly name: string;
  readonly child: ChildProcess;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
  private readonly exited: Promise<number | null>;

  private constructor(name: string, child: ChildProcess) {
    this.name = name;
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (message: unknown) => {
      if (!isAnswer(message)) return;
      const waiter = this.pending.get(message.id);
      if (!waiter) return;
      this.pending.delete(message.id);
      if (message.ok) waiter.resolve(message.result);
      else waiter.reject(new Error(`${this.name}: ${message.error ?? 'failed'}`));
    });
    child.once('exit', (code, signal) => {
      for (const waiter of this.pending.values()) waiter.reject(new Error(`${this.name} exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** Forks bench/workers/<script>.ts through tsx and waits for its "ready". */
  static async start<P extends Protocol>(name: string, script: string, env: Record<string, string> = {}): Promise<WorkerProcess<P>> {
    const child = fork(`${WORKERS_DIR}${script}.ts`, [], {
      execArgv: ['--import', 'tsx', '--max-old-space-size=4096'],
      env: { ...process.env, ...env },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    await new Promise<void>((resolve, reject) => {
      const onMessage = (message: unknown): void => {
        if (message === 'ready') {
          child.off('message', onMessage);
          child.off('exit', onExit);
          resolve();
        }
      };
      const onExit = (code: number | null): void => reject(new Error(`${name} exited (${code}) before it was ready`));
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
    return new WorkerProcess<P>(name, child);
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  call<K extends keyof P & string>(cmd: K, args: P[K]['args'], timeoutMs = 300_000): Promise<P[K]['result']> {
    const id = this.nextId++;
    return new Promise<P[K]['result']>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}: ${cmd} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as P[K]['result']);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      });
      const request: Request = { id, cmd, args };
      this.child.send(request);
    });
  }

  /** Asks the worker to exit; kills it if it has not within `graceMs`. */
  async stop(graceMs = 5000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    if (this.child.connected) this.child.send({ id: 0, cmd: '__exit', args: null } satisfies Request);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export type Handlers<P extends Protocol> = { [K in keyof P]: (args: P[K]['args']) => Promise<P[K]['result']> | P[K]['result'] };

/** The worker side: answers each request with its handler; exits with its parent. */
export function serve<P extends Protocol>(handlers: Handlers<P>, onExit: () => Promise<void> = async () => undefined): void {
  const send = (answer: Answer): void => {
    if (process.connected) process.send?.(answer);
  };
  process.on('message', (message: unknown) => {
    if (!isRequest(message)) return;
    if (message.cmd === '__exit') {
      void onExit().finally(() => process.exit(0));
      return;
    }
    const handler = (handlers as Record<string, ((args: unknown) => unknown) | undefined>)[message.cmd];
    if (!handler) {
      send({ id: message.id, ok: false, error: `unknown command ${message.cmd}` });
      return;
    }
    Promise.resolve()
      .then(() => handler(message.args))
      .then(
        (result) => send({ id: message.id, ok: true, result }),
        (err: unknown) => send({ id: message.id, ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
      );
  });
  // An orchestrator that died must not leave load generators running.
  process.on('disconnect', () => process.exit(0));
  process.send?.('ready');
}
