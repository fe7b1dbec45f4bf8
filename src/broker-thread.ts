// broker.thread: the embedded broker in a worker thread of its own (src/broker-worker.ts), so that
// aedes's routing and its clients' socket writes run on another core than the adapters. The
// gateway's link to it is ThreadLink: the publishes of one event-loop turn go over in one message,
// their acknowledgements and the messages of its subscriptions come back in one message per turn of
// the broker's thread. Acknowledgement keeps its meaning: a device is answered once aedes's publish
// callback ran in the broker's thread. T11 (docs/benchmarks.md) measured why.
import { EventEmitter } from 'node:events';
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { BrokerAddresses, BrokerOptions } from './broker.js';
import { HandoverError } from './errors.js';
import { sendAsPromise, type Link, type MessageHandler, type PublishOptions } from './mqtt.js';
import { PublishWindow, type Settled } from './window.js';

/** What the broker's thread is started with. */
export interface WorkerSetup {
  options: Omit<BrokerOptions, 'logger'>;
  logLevel: string;
  publishTimeoutMs: number;
  maxInflight: number;
}

/** The publishes of one turn, packed for one structured clone: cloning one long string costs a
 *  fraction of cloning an object, or a few short strings, per publish (5x less at 50 a turn). */
export interface PublishBatch {
  t: 'publish';
  /** Per publish: the id its acknowledgement comes back with; -1 for publishQueued (nobody waits). */
  ids: number[];
  /** Per publish: 1 retained, 0 not. */
  retain: number[];
  /** Per publish, two numbers: its topic's length in `text`, then its payload's (-1: the payload
   *  is the next of `binary`). */
  lengths: number[];
  /** Every topic and string payload of the batch, one after the other. */
  text: string;
  binary: Uint8Array[];
  /** Correlation data, by index of the publish in this batch. */
  correlation: Array<[number, Uint8Array]>;
}

export type ToBroker = PublishBatch | { t: 'subscribe'; sub: number; filter: string } | { t: 'start' } | { t: 'stop' };

export type FromBroker =
  | { t: 'prepared'; brokerId: string }
  | { t: 'started'; addresses: BrokerAddresses }
  | { t: 'failed'; message: string }
  | { t: 'stopped' }
  /** A record of the broker thread's logger, as pino wrote it there (one JSON line). */
  | { t: 'log'; line: string }
  | {
      t: 'batch';
      /** Ids of the publishes the broker acknowledged. */
      acks: number[];
      /** Ids of those it refused, and why. */
      refused: Array<[number, string]>;
      messages: Array<{ sub: number; topic: string; payload: Uint8Array; retain: boolean; responseTopic?: string | undefined; correlationData?: Uint8Array | undefined }>;
    };

function emptyBatch(): PublishBatch {
  return { t: 'publish', ids: [], retain: [], lengths: [], text: '', binary: [], correlation: [] };
}

/** A Buffer is copied to its own size: a view posted as it is takes its whole backing buffer (the
 *  8 kB pool of small Buffers) along. */
function ownCopy(bytes: Buffer): Uint8Array {
  return new Uint8Array(bytes);
}

