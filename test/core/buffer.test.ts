// The disk buffer against a real store in a temp dir and a real broker behind a proxy the test
// cuts: appends while the broker is away, drain in order once it is back, delete by id after the
// PUBACK, reopen after close, bounds, expiry, and a store that cannot be opened.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import t, { type Test } from 'tap';
import { DiskBuffer, type Handed, type Outgoing } from '../../src/buffer.js';
import type { BufferConfig } from '../../src/config.js';
import { BufferFullError, BufferStoreError } from '../../src/errors.js';
import { Metrics } from '../../src/metrics.js';
import { MqttLink } from '../../src/mqtt.js';
import { CuttableLink } from '../helpers/brokers.js';
import { connectClient, externalBroker, testConfig, uniqueBase, until, within, type Inbox } from '../helpers/harness.js';

const logger = pino({ level: process.env.GATE2MQTT_TEST_LOG ?? 'silent' });

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'g2m-buffer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function bufferConfig(dir: string, overrides: Partial<BufferConfig> = {}): BufferConfig {
  return { mode: 'disk', dir, maxBytes: 64 * 1024 * 1024, maxMediaBytes: 16 * 1024 * 1024, maxAgeS: 3600, commitMs: 5, ...overrides };
}

async function openBuffer(t: Test, config: BufferConfig, metrics = new Metrics()): Promise<{ buffer: DiskBuffer; metrics: Metrics }> {
  const buffer = new DiskBuffer({ config, metrics, logger });
  await buffer.open();
  t.teardown(() => buffer.close());
  return { buffer, metrics };
}

interface Setup {
  proxy: CuttableLink;
  link: MqttLink;
  inbox: Inbox;
  base: string;
  /** Every event payload received, in arrival order. */
  arrived: string[];
}

async function setup(t: Test, publishTimeoutMs = 2000): Promise<Setup> {
  const url = await externalBroker(t);
  const proxy = new CuttableLink(url);
  await proxy.open();
  t.teardown(() => proxy.cut());
  const config = testConfig({ mqtt: { url: proxy.url, reconnectPeriodMs: 50, publishTimeoutMs } });
  const base = uniqueBase();
  const link = new MqttLink({ url: proxy.url, config: config.mqtt, will: { topic: `${base}/bridge/state`, payload: 'offline' }, logger });
  await link.start();
  t.teardown(() => link.stop());
  const inbox = await connectClient(t, url);
  await inbox.subscribe(`${base}/#`);
  const arrived: string[] = [];
  inbox.client.on('message', (topic, payload) => {
    if (topic.includes('/event/')) arrived.push(payload.toString());
  });
  return { proxy, link, inbox, base, arrived };
}

async function disconnect(s: Setup): Promise<void> {
  await s.proxy.cut();
  await until(() => !s.link.connected, 'the link to notice the cut');
}

async function reconnect(s: Setup): Promise<void> {
  await s.proxy.open();
  await until(() => s.link.connected, 'the link to reconnect');
}

function message(base: string, device: string, n: number, extra: Partial<Outgoing>[] = []): Outgoing[] {
  return [{ topic: `${base}/test/${device}/event/e`, payload: `${device}:${n}` }, ...extra.map((e, i) => ({ topic: `${base}/test/${device}/media/m${i}`, payload: '', ...e }))];
}

/** Asserts that each device's payloads arrived in the order 0, 1, 2 ... exactly once. */
function inOrder(t: Test, arrived: string[], devices: string[], count: number): void {
  for (const device of devices) {
    const seen = arrived.filter((p) => p.startsWith(`${device}:`)).map((p) => Number(p.slice(device.length + 1)));
    t.same(seen, Array.from({ length: count }, (_, i) => i), `${device}: all ${count}, once each, in order`);
  }
}

t.test('appended while the broker is away, acknowledged once on disk, drained in order, deleted after the PUBACK', async (t) => {
  const s = await setup(t);
  const dir = tempDir(t);
  const { buffer, metrics } = await openBuffer(t, bufferConfig(dir));
  buffer.attach(s.link);
  await disconnect(s);
  const devices = ['d1', 'd2', 'd3'];
  const handed: Array<Promise<Handed>> = [];
  for (let n = 0; n < 200; n++) for (const d of devices) handed.push(buffer.deliver(`test/${d}`, message(s.base, d, n)));
  const outcomes = await within(Promise.all(handed), 'every append to be synced');
  t.ok(outcomes.every((o) => o === 'buffered'), 'every message buffered');
  t.equal(buffer.stats().depth, 600);
  t.equal(s.arrived.length, 0, 'nothing published while the broker is away');
  const gauges = await metrics.registry.metrics();
  t.match(gauges, /gate2mqtt_buffer_depth 600/);
  t.match(gauges, /gate2mqtt_buffer_oldest_age_seconds [0-9.]+/);

  await reconnect(s);
  await until(() => s.arrived.length >= 600, 'the drain', 20_000);
  await until(() => buffer.stats().depth === 0, 'the depth to reach 0');
  inOrder(t, s.arrived, devices, 200);
  t.match(await metrics.registry.metrics(), /gate2mqtt_buffer_drained_total 600/);

  // The deletes are on disk: a reopened store holds nothing.
  await buffer.close();
  const { buffer: again } = await openBuffer(t, bufferConfig(dir));
  t.same(again.stats(), { mode: 'disk', depth: 0, bytes: 0 }, 'the reopened store is empty');
});

