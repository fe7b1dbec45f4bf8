// The one pending-command mechanism (src/pending.ts): answered once, dropped by the command's
// timeout, failed together when the connection ends, resent under the same id by a policy.
import t from 'tap';
import { CommandError } from '../../src/errors.js';
import { PendingCommands } from '../../src/pending.js';
import { until, within } from '../helpers/harness.js';

t.test('settled once, aborted by their timeout, failed together', async (t) => {
  const pending = new PendingCommands<string, string>();
  const controller = new AbortController();
  const first = pending.wait('1', controller.signal);
  t.ok(pending.has('1'));
  await t.rejects(pending.wait('1', new AbortController().signal), /already pending/);
  t.ok(pending.settle('1', 'answer'));
  t.equal(await first, 'answer');
  t.notOk(pending.settle('1', 'again'), 'a second answer is late');

  const timed = pending.wait('2', controller.signal);
  controller.abort();
  await t.rejects(timed, { code: 'G2M_ERR_COMMAND_TIMEOUT' });
  t.notOk(pending.has('2'), 'an aborted wait is dropped');
  await t.rejects(pending.wait('3', controller.signal), CommandError, 'an aborted signal fails at once');

  const a = pending.wait('a', new AbortController().signal);
  const b = pending.wait('b', new AbortController().signal);
  pending.failAll(new CommandError('offline', 'gone'));
  await t.rejects(a, { code: 'G2M_ERR_COMMAND_OFFLINE' });
  await t.rejects(b, { code: 'G2M_ERR_COMMAND_OFFLINE' });
  t.notOk(pending.has('a') || pending.has('b'), 'none waits any more');
});

/** Resolves once a resend timer armed now has fired: timers of one duration fire in the order they
 *  were armed, so a resend armed earlier would have fired by then. */
let sentinels = 1000;
async function sentinel(pending: PendingCommands<number, string>): Promise<void> {
  let fired = false;
  const id = ++sentinels;
  void pending.wait(id, new AbortController().signal, { afterMs: 5, times: 1, send: () => (fired = true), exhausted: () => undefined }).catch(() => undefined);
  await until(() => fired, 'the sentinel resend');
  pending.fail(id, new CommandError('offline', 'done'));
}

t.test('a resend policy sends again under the same id, then gives the device up', async (t) => {
  const pending = new PendingCommands<number, string>();
  let sends = 0;
  let exhausted = 0;
  const waiting = pending.wait(7, new AbortController().signal, { afterMs: 5, times: 3, send: () => (sends += 1), exhausted: () => (exhausted += 1) });
  // Resend timers do not hold the process open; the deadline's timer does.
  await t.rejects(within(waiting, 'the give-up'), { code: 'G2M_ERR_COMMAND_TIMEOUT', message: /unanswered after 3 resends/ });
  t.equal(sends, 3, 'three resends');
  t.equal(exhausted, 1, 'then the connection is given up, once');
  t.notOk(pending.has(7));

  let again = 0;
  const answered = pending.wait(8, new AbortController().signal, { afterMs: 5, times: 3, send: () => (again += 1), exhausted: () => t.fail('answered: not exhausted') });
  await until(() => again === 1, 'the first resend');
  t.ok(pending.settle(8, 'late but in time'));
  t.equal(await answered, 'late but in time');
  const settledAt = again;
  await sentinel(pending);
  t.equal(again, settledAt, 'an answered command is not resent');

  const controller = new AbortController();
  let aborted = 0;
  const timedOut = pending.wait(9, controller.signal, { afterMs: 5, times: 3, send: () => (aborted += 1), exhausted: () => t.fail('timed out: not exhausted') });
  controller.abort();
  await t.rejects(timedOut, { code: 'G2M_ERR_COMMAND_TIMEOUT' });
  await sentinel(pending);
  t.equal(aborted, 0, 'a command whose timeoutMs ran out is not resent');

  let never = 0;
  const off = pending.wait(10, new AbortController().signal, { afterMs: 0, times: 3, send: () => (never += 1), exhausted: () => undefined });
  pending.fail(10, new CommandError('offline', 'gone'));
  await t.rejects(off, { code: 'G2M_ERR_COMMAND_OFFLINE' });
  t.equal(never, 0, 'afterMs 0: never resent');
});
