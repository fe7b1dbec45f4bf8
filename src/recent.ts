// Retransmissions of a device's messages, recognised without a promise or a key string per message.
// RecentRuns: messages numbered by a sequence (a qyzn REQUEST resent on its own seq, seed 3.2), the
// last runs of one connection, each in the slot `seq % SLOTS`, so that recognising a retransmission
// costs an array read instead of a Map entry and a key string per message. Devices number their
// messages in sequence, so the last SLOTS of them have slots of their own; a seq that lands on a slot
// in use by another takes it over (the older one is forgotten, as the oldest key of a bounded map
// would be).
// RecentIds: messages named by an id the device chose (a wsdoor `eventid`, a wscam `request_id`):
// ids are not in sequence, so they are found through a Map, and the last SLOTS runs sit in a ring
// that says which one to forget next (no iterator per message to find the oldest key).

/** Retransmissions are of a device's last few messages; 32 may be in flight at once. */
const SLOTS = 256;

const RUNNING = 1;
const DONE = 2;
const FAILED = 3;

export type Outcome<R> = (err: unknown, result?: R) => void;

interface Run<K, R> {
  key: K;
  name: string;
  state: typeof RUNNING | typeof DONE | typeof FAILED;
  result: R | undefined;
  /** Retransmissions that came while it was still going; they get its outcome even if a later
   *  message took its slot meanwhile. */
  waiting: Outcome<R>[] | undefined;
}

/** A retransmission of `known` (same key and name, not failed) gets its outcome, now or when it ends. */
function joined<K, R>(known: Run<K, R> | undefined, key: K, name: string, then: Outcome<R>): boolean {
  if (!known || known.state === FAILED || known.key !== key || known.name !== name) return false;
  if (known.state === DONE) then(undefined, known.result);
  else (known.waiting ??= []).push(then);
  return true;
}

function newRun<K, R>(key: K, name: string): Run<K, R> {
  return { key, name, state: RUNNING, result: undefined, waiting: undefined };
}

/** Runs `work` for `run`, already in its place: a work that finishes at once must find it there. */
function runWork<K, R>(run: Run<K, R>, work: (done: Outcome<R>) => void, then: Outcome<R>): void {
  work((err, result) => {
    run.state = err ? FAILED : DONE;
    run.result = result;
    const waiting = run.waiting;
    run.waiting = undefined;
    then(err, result);
    if (waiting) for (const other of waiting) other(err, result);
  });
}

export class RecentRuns<R> {
  /** Made at the first run: a connection that only heartbeats (most of an idle fleet) holds none. */
  private slots: Array<Run<number, R> | undefined> | undefined;

  /** Runs `work` for (seq, name) unless it ran or runs already: then `then` gets that run's outcome.
   *  A failed run is forgotten, so that the device's retry runs again. */
  run(seq: number, name: string, work: (done: Outcome<R>) => void, then: Outcome<R>): void {
    const index = seq % SLOTS;
    const slots = (this.slots ??= new Array<Run<number, R> | undefined>(SLOTS).fill(undefined));
    if (joined(slots[index], seq, name, then)) return;
    const run = newRun<number, R>(seq, name);
    slots[index] = run;
    runWork(run, work, then);
  }
}

export class RecentIds<R> {
  private readonly byId = new Map<string, Run<string, R>>();
  /** The last SLOTS runs in the order they started; made at the first run (see RecentRuns). */
  private ring: Array<Run<string, R> | undefined> | undefined;
  private next = 0;

  /** Runs `work` for (id, name) unless it ran or runs already: then `then` gets that run's outcome.
   *  A failed run is forgotten, so that the device's retry runs again. Of the last SLOTS runs
   *  started, every one that did not fail is remembered; an id run under another name takes over. */
  run(id: string, name: string, work: (done: Outcome<R>) => void, then: Outcome<R>): void {
    if (joined(this.byId.get(id), id, name, then)) return;
    const ring = (this.ring ??= new Array<Run<string, R> | undefined>(SLOTS).fill(undefined));
    const oldest = ring[this.next];
    // Its id may have been run again since (after a failure): that newer run stays.
    if (oldest && this.byId.get(oldest.key) === oldest) this.byId.delete(oldest.key);
    const run = newRun<string, R>(id, name);
    ring[this.next] = run;
    this.next = (this.next + 1) % SLOTS;
    this.byId.set(id, run);
    runWork(run, work, then);
  }
}