t.test('a device with queued messages: its live ones queue behind them; another device goes live', async (t) => {
  const s = await setup(t);
  const { buffer } = await openBuffer(t, bufferConfig(tempDir(t)));
  buffer.attach(s.link);
  await disconnect(s);
  const queued = Array.from({ length: 50 }, (_, n) => buffer.deliver('test/late', message(s.base, 'late', n)));
  await within(Promise.all(queued), 'the appends');
  // Handed over in the same turn as the reconnect is seen, before the drain has read anything
  // (waiting for the reconnect first would give a fast drain time to empty the queue).
  const handed = new Promise<[Promise<Handed>, Promise<Handed>]>((resolve) =>
    s.link.once('connect', () => resolve([buffer.deliver('test/late', message(s.base, 'late', 50)), buffer.deliver('test/fresh', message(s.base, 'fresh', 0))])),
  );
  await reconnect(s);
  const [next, other] = await handed;
  t.equal(await next, 'buffered', 'behind its own queued messages');
  t.equal(await other, 'published', 'a device with nothing queued goes live');
  await until(() => s.arrived.filter((p) => p.startsWith('late:')).length >= 51, 'the drain', 20_000);
  inOrder(t, s.arrived, ['late'], 51);
  await until(() => buffer.stats().depth === 0, 'the queue to empty');
  t.equal(await buffer.deliver('test/late', message(s.base, 'late', 51)), 'published', 'live again once its queue is empty');
});

t.test('a lost PUBACK: the message is buffered and published again (at least once), still in order', async (t) => {
  const s = await setup(t, 300);
  const { buffer } = await openBuffer(t, bufferConfig(tempDir(t)));
  buffer.attach(s.link);
  s.proxy.hold();
  const first = buffer.deliver('test/o', message(s.base, 'o', 0));
  await s.inbox.take(`${s.base}/test/o/event/e`);
  await disconnect(s);
  const second = buffer.deliver('test/o', message(s.base, 'o', 1));
  t.equal(await first, 'buffered', 'the first, unacknowledged, is buffered');
  t.equal(await second, 'buffered');
  s.proxy.release();
  await reconnect(s);
  await until(() => buffer.stats().depth === 0, 'the drain', 20_000);
  await until(() => s.arrived.length >= 3, 'the drained messages');
  t.same(s.arrived, ['o:0', 'o:0', 'o:1'], 'the broker had the first before its PUBACK was lost: it comes twice, the second after it');
});

t.test('a message of a device whose older one is queued and another still live waits for that one', async (t) => {
  // PUBACKs held, publishTimeoutMs 400: o:0 fails first and is appended while o:1, handed over
  // 200 ms later, is still with the broker. o:2 may not be appended before o:1 fails and is.
  const s = await setup(t, 400);
  const { buffer } = await openBuffer(t, bufferConfig(tempDir(t)));
  buffer.attach(s.link);
  s.proxy.hold();
  const settled: number[] = [];
  const deliver = (n: number): Promise<Handed> =>
    buffer.deliver('test/o', message(s.base, 'o', n)).then((handed) => {
      settled.push(n);
      return handed;
    });
  const first = deliver(0);
  await s.inbox.take(`${s.base}/test/o/event/e`, (p) => p.toString() === 'o:0');
  // A set gap, not a wait for an event: it gives o:1 a later deadline than o:0.
  await new Promise((resolve) => setTimeout(resolve, 200));
  const second = deliver(1);
  t.equal(await first, 'buffered', 'o:0 timed out and was appended');
  const third = deliver(2);
  t.same(await Promise.all([second, third]), ['buffered', 'buffered']);
  t.same(settled, [0, 1, 2], 'o:2 was appended only after o:1');
  s.proxy.release();
  await until(() => buffer.stats().depth === 0, 'the drain', 20_000);
  // The drain is done when the broker acknowledged it; the subscriber may not have it yet. A
  // sentinel published after it on the same connection arrives after all of it.
  await s.link.publish(`${s.base}/test/o/event/e`, 'sentinel');
  await until(() => s.arrived.includes('sentinel'), 'the sentinel behind the drained copies');
  // Every attempt the broker got reached the subscriber; the copies drained last are in order.
  const last = [0, 1, 2].map((n) => s.arrived.lastIndexOf(`o:${n}`));
  t.ok(last.every((index) => index >= 0), 'each arrived');
  t.ok(last[0]! < last[1]! && last[1]! < last[2]!, `the drained copies in order (${s.arrived.join(' ')})`);
});

