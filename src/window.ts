// The QoS 1 publishes of both links: at most `limit` handed to the broker and not yet acknowledged,
// the rest waiting here in order. A message still waiting when its time runs out is never handed
// over, so the device's failure answer means "not published" and its retry is not a duplicate; and
// a broker that stops acknowledging (a stalled subscriber of the embedded one) holds `limit`
// messages, not everything the devices keep sending. Every message has the same time limit, so
// arrival order is deadline order and one timer, set for the oldest, serves them all.
import { HandoverError } from './errors.js';

/** Hands one message to the broker and calls `done` once it acknowledged or refused it. May return
 *  a function that asks the broker side to give the message up (it still calls `done` after). */
export type Handover = (done: (err?: Error) => void) => (() => void) | undefined;

export interface WindowOptions {
  limit: number;
  timeoutMs: number;
  /** The error of a message whose time ran out. */
  lateMessage: string;
}

type State = 'waiting' | 'handedOver' | 'settled';

interface Entry {
  handover: Handover;
  deadline: number;
  state: State;
  withdraw: (() => void) | undefined;
  resolve(): void;
  reject(err: Error): void;
}

export class PublishWindow {
  /** Messages handed over at once; may be lowered by the broker (MQTT 5 receive maximum). */
  limit: number;
  private readonly options: WindowOptions;
  /** Every message not yet answered to its caller, oldest first. */
  private readonly open = new Set<Entry>();
  private readonly waiting: Entry[] = [];
  private head = 0;
  /** Handed over and not yet called back, including given-up ones the broker still holds. */
  private active = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: WindowOptions) {
    this.options = options;
    this.limit = Math.max(1, options.limit);
  }

  /** Resolves when the broker acknowledged; rejects with HandoverError when it refused, or when
   *  `timeoutMs` ran out first. */
  submit(handover: Handover): Promise<void> {
    return new Promise((resolve, reject) => {
      const entry: Entry = { handover, deadline: Date.now() + this.options.timeoutMs, state: 'waiting', withdraw: undefined, resolve, reject };
      this.open.add(entry);
      this.timer ??= setTimeout(() => this.expire(), this.options.timeoutMs).unref();
      if (this.active < this.limit && this.head === this.waiting.length) this.start(entry);
      else this.waiting.push(entry);
    });
  }

  /** Fails every open message (the connection is gone): the waiting ones are dropped, the handed-over
   *  ones withdrawn where the broker side can. */
  failAll(why: string): void {
    for (const entry of [...this.open]) this.giveUp(entry, why);
  }

  private start(entry: Entry): void {
    entry.state = 'handedOver';
    this.active += 1;
    let called = false;
    const done = (err?: Error): void => {
      if (called) return;
      called = true;
      this.active -= 1;
      if (entry.state !== 'settled') {
        this.settle(entry);
        if (err) entry.reject(new HandoverError(`the broker refused the message: ${err.message}`, { cause: err }));
        else entry.resolve();
      }
      this.pump();
    };
    try {
      entry.withdraw = entry.handover(done);
    } catch (err) {
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private pump(): void {
    while (this.active < this.limit && this.head < this.waiting.length) {
      const entry = this.waiting[this.head] as Entry;
      this.head += 1;
      if (entry.state === 'waiting') this.start(entry);
    }
    if (this.head === this.waiting.length) {
      this.waiting.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting.splice(0, this.head);
      this.head = 0;
    }
  }

  private settle(entry: Entry): void {
    entry.state = 'settled';
    this.open.delete(entry);
  }

  private giveUp(entry: Entry, why: string): void {
    const wasHandedOver = entry.state === 'handedOver';
    this.settle(entry);
    entry.reject(new HandoverError(why));
    if (wasHandedOver) entry.withdraw?.();
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    for (const entry of this.open) {
      if (entry.deadline > now) {
        this.timer = setTimeout(() => this.expire(), entry.deadline - now).unref();
        return;
      }
      this.giveUp(entry, this.options.lateMessage);
    }
    // Waiting entries that expired leave holes in the queue; let the next pump skip past them.
    this.pump();
  }
}
