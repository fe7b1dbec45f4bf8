// Retransmission memory by sequence number (src/recent.ts): one run per (seq, name), its outcome
// for every retransmission, a failed run forgotten, a slot taken over without losing anyone waiting.
import t from 'tap';
import { RecentRuns, type Outcome } from '../../src/recent.js';

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
