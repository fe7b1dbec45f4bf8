// How a device message reaches the broker: straight through the link (buffer.mode "off": the
// device hears success only after the broker's PUBACK), or through a store-and-forward queue on
// disk (buffer.mode "disk": a message the broker cannot take now is appended, the device hears
// success once the append is synced, and the queue is published oldest first when the broker is
// back, each entry deleted only after every publish of it was acknowledged).
//
// Lessons from ThingsBoard IoT Gateway's store, whose users lost or doubled data: nothing a device
// was told is safe waits in memory in front of the disk (a group waits for its sync, and its
// devices hear nothing until then); entries are deleted by their id, never by a time range; the
// store is opened once and never recreated; the envelope keeps the time the message was received.
import { mkdirSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { ClassicLevel } from 'classic-level';
import type { Logger } from 'pino';
import type { BufferConfig } from './config.js';
import { BufferFullError, BufferStoreError, HandoverError } from './errors.js';
import type { Metrics } from './metrics.js';
import type { Link } from './mqtt.js';

/** One publish of a device message: its event (or request), or one of its media. */
export interface Outgoing {
  topic: string;
  payload: string | Buffer;
  retain?: boolean;
  /** Counted against buffer.maxMediaBytes. */
  media?: boolean;
}

/** Whether the broker acknowledged the message, or the disk buffer holds it. */
export type Handed = 'published' | 'buffered';

export interface BufferStats {
  mode: BufferConfig['mode'];
  depth: number;
  bytes: number;
}

/** What Device.publishEnvelope hands a device message to. `device` is the ordering key
 *  (adapter/deviceId): one device's messages reach the broker in the order they were handed over. */
/** Told once per message: an error, or where the message is now. */
export type HandedCallback = (err: Error | undefined, handed?: Handed) => void;

export interface Handover {
  /** Resolves once the broker or the disk holds the message; rejects with HandoverError when
   *  neither can (the device then gets its protocol's failure). */
  deliver(device: string, message: readonly Outgoing[]): Promise<Handed>;
  /** deliver() with a callback, for the device messages' path: no promise per message. */
  hand(device: string, message: readonly Outgoing[], done: HandedCallback): void;
  /** Before the link exists: a store that cannot be opened stops the start (BufferStoreError). */
  open(): Promise<void>;
  attach(link: Link): void;
  close(): Promise<void>;
  stats(): BufferStats;
}

const RETAINED = { retain: true } as const;
const LIVE = {} as const;

/** The publishes of one message together; one publish (the usual case) without Promise.all. */
function publishAll(link: Link, message: readonly Outgoing[]): Promise<unknown> {
  const one = (m: Outgoing): Promise<void> => link.publish(m.topic, m.payload, m.retain ? RETAINED : LIVE);
  return message.length === 1 ? one(message[0] as Outgoing) : Promise.all(message.map(one));
}

/** buffer.mode "off": today's contract, the broker's PUBACK or the device's failure. */
export class DirectHandover implements Handover {
  private link: Link | undefined;

  async open(): Promise<void> {}

  attach(link: Link): void {
    this.link = link;
  }

  deliver(device: string, message: readonly Outgoing[]): Promise<Handed> {
    return new Promise((resolve, reject) => this.hand(device, message, (err) => (err ? reject(err) : resolve('published'))));
  }

  /** The publishes of one message together: told once all were acknowledged, or the first failure
   *  once every one settled. One publish (the usual case) is passed straight through. */
  hand(_device: string, message: readonly Outgoing[], done: HandedCallback): void {
    const link = this.link;
    if (!link) return done(new HandoverError('not connected to the MQTT broker'));
    if (message.length === 1) {
      const m = message[0] as Outgoing;
      return link.send(m.topic, m.payload, m.retain ? RETAINED : LIVE, (err) => done(err, 'published'));
    }
    let left = message.length;
    let failure: Error | undefined;
    for (const m of message) {
      link.send(m.topic, m.payload, m.retain ? RETAINED : LIVE, (err) => {
        failure ??= err;
        if (--left === 0) done(failure, 'published');
      });
    }
  }

  async close(): Promise<void> {}

  stats(): BufferStats {
    return { mode: 'off', depth: 0, bytes: 0 };
  }
}

/** Appends and deletes written in one synced batch: a sync per record gives ~5k records/s, a
 *  group of 100 tens of thousands (docs/benchmarks.md, "Disk buffer"). */
const GROUP_MAX = 100;
/** Entries read and handed to the link at a time while draining; the link's window still bounds
 *  what is with the broker unacknowledged (mqtt.maxInflight). */
const DRAIN_BATCH = 256;
/** After a failed drain with the link still up (a PUBACK that did not come in time). */
const DRAIN_RETRY_MS = 1000;
const PRUNE_MAX_INTERVAL_MS = 60_000;

/** A stored entry: u32 header length | header JSON | the payloads, one after the other. */
interface Header {
  /** Ordering key, adapter/deviceId. */
  d: string;
  /** When it was appended (ms since the epoch); for buffer.maxAgeS only, never for deleting. */
  t: number;
  p: Array<{ topic: string; retain: boolean; media: boolean; bytes: number }>;
}

interface Entry {
  key: string;
  header: Header;
  size: number;
  media: boolean;
  message: Outgoing[];
}

function encode(device: string, at: number, message: readonly Outgoing[]): Buffer {
  const payloads = message.map((m) => (typeof m.payload === 'string' ? Buffer.from(m.payload) : m.payload));
  const header: Header = {
    d: device,
    t: at,
    p: message.map((m, i) => ({ topic: m.topic, retain: m.retain === true, media: m.media === true, bytes: (payloads[i] as Buffer).length })),
  };
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([length, json, ...payloads]);
}

function decode(key: string, value: Buffer): Entry {
  const length = value.readUInt32BE(0);
  const header = JSON.parse(value.subarray(4, 4 + length).toString()) as Header;
  if (typeof header.d !== 'string' || typeof header.t !== 'number' || !Array.isArray(header.p)) throw new Error('not a buffer entry');
  let at = 4 + length;
  const message = header.p.map((p) => {
    const payload = value.subarray(at, at + p.bytes);
    at += p.bytes;
    return { topic: p.topic, payload, retain: p.retain, media: p.media };
  });
  if (at !== value.length) throw new Error('entry length does not match its header');
  return { key, header, size: value.length, media: header.p.some((p) => p.media), message };
}

/** Keys sort as the entries were appended: a sequence number, fixed-width hex. */
function keyOf(seq: number): string {
  return seq.toString(16).padStart(16, '0');
}

/** One device's place in the buffer. */
interface Queue {
  /** Entries of the device appended (or being appended) and not yet acknowledged by the broker. */
  depth: number;
  /** Its live publishes not yet acknowledged or failed. */
  live: number;
  /** Messages that may go neither live (older ones are queued) nor to the disk (an older live one
   *  may still fail and be appended): they wait, in order, for the live ones to settle. */
  held: Array<() => void>;
}

interface Append {
  key: string;
  value: Buffer;
  device: string;
  media: boolean;
  resolve(): void;
  reject(err: Error): void;
}

export interface DiskBufferOptions {
  config: Readonly<BufferConfig>;
  metrics: Metrics;
  logger: Logger;
}

export class DiskBuffer implements Handover {
  private readonly config: Readonly<BufferConfig>;
  private readonly metrics: Metrics;
  private readonly logger: Logger;
  private readonly dir: string;
  private db: ClassicLevel<string, Buffer> | undefined;
  private link: Link | undefined;
  private readonly queues = new Map<string, Queue>();
  private nextSeq = 0;
  private depth = 0;
  private bytes = 0;
  private mediaBytes = 0;
  /** Appends waiting for the next group commit; their devices have not been answered. */
  private group: Append[] = [];
  /** Entries the broker acknowledged, to delete in the next group commit. */
  private deletes: string[] = [];
  /** Acknowledged entries whose delete is not yet on disk: a drain must not send them again. */
  private readonly deleting = new Set<string>();
  private commitTimer: NodeJS.Timeout | undefined;
  private committing: Promise<void> | undefined;
  /** The drain and the expiry scan, one at a time. */
  private working: Promise<void> | undefined;
  private drainWanted = false;
  private pruneDue = false;
  /** The drain reads after this key; reset to the start after a failure. */
  private cursor: string | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(options: DiskBufferOptions) {
    this.config = options.config;
    this.metrics = options.metrics;
    this.logger = options.logger;
    this.dir = resolvePath(options.config.dir);
  }

  /** Opens the existing store (or makes one the first time), counts what it holds per device, and
   *  carries on its sequence. */
  async open(): Promise<void> {
    let db: ClassicLevel<string, Buffer>;
    try {
      mkdirSync(this.dir, { recursive: true });
      db = new ClassicLevel<string, Buffer>(this.dir, { keyEncoding: 'utf8', valueEncoding: 'buffer' });
      await db.open();
    } catch (err) {
      throw new BufferStoreError(this.dir, err);
    }
    this.db = db;
    const unreadable: string[] = [];
    let last: string | undefined;
    for await (const [key, value] of db.iterator()) {
      last = key;
      try {
        const entry = decode(key, value);
        this.account(entry.header.d, entry.size, entry.media, 1);
      } catch (err) {
        unreadable.push(key);
        this.logger.error({ key, err: (err as Error).message }, 'unreadable disk buffer entry dropped');
      }
    }
    if (unreadable.length > 0) await db.batch(unreadable.map((key) => ({ type: 'del' as const, key })), { sync: true });
    this.nextSeq = last === undefined ? 0 : parseInt(last, 16) + 1;
    this.metrics.watchBuffer({ depth: () => this.depth, bytes: () => this.bytes, oldestAgeS: () => this.oldestAgeS() });
    const everyMs = this.config.maxAgeS > 0 ? Math.min(PRUNE_MAX_INTERVAL_MS, Math.max(250, (this.config.maxAgeS * 1000) / 4)) : 0;
    if (everyMs > 0) {
      this.pruneTimer = setInterval(() => {
        this.pruneDue = true;
        this.work();
      }, everyMs).unref();
    }
    this.logger.info({ dir: this.dir, depth: this.depth, bytes: this.bytes }, 'disk buffer open');
  }

  attach(link: Link): void {
    this.link = link;
    link.on('connect', () => this.kick());
    this.kick();
  }

  stats(): BufferStats {
    return { mode: 'disk', depth: this.depth, bytes: this.bytes };
  }

  hand(device: string, message: readonly Outgoing[], done: HandedCallback): void {
    this.deliver(device, message).then((handed) => done(undefined, handed), done);
  }

  deliver(device: string, message: readonly Outgoing[]): Promise<Handed> {
    const queue = this.queueOf(device);
    if (queue.held.length > 0 || this.mustWait(queue)) return this.hold(queue, device, message);
    return this.dispatch(queue, device, message);
  }

  /** Stops taking messages, lets the drain see the link is gone, writes the last group and closes
   *  the store. Call after the link stopped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.pruneTimer);
    clearTimeout(this.retryTimer);
    await this.working;
    // A batch in flight leaves what came after it (the drain's last deletes) to a later one on a
    // timer, which would fire after the store is closed: wait it out, then write the rest now.
    while (this.committing) await this.committing;
    await this.commit();
    await this.db?.close();
  }

  private queueOf(device: string): Queue {
    let queue = this.queues.get(device);
    if (!queue) {
      queue = { depth: 0, live: 0, held: [] };
      this.queues.set(device, queue);
    }
    return queue;
  }

  private get connected(): boolean {
    return this.link?.connected === true;
  }

  /** A message that has to go to the disk while an older one of its device is still live would
   *  get ahead of it should that one fail and be appended. */
  private mustWait(queue: Queue): boolean {
    return queue.live > 0 && (queue.depth > 0 || !this.connected);
  }

  private hold(queue: Queue, device: string, message: readonly Outgoing[]): Promise<Handed> {
    return new Promise((resolve, reject) => {
      queue.held.push(() => this.dispatch(queue, device, message).then(resolve, reject));
    });
  }

  /** Lets held messages go, in order, as far as they may now. */
  private release(queue: Queue, device: string): void {
    while (queue.held.length > 0 && !this.mustWait(queue)) (queue.held.shift() as () => void)();
    if (queue.depth === 0 && queue.live === 0 && queue.held.length === 0) this.queues.delete(device);
  }

  /** Decides at once (the next message of the device sees the effect): live when nothing of the
   *  device is queued and the link is up, else to the disk. */
  private dispatch(queue: Queue, device: string, message: readonly Outgoing[]): Promise<Handed> {
    if (queue.depth > 0 || !this.connected) return this.append(queue, device, message).then(() => 'buffered' as const);
    const link = this.link as Link;
    queue.live += 1;
    return publishAll(link, message).then(
      () => {
        queue.live -= 1;
        this.release(queue, device);
        return 'published' as const;
      },
      (err: unknown) => {
        // At least once: a publish whose PUBACK was lost (or came after publishTimeoutMs) is
        // appended all the same and published again by the drain.
        const appended = err instanceof HandoverError && !this.closed ? this.append(queue, device, message) : Promise.reject(err);
        queue.live -= 1;
        this.release(queue, device);
        return appended.then(() => 'buffered' as const);
      },
    );
  }

  /** Counts the entry at once (so the device's next message queues behind it) and resolves once
   *  its group is synced. */
  private append(queue: Queue, device: string, message: readonly Outgoing[]): Promise<void> {
    if (this.closed || !this.db) return Promise.reject(new HandoverError('the disk buffer is closed'));
    const value = encode(device, Date.now(), message);
    const media = message.some((m) => m.media === true);
    if (this.bytes + value.length > this.config.maxBytes) {
      return Promise.reject(new BufferFullError(`the disk buffer is full (buffer.maxBytes ${this.config.maxBytes})`));
    }
    if (media && this.mediaBytes + value.length > this.config.maxMediaBytes) {
      return Promise.reject(new BufferFullError(`the disk buffer has no room for media (buffer.maxMediaBytes ${this.config.maxMediaBytes})`));
    }
    const key = keyOf(this.nextSeq++);
    this.accountQueue(queue, value.length, media, 1);
    return new Promise((resolve, reject) => {
      this.group.push({ key, value, device, media, resolve, reject });
      this.scheduleCommit();
    });
  }

  private account(device: string, size: number, media: boolean, sign: 1 | -1): void {
    this.accountQueue(this.queueOf(device), size, media, sign);
    if (sign < 0) this.release(this.queueOf(device), device);
  }

  private accountQueue(queue: Queue, size: number, media: boolean, sign: 1 | -1): void {
    queue.depth += sign;
    this.depth += sign;
    this.bytes += sign * size;
    if (media) this.mediaBytes += sign * size;
  }

  private scheduleCommit(): void {
    // Once closing, close() itself writes what is left.
    if (this.committing || this.closed) return;
    if (this.group.length + this.deletes.length >= GROUP_MAX || this.config.commitMs === 0) {
      void this.commit();
    } else {
      this.commitTimer ??= setTimeout(() => void this.commit(), this.config.commitMs);
    }
  }

  /** Writes the waiting appends and deletes in one synced batch, then answers the appends. */
  private commit(): Promise<void> {
    clearTimeout(this.commitTimer);
    this.commitTimer = undefined;
    if (this.committing || !this.db || (this.group.length === 0 && this.deletes.length === 0)) return this.committing ?? Promise.resolve();
    const db = this.db;
    const puts = this.group;
    const dels = this.deletes;
    this.group = [];
    this.deletes = [];
    const ops = [
      ...dels.map((key) => ({ type: 'del' as const, key })),
      ...puts.map((p) => ({ type: 'put' as const, key: p.key, value: p.value })),
    ];
    const run = db.batch(ops, { sync: true }).then(
      () => {
        for (const key of dels) this.deleting.delete(key);
        for (const put of puts) put.resolve();
      },
      (err: unknown) => {
        this.logger.error({ err: (err as Error).message, appends: puts.length, deletes: dels.length }, 'disk buffer write failed');
        // Acknowledged entries left on disk would be sent again after a restart: try once more.
        this.deletes.push(...dels);
        for (const put of puts) {
          this.account(put.device, put.value.length, put.media, -1);
          put.reject(new HandoverError(`the disk buffer could not write: ${(err as Error).message}`, { cause: err }));
        }
      },
    );
    this.committing = run.finally(() => {
      this.committing = undefined;
      if (this.group.length > 0 || this.deletes.length > 0) this.scheduleCommit();
      if (puts.length > 0) this.kick();
    });
    return this.committing;
  }

  private kick(): void {
    this.drainWanted = true;
    this.work();
  }

  private work(): void {
    if (this.working || this.closed || !this.db) return;
    this.working = (async () => {
      while (!this.closed && (this.pruneDue || (this.drainWanted && this.connected))) {
        if (this.pruneDue) {
          this.pruneDue = false;
          await this.prune();
        } else {
          this.drainWanted = false;
          await this.drain();
        }
      }
    })()
      .catch((err: unknown) => this.logger.error({ err }, 'disk buffer drain failed'))
      .finally(() => {
        this.working = undefined;
      });
  }

  /** Committed entries after the key `after`, oldest first, without those already acknowledged. */
  private async read(after: string | undefined, limit: number): Promise<Entry[]> {
    const db = this.db as ClassicLevel<string, Buffer>;
    const iterator = db.iterator(after === undefined ? {} : { gt: after });
    const out: Entry[] = [];
    try {
      while (out.length < limit) {
        const chunk = await iterator.nextv(limit - out.length);
        if (chunk.length === 0) break;
        for (const [key, value] of chunk) {
          if (!this.deleting.has(key)) out.push(decode(key, value));
        }
      }
    } finally {
      await iterator.close();
    }
    return out;
  }

  private expired(entry: Entry, now: number): boolean {
    return this.config.maxAgeS > 0 && now - entry.header.t > this.config.maxAgeS * 1000;
  }

  private async drain(): Promise<void> {
    for (;;) {
      if (!this.connected || this.closed) return;
      const batch = await this.read(this.cursor, DRAIN_BATCH);
      if (batch.length === 0) return;
      this.cursor = (batch[batch.length - 1] as Entry).key;
      const now = Date.now();
      const link = this.link as Link;
      const results = await Promise.allSettled(
        batch.map((entry) => {
          if (this.expired(entry, now)) {
            this.remove(entry, 'expired');
            return Promise.resolve();
          }
          return publishAll(link, entry.message).then(() => this.remove(entry, 'drained'));
        }),
      );
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // What was not acknowledged is read again from the start next time; what was is skipped.
        this.cursor = undefined;
        this.logger.warn({ err: (failed.reason as Error).message, depth: this.depth }, 'disk buffer drain stopped; it goes on when the broker takes messages again');
        if (this.connected && !this.closed) {
          clearTimeout(this.retryTimer);
          this.retryTimer = setTimeout(() => this.kick(), DRAIN_RETRY_MS).unref();
        }
        return;
      }
    }
  }

  /** Drops entries past buffer.maxAgeS from the oldest on, while the broker is away. */
  private async prune(): Promise<void> {
    let after: string | undefined;
    for (;;) {
      const batch = await this.read(after, DRAIN_BATCH);
      const now = Date.now();
      const old = batch.filter((entry) => this.expired(entry, now));
      for (const entry of old) this.remove(entry, 'expired');
      if (old.length < batch.length || batch.length === 0) return;
      after = (batch[batch.length - 1] as Entry).key;
    }
  }

  private remove(entry: Entry, why: 'drained' | 'expired'): void {
    this.deleting.add(entry.key);
    this.deletes.push(entry.key);
    this.account(entry.header.d, entry.size, entry.media, -1);
    if (why === 'drained') {
      this.metrics.bufferDrained.inc();
    } else {
      this.metrics.bufferExpired.inc();
      const ageS = Math.round((Date.now() - entry.header.t) / 1000);
      this.logger.warn({ device: entry.header.d, topic: entry.message[0]?.topic, ageS }, 'buffered message older than buffer.maxAgeS dropped');
    }
    this.scheduleCommit();
  }

  private async oldestAgeS(): Promise<number> {
    if (!this.db || this.closed || this.depth === 0) return 0;
    const [oldest] = await this.read(undefined, 1);
    return oldest ? Math.max(0, (Date.now() - oldest.header.t) / 1000) : 0;
  }
}
