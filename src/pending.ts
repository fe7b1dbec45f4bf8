// Commands sent to a device and waiting for its answer, keyed by the protocol's correlation id
// (a sequence number, a command id). The command's abort signal (its timeoutMs) drops the wait; a
// resend policy sends an unanswered command again under the same id, and gives the device up after
// the last resend.
import { CommandError } from './errors.js';

export interface Resend {
  /** Time between two sends of an unanswered command. */
  afterMs: number;
  /** Resends before the device is taken as broken. */
  times: number;
  /** Sends the command again, as it was (the same correlation id). */
  send(): void;
  /** The last resend went unanswered: the wait has failed with `timeout`; end the connection. */
  exhausted(): void;
}

interface Waiter<R> {
  resolve(reply: R): void;
  reject(err: Error): void;
  signal: AbortSignal;
  onAbort(): void;
  resend: Resend | undefined;
  resends: number;
  timer: NodeJS.Timeout | undefined;
}

export class PendingCommands<K, R> {
  private readonly waiters = new Map<K, Waiter<R>>();

  has(id: K): boolean {
    return this.waiters.has(id);
  }

  /** Waits for `settle(id)`. Call before sending: an answer may come before the send returns. */
  wait(id: K, signal: AbortSignal, resend?: Resend): Promise<R> {
    if (this.waiters.has(id)) return Promise.reject(new Error(`correlation id ${String(id)} is already pending`));
    if (signal.aborted) return Promise.reject(timeoutError());
    return new Promise<R>((resolve, reject) => {
      const waiter: Waiter<R> = {
        resolve,
        reject,
        signal,
        onAbort: () => this.take(id)?.reject(timeoutError()),
        resend: resend && resend.afterMs > 0 ? resend : undefined,
        resends: 0,
        timer: undefined,
      };
      signal.addEventListener('abort', waiter.onAbort, { once: true });
      this.waiters.set(id, waiter);
      this.arm(id, waiter);
    });
  }

  /** Hands a reply to its waiter; false when nothing waits for `id` (a late answer). */
  settle(id: K, reply: R): boolean {
    const waiter = this.take(id);
    waiter?.resolve(reply);
    return waiter !== undefined;
  }

  fail(id: K, err: Error): void {
    this.take(id)?.reject(err);
  }

  failAll(err: Error): void {
    for (const id of [...this.waiters.keys()]) this.fail(id, err);
  }

  private arm(id: K, waiter: Waiter<R>): void {
    const resend = waiter.resend;
    if (!resend) return;
    waiter.timer = setTimeout(() => {
      if (this.waiters.get(id) !== waiter) return;
      if (waiter.resends >= resend.times) {
        this.take(id)?.reject(new CommandError('timeout', `unanswered after ${resend.times} resends; the connection is closed`));
        resend.exhausted();
        return;
      }
      waiter.resends += 1;
      resend.send();
      this.arm(id, waiter);
    }, resend.afterMs);
    waiter.timer.unref();
  }

  private take(id: K): Waiter<R> | undefined {
    const waiter = this.waiters.get(id);
    if (!waiter) return undefined;
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    waiter.signal.removeEventListener('abort', waiter.onAbort);
    return waiter;
  }
}

function timeoutError(): CommandError {
  return new CommandError('timeout', 'the device did not answer within the timeout');
}