/** Each publish of a batch, in order, with Buffers that view the clone's memory. */
export function unpack(batch: PublishBatch, each: (id: number, topic: string, payload: Buffer, retain: boolean, correlationData: Buffer | undefined) => void): void {
  const { ids, lengths, text, binary, retain } = batch;
  const correlation = new Map(batch.correlation);
  let at = 0;
  let nextBinary = 0;
  for (let i = 0; i < ids.length; i++) {
    const topicLength = lengths[2 * i] as number;
    const payloadLength = lengths[2 * i + 1] as number;
    const topic = text.slice(at, (at += topicLength));
    const payload = payloadLength < 0 ? asBuffer(binary[nextBinary++] as Uint8Array) : Buffer.from(text.slice(at, (at += payloadLength)));
    const data = correlation.get(i);
    each(ids[i] as number, topic, payload, retain[i] === 1, data && asBuffer(data));
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Run from TypeScript (tsx: the tests, the bench) the worker registers tsx itself; --import does
 *  not reach a worker. Built, it is plain JavaScript beside this file. */
function spawn(setup: WorkerSetup): Worker {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return new Worker(new URL('./broker-worker.js', here), { workerData: setup });
  const file = new URL('./broker-worker.ts', here).href;
  return new Worker(`import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(file)}); })`, { eval: true, workerData: setup });
}

export class ThreadBroker {
  private readonly options: BrokerOptions;
  private readonly setup: Omit<WorkerSetup, 'options'>;
  private worker: Worker | undefined;
  private readonly links = new Set<ThreadLink>();
  private replies: ((message: FromBroker) => void) | undefined;
  running = false;

  constructor(options: BrokerOptions, setup: Omit<WorkerSetup, 'options'>) {
    this.options = options;
    this.setup = setup;
  }

  /** Starts the thread and its broker, without listeners yet (they come with start()). */
  async prepare(): Promise<void> {
    const { logger: _logger, ...options } = this.options;
    const worker = spawn({ ...this.setup, options });
    this.worker = worker;
    worker.on('message', (message: FromBroker) => this.received(message));
    worker.on('error', (err) => {
      this.options.logger.error({ err }, 'the embedded broker thread failed');
      this.gone();
    });
    worker.on('exit', () => this.gone());
    await this.reply('prepared');
    this.running = true;
  }

  link(options: { publishTimeoutMs: number; maxInflight: number; logger: Logger }): ThreadLink {
    const link = new ThreadLink(this, options);
    this.links.add(link);
    return link;
  }

  async start(): Promise<BrokerAddresses> {
    this.post({ t: 'start' });
    const answer = await this.reply('started', 'failed');
    if (answer.t === 'failed') throw new Error(answer.message);
    if (answer.t !== 'started') throw new Error('the embedded broker thread did not start');
    return answer.addresses;
  }

  async stop(): Promise<void> {
    const worker = this.worker;
    if (!worker || !this.running) return;
    this.post({ t: 'stop' });
    await Promise.race([this.reply('stopped'), new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
    this.running = false;
    await worker.terminate();
  }

  post(message: ToBroker): void {
    this.worker?.postMessage(message);
  }

  private reply(...kinds: Array<FromBroker['t']>): Promise<FromBroker> {
    return new Promise((resolve, reject) => {
      const worker = this.worker;
      const exited = (): void => reject(new Error('the embedded broker thread ended'));
      worker?.once('exit', exited);
      this.replies = (message) => {
        if (!kinds.includes(message.t)) return;
        this.replies = undefined;
        worker?.off('exit', exited);
        resolve(message);
      };
    });
  }

  private received(message: FromBroker): void {
    if (message.t === 'batch') {
      for (const link of this.links) link.received(message);
      return;
    }
    if (message.t === 'log') return this.log(message.line);
    this.replies?.(message);
  }

  /** Logged again by the gateway's logger: one destination and format for both threads. */
  private log(line: string): void {
    const { logger } = this.options;
    try {
      const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
      const label = logger.levels.labels[level] ?? 'info';
      const method = logger[label as 'info'];
      if (typeof method === 'function') method.call(logger, fields, msg);
    } catch {
      logger.info({ line }, 'broker thread log line');
    }
  }

  private gone(): void {
    if (!this.running) return;
    this.running = false;
    for (const link of this.links) link.lost();
  }
}

export class ThreadLink extends EventEmitter implements Link {
  readonly protocolVersion = 5 as const;
  private readonly broker: ThreadBroker;
  private readonly logger: Logger;
  private readonly window: PublishWindow;
  private open = false;
  private nextId = 0;
  private readonly waiting = new Map<number, (err?: Error) => void>();
  private batch: PublishBatch | undefined;
  private readonly subscriptions = new Map<number, MessageHandler>();

  constructor(broker: ThreadBroker, options: { publishTimeoutMs: number; maxInflight: number; logger: Logger }) {
    super();
    this.broker = broker;
    this.logger = options.logger;
    this.window = new PublishWindow({
      limit: options.maxInflight,
      timeoutMs: options.publishTimeoutMs,
      lateMessage: `the broker did not take the message within ${options.publishTimeoutMs} ms`,
    });
  }

  get connected(): boolean {
    return this.open && this.broker.running;
  }

  async start(): Promise<void> {
    this.open = true;
    this.emit('connect');
  }

  async stop(): Promise<void> {
    this.open = false;
    this.window.failAll('the embedded broker is closed');
    this.emit('disconnect');
  }

  subscribe(filter: string, handler: MessageHandler): void {
    const sub = this.subscriptions.size;
    this.subscriptions.set(sub, handler);
    this.broker.post({ t: 'subscribe', sub, filter });
  }

  publish(topic: string, payload: string | Buffer, options: PublishOptions = {}): Promise<void> {
    return sendAsPromise(this, topic, payload, options);
  }

  send(topic: string, payload: string | Buffer, options: PublishOptions, settled: Settled): void {
    if (!this.connected) return settled(new HandoverError('the embedded broker is closed'));
    this.window.submit((done) => {
      const id = this.nextId++;
      this.waiting.set(id, done);
      this.queue(id, topic, payload, options);
      return undefined;
    }, settled);
  }

  publishQueued(topic: string, payload: string | Buffer, options: PublishOptions = {}): void {
    if (!this.connected) return;
    this.queue(-1, topic, payload, options);
  }

  retain(topic: string, payload: string | Buffer): Promise<void> {
    return this.publish(topic, payload, { retain: true }).catch((err: unknown) => {
      this.logger.warn({ err, topic }, 'retained topic not taken by the broker');
    });
  }

  /** The broker itself keeps what was retained: nothing is said again here. */
  forget(): void {}

  /** The broker's thread answered: acknowledgements, then messages of the subscriptions. */
  received(batch: Extract<FromBroker, { t: 'batch' }>): void {
    for (const id of batch.acks) this.settle(id, undefined);
    for (const [id, why] of batch.refused) this.settle(id, new Error(why));
    for (const m of batch.messages) {
      const handler = this.subscriptions.get(m.sub);
      if (!handler) continue;
      const properties = m.responseTopic !== undefined || m.correlationData ? { responseTopic: m.responseTopic, correlationData: m.correlationData && asBuffer(m.correlationData) } : undefined;
      try {
        handler(m.topic, asBuffer(m.payload), { retain: m.retain, properties });
      } catch (err) {
        this.logger.error({ err, topic: m.topic }, 'message handler failed');
      }
    }
  }

  /** The broker's thread ended: what waits for it fails now. */
  lost(): void {
    for (const [id, done] of this.waiting) {
      this.waiting.delete(id);
      done(new Error('the embedded broker thread ended'));
    }
    this.emit('disconnect');
  }

  private settle(id: number, err: Error | undefined): void {
    const done = this.waiting.get(id);
    if (!done) return;
    this.waiting.delete(id);
    done(err);
  }

  private queue(id: number, topic: string, payload: string | Buffer, options: PublishOptions): void {
    let batch = this.batch;
    if (!batch) {
      batch = this.batch = emptyBatch();
      setImmediate(() => {
        const full = this.batch;
        this.batch = undefined;
        if (full) this.broker.post(full);
      });
    }
    const index = batch.ids.length;
    batch.ids.push(id);
    batch.retain.push(options.retain === true ? 1 : 0);
    if (typeof payload === 'string') {
      batch.lengths.push(topic.length, payload.length);
      batch.text += topic + payload;
    } else {
      batch.lengths.push(topic.length, -1);
      batch.text += topic;
      batch.binary.push(ownCopy(payload));
    }
    if (options.correlationData) batch.correlation.push([index, ownCopy(options.correlationData)]);
  }
}
