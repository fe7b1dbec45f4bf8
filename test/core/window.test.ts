// The links' publish window: at most `limit` messages handed to the broker, the rest waiting in
// order, and a message whose time ran out while waiting never published.
import t from 'tap';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { EmbeddedBroker } from '../../src/broker.js';
import { HandoverError } from '../../src/errors.js';
import { InProcessLink } from '../../src/inprocess.js';
import { PublishWindow } from '../../src/window.js';
import { until, within } from '../helpers/harness.js';

type Done = (err?: Error) => void;

/** A broker side that holds every message until the test acknowledges it. */
function heldBroker(): { handed: number[]; dones: Map<number, Done>; withdrawn: number[]; send: (window: PublishWindow, n: number) => Promise<void> } {
  const handed: number[] = [];
  const dones = new Map<number, Done>();
  const withdrawn: number[] = [];
  return {
    handed,
    dones,
    withdrawn,
    send: (window, n) =>
      new Promise<void>((resolve, reject) =>
        window.submit(
          (done) => {
            handed.push(n);
            dones.set(n, done);
            return () => withdrawn.push(n);
          },
          (err) => (err ? reject(err) : resolve()),
        ),
      ),
  };
}

t.test('at most `limit` messages are handed over, the rest follow in order as acknowledgements arrive', async (t) => {
  const window = new PublishWindow({ limit: 2, timeoutMs: 10_000, lateMessage: 'late' });
  const broker = heldBroker();
  const results = [1, 2, 3, 4, 5].map((n) => broker.send(window, n));
  t.same(broker.handed, [1, 2], 'two handed over, three waiting');
  broker.dones.get(2)?.();
  t.same(broker.handed, [1, 2, 3], 'an acknowledgement lets the next one go');
  broker.dones.get(1)?.(new Error('quota exceeded'));
  t.same(broker.handed, [1, 2, 3, 4]);
  await t.rejects(results[0] as Promise<void>, { name: 'HandoverError', message: /refused the message: quota exceeded/ });
  await t.resolves(results[1] as Promise<void>);
  for (const n of [3, 4]) broker.dones.get(n)?.();
  broker.dones.get(5)?.();
  t.same(broker.handed, [1, 2, 3, 4, 5]);
  await Promise.all(results.slice(2));
});

t.test('a message whose time runs out while waiting is never handed over; a handed-over one is withdrawn and keeps its slot until called back', async (t) => {
  const window = new PublishWindow({ limit: 1, timeoutMs: 50, lateMessage: 'the broker did not take it in time' });
  const broker = heldBroker();
  const outcomes: string[] = [];
  const results = [1, 2, 3].map((n) =>
    broker.send(window, n).then(
      () => outcomes.push(`${n} ok`),
      (err: unknown) => outcomes.push(`${n} ${err instanceof HandoverError ? err.message : 'other'}`),
    ),
  );
  await within(Promise.all(results), 'every message to time out');
  t.same(outcomes, ['1 the broker did not take it in time', '2 the broker did not take it in time', '3 the broker did not take it in time']);
  t.same(broker.withdrawn, [1], 'the handed-over message was asked back');
  t.same(broker.handed, [1], 'the waiting ones were never handed over');
  const next = broker.send(window, 4);
  t.same(broker.handed, [1], 'the slot stays taken until the broker calls back');
  broker.dones.get(1)?.();
  t.same(broker.handed, [1, 4]);
  broker.dones.get(4)?.();
  await t.resolves(next);
});

t.test('embedded broker with a stalled subscriber: refused messages are not delivered later, except the window', async (t) => {
  const logger = pino({ level: 'silent' });
  const embedded = new EmbeddedBroker({ host: '127.0.0.1', port: 0, wsEnabled: false, wsPort: 0, logger });
  const { mqtt: address } = await embedded.start();
  t.teardown(() => embedded.stop());
  const limit = 2;
  const link = new InProcessLink({ broker: embedded.instance, publishTimeoutMs: 300, maxInflight: limit, logger });
  await link.start();
  t.teardown(() => link.stop());

  const subscriber = await mqtt.connectAsync(EmbeddedBroker.localUrl(address), { reconnectPeriod: 0 });
  t.teardown(() => subscriber.endAsync(true));
  await subscriber.subscribeAsync('stall/#', { qos: 1 });
  const received: number[] = [];
  subscriber.on('message', (topic) => received.push(Number(topic.split('/')[1])));
  // Stop reading: the kernel buffers fill, then aedes waits for the socket to drain.
  (subscriber.stream as NodeJS.ReadableStream).pause();

  const payload = Buffer.alloc(1024 * 1024, 0x61);
  const count = 24;
  const acknowledged: number[] = [];
  const refused: number[] = [];
  await within(
    Promise.all(
      Array.from({ length: count }, (_, n) =>
        link.publish(`stall/${n}`, payload).then(
          () => acknowledged.push(n),
          () => refused.push(n),
        ),
      ),
    ),
    'every publish to be acknowledged or refused',
  );
  t.ok(refused.length > limit, `more than the window was refused (${refused.length} of ${count})`);

  (subscriber.stream as NodeJS.ReadableStream).resume();
  await until(() => received.length >= acknowledged.length, 'the acknowledged messages to arrive after the stall');
  // A late straggler would arrive now: publish a marker and wait for it, so nothing is still in flight.
  await link.publish('stall/999', 'marker');
  await until(() => received.includes(999), 'the marker');
  t.same(
    acknowledged.filter((n) => !received.includes(n)),
    [],
    'every acknowledged message was delivered',
  );
  const deliveredAnyway = refused.filter((n) => received.includes(n));
  t.ok(deliveredAnyway.length <= limit, `at most the window's ${limit} refused messages were delivered after all (${deliveredAnyway.length})`);
});