t.test('reopened after a close: what it held is counted again and drained', async (t) => {
  const s = await setup(t);
  const dir = tempDir(t);
  const first = await openBuffer(t, bufferConfig(dir));
  first.buffer.attach(s.link);
  await disconnect(s);
  await within(Promise.all(Array.from({ length: 40 }, (_, n) => first.buffer.deliver('test/r', message(s.base, 'r', n)))), 'the appends');
  const bytes = first.buffer.stats().bytes;
  await first.buffer.close();
  const { buffer } = await openBuffer(t, bufferConfig(dir));
  t.same(buffer.stats(), { mode: 'disk', depth: 40, bytes }, 'depth and bytes counted from the store');
  await reconnect(s);
  buffer.attach(s.link);
  // Its sequence goes on after the stored keys: a new message comes after them.
  t.equal(await buffer.deliver('test/r', message(s.base, 'r', 40)), 'buffered');
  await until(() => s.arrived.length >= 41, 'the drain', 20_000);
  inOrder(t, s.arrived, ['r'], 41);
});

t.test('bounds: a full buffer refuses; full media share refuses media, not events', async (t) => {
  const s = await setup(t);
  const image = Buffer.alloc(4000, 1);
  const { buffer } = await openBuffer(t, bufferConfig(tempDir(t), { maxBytes: 40_000, maxMediaBytes: 10_000 }));
  buffer.attach(s.link);
  await disconnect(s);
  const withMedia = (n: number): Outgoing[] => message(s.base, 'm', n, [{ payload: image, retain: true, media: true }]);
  t.equal(await buffer.deliver('test/m', withMedia(0)), 'buffered');
  t.equal(await buffer.deliver('test/m', withMedia(1)), 'buffered');
  await t.rejects(buffer.deliver('test/m', withMedia(2)), BufferFullError, 'the media share is full');
  t.equal(await buffer.deliver('test/m', message(s.base, 'm', 2)), 'buffered', 'an event without media still goes in');
  let refused: unknown;
  for (let n = 3; n < 1000 && refused === undefined; n++) {
    await buffer.deliver('test/m', message(s.base, 'm', n, [{ payload: Buffer.alloc(1000), media: false }])).catch((err: unknown) => (refused = err));
  }
  t.type(refused, BufferFullError, 'refused once buffer.maxBytes is reached');
  t.equal((refused as BufferFullError).code, 'G2M_ERR_BUFFER_FULL');
  t.ok(buffer.stats().bytes <= 40_000, `never past maxBytes (${buffer.stats().bytes})`);
});

t.test('entries older than buffer.maxAgeS are dropped, counted and never published', async (t) => {
  const s = await setup(t);
  const { buffer, metrics } = await openBuffer(t, bufferConfig(tempDir(t), { maxAgeS: 1 }));
  buffer.attach(s.link);
  await disconnect(s);
  await within(Promise.all(Array.from({ length: 5 }, (_, n) => buffer.deliver('test/x', message(s.base, 'x', n)))), 'the appends');
  await until(() => buffer.stats().depth === 0, 'the expiry scan', 5000);
  t.match(await metrics.registry.metrics(), /gate2mqtt_buffer_expired_total 5/);
  await reconnect(s);
  t.equal(await buffer.deliver('test/x', message(s.base, 'x', 99)), 'published');
  await s.inbox.take(`${s.base}/test/x/event/e`, (p) => p.toString() === 'x:99');
  t.same(s.arrived, ['x:99'], 'none of the expired ones was published');
});

t.test('a store that cannot be opened is a G2M_ERR_BUFFER_STORE naming the directory', async (t) => {
  const dir = tempDir(t);
  const file = join(dir, 'not-a-dir');
  writeFileSync(file, 'x');
  const bad = new DiskBuffer({ config: bufferConfig(file), metrics: new Metrics(), logger });
  const err = await bad.open().then(() => undefined, (e: unknown) => e);
  t.type(err, BufferStoreError);
  t.equal((err as BufferStoreError).code, 'G2M_ERR_BUFFER_STORE');
  t.match((err as Error).message, file);
  // One gateway per directory: the second is refused (LevelDB's lock), the first keeps its store.
  const shared = join(dir, `shared-${randomUUID().slice(0, 4)}`);
  await openBuffer(t, bufferConfig(shared));
  const second = new DiskBuffer({ config: bufferConfig(shared), metrics: new Metrics(), logger });
  t.type(await second.open().then(() => undefined, (e: unknown) => e), BufferStoreError, 'a store in use is refused');
});
