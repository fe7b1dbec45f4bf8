// The one inbox of every device connection (src/inbox.ts): arrival order, at most `concurrency`
// handlers, reading paused while too much waits or a writer is blocked, items pulled lazily from
// an iterator (the frames of a TCP chunk), nothing more after close.
import t from 'tap';
import { Inbox, type InboxOptions } from '../../src/inbox.js';

type Task = () => Promise<void> | undefined;

function inbox(options: Partial<InboxOptions<Task>> = {}): { inbox: Inbox<Task>; flow: string[]; errors: unknown[] } {
  const flow: string[] = [];
  const errors: unknown[] = [];
  const box = new Inbox<Task>({
    concurrency: 1,
    highWater: 4,
    flow: { pause: () => flow.push('pause'), resume: () => flow.push('resume') },
    handle: (task) => task(),
    onError: (err) => errors.push(err),
    ...options,
  });
  return { inbox: box, flow, errors };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

t.test('in order, bounded, paused above the high-water mark and resumed below', async (t) => {
  const { inbox: box, flow, errors } = inbox();
  const order: number[] = [];
  const gates: Array<() => void> = [];
  for (let i = 0; i < 6; i++) {
    box.push(async () => {
      order.push(i);
      await new Promise<void>((resolve) => gates.push(resolve));
      if (i === 2) throw new Error('handler failed');
    });
  }
  t.same(order, [0], 'one at a time');
  t.same(flow, ['pause'], 'paused once 4 wait');
  while (gates.length > 0) {
    gates.shift()?.();
    await turn();
  }
  t.same(order, [0, 1, 2, 3, 4, 5], 'arrival order');
  t.same(flow, ['pause', 'resume']);
  t.equal(errors.length, 1, 'a failing handler is reported and the next one runs');
});

t.test('at most `concurrency` at once; a handler done at once takes no place', async (t) => {
  const { inbox: box } = inbox({ concurrency: 3, highWater: 10 });
  let running = 0;
  let most = 0;
  const done: Array<Promise<void>> = [];
  let synchronous = 0;
  for (let i = 0; i < 7; i++) {
    box.push(() => {
      synchronous += 1;
      return undefined;
    });
    done.push(
      new Promise<void>((resolve) =>
        box.push(async () => {
          running += 1;
          most = Math.max(most, running);
          await turn();
          running -= 1;
          resolve();
        }),
      ),
    );
  }
  await Promise.all(done);
  t.equal(most, 3, 'at most `concurrency` at once');
  t.equal(synchronous, 7, 'every synchronous handler ran');
});

t.test('items pulled from an iterator as places free up, in order with pushed ones; `then` once exhausted', async (t) => {
  const { inbox: box, flow } = inbox({ concurrency: 2, highWater: 1 });
  const order: string[] = [];
  const gates: Array<() => void> = [];
  const blocking = (name: string): Task => async () => {
    order.push(name);
    await new Promise<void>((resolve) => gates.push(resolve));
  };
  let taken = 0;
  function* frames(): Generator<Task> {
    for (const name of ['a', 'b', 'c', 'd']) {
      taken += 1;
      yield blocking(name);
    }
  }
  let exhausted = 0;
  box.pull(frames(), () => (exhausted += 1));
  box.push(blocking('pushed'));
  t.same(order, ['a', 'b'], 'two places');
  t.equal(taken, 2, 'the rest is not taken from the iterator yet');
  t.same(flow, ['pause'], 'paused while the iterator still holds items');
  while (gates.length > 0) {
    gates.shift()?.();
    await turn();
  }
  t.same(order, ['a', 'b', 'c', 'd', 'pushed'], 'the pushed item after the iterator it came behind');
  t.equal(exhausted, 1, 'then, once');
  t.same(flow, ['pause', 'resume']);
});

t.test('a blocked writer pauses reading until unblocked', async (t) => {
  const { inbox: box, flow } = inbox();
  box.block();
  t.same(flow, ['pause']);
  box.push(() => undefined);
  t.same(flow, ['pause'], 'still paused');
  box.unblock();
  t.same(flow, ['pause', 'resume']);
});

t.test('each pause is told with its reason, a change of reason while paused too, and a close ends it', async (t) => {
  const told: string[] = [];
  const gates: Array<() => void> = [];
  const { inbox: box, flow } = inbox({ highWater: 2, onPause: (reason, delta) => told.push(`${reason} ${delta}`) });
  const held = (): Promise<void> => new Promise<void>((resolve) => gates.push(resolve));
  box.push(held);
  box.push(held);
  box.push(held);
  t.same(told, ['backlog 1'], 'two waiting: paused for the backlog');
  box.block();
  t.same(told, ['backlog 1', 'backlog -1', 'device_not_reading 1'], 'a blocked writer while paused: the reason changes');
  t.same(flow, ['pause'], 'and reading stays paused, once');
  box.unblock();
  t.same(told.slice(3), ['device_not_reading -1', 'backlog 1'], 'unblocked with two still waiting: the backlog again');
  gates.shift()?.();
  await turn();
  t.same(told.slice(5), [], 'one waiting is half of the high-water mark: still paused');
  gates.shift()?.();
  await turn();
  t.same(told.slice(5), ['backlog -1'], 'below half of it: read again');
  t.same(flow, ['pause', 'resume']);
  box.block();
  box.close();
  t.same(told.slice(6), ['device_not_reading 1', 'device_not_reading -1'], 'a close ends the pause it was in');
});

t.test('close drops what has not started and takes nothing more', async (t) => {
  const { inbox: box } = inbox({ highWater: 10 });
  let ran = 0;
  box.push(() => new Promise<void>(() => undefined));
  box.push(async () => {
    ran += 1;
  });
  box.close();
  box.push(async () => {
    ran += 1;
  });
  const late: Task[] = [
    async () => {
      ran += 1;
    },
  ];
  box.pull(late[Symbol.iterator]());
  await turn();
  t.equal(ran, 0, 'only the one running when it closed ran');
});
