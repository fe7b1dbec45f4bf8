// Commands sent to a device and waiting for its answer, keyed by the protocol's correlation id.
import { CommandError } from '../../src/errors.js';

interface Waiter<R> {
  resolve(reply: R): void;
  reject(err: Error): void;
  signal: AbortSignal;
  onAbort(): void;
}

export class PendingCommands<R> {
  private readonly waiters = new Map<string, Waiter<R>>();

  get size(): number {
    return this.waiters.size;
  }

  has(id: string): boolean {
    return this.waiters.has(id);
  }

  /** Waits for `settle(id)`; the command's abort signal (its timeout) drops the wait. */
  wait(id: string, signal: AbortSignal): Promise<R> {
    if (this.waiters.has(id)) return Promise.reject(new Error(`correlation id ${id} is already pending`));
    if (signal.aborted) return Promise.reject(timeoutError());
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter<R> = {
        resolve,
        reject,
        signal,
        onAbort: () => {
          this.waiters.delete(id);
          reject(timeoutError());
        },
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.set(id, waiter);
    });
  }

  /** Hands a reply to its waiter; false when nothing waits for `id` (a late answer). */
  settle(id: string, reply: R): boolean {
    const waiter = this.take(id);
    waiter?.resolve(reply);
    return waiter !== undefined;
  }

  fail(id: string, err: Error): void {
    this.take(id)?.reject(err);
  }

  failAll(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.fail(id, err);
  }

  private take(id: string): Waiter<R> | undefined {
    const waiter = this.waiters.get(id);
    if (!waiter) return undefined;
    this.waiters.delete(id);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    return waiter;
  }
}

function timeoutError(): CommandError {
  return new CommandError('timeout', 'the device did not answer within the timeout');
}
