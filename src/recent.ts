// Retransmissions of numbered messages (a qyzn REQUEST resent on its own seq, seed 3.2): the last
// runs of one connection, each in the slot `seq % SLOTS`, so that recognising a retransmission costs
// an array read instead of a Map entry and a key string per message. Devices number their messages
// in sequence, so the last SLOTS of them have slots of their own; a seq that lands on a slot in use
// by another takes it over (the older one is forgotten, as the oldest key of a bounded map would be).

/** Retransmissions are of a device's last few messages; 32 may be in flight at once. */
const SLOTS = 256;

const RUNNING = 1;
const DONE = 2;
const FAILED = 3;

export type Outcome<R> = (err: unknown, result?: R) => void;

interface Run<R> {
  seq: number;
  name: string;
  state: typeof RUNNING | typeof DONE | typeof FAILED;
  result: R | undefined;
  /** Retransmissions that came while it was still going; they get its outcome even if a later
   *  seq took its slot meanwhile. */
  waiting: Outcome<R>[] | undefined;
}

export class RecentRuns<R> {
  /** Made at the first run: a connection that only heartbeats (most of an idle fleet) holds none. */
  private slots: Array<Run<R> | undefined> | undefined;

  /** Runs `work` for (seq, name) unless it ran or runs already: then `then` gets that run's outcome.
   *  A failed run is forgotten, so that the device's retry runs again. */
  run(seq: number, name: string, work: (done: Outcome<R>) => void, then: Outcome<R>): void {
    const index = seq % SLOTS;
    const slots = (this.slots ??= new Array<Run<R> | undefined>(SLOTS).fill(undefined));
    const known = slots[index];
    if (known && known.state !== FAILED && known.seq === seq && known.name === name) {
      if (known.state === DONE) then(undefined, known.result);
      else (known.waiting ??= []).push(then);
      return;
    }
    const run: Run<R> = { seq, name, state: RUNNING, result: undefined, waiting: undefined };
    slots[index] = run;
    work((err, result) => {
      run.state = err ? FAILED : DONE;
      run.result = result;
      const waiting = run.waiting;
      run.waiting = undefined;
      then(err, result);
      if (waiting) for (const other of waiting) other(err, result);
    });
  }
}
