// Runs a connection's message handlers in arrival order, at most `concurrency` at once. When
// `highWater` handlers wait, the socket is paused, so a device that sends faster than the broker
// acknowledges cannot grow an unbounded queue (STYLE 8).
export type Task = () => Promise<void>;

export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class Inbox {
  private readonly waiting: Task[] = [];
  private running = 0;
  private paused = false;

  constructor(
    private readonly concurrency: number,
    private readonly highWater: number,
    private readonly flow: FlowControl,
    private readonly onError: (err: unknown) => void,
  ) {}

  get size(): number {
    return this.running + this.waiting.length;
  }

  push(task: Task): void {
    this.waiting.push(task);
    if (!this.paused && this.waiting.length >= this.highWater) {
      this.paused = true;
      this.flow.pause();
    }
    this.drain();
  }

  /** Drops what has not started; a closed connection answers nothing more. */
  clear(): void {
    this.waiting.length = 0;
  }

  private drain(): void {
    while (this.running < this.concurrency && this.waiting.length > 0) {
      const task = this.waiting.shift() as Task;
      this.running += 1;
      void this.run(task);
    }
    if (this.paused && this.waiting.length < this.highWater / 2) {
      this.paused = false;
      this.flow.resume();
    }
  }

  private async run(task: Task): Promise<void> {
    try {
      await task();
    } catch (err) {
      this.onError(err);
    } finally {
      this.running -= 1;
      this.drain();
    }
  }
}
