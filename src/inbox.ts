// What one device connection sent, handled in arrival order with at most `concurrency` handlers at
// once. Items are pushed one by one (a WebSocket message) or pulled lazily from an iterator (the
// frames of a TCP chunk, so that hundreds of frames in one chunk wait inside the parser, not in the
// heap). While `highWater` entries wait, or a writer is blocked, the connection is not read: a
// device that sends faster than the broker acknowledges cannot grow an unbounded queue (STYLE 8).

export interface FlowControl {
  pause(): void;
  resume(): void;
}

/** Why a connection is not read: its answers fill the write buffer (the device does not read them),
 *  or its messages wait for the broker (`highWater` of them). */
export type PauseReason = 'device_not_reading' | 'backlog';

export interface InboxOptions<T> {
  concurrency: number;
  /** Waiting entries (items, or iterators not yet drained) at which reading pauses; it resumes
   *  below half of it. 1: pause as soon as anything has to wait. */
  highWater: number;
  flow: FlowControl;
  /** Handles one item; a promise holds one of the `concurrency` places until it settles. */
  handle?: (item: T) => Promise<void> | undefined;
  /** Or with a callback (no promise per item): the place is held until `done` is called, once, or
   *  until it throws without having called it. */
  run?: (item: T, done: () => void) => void;
  onError(err: unknown): void;
  /** Told when reading pauses for a reason (+1) and when that reason ends (-1), for the metrics. */
  onPause?(reason: PauseReason, delta: 1 | -1): void;
}

type Entry<T> = { item: T } | { items: Iterator<T>; then: (() => void) | undefined };

export class Inbox<T> {
  private readonly options: InboxOptions<T>;
  private readonly waiting: Entry<T>[] = [];
  private running = 0;
  private blocked = false;
  private pausedFor: PauseReason | undefined;
  private draining = false;
  private closed = false;
  private readonly settled = (): void => {
    this.running -= 1;
    this.drain();
  };
  private readonly failed = (err: unknown): void => {
    this.options.onError(err);
    this.settled();
  };

  constructor(options: InboxOptions<T>) {
    this.options = options;
  }

  push(item: T): void {
    if (this.closed) return;
    this.waiting.push({ item });
    this.drain();
  }

  /** Takes the items of `items` in order, as places free up; `then` runs once it is exhausted. */
  pull(items: Iterator<T>, then?: () => void): void {
    if (this.closed) return;
    this.waiting.push({ items, then });
    this.drain();
  }

  /** A writer to the device is blocked (its answers are not read): stop reading until `unblock`. */
  block(): void {
    this.blocked = true;
    this.flow();
  }

  unblock(): void {
    this.blocked = false;
    this.drain();
  }

  /** Drops what has not started; a closed connection answers nothing more. */
  close(): void {
    this.closed = true;
    this.waiting.length = 0;
    if (this.pausedFor !== undefined) this.options.onPause?.(this.pausedFor, -1);
    this.pausedFor = undefined;
  }

  private drain(): void {
    // unblock() from a handler, or a `then`, may call back in: the loop already running goes on.
    if (this.draining) return;
    this.draining = true;
    try {
      while (!this.closed && this.running < this.options.concurrency) {
        const entry = this.waiting[0];
        if (!entry) break;
        let item: T;
        if ('item' in entry) {
          this.waiting.shift();
          item = entry.item;
        } else {
          const next = entry.items.next();
          if (next.done) {
            this.waiting.shift();
            entry.then?.();
            continue;
          }
          item = next.value;
        }
        this.run(item);
      }
    } finally {
      this.draining = false;
    }
    this.flow();
  }

  private run(item: T): void {
    const { handle, run, onError } = this.options;
    this.running += 1;
    if (run) {
      try {
        run(item, this.settled);
      } catch (err) {
        this.failed(err);
      }
      return;
    }
    let work: Promise<void> | undefined;
    try {
      work = handle?.(item);
    } catch (err) {
      work = undefined;
      onError(err);
    }
    if (work) work.then(this.settled, this.failed);
    else this.running -= 1;
  }

  /** Decided once per drain, not per item (pausing per frame showed in the qyzn profile). */
  private flow(): void {
    if (this.closed) return;
    const { highWater, flow, onPause } = this.options;
    const waiting = this.waiting.length;
    const was = this.pausedFor;
    // Paused at highWater, resumed below half of it.
    const reason: PauseReason | undefined = this.blocked ? 'device_not_reading' : waiting >= (was === undefined ? highWater : highWater / 2) ? 'backlog' : undefined;
    if (reason === was) return;
    this.pausedFor = reason;
    if (was === undefined) flow.pause();
    else if (reason === undefined) flow.resume();
    if (onPause) {
      if (was !== undefined) onPause(was, -1);
      if (reason !== undefined) onPause(reason, 1);
    }
  }
}
