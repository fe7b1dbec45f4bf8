// Retransmission memory by sequence number and by device-chosen id (src/recent.ts): one run per (seq, name), its outcome
// for every retransmission, a failed run forgotten, a slot taken over without losing anyone waiting.
import t from 'tap';
import { RecentIds, RecentRuns, type Outcome } from '../../src/recent.js';

function recorder(): { outcomes: string[]; then: (label: string) => Outcome<string> } {
  const outcomes: string[] = [];
  return {
    outcomes,
    then: (label) => (err, result) => outcomes.push(`${label}: ${err ? `error ${(err as Error).message}` : result}`),
  };
}

t.test('a retransmission while the first run goes on waits for it; after it, gets its result at once', async (t) => {
  const recent = new RecentRuns<string>();
  const { outcomes, then } = recorder();
  let runs = 0;
  let finish: Outcome<string> = () => undefined;
  const work = (done: Outcome<string>): void => {
    runs += 1;
    finish = done;
  };
  recent.run(7, 'snapshot_face', work, then('first'));
  recent.run(7, 'snapshot_face', work, then('resent while running'));
  t.equal(runs, 1, 'the retransmission did not run the work');
  t.same(outcomes, [], 'nobody answered before the work finished');
  finish(undefined, 'published');
  t.same(outcomes, ['first: published', 'resent while running: published']);
  recent.run(7, 'snapshot_face', work, then('resent later'));
  t.equal(runs, 1);
  t.same(outcomes.at(-1), 'resent later: published');
  recent.run(7, 'qrcode_data', work, then('another message on the same seq'));
  t.equal(runs, 2, 'the name is part of the key');
});

t.test('a failed run is forgotten: the retry runs again', async (t) => {
  const recent = new RecentRuns<string>();
  const { outcomes, then } = recorder();
  let runs = 0;
  recent.run(1, 'e', (done) => {
    runs += 1;
    done(new Error('broker refused'));
  }, then('first'));
  recent.run(1, 'e', (done) => {
    runs += 1;
    done(undefined, 'published');
  }, then('retry'));
  t.equal(runs, 2);
  t.same(outcomes, ['first: error broker refused', 'retry: published']);
});

t.test('a seq that takes over a busy slot leaves the run there its outcome and its waiters', async (t) => {
  const recent = new RecentRuns<string>();
  const { outcomes, then } = recorder();
  const finishes: Outcome<string>[] = [];
  const work = (done: Outcome<string>): void => {
    finishes.push(done);
  };
  recent.run(3, 'e', work, then('3'));
  recent.run(3, 'e', work, then('3 resent'));
  recent.run(3 + 256, 'e', work, then('259'));
  t.equal(finishes.length, 2, 'seq 259 has slot 3 now and ran');
  finishes[0]?.(undefined, 'published 3');
  finishes[1]?.(undefined, 'published 259');
  t.same(outcomes, ['3: published 3', '3 resent: published 3', '259: published 259']);
  recent.run(3 + 256, 'e', work, then('259 resent'));
  t.equal(finishes.length, 2, 'the slot remembers its newest run');
  t.same(outcomes.at(-1), '259 resent: published 259');
});

t.test('seqs above 2^31 have slots too', async (t) => {
  const recent = new RecentRuns<string>();
  const { outcomes, then } = recorder();
  let runs = 0;
  const work = (done: Outcome<string>): void => {
    runs += 1;
    done(undefined, 'ok');
  };
  recent.run(0xffff_fffe, 'e', work, then('a'));
  recent.run(0xffff_fffe, 'e', work, then('b'));
  t.equal(runs, 1);
  t.same(outcomes, ['a: ok', 'b: ok']);
});

t.test('ids: a resend while the first run goes on waits for it, after it gets its result; a failure is forgotten', async (t) => {
  const recent = new RecentIds<string>();
  const { outcomes, then } = recorder();
  const finishes: Outcome<string>[] = [];
  const work = (done: Outcome<string>): void => {
    finishes.push(done);
  };
  recent.run('20240115113644', 'realtimeEvent', work, then('first'));
  recent.run('20240115113644', 'realtimeEvent', work, then('resent while running'));
  t.equal(finishes.length, 1, 'the resend did not run the work');
  finishes[0]?.(undefined, 'published');
  recent.run('20240115113644', 'realtimeEvent', work, then('resent later'));
  t.same(outcomes, ['first: published', 'resent while running: published', 'resent later: published']);
  recent.run('f', 'realtimeEvent', work, then('f'));
  finishes[1]?.(new Error('broker refused'));
  recent.run('f', 'realtimeEvent', work, then('f retried'));
  t.equal(finishes.length, 3, 'the retry of a failed run runs again');
  finishes[2]?.(undefined, 'published f');
  t.same(outcomes.slice(3), ['f: error broker refused', 'f retried: published f']);
});

t.test('ids: the last 256 runs are remembered, the one before them is not', async (t) => {
  const recent = new RecentIds<string>();
  let runs = 0;
  const work = (done: Outcome<string>): void => {
    runs += 1;
    done(undefined, 'ok');
  };
  const none = (): void => undefined;
  for (let i = 0; i < 257; i++) recent.run(`e${i}`, 'e', work, none);
  t.equal(runs, 257);
  recent.run('e1', 'e', work, none);
  recent.run('e256', 'e', work, none);
  t.equal(runs, 257, 'e1 and e256 are among the last 256');
  recent.run('e0', 'e', work, none);
  t.equal(runs, 258, 'e0 was forgotten');
});

t.test('ids: a run again after a failure is kept when the failed run leaves the ring', async (t) => {
  const recent = new RecentIds<string>();
  let runs = 0;
  const none = (): void => undefined;
  recent.run('x', 'e', (done) => done(new Error('refused')), none);
  recent.run('x', 'e', (done) => {
    runs += 1;
    done(undefined, 'ok');
  }, none);
  // 255 more runs push the failed x out of the ring; the successful x is the 2nd oldest now.
  for (let i = 0; i < 255; i++) recent.run(`e${i}`, 'e', (done) => done(undefined, 'ok'), none);
  recent.run('x', 'e', () => {
    runs += 1;
  }, none);
  t.equal(runs, 1, 'x was still remembered');
});
