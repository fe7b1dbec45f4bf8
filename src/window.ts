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

/** Told once per message: no error when the broker acknowledged, a HandoverError otherwise. */
export type Settled = (err?: HandoverError) => void;

export interface WindowOptions {
  limit: number;
  timeoutMs: number;
  /** The error of a message whose time ran out. */
  lateMessage: string;
}

const WAITING = 0;
const HANDED_OVER = 1;
const SETTLED = 2;

interface Entry {
  handover: Handover;
  deadline: number;
  state: typeof WAITING | typeof HANDED_OVER | typeof SETTLED;
  withdraw: (() => void) | undefined;
  settled: Settled;
  calledBack: boolean;
}

/** Entries in arrival order with a moving head; what is behind the head is dropped in bulk. */
class Queue {
  items: Entry[] = [];
  head = 0;

  get empty(): boolean {
    return this.head === this.items.length;
  }

  /** Past the head, once most of the array is behind it. */
  compact(): void {
    if (this.empty) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
  }
}

export class PublishWindow {
  /** Messages handed over at once; may be lowered by the broker (MQTT 5 receive maximum). */
  limit: number;
  private readonly options: WindowOptions;
  /** Every message in arrival order (= deadline order); settled ones are skipped, not removed. */
  private readonly open = new Queue();
  /** Messages not handed over yet, in order. */
  private readonly waiting = new Queue();
  /** Handed over and not yet called back, including given-up ones the broker still holds. */
  private active = 0;
  private timer: NodeJS.Timeout | undefined;

  constructor(options: WindowOptions) {
    this.options = options;
    this.limit = Math.max(1, options.limit);
  }

  /** `settled` once the broker acknowledged, or with a HandoverError when it refused, or when
   *  `timeoutMs` ran out first. It may be called before submit returns. */
  submit(handover: Handover, settled: Settled): void {
    const entry: Entry = { handover, deadline: Date.now() + this.options.timeoutMs, state: WAITING, withdraw: undefined, settled, calledBack: false };
    this.open.items.push(entry);
    this.timer ??= setTimeout(() => this.expire(), this.options.timeoutMs).unref();
    if (this.active < this.limit && this.waiting.empty) this.start(entry);
    else this.waiting.items.push(entry);
  }

  /** Fails every open message (the connection is gone): the waiting ones are dropped, the handed-over
   *  ones withdrawn where the broker side can. */
  failAll(why: string): void {
    const { items, head } = this.open;
    for (const entry of items.slice(head)) if (entry.state !== SETTLED) this.giveUp(entry, why);
    this.trimOpen();
  }

  private start(entry: Entry): void {
    entry.state = HANDED_OVER;
    this.active += 1;
    try {
      entry.withdraw = entry.handover((err) => this.calledBack(entry, err));
    } catch (err) {
      this.calledBack(entry, err instanceof Error ? err : new Error(String(err)));
    }
  }

  /** The broker's callback for `entry` (once; a second call is ignored). */
  private calledBack(entry: Entry, err?: Error): void {
    if (entry.calledBack) return;
    entry.calledBack = true;
    this.active -= 1;
    if (entry.state !== SETTLED) {
      entry.state = SETTLED;
      entry.settled(err ? new HandoverError(`the broker refused the message: ${err.message}`, { cause: err }) : undefined);
      this.trimOpen();
    }
    this.pump();
  }

  private pump(): void {
    const waiting = this.waiting;
    while (this.active < this.limit && !waiting.empty) {
      const entry = waiting.items[waiting.head] as Entry;
      waiting.head += 1;
      if (entry.state === WAITING) this.start(entry);
    }
    waiting.compact();
  }

  /** Moves the open queue's head past the settled entries at its front. */
  private trimOpen(): void {
    const open = this.open;
    while (!open.empty && (open.items[open.head] as Entry).state === SETTLED) open.head += 1;
    open.compact();
  }

  private giveUp(entry: Entry, why: string): void {
    const wasHandedOver = entry.state === HANDED_OVER;
    entry.state = SETTLED;
    entry.settled(new HandoverError(why));
    if (wasHandedOver) entry.withdraw?.();
  }

  private expire(): void {
    this.timer = undefined;
    const now = Date.now();
    const open = this.open;
    while (!open.empty) {
      const entry = open.items[open.head] as Entry;
      if (entry.state !== SETTLED) {
        if (entry.deadline > now) {
          this.timer = setTimeout(() => this.expire(), entry.deadline - now).unref();
          break;
        }
        this.giveUp(entry, this.options.lateMessage);
      }
      open.head += 1;
    }
    open.compact();
    // Waiting entries that expired leave holes in the queue; let the next pump skip past them.
    this.pump();
  }
}
